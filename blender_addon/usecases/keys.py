"""Generate the 52 ARKit shape keys on a head that has none (or regenerate them): options in, keys written on the
head (and its eye/teeth meshes), a report out.

The panel operator and `facsimile keys` both call generate_keys(); they only read their inputs into KeysOptions, call
it and show the report (the command adds opening and saving the .blend). All the maths is core/keygen; the Blender
plumbing (renders, ray casts, writing keys) is keygen_blender.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import bpy
import numpy as np

from ..core.keygen.geometry import components, edges_of
from ..core.keygen.pipeline import KeygenParams, KeygenResult, generate
from ..core.keygen.quality import KeyCheck
from ..core.keygen.rigid import eye_look_deltas, jaw_follow_deltas, lower_jaw
from ..scene.keygen_blender import (
    find_landmarks,
    load_landmark_file,
    require_mesh,
    rest_coords,
    rigid_keys,
    triangles,
    write_shape_keys,
)


@dataclass(frozen=True)
class KeysOptions:
    landmarks: str = "auto"  # "auto" (render + face front-end) or a landmark file (.json / .npy, object space)
    eyes: tuple[str, str] | None = None  # (subject's left eye object, right eye object)
    teeth: str | None = None  # teeth/tongue object: the part below the mouth follows the jaw keys
    params: KeygenParams = field(default_factory=KeygenParams)


@dataclass
class KeysReport:
    object_name: str
    landmark_source: str
    landmarks_used: int
    created: list[str]
    replaced: list[str]
    checks: list[KeyCheck]
    lid_factors: dict[str, float]
    fit_rms: float
    helpers: list[str]
    seconds: dict[str, float]
    face_frame: tuple[np.ndarray, np.ndarray, np.ndarray, float]  # world centre, forward, up, inter-ocular

    def lines(self) -> list[str]:
        failed = [c for c in self.checks if not c.ok]
        out = [
            f"wrote {len(self.created) + len(self.replaced)} ARKit shape keys on '{self.object_name}' "
            f"({len(self.created)} new, {len(self.replaced)} replaced); landmarks: {self.landmark_source}, "
            f"{self.landmarks_used} kept by the fit (rms {self.fit_rms:.4g} after warp)",
        ]
        if self.helpers:
            out.append(f"  also keyed: {', '.join(self.helpers)}")
        for c in self.checks:
            extra = " ".join(f"{k}={v}" for k, v in c.checks.items())
            out.append(f"  {c.name:20s} max {c.max_displacement:.4g} {'ok' if c.ok else 'CHECK'} {extra}".rstrip())
        out.append(
            f"  quality: {len(self.checks) - len(failed)}/{len(self.checks)} keys pass"
            + (f"; look at: {', '.join(c.name for c in failed)}" if failed else "")
        )
        out.append("  time: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items()))
        return out

    def as_dict(self) -> dict:
        return {
            "object": self.object_name,
            "landmarks": self.landmark_source,
            "landmarks_used": self.landmarks_used,
            "created": self.created,
            "replaced": self.replaced,
            "lid_factors": self.lid_factors,
            "fit_rms": self.fit_rms,
            "helpers": self.helpers,
            "seconds": self.seconds,
            "checks": [
                {"name": c.name, "max_displacement": c.max_displacement, "ok": c.ok, **c.checks} for c in self.checks
            ],
        }


def _object(name: str, min_vertices: int = 100) -> bpy.types.Object:
    return require_mesh(bpy.data.objects.get(name), name, min_vertices)


def _to_object(obj: bpy.types.Object, head: bpy.types.Object, vecs: np.ndarray) -> np.ndarray:
    """Directions from head object space to obj's object space."""
    m = np.linalg.inv(np.array(obj.matrix_world))[:3, :3] @ np.array(head.matrix_world)[:3, :3]
    return vecs @ m.T


def _eye_keys(eye: bpy.types.Object, head: bpy.types.Object, result: KeygenResult, side: str) -> dict[str, np.ndarray]:
    """eyeLook* on the eye mesh: the face's axes brought into the eye's object space, the turns from core."""
    right, up, _ = _to_object(eye, head, result.fit.rotation.T)
    return eye_look_deltas(rest_coords(eye), right, up, side)


def _teeth_keys(
    teeth: bpy.types.Object, head: bpy.types.Object, result: KeygenResult, verts: np.ndarray
) -> dict[str, np.ndarray]:
    """The lower teeth/tongue follow the chin (core/keygen/rigid.py), computed in head space, written in the teeth's."""
    t_rest = rest_coords(teeth)
    m_t = np.linalg.inv(np.array(teeth.matrix_world)) @ np.array(head.matrix_world)  # head object -> teeth object
    h_in_t = t_rest @ np.linalg.inv(m_t)[:3, :3].T + np.linalg.inv(m_t)[:3, 3]  # teeth verts in head space
    comp = components(len(t_rest), edges_of(triangles(teeth)))
    lower = lower_jaw(h_in_t, comp, result, verts)
    return {name: d @ m_t[:3, :3].T for name, d in jaw_follow_deltas(verts, result, h_in_t, lower).items()}


def generate_keys(obj: bpy.types.Object | None, options: KeysOptions, tracker=None) -> KeysReport:
    """Generate (or regenerate) the 52 ARKit keys on `obj` and the helpers named in options, in bpy.data."""
    t0 = time.perf_counter()
    head = require_mesh(obj, "(none)" if obj is None else obj.name)
    eyes = tuple(_object(n, 4) for n in options.eyes) if options.eyes else ()
    teeth = _object(options.teeth, 4) if options.teeth else None
    if options.landmarks == "auto":
        hits = find_landmarks(head, helpers=[*eyes, *([teeth] if teeth else [])], tracker=tracker)
        source = f"auto ({len(hits.views)} views: {', '.join(hits.views)})"
    else:
        hits = load_landmark_file(options.landmarks)
        source = options.landmarks
    t1 = time.perf_counter()
    verts = rest_coords(head)
    result = generate(verts, triangles(head), hits.points[:468], hits.valid[:468], params=options.params)
    t2 = time.perf_counter()
    created, replaced = write_shape_keys(head, verts, result.deltas)
    helpers = []
    for eye, side in zip(eyes, ("Left", "Right")[: len(eyes)], strict=True):
        rigid_keys(eye, _eye_keys(eye, head, result, side))
        helpers.append(f"{eye.name} (eyeLook{side})")
    if teeth is not None:
        rigid_keys(teeth, _teeth_keys(teeth, head, result, verts))
        helpers.append(f"{teeth.name} (jaw)")
    t3 = time.perf_counter()
    m = np.array(head.matrix_world)
    lm = result.landmarks @ m[:3, :3].T + m[:3, 3]
    fwd, up = m[:3, :3] @ result.fit.rotation[:, 2], m[:3, :3] @ result.fit.rotation[:, 1]
    frame_w = (lm.mean(0), fwd / np.linalg.norm(fwd), up / np.linalg.norm(up), float(np.linalg.norm(lm[33] - lm[263])))
    return KeysReport(
        object_name=head.name,
        landmark_source=source,
        landmarks_used=int(result.fit.inliers.sum()),
        created=created,
        replaced=replaced,
        checks=result.checks,
        lid_factors=result.lid_factors,
        fit_rms=result.fit.landmark_rms_warped,
        helpers=helpers,
        seconds={"landmarks": t1 - t0, "fit+transfer": t2 - t1, "write": t3 - t2},
        face_frame=frame_w,
    )
