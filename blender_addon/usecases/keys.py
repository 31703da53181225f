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

from ..core.arkit import ARKIT_NAMES
from ..core.errors import FacsimileError
from ..core.keygen.pipeline import KeygenParams, KeygenResult, generate
from ..core.keygen.quality import KeyCheck
from ..keygen_blender import (
    find_landmarks,
    load_landmark_file,
    require_mesh,
    rest_coords,
    rigid_keys,
    triangles,
    write_shape_keys,
)

EYE_ANGLES_DEG = {"Up": 25.0, "Down": 30.0, "In": 30.0, "Out": 30.0}


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


def _frame(result: KeygenResult) -> np.ndarray:
    """(3, 3) columns: the face's right (towards the subject's left), up and forward axes in head object space."""
    return result.fit.rotation.copy()


def _to_object(obj: bpy.types.Object, head: bpy.types.Object, vecs: np.ndarray) -> np.ndarray:
    """Directions from head object space to obj's object space."""
    m = np.linalg.inv(np.array(obj.matrix_world))[:3, :3] @ np.array(head.matrix_world)[:3, :3]
    return vecs @ m.T


def _rotate(points: np.ndarray, centre: np.ndarray, axis: np.ndarray, deg: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    a = np.radians(deg)
    p = points - centre
    rot = p * np.cos(a) + np.cross(axis, p) * np.sin(a) + np.outer(p @ axis, axis) * (1 - np.cos(a))
    return rot + centre


def _eye_keys(eye: bpy.types.Object, head: bpy.types.Object, frame: np.ndarray, side: str) -> dict[str, np.ndarray]:
    """eyeLook* as rotations of the eye mesh about its centre (ARKit: the eyes turn, the lids follow on the head)."""
    rest = rest_coords(eye)
    centre = (rest.min(0) + rest.max(0)) / 2
    right, up, _ = _to_object(eye, head, frame.T)
    # Right-handed turns: about `up`, +angle swings the gaze towards `right` (the subject's left); about `right`,
    # +angle swings it down.
    nose = -1.0 if side == "Left" else 1.0  # sign of the turn about `up` that looks towards the nose
    turns = {
        "Up": (right, -EYE_ANGLES_DEG["Up"]),
        "Down": (right, EYE_ANGLES_DEG["Down"]),
        "In": (up, nose * EYE_ANGLES_DEG["In"]),
        "Out": (up, -nose * EYE_ANGLES_DEG["Out"]),
    }
    out = {}
    for what, (axis, deg) in turns.items():
        out[f"eyeLook{what}{side}"] = _rotate(rest, centre, axis, deg) - rest
    return out


def _teeth_keys(
    teeth: bpy.types.Object, head: bpy.types.Object, result: KeygenResult, verts: np.ndarray
) -> dict[str, np.ndarray]:
    """The part of the teeth/tongue mesh below the mouth follows the jaw rigidly, as the chin does in each jaw key."""
    from ..core.keygen.geometry import components, edges_of, umeyama

    rest_head = verts
    up = result.gaps.up
    mouth = result.gaps.pairs["mouth"]
    mouth_h = float((rest_head[mouth].reshape(-1, 3) @ up).mean())
    width = result.gaps.scale["mouth"]
    chin = (result.weight > 0.99) & ((rest_head @ up) < mouth_h - 0.7 * width) & (result.labels != 0)
    centre = rest_head[mouth].reshape(-1, 3).mean(0)
    chin &= np.linalg.norm(rest_head - centre, axis=1) < 1.2 * width
    if chin.sum() < 10:
        raise FacsimileError("could not find the chin to move the teeth with; generate without --teeth")
    t_rest = rest_coords(teeth)
    m_t = np.linalg.inv(np.array(teeth.matrix_world)) @ np.array(head.matrix_world)  # head object -> teeth object
    h_in_t = t_rest @ np.linalg.inv(m_t)[:3, :3].T + np.linalg.inv(m_t)[:3, 3]  # teeth verts in head space
    # Lower jaw = the connected parts whose centre is below the mouth line (whole teeth rows and the tongue, not the
    # tips of the upper teeth that reach below it); a single-piece mesh falls back to a per-vertex split.
    comp = components(len(t_rest), edges_of(triangles(teeth)))
    height = h_in_t @ up
    centre_h = np.bincount(comp, weights=height) / np.maximum(np.bincount(comp), 1)
    lower = centre_h[comp] < mouth_h if len(np.unique(comp)) > 1 else height < mouth_h
    out = {}
    for name in ("jawOpen", "jawLeft", "jawRight", "jawForward"):
        k = ARKIT_NAMES.index(name)
        src = rest_head[chin]
        s, r, t = umeyama(src, src + result.deltas[k][chin])
        moved = h_in_t[lower] @ r.T + t  # rigid (scale dropped: the jaw does not grow)
        d = np.zeros_like(t_rest)
        d[lower] = (moved - h_in_t[lower]) @ m_t[:3, :3].T
        out[name] = d
    return out


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
    frame = _frame(result)
    for eye, side in zip(eyes, ("Left", "Right")[: len(eyes)], strict=True):
        rigid_keys(eye, _eye_keys(eye, head, frame, side))
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
