"""Per-role rotations onto an armature: find the bones, read their rest frames, write a pose or bake keyframes.

The rotations come from core (head pose, gaze, body solve) as per-role local rotations relative to the rest pose:
unit quaternions (w, x, y, z) in the pose-bone convention (``pose_bone.rotation_quaternion``). Bones keep their own
rotation mode: a bone animated in Euler gets Euler values (continuous from frame to frame), so a user's rig is not
switched to quaternions behind their back. Baking writes one keyframe_points.add + foreach_set per curve through
blender_compat's slotted-action helpers, replacing keys only inside the baked frame range. Callers run inside one
operator (bl_options UNDO), so a photo pose or a whole bake is one undo step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import bpy
import numpy as np

from ..core.errors import FacsimileError
from ..core.rig.conventions import RoleMap, match_rig
from ..core.rig.roles import ROLES, check_roles, role_ancestors
from ..host.blender_compat import fcurve_container

_LINEAR = 1  # KeyframeInterpolation 'LINEAR' as stored by foreach_set


def require_armature(obj: bpy.types.Object | None, what: str = "the capture") -> bpy.types.Object:
    """`obj` when it is an armature object; the armature a mesh is deformed by; else one clear line."""
    if obj is not None and obj.type == "MESH":
        arm = next((m.object for m in obj.modifiers if m.type == "ARMATURE" and m.object is not None), None)
        arm = arm or (obj.parent if obj.parent is not None and obj.parent.type == "ARMATURE" else None)
        if arm is not None:
            return arm
    if obj is None or obj.type != "ARMATURE":
        kind = "nothing" if obj is None else f"'{obj.name}' ({obj.type.lower()})"
        raise FacsimileError(f"{what} needs an armature (or a mesh deformed by one), got {kind}")
    return obj


def bone_hierarchy(arm_obj: bpy.types.Object) -> tuple[list[str], dict[str, str | None]]:
    """The armature's bone names and bone -> parent name."""
    bones = arm_obj.data.bones
    return [b.name for b in bones], {b.name: (b.parent.name if b.parent else None) for b in bones}


def vrm_addon_map(arm_obj: bpy.types.Object) -> dict[str, str]:
    """The humanoid mapping the VRM add-on for Blender stores on an imported VRM 1.0 avatar ({} when absent)."""
    ext = getattr(arm_obj.data, "vrm_addon_extension", None)
    human_bones = getattr(getattr(getattr(ext, "vrm1", None), "humanoid", None), "human_bones", None)
    if human_bones is None:
        return {}
    out = {}
    for role in ROLES:
        node = getattr(getattr(human_bones, _snake(role), None), "node", None)
        name = getattr(node, "bone_name", "") if node is not None else ""
        if name and name in arm_obj.data.bones:
            out[role] = name
    return out


def _snake(role: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in role)


def role_map_for(
    arm_obj: bpy.types.Object,
    convention: str | Mapping | None = None,
    overrides: Mapping[str, str] | None = None,
) -> RoleMap:
    """role -> bone for `arm_obj`: the given convention (name, JSON path or dict), else the VRM add-on's humanoid
    mapping, else the best built-in convention; `overrides` (bones picked in the panel) win over all of them."""
    names, parents = bone_hierarchy(arm_obj)
    if convention is None:
        vrm = vrm_addon_map(arm_obj)
        rmap = (
            RoleMap(bones=vrm, convention="vrm_addon", title="VRM add-on humanoid", rig_name=arm_obj.name)
            if len(vrm) >= 3
            else match_rig(names, parents, rig_name=arm_obj.name)
        )
    else:
        rmap = match_rig(names, parents, convention=convention, rig_name=arm_obj.name)
    if overrides:
        picked = {r: b for r, b in overrides.items() if b}
        check_roles(list(picked), what="the bones picked")
        absent = [f"{r} -> {b}" for r, b in picked.items() if b not in arm_obj.data.bones]
        if absent:
            raise FacsimileError(f"armature '{arm_obj.name}' has no bone {', '.join(absent)}; pick an existing bone")
        bones = dict(rmap.bones)
        bones.update(picked)
        rmap = RoleMap(
            bones={r: bones[r] for r in ROLES if r in bones},
            convention=rmap.convention if not picked else f"{rmap.convention}+picked",
            title=rmap.title,
            rig_name=arm_obj.name,
            tried=rmap.tried,
        )
    return rmap


@dataclass(frozen=True)
class RestFrames:
    """Rest frames of the mapped bones, armature space (what a solver needs to aim the character's own bones)."""

    roles: tuple[str, ...]
    bones: tuple[str, ...]
    matrix_local: np.ndarray  # (R, 4, 4) bone.matrix_local: rest frame in armature space (Y along the bone)
    head: np.ndarray  # (R, 3) rest head, armature space
    tail: np.ndarray  # (R, 3) rest tail, armature space
    parent_role: tuple[str | None, ...]  # nearest mapped ancestor role of each role
    armature_world: np.ndarray  # (4, 4) the armature object's matrix_world

    def index(self, role: str) -> int:
        return self.roles.index(role)


def rest_frames(arm_obj: bpy.types.Object, role_map: RoleMap, roles: tuple[str, ...] | None = None) -> RestFrames:
    """The rest frames of `roles` (default: every mapped role), in ROLES order."""
    wanted = check_roles(roles) if roles is not None else tuple(role_map.bones)
    role_map.require(wanted)
    order = tuple(r for r in ROLES if r in wanted)
    bones = tuple(role_map.bones[r] for r in order)
    data = arm_obj.data.bones
    mats = np.array([np.array(data[b].matrix_local, dtype=np.float64) for b in bones]).reshape(-1, 4, 4)
    heads = np.array([tuple(data[b].head_local) for b in bones], dtype=np.float64).reshape(-1, 3)
    tails = np.array([tuple(data[b].tail_local) for b in bones], dtype=np.float64).reshape(-1, 3)
    parent_role = tuple(next((a for a in role_ancestors(r) if a in role_map.bones), None) for r in order)
    return RestFrames(
        roles=order,
        bones=bones,
        matrix_local=mats,
        head=heads,
        tail=tails,
        parent_role=parent_role,
        armature_world=np.array(arm_obj.matrix_world, dtype=np.float64),
    )


def _as_quats(value: object, role: str, n: int | None) -> np.ndarray:
    q = np.asarray(value, dtype=np.float64)
    if n is None:
        q = q.reshape(1, -1) if q.ndim == 1 else q
    if q.ndim != 2 or q.shape[1] != 4 or (n is not None and q.shape[0] != n) or not np.isfinite(q).all():
        want = "(4,)" if n is None else f"({n}, 4)"
        raise FacsimileError(f"rotation for '{role}' must be finite unit quaternions (w, x, y, z) of shape {want}")
    norm = np.linalg.norm(q, axis=1, keepdims=True)
    if np.any(norm < 1e-8):
        raise FacsimileError(f"rotation for '{role}' has a zero quaternion")
    q = q / norm
    # one hemisphere from frame to frame, so interpolation never spins the long way round
    for i in range(1, len(q)):
        if np.dot(q[i], q[i - 1]) < 0:
            q[i] = -q[i]
    return q


def _channels(pb: bpy.types.PoseBone, quats: np.ndarray) -> tuple[str, np.ndarray]:
    """(data path, (N, k) values) for a pose bone in its own rotation mode."""
    from mathutils import Quaternion

    mode = pb.rotation_mode
    if mode == "QUATERNION":
        return "rotation_quaternion", quats
    if mode == "AXIS_ANGLE":
        out = np.empty((len(quats), 4))
        for i, q in enumerate(quats):
            axis, angle = Quaternion(q).to_axis_angle()
            out[i] = (angle, *axis)
        return "rotation_axis_angle", out
    out = np.empty((len(quats), 3))
    prev = None
    for i, q in enumerate(quats):
        e = Quaternion(q).to_euler(mode) if prev is None else Quaternion(q).to_euler(mode, prev)
        out[i] = tuple(e)
        prev = e
    return "rotation_euler", out


def write_pose(
    arm_obj: bpy.types.Object,
    role_map: RoleMap,
    rotations: Mapping[str, object],
    locations: Mapping[str, object] | None = None,
) -> list[str]:
    """Set one pose: per-role rest-relative quaternions (and optional pose-space locations); the bones written."""
    role_map.require(list(rotations) + list(locations or {}))
    written = []
    for role in ROLES:
        if role not in rotations:
            continue
        pb = arm_obj.pose.bones[role_map.bones[role]]
        path, values = _channels(pb, _as_quats(rotations[role], role, None))
        setattr(pb, path, tuple(values[0]))
        written.append(pb.name)
    for role, loc in (locations or {}).items():
        v = np.asarray(loc, dtype=np.float64).reshape(-1)
        if v.shape != (3,) or not np.isfinite(v).all():
            raise FacsimileError(f"location for '{role}' must be 3 finite numbers")
        arm_obj.pose.bones[role_map.bones[role]].location = tuple(v)
    return written


def replace_keys(fc: bpy.types.FCurve, frames: np.ndarray, values: np.ndarray) -> None:
    """Key `values` at `frames` on one F-curve in bulk, keeping the keys outside [frames[0], frames[-1]]."""
    points = fc.keyframe_points
    old = np.empty(len(points) * 2, dtype=np.float32)
    points.foreach_get("co", old)
    old = old.reshape(-1, 2)
    outside = (old[:, 0] < frames[0] - 1e-4) | (old[:, 0] > frames[-1] + 1e-4)
    old_interp = np.empty(len(points), dtype=np.int32)
    points.foreach_get("interpolation", old_interp)
    co = np.concatenate([old[outside], np.stack([frames, values], 1).astype(np.float32)])
    interp = np.concatenate([old_interp[outside], np.full(len(frames), _LINEAR, dtype=np.int32)])
    order = np.argsort(co[:, 0], kind="stable")
    points.clear()
    points.add(len(co))
    points.foreach_set("co", co[order].ravel())
    points.foreach_set("interpolation", interp[order])
    fc.update()


def _fcurve(bag, path: str, index: int, group: str) -> bpy.types.FCurve:
    fc = bag.fcurves.find(path, index=index)
    if fc is not None:
        return fc
    try:
        return bag.fcurves.new(path, index=index, action_group=group)
    except TypeError:  # channelbags (4.4+) take no action_group; groups are made separately
        fc = bag.fcurves.new(path, index=index)
        groups = getattr(bag, "groups", None)
        try:
            if groups is not None:
                fc.group = groups.get(group) or groups.new(group)
        except (AttributeError, TypeError, RuntimeError):  # grouping is cosmetic: never fail a bake over it
            pass
        return fc


def bake_rotations(
    arm_obj: bpy.types.Object,
    role_map: RoleMap,
    frames: np.ndarray,
    rotations: Mapping[str, object],
    locations: Mapping[str, object] | None = None,
    action_name: str | None = None,
) -> int:
    """Key (N, 4) per-role quaternions (and optional (N, 3) locations) at `frames`; the number of curves written."""
    frames = np.asarray(frames, dtype=np.float64).reshape(-1)
    n = len(frames)
    if n == 0 or np.any(np.diff(frames) <= 0) or not np.isfinite(frames).all():
        raise FacsimileError("bake frames must be one strictly increasing frame number per row")
    role_map.require(list(rotations) + list(locations or {}))
    prepared = []
    for role in ROLES:
        if role in rotations:
            pb = arm_obj.pose.bones[role_map.bones[role]]
            prepared.append((pb, *_channels(pb, _as_quats(rotations[role], role, n))))
    for role, loc in (locations or {}).items():
        v = np.asarray(loc, dtype=np.float64)
        if v.shape != (n, 3) or not np.isfinite(v).all():
            raise FacsimileError(f"locations for '{role}' must be finite, shape ({n}, 3)")
        prepared.append((arm_obj.pose.bones[role_map.bones[role]], "location", v))
    bag = fcurve_container(arm_obj, "OBJECT", action_name or f"{arm_obj.name}_Facsimile")
    count = 0
    for pb, attr, values in prepared:
        path = f'pose.bones["{bpy.utils.escape_identifier(pb.name)}"].{attr}'
        for axis in range(values.shape[1]):
            replace_keys(_fcurve(bag, path, axis, pb.name), frames, values[:, axis])
            count += 1
    return count


__all__ = [
    "replace_keys",
    "vrm_addon_map",
    "RestFrames",
    "bake_rotations",
    "bone_hierarchy",
    "require_armature",
    "rest_frames",
    "role_map_for",
    "write_pose",
]
