"""Head, neck and eyes onto the character: find where they go (the armature's bones, else the head object), then
write one pose or bake a take. The numbers come from core (face/head_pose.py, rig/head_rig.py); this module only
resolves the target and writes through rig_pose (bulk keyframes, rotation modes kept).

Target, in order: the armature named by the user, else the face mesh's armature (Armature modifier or parent); on
it the head/neck/eye bones come from the picked bones, else the rig map (a convention name or JSON file), else the
best built-in convention. Without an armature, the head object itself turns (relative to the rotation it had when
first captured, stored on it, so captures never accumulate).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import bpy
import numpy as np

from ..core.errors import FacsimileError
from ..core.rig.conventions import RoleMap
from ..core.rig.head_rig import HeadRigOptions, character_frame, eye_rotations, head_rotations, neutral_from_track
from ..core.rig.roles import EYE_ROLES
from ..core.rig.rotations import matrices_from_quats, quats_from_matrices
from ..host.blender_compat import fcurve_container
from . import rig_pose

TAKE_PROP = "facsimile_head_take"  # the last captured head take on the face object, for the Live Link CSV export
REST_PROP = "facsimile_head_rest"  # the head object's rest rotation (w, x, y, z), stored at its first capture


@dataclass(frozen=True)
class HeadTargetOptions:
    """Where the head goes. eyes: True (required), False (off), None (where the rig has eye bones)."""

    rig: str | None = None  # armature object name; None = the face mesh's armature, else the head object
    rig_map: str | None = None  # convention name or JSON file; None = detect
    bones: dict[str, str] = field(default_factory=dict)  # role -> bone picked by the user (panel / --head-bone)
    eyes: bool | None = None
    neck: bool = True  # use the neck bone for options.neck_ratio when the rig has one


@dataclass
class HeadTarget:
    """Resolved target: an armature with its role map, or a plain object."""

    obj: bpy.types.Object
    role_map: RoleMap | None  # None: obj is the head object itself
    roles: tuple[str, ...]  # the roles written (neck, head, eyes)
    rest: dict[str, np.ndarray]  # role -> bone matrix_local
    frame: np.ndarray  # camera -> armature axes
    head_under_neck: bool

    @property
    def label(self) -> str:
        if self.role_map is None:
            return f"object '{self.obj.name}'"
        bones = ", ".join(self.role_map.bones[r] for r in self.roles)
        return f"'{self.obj.name}' bones {bones} ({self.role_map.title or self.role_map.convention})"


def _face_armature(face_obj: bpy.types.Object | None) -> bpy.types.Object | None:
    if face_obj is None:
        return None
    if face_obj.type == "ARMATURE":
        return face_obj
    arm = next((m.object for m in getattr(face_obj, "modifiers", []) if m.type == "ARMATURE" and m.object), None)
    if arm is None and face_obj.parent is not None and face_obj.parent.type == "ARMATURE":
        arm = face_obj.parent
    return arm


def _frame_from_rest(rest: rig_pose.RestFrames) -> np.ndarray:
    """The character's left/up/forward from a left-right bone pair of its rest pose (default: facing -Y)."""
    pairs = (("leftEye", "rightEye"), ("leftUpperArm", "rightUpperArm"), ("leftUpperLeg", "rightUpperLeg"))
    for left, right in pairs:
        if left in rest.roles and right in rest.roles:
            d = rest.head[rest.index(left)] - rest.head[rest.index(right)]
            if np.linalg.norm(d) > 1e-6 and abs(d[2]) < 0.5 * np.linalg.norm(d):
                return character_frame(left=d)
    return character_frame()


def resolve_target(
    face_obj: bpy.types.Object | None, opts: HeadTargetOptions, want_eyes: bool = True, want_head: bool = True
) -> HeadTarget:
    """The armature bones (or the head object) the head and eyes are written to; one clear line when a rig lacks
    the bones asked for."""
    if opts.rig:
        arm = bpy.data.objects.get(opts.rig)
        if arm is None or arm.type != "ARMATURE":
            kind = "no object" if arm is None else f"a {arm.type.lower()} object"
            raise FacsimileError(f"rig '{opts.rig}' is {kind}; name an armature object")
    else:
        arm = _face_armature(face_obj)
    if arm is None:
        if face_obj is None:
            raise FacsimileError("no head to turn: pick the face mesh or an armature")
        return HeadTarget(face_obj, None, ("head",), {}, character_frame(), False)
    rmap = rig_pose.role_map_for(arm, opts.rig_map, opts.bones or None)
    head_roles = [r for r in ("neck", "head") if want_head and r in rmap.bones and (r == "head" or opts.neck)]
    if want_head and "head" not in rmap.bones:
        rmap.require(["head"], "the head")
    eyes_needed = want_eyes and opts.eyes is True
    if not want_head and not want_eyes:
        raise FacsimileError("nothing to write on the rig: turn the head or the eyes on")
    if eyes_needed:
        rmap.require(list(EYE_ROLES), "the eyes")
    eye_roles = [r for r in ("rightEye", "leftEye") if want_eyes and opts.eyes is not False and r in rmap.bones]
    roles = tuple(head_roles + eye_roles)
    pair_roles = [r for r in ("leftEye", "rightEye", "leftUpperArm", "rightUpperArm") if r in rmap.bones]
    rest = rig_pose.rest_frames(arm, rmap, tuple(dict.fromkeys(roles + tuple(pair_roles))))
    under = "neck" in rmap.bones and _descends(arm, rmap.bones["head"], rmap.bones["neck"])
    return HeadTarget(
        obj=arm,
        role_map=rmap,
        roles=roles,
        rest={r: rest.matrix_local[rest.index(r)] for r in roles},
        frame=_frame_from_rest(rest),
        head_under_neck=under,
    )


def _descends(arm: bpy.types.Object, bone: str, ancestor: str) -> bool:
    b = arm.data.bones[bone].parent
    while b is not None:
        if b.name == ancestor:
            return True
        b = b.parent
    return False


def rotations_for(
    target: HeadTarget,
    ypr_deg: np.ndarray,
    gaze_deg: np.ndarray | None,
    opts: HeadRigOptions,
    parent_delta: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Per-role (N, 4) quaternions for the target's bones (or {'head': ...} world deltas for an object)."""
    if target.role_map is None:
        return head_rotations(ypr_deg, {"head": np.eye(4)}, opts, frame=target.frame)
    head_rest = {r: target.rest[r] for r in ("neck", "head") if r in target.roles}
    out = {}
    if head_rest:
        out = head_rotations(
            ypr_deg,
            head_rest,
            opts,
            frame=target.frame,
            head_under_neck=target.head_under_neck,
            parent_delta=parent_delta,
        )
    eye_rest = {r: target.rest[r] for r in EYE_ROLES if r in target.roles}
    if eye_rest and gaze_deg is not None:
        out.update(eye_rotations(gaze_deg, eye_rest, opts, frame=target.frame))
    return out


def _object_rest(obj: bpy.types.Object) -> np.ndarray:
    if REST_PROP not in obj:
        obj[REST_PROP] = list(obj.matrix_basis.to_quaternion())
    return np.asarray(obj[REST_PROP], dtype=np.float64)


def _object_quats(obj: bpy.types.Object, delta: np.ndarray) -> np.ndarray:
    """World-axis deltas (N, 4) -> the object's rotation quaternions (delta applied to its stored rest rotation)."""
    rest = matrices_from_quats(_object_rest(obj))[0]
    return quats_from_matrices(matrices_from_quats(delta) @ rest[None])


def write_head_pose(
    target: HeadTarget,
    ypr_deg: np.ndarray,
    gaze_deg: np.ndarray | None,
    opts: HeadRigOptions,
    key_frame: int | None,
    parent_delta: np.ndarray | None = None,
) -> str:
    """One head pose (photo); optionally keyed. Returns what was written, for the report."""
    gaze = None if gaze_deg is None else np.reshape(gaze_deg, (1, 2, 2))
    rots = rotations_for(target, np.reshape(ypr_deg, (1, 3)), gaze, opts, parent_delta)
    if target.role_map is None:
        return _write_object(
            target.obj,
            _object_quats(target.obj, rots["head"]),
            None if key_frame is None else np.array([key_frame], float),
        )
    rig_pose.write_pose(target.obj, target.role_map, {r: q[0] for r, q in rots.items()})
    if key_frame is not None:
        rig_pose.bake_rotations(target.obj, target.role_map, np.array([key_frame], float), rots)
    return f"head on {target.label}"


def bake_head(
    target: HeadTarget,
    frames: np.ndarray,
    ypr_deg: np.ndarray,
    gaze_deg: np.ndarray | None,
    opts: HeadRigOptions,
    parent_delta: np.ndarray | None = None,
) -> str:
    """Key a take's head (and eyes) at `frames`, one bulk write per curve. parent_delta (N, 3, 3): the body's
    armature-space turn of the bone the head chain hangs from (the head then keeps its camera-frame direction)."""
    rots = rotations_for(target, ypr_deg, gaze_deg, opts, parent_delta)
    if target.role_map is None:
        return _write_object(target.obj, _object_quats(target.obj, rots["head"]), np.asarray(frames, float))
    rig_pose.bake_rotations(target.obj, target.role_map, np.asarray(frames, float), rots)
    return f"head on {target.label}, {len(frames)} frames"


def _write_object(obj: bpy.types.Object, quats: np.ndarray, frames: np.ndarray | None) -> str:
    from mathutils import Quaternion

    mode = obj.rotation_mode
    if frames is None or len(frames) == 1:
        q = Quaternion(quats[-1])
        if mode == "QUATERNION":
            obj.rotation_quaternion = q
        elif mode == "AXIS_ANGLE":
            axis, angle = q.to_axis_angle()
            obj.rotation_axis_angle = (angle, *axis)
        else:
            obj.rotation_euler = q.to_euler(mode, obj.rotation_euler)
        if frames is None:
            return f"head object '{obj.name}' turned"
    if mode == "QUATERNION":
        path, values = "rotation_quaternion", quats
    else:
        path = "rotation_euler"
        values = np.empty((len(quats), 3))
        prev = obj.rotation_euler.copy()
        for i, q in enumerate(quats):
            prev = Quaternion(q).to_euler(mode if mode != "AXIS_ANGLE" else "XYZ", prev)
            values[i] = tuple(prev)
        if mode == "AXIS_ANGLE":
            obj.rotation_mode = "XYZ"
    bag = fcurve_container(obj, "OBJECT", f"{obj.name}_FacsimileHead")
    for axis in range(values.shape[1]):
        fc = bag.fcurves.find(path, index=axis) or bag.fcurves.new(path, index=axis)
        rig_pose.replace_keys(fc, np.asarray(frames, float), values[:, axis])
    return f"head object '{obj.name}', {len(frames)} frames"


def livelink_head_job(
    face_obj: bpy.types.Object,
    seq,
    target_opts: HeadTargetOptions,
    rig_opts: HeadRigOptions | None,
    neutral: str = "none",
):
    """For a Live Link take (core.formats.weights_file.WeightsSequence with head/eye columns): resolve the target now
    (so a rig without the bones fails before anything is written) and return write(scene_fps, start) -> summary,
    which keys the head and eyes resampled to the scene's rate like the weights."""
    from ..core.formats.weights_file import WeightsSequence, scene_frames
    from ..core.rig.head_rig import angles_from_livelink

    if seq.head is None:
        raise FacsimileError(
            "the weights file has no head columns (HeadYaw/HeadPitch/HeadRoll); only a Live Link CSV does"
        )
    opts = (rig_opts or HeadRigOptions()).check()
    has_eyes = seq.eyes is not None and bool(np.any(seq.eyes))
    target = resolve_target(face_obj, target_opts, want_eyes=has_eyes or target_opts.eyes is True)

    def write(scene_fps: float, start: int) -> str:
        angles = WeightsSequence(np.concatenate([seq.head, seq.eyes], 1).astype(np.float64), seq.fps, seq.seconds)
        frames, cols = scene_frames(angles, scene_fps, start)
        ypr, gaze = angles_from_livelink(cols[:, :3], cols[:, 3:])
        if neutral != "none":
            opts_n = HeadRigOptions(**{**opts.__dict__, "neutral_deg": neutral_from_track(ypr, neutral)})
        else:
            opts_n = opts
        store_head_take(face_obj, np.asarray(frames, float), ypr, gaze)
        return bake_head(target, np.asarray(frames, float), ypr, gaze, opts_n)

    return write


def store_head_take(
    obj: bpy.types.Object, frames: np.ndarray, ypr_deg: np.ndarray, gaze_deg: np.ndarray | None
) -> None:
    """Keep the captured head angles and gaze per scene frame on the face object (Export Live Link CSV reads them)."""
    n = len(frames)
    gaze = np.zeros((n, 2, 2)) if gaze_deg is None else np.asarray(gaze_deg, dtype=np.float64).reshape(n, 2, 2)
    table = np.concatenate([np.asarray(frames, float)[:, None], np.reshape(ypr_deg, (n, 3)), gaze.reshape(n, 4)], 1)
    obj[TAKE_PROP] = [float(v) for v in table.ravel()]


def head_take_livelink(obj: bpy.types.Object, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The stored head take at `frames` (linear between keys, held outside) as Live Link head (N, 3) and eye (N, 6)
    columns in radians; None when the object has no head take."""
    from ..core.rig.head_rig import livelink_from_angles

    raw = obj.get(TAKE_PROP)
    if raw is None or len(raw) == 0 or len(raw) % 8:
        return None
    table = np.asarray(list(raw), dtype=np.float64).reshape(-1, 8)
    f = np.asarray(frames, dtype=np.float64)
    cols = np.stack([np.interp(f, table[:, 0], table[:, c]) for c in range(1, 8)], 1)
    return livelink_from_angles(cols[:, :3], cols[:, 3:].reshape(-1, 2, 2))
