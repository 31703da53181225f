"""Read a skinned mesh and its armature out of Blender for the LBS deformer (core/body/lbs.py), and capture poses.

Rest coordinates, object and bone matrices are read with foreach_get. Blender has no bulk accessor for deform
weights (MDeformVert), so the weights are read in one pass over the vertices' `groups`, once per mesh.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import bpy
import numpy as np

from ..core.body import lbs
from ..core.errors import FacsimileError
from ..core.interrupt import held
from ..host.blender_compat import assign_first_slot, assigned_slot, restore_slot


@dataclass
class Rig:
    """A mesh bound to an armature: what the deformer needs, plus the modifier settings it must honour."""

    mesh: bpy.types.Object
    armature: bpy.types.Object
    modifier_name: str
    bone_names: tuple[str, ...]  # deform bones that weight the mesh, in binding order
    rest_mats: np.ndarray  # (B, 4, 4) bone.matrix_local (armature space)
    binding: lbs.LBSBinding
    preserve_volume: bool
    ignored_groups: tuple[str, ...] = field(default_factory=tuple)  # groups without a (deform) bone


def matrices(collection, attr: str = "matrix") -> np.ndarray:
    """(N, 4, 4) row-major float64 from a bpy collection's matrix property (bpy stores them column-major)."""
    n = len(collection)
    flat = np.empty(n * 16, dtype=np.float32)
    collection.foreach_get(attr, flat)
    return flat.reshape(n, 4, 4).transpose(0, 2, 1).astype(np.float64)


def object_matrix(obj: bpy.types.Object) -> np.ndarray:
    return np.array(obj.matrix_world, dtype=np.float64)


def find_armature_modifier(mesh: bpy.types.Object) -> bpy.types.ArmatureModifier:
    """The mesh's enabled Armature modifier with an armature set; clear errors otherwise."""
    if mesh is None or mesh.type != "MESH":
        kind = "nothing" if mesh is None else f"a {mesh.type.lower()} object"
        raise FacsimileError(f"the LBS deformer needs a mesh object, got {kind}")
    mods = [m for m in mesh.modifiers if m.type == "ARMATURE"]
    if not mods:
        raise FacsimileError(
            f"mesh '{mesh.name}' has no Armature modifier, so there is no rig to pose. Parent it to an armature "
            "(Ctrl+P > With Automatic Weights) or add an Armature modifier"
        )
    live = [m for m in mods if m.object is not None and m.object.type == "ARMATURE"]
    if not live:
        raise FacsimileError(f"the Armature modifier of '{mesh.name}' has no armature object set")
    mod = live[0]
    if not mod.use_vertex_groups:
        raise FacsimileError(
            f"modifier '{mod.name}' does not use vertex groups; only vertex-group skinning is supported"
        )
    if mod.use_bone_envelopes:
        raise FacsimileError(
            f"modifier '{mod.name}' uses bone envelopes, which the LBS deformer does not reproduce; "
            "turn 'Bone Envelopes' off (weights come from vertex groups)"
        )
    if mod.use_multi_modifier:
        raise FacsimileError(f"modifier '{mod.name}' has Multi Modifier on, which is not supported")
    for m in mesh.modifiers:
        if m == mod:
            break
        if m.show_viewport or m.show_render:
            raise FacsimileError(
                f"modifier '{m.name}' comes before the Armature modifier of '{mesh.name}', so the armature does not "
                "deform the base mesh; move it below the Armature modifier (or apply it) for the LBS deformer"
            )
    return mod


def _read_dverts(mesh: bpy.types.Mesh) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(counts (V,), group index (nnz,), weight (nnz,)) in Blender's per-vertex order."""
    counts = np.fromiter((len(v.groups) for v in mesh.vertices), dtype=np.int64, count=len(mesh.vertices))
    nnz = int(counts.sum())
    groups = np.fromiter((g.group for v in mesh.vertices for g in v.groups), dtype=np.int64, count=nnz)
    weights = np.fromiter((g.weight for v in mesh.vertices for g in v.groups), dtype=np.float32, count=nnz)
    return counts, groups, weights


def read_rig(mesh_obj: bpy.types.Object, chunk: int = 128) -> Rig:
    """Read rest vertices, deform weights and bone rest matrices of a skinned mesh."""
    mod = find_armature_modifier(mesh_obj)
    arm_obj = mod.object
    me = mesh_obj.data
    v_count = len(me.vertices)
    if v_count == 0:
        raise FacsimileError(f"mesh '{mesh_obj.name}' has no vertices")
    rest = _rest_coords(mesh_obj)
    group_to_bone, bone_names, ignored = _deform_groups(mesh_obj, arm_obj)
    counts, groups, weights = _read_dverts(me)
    _check_supported_bones(arm_obj.data, bone_names)

    valid = groups < len(mesh_obj.vertex_groups)
    mapped = np.where(valid, group_to_bone[np.where(valid, groups, 0)], -1)
    keep = (mapped >= 0) & (weights != 0.0)
    row = np.repeat(np.arange(v_count), counts)[keep]
    kept_counts = np.bincount(row, minlength=v_count)
    offsets = np.concatenate([[0], np.cumsum(kept_counts)])

    rest_mats = _bone_rest(arm_obj.data, bone_names)
    try:
        binding = lbs.bind(
            rest,
            offsets,
            mapped[keep],
            weights[keep],
            len(bone_names),
            armature_weight=_armature_weight(mesh_obj, mod, counts, groups, weights),
            bone_names=bone_names,
            chunk=chunk,
        )
    except lbs.SkinningError as exc:
        raise FacsimileError(f"mesh '{mesh_obj.name}': {exc}") from exc
    return Rig(
        mesh=mesh_obj,
        armature=arm_obj,
        modifier_name=mod.name,
        bone_names=bone_names,
        rest_mats=rest_mats,
        binding=binding,
        preserve_volume=bool(mod.use_deform_preserve_volume),
        ignored_groups=tuple(ignored),
    )


def _rest_coords(mesh_obj: bpy.types.Object) -> np.ndarray:
    """(V, 3) what the Armature modifier deforms: the vertices, or the shape-key mix at the current frame."""
    me = mesh_obj.data
    if me.shape_keys is not None and len(me.shape_keys.key_blocks) > 1:
        # The Armature modifier deforms the shape-key mix: evaluate it (all modifiers off) at the current frame.
        with _ModifierMuted(mesh_obj):
            bpy.context.view_layer.update()
            rest = evaluated_coords(mesh_obj)
        bpy.context.view_layer.update()
        return rest
    rest = np.empty(len(me.vertices) * 3, dtype=np.float32)
    me.vertices.foreach_get("co", rest)
    return rest.reshape(-1, 3)


def _deform_groups(mesh_obj: bpy.types.Object, arm_obj: bpy.types.Object) -> tuple[np.ndarray, tuple[str, ...], list]:
    """Vertex group index -> compact deform-bone id or -1 (armature_deform.cc's pchan_from_defbase), the deform
    bones' names in id order, and the groups that name no deform bone. No match at all is an error."""
    arm = arm_obj.data
    group_names = [g.name for g in mesh_obj.vertex_groups]
    bone_ids: dict[str, int] = {}
    group_to_bone = np.full(max(1, len(group_names)), -1, dtype=np.int64)
    ignored: list[str] = []
    for gi, name in enumerate(group_names):
        bone = arm.bones.get(name)
        if bone is None or not bone.use_deform or arm_obj.pose.bones.get(name) is None:
            ignored.append(name)
            continue
        group_to_bone[gi] = bone_ids.setdefault(name, len(bone_ids))
    if not bone_ids:
        detail = (
            f" Its vertex groups: {', '.join(group_names[:8])}{'...' if len(group_names) > 8 else ''}."
            if group_names
            else " It has no vertex groups."
        )
        raise FacsimileError(
            f"no vertex group of '{mesh_obj.name}' matches a deform bone of armature '{arm_obj.name}'.{detail} "
            "Vertex groups must be named like the bones (Ctrl+P > With Automatic Weights creates them)"
        )
    return group_to_bone, tuple(bone_ids), ignored


def _check_supported_bones(arm: bpy.types.Armature, bone_names: tuple[str, ...]) -> None:
    """B-Bones and envelope-multiplied weights deform differently from LBS: refused with what to change."""
    for name in bone_names:
        bone = arm.bones[name]
        if bone.bbone_segments > 1:
            raise FacsimileError(
                f"bone '{name}' is a B-Bone with {bone.bbone_segments} segments; B-Bone deformation is not "
                "reproduced by the LBS deformer. Set its Segments to 1"
            )
        if bone.use_envelope_multiply:
            raise FacsimileError(f"bone '{name}' multiplies weights by its envelope, which is not supported")


def _armature_weight(
    mesh_obj: bpy.types.Object, mod, counts: np.ndarray, groups: np.ndarray, weights: np.ndarray
) -> np.ndarray | None:
    """The modifier's own vertex group (how much each vertex follows the armature at all), inverted if asked."""
    if not mod.vertex_group:
        return None
    v_count = len(mesh_obj.data.vertices)
    gi = mesh_obj.vertex_groups.find(mod.vertex_group)
    armature_weight = np.zeros(v_count, dtype=np.float32)
    if gi >= 0:
        sel = groups == gi
        armature_weight[np.repeat(np.arange(v_count), counts)[sel]] = weights[sel]
    if mod.invert_vertex_group:
        armature_weight = 1.0 - armature_weight
    return armature_weight


def _bone_rest(arm: bpy.types.Armature, names: Iterable[str]) -> np.ndarray:
    all_rest = matrices(arm.bones, "matrix_local")
    index = {b.name: i for i, b in enumerate(arm.bones)}
    return all_rest[[index[n] for n in names]]


def pose_bone_indices(rig: Rig) -> np.ndarray:
    index = {b.name: i for i, b in enumerate(rig.armature.pose.bones)}
    return np.array([index[n] for n in rig.bone_names], dtype=np.int64)


@dataclass
class PoseSet:
    """P captured poses: armature-space pose matrices of the rig's deform bones and the two objects' world matrices."""

    pose_mats: np.ndarray  # (P, B, 4, 4)
    arm_world: np.ndarray  # (P, 4, 4)
    mesh_world: np.ndarray  # (P, 4, 4)
    labels: list[str]

    def __len__(self) -> int:
        return int(self.pose_mats.shape[0])

    def slice(self, start: int, stop: int) -> PoseSet:
        return PoseSet(
            self.pose_mats[start:stop], self.arm_world[start:stop], self.mesh_world[start:stop], self.labels[start:stop]
        )


class _ModifierMuted:
    """Switch the mesh's modifiers off while poses are captured, so frame_set evaluates only the rig."""

    def __init__(self, mesh: bpy.types.Object) -> None:
        self.mesh = mesh
        self.saved: list[tuple[str, bool]] = []

    def __enter__(self) -> None:
        for m in self.mesh.modifiers:
            self.saved.append((m.name, m.show_viewport))
            m.show_viewport = False

    def __exit__(self, *exc: object) -> None:
        for name, state in self.saved:
            m = self.mesh.modifiers.get(name)
            if m is not None:
                m.show_viewport = state


def capture_frames(
    rig: Rig,
    frames: Iterable[int],
    *,
    action: bpy.types.Action | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> PoseSet:
    """Evaluate the rig at each frame (frame_set) and read its pose; with `action`, play that action on the rig.

    The mesh's modifiers are muted meanwhile (the deformation is ours to compute), and the scene frame, the
    armature's action and the modifiers are restored afterwards.
    """
    frames = [int(f) for f in frames]
    if not frames:
        raise FacsimileError("the frame range is empty")
    scene = bpy.context.scene
    arm = rig.armature
    saved_frame = scene.frame_current
    anim = arm.animation_data
    saved_action = anim.action if anim else None
    saved_slot = assigned_slot(anim)
    if action is not None:
        anim = arm.animation_data_create()
        anim.action = action
        assign_first_slot(anim)
    idx = pose_bone_indices(rig)
    pose = np.empty((len(frames), len(idx), 4, 4))
    arm_w = np.empty((len(frames), 4, 4))
    mesh_w = np.empty((len(frames), 4, 4))
    try:
        with _ModifierMuted(rig.mesh):
            for i, f in enumerate(frames):
                with held():  # frame handlers and Python drivers would print a Ctrl-C as a traceback and go on
                    scene.frame_set(f)
                pose[i] = matrices(arm.pose.bones)[idx]
                arm_w[i] = object_matrix(arm)
                mesh_w[i] = object_matrix(rig.mesh)
                if progress is not None:
                    progress(i + 1, len(frames))
    finally:
        if action is not None:
            anim.action = saved_action
            restore_slot(anim, saved_slot)
        scene.frame_set(saved_frame)
    return PoseSet(pose, arm_w, mesh_w, [str(f) for f in frames])


class Deformer:
    """Deforms batches of poses of one rig on one device; the ONNX session (if any) is made once.

    dqs=None follows the modifier's Preserve Volume setting. device: "cpu" = the numpy kernel; "cuda" = the ONNX graph
    on CUDA (error when CUDA is unusable); "auto" = CUDA where the measured policy says it pays for num_poses (and it
    works), else numpy; "onnx-cpu" = the ONNX graph on the CPU (for checks). DQS always runs on numpy. `used` says what runs: "numpy", "onnx-cpu", "cpu" or "cuda".
    """

    def __init__(self, rig: Rig, *, dqs: bool | None = None, device: str = "cpu", num_poses: int = 1) -> None:
        if device not in ("auto", "cpu", "cuda", "onnx-cpu"):
            raise FacsimileError(f"device must be auto, cpu, cuda or onnx-cpu; got '{device}'")
        self.rig = rig
        self.dqs = rig.preserve_volume if dqs is None else bool(dqs)
        self.runner = None
        self.used = "numpy"
        if self.dqs or device == "cpu":
            return
        if device == "auto":
            # CUDA where the measured policy says it pays for num_poses (core.models.onnx_session), else numpy.
            self.runner = lbs.auto_runner(rig.binding, num_poses)
            if self.runner is None:
                return
        else:
            self.runner = lbs.OnnxLBS(rig.binding, device="cpu" if device == "onnx-cpu" else "cuda")
        self.used = "onnx-cpu" if device == "onnx-cpu" else self.runner.info.device

    def empty_output(self, num_poses: int) -> np.ndarray:
        """A reusable (num_poses, V, 3) float32 `out` buffer: page-locked on CUDA (faster copies back), else plain."""
        if self.runner is not None:
            return self.runner.empty_output(num_poses)
        return np.empty((num_poses, self.rig.binding.num_vertices, 3), dtype=np.float32)

    def __call__(
        self,
        poses: PoseSet,
        out: np.ndarray | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        """(P, V, 3) mesh-space vertices for the poses (written into `out` when given)."""
        rig = self.rig
        premat, postmat = lbs.object_space_matrices(poses.arm_world, poses.mesh_world)
        try:
            chan = lbs.channel_matrices(poses.pose_mats, rig.rest_mats)
        except lbs.SkinningError as exc:
            raise FacsimileError(f"rig '{rig.armature.name}': {exc}") from exc
        if self.dqs:
            return lbs.skin_dqs(rig.binding, chan, rig.rest_mats, premat, postmat, out=out, progress=progress)
        mesh_mats = lbs.mesh_space_matrices(chan, premat, postmat)
        if self.runner is None:
            return lbs.skin_lbs(rig.binding, mesh_mats, out=out, progress=progress)
        return self.runner(mesh_mats, out=out, progress=progress)


def deform(
    rig: Rig,
    poses: PoseSet,
    *,
    dqs: bool | None = None,
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, str]:
    """(P, V, 3) mesh-space deformed vertices for the poses, and what ran them (see Deformer)."""
    d = Deformer(rig, dqs=dqs, device=device, num_poses=len(poses))
    return d(poses, progress=progress), d.used


def evaluated_coords(obj: bpy.types.Object) -> np.ndarray:
    """Blender's own result: the evaluated mesh's vertex coordinates (mesh space), via one to_mesh() copy."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    ev = obj.evaluated_get(depsgraph)
    me = ev.to_mesh()
    try:
        out = np.empty(len(me.vertices) * 3, dtype=np.float32)
        me.vertices.foreach_get("co", out)
    finally:
        ev.to_mesh_clear()
    return out.reshape(-1, 3)
