"""Pose sources and outputs of the LBS deformer on the Blender side.

Sources: an Action over a frame range (rig_reader.capture_frames), a BVH clip (Blender's own importer, retargeted with
core/body/bvh_retarget.py), pose-library poses (pose assets are Actions; each gives one pose). Outputs: a PC2 point cache
played by a Mesh Cache modifier, one shape key per pose, and a preview that swaps the Armature modifier for a Mesh
Cache modifier on the baked result.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import bpy
import numpy as np

from ..core.body import bvh_retarget as br
from ..core.errors import FacsimileError
from ..core.formats import pc2
from ..core.interrupt import held
from ..host.blender_compat import add_shape_key, all_fcurves
from . import rig_reader as rr

PREVIEW_MODIFIER = "Facsimile LBS"


# --------------------------------------------------------------------------------------------------------------------
# Skeletons and BVH
# --------------------------------------------------------------------------------------------------------------------


def skeleton(arm_obj: bpy.types.Object) -> br.Skeleton:
    """The armature's bones in hierarchy order (parents first) with their rest matrices."""
    bones = list(arm_obj.data.bones)
    ordered: list = []
    seen: set[str] = set()

    def visit(b) -> None:
        if b.name in seen:
            return
        if b.parent is not None:
            visit(b.parent)
        seen.add(b.name)
        ordered.append(b)

    for b in bones:
        visit(b)
    names = tuple(b.name for b in ordered)
    index = {n: i for i, n in enumerate(names)}
    parents = np.array([index[b.parent.name] if b.parent else -1 for b in ordered], dtype=np.int64)
    rest_all = rr.matrices(arm_obj.data.bones, "matrix_local")
    pos = {b.name: i for i, b in enumerate(arm_obj.data.bones)}
    rest = rest_all[[pos[n] for n in names]]
    return br.Skeleton(names=names, parents=parents, rest=rest, world=rr.object_matrix(arm_obj))


def import_bvh(path: str | Path) -> bpy.types.Object:
    """Import a BVH with Blender's importer (Z up, -Y forward) and return its armature object."""
    path = Path(path)
    if not path.is_file():
        raise FacsimileError(f"BVH file {path} does not exist")
    from ..core.formats.bvh_check import check_bvh

    check_bvh(path)  # a truncated or damaged file is one clear line, not the importer's traceback
    before = set(bpy.data.objects)
    try:
        bpy.ops.import_anim.bvh(
            filepath=str(path), update_scene_fps=False, update_scene_duration=False, use_fps_scale=False
        )
    except (RuntimeError, ValueError, IndexError) as exc:
        raise FacsimileError(f"Blender could not read BVH {path}: {str(exc).strip().splitlines()[-1]}") from exc
    new = [o for o in bpy.data.objects if o not in before and o.type == "ARMATURE"]
    if not new:
        raise FacsimileError(f"BVH {path} produced no armature")
    return new[0]


def remove_object(obj: bpy.types.Object) -> None:
    """Delete an object with its armature data and action (the temporary BVH import)."""
    data = obj.data
    action = obj.animation_data.action if obj.animation_data else None
    bpy.data.objects.remove(obj, do_unlink=True)
    if data is not None and data.users == 0:
        bpy.data.armatures.remove(data)
    if action is not None and action.users == 0:
        bpy.data.actions.remove(action)


def sample_armature(
    arm_obj: bpy.types.Object,
    frames: list[int],
    names: tuple[str, ...],
    mute: bpy.types.Object | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """(P, B, 4, 4) pose matrices of an armature over frames (frame_set), with `mute`'s modifiers off meanwhile."""
    scene = bpy.context.scene
    saved = scene.frame_current
    pos = {b.name: i for i, b in enumerate(arm_obj.pose.bones)}
    idx = [pos[n] for n in names]
    out = np.empty((len(frames), len(names), 4, 4))
    muter = rr._ModifierMuted(mute) if mute is not None else None
    try:
        if muter:
            muter.__enter__()
        for i, f in enumerate(frames):
            with held():  # frame handlers and Python drivers would print a Ctrl-C as a traceback and go on
                scene.frame_set(int(f))
            out[i] = rr.matrices(arm_obj.pose.bones)[idx]
            if progress is not None:
                progress(i + 1, len(frames))
    finally:
        if muter:
            muter.__exit__(None, None, None)
        scene.frame_set(saved)
    return out


def bvh_poses(
    rig: rr.Rig,
    bvh_path: str | Path,
    map_spec: str | dict | None = None,
    frames: tuple[int, int] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[rr.PoseSet, np.ndarray, br.Skeleton]:
    """Retarget a BVH clip onto the rig: the rig's PoseSet, the full target pose (P, Bt, 4, 4) and its skeleton.

    frames: (first, last) BVH frames inclusive (default: the whole clip). The imported BVH armature is removed
    afterwards whatever happens.
    """
    view_layer = bpy.context.view_layer
    active, selected = view_layer.objects.active, [o for o in view_layer.objects if o.select_get()]
    bvh_obj = import_bvh(bvh_path)
    try:
        src = skeleton(bvh_obj)
        tgt = skeleton(rig.armature)
        joint_map = br.build_joint_map(src.names, tgt.names, map_spec)
        action = bvh_obj.animation_data.action if bvh_obj.animation_data else None
        first, last = (int(x) for x in (action.frame_range if action else (1, 1)))
        if frames is not None:
            a, b = frames
            if a < first or b > last or a > b:
                raise FacsimileError(f"frames {a}:{b} are outside the BVH clip's frames {first}:{last}")
            first, last = a, b
        frame_list = list(range(first, last + 1))
        src_pose = sample_armature(bvh_obj, frame_list, src.names, mute=rig.mesh, progress=progress)
    finally:
        remove_object(bvh_obj)
        # the importer made its armature active and selected: give the user's selection back
        view_layer.objects.active = active
        for o in selected:
            o.select_set(True)
    full = br.retarget(src, src_pose, tgt, joint_map)
    pos = {n: i for i, n in enumerate(tgt.names)}
    pose = full[:, [pos[n] for n in rig.bone_names]]
    p = len(frame_list)
    poses = rr.PoseSet(
        pose_mats=pose,
        arm_world=np.repeat(rr.object_matrix(rig.armature)[None], p, axis=0),
        mesh_world=np.repeat(rr.object_matrix(rig.mesh)[None], p, axis=0),
        labels=[f"bvh {f}" for f in frame_list],
    )
    return poses, full, tgt


def apply_pose(arm_obj: bpy.types.Object, skel: br.Skeleton, pose: np.ndarray) -> None:
    """Set the armature's pose so that Blender evaluates `pose` (Bt, 4, 4 armature space), via matrix_basis (one
    foreach_set): how the body benchmark poses a character, and the reference side of the retargeting tests."""
    basis = br.basis_from_pose(skel, pose[None])[0]
    pos = {b.name: i for i, b in enumerate(arm_obj.pose.bones)}
    flat = np.empty((len(arm_obj.pose.bones), 4, 4), dtype=np.float32)
    flat[:] = np.eye(4, dtype=np.float32)
    for i, n in enumerate(skel.names):
        flat[pos[n]] = basis[i]
    arm_obj.pose.bones.foreach_set("matrix_basis", flat.transpose(0, 2, 1).reshape(-1))
    arm_obj.data.update_tag()
    bpy.context.view_layer.update()


def key_pose_action(arm_obj: bpy.types.Object, skel: br.Skeleton, full: np.ndarray, name: str, start: int = 1):
    """Write the retargeted motion as an Action on the armature (location/quaternion/scale per bone and frame)."""
    from mathutils import Matrix

    basis = br.basis_from_pose(skel, full)
    action = bpy.data.actions.new(name)
    anim = arm_obj.animation_data_create()
    anim.action = action
    frames = np.arange(full.shape[0], dtype=np.float32) + start
    for bi, bone in enumerate(skel.names):
        pb = arm_obj.pose.bones[bone]
        pb.rotation_mode = "QUATERNION"
        loc = np.empty((len(frames), 3))
        quat = np.empty((len(frames), 4))
        scl = np.empty((len(frames), 3))
        prev = None
        for f in range(len(frames)):
            lo, q, s = Matrix(basis[f, bi].tolist()).decompose()
            if prev is not None and q.dot(prev) < 0:
                q.negate()
            prev = q
            loc[f], quat[f], scl[f] = lo, q, s
        for path, values in (("location", loc), ("rotation_quaternion", quat), ("scale", scl)):
            for axis in range(values.shape[1]):
                pb.keyframe_insert(path, index=axis, frame=start)
                fc = _find_fcurve(action, f'pose.bones["{bone}"].{path}', axis)
                fc.keyframe_points.clear() if hasattr(fc.keyframe_points, "clear") else None
                fc.keyframe_points.add(len(frames))
                fc.keyframe_points.foreach_set("co", np.stack([frames, values[:, axis]], 1).astype(np.float32).ravel())
                fc.update()
    return action


def _find_fcurve(action, data_path: str, index: int):
    for fc in all_fcurves(action):
        if fc.data_path == data_path and fc.array_index == index:
            return fc
    raise FacsimileError(f"could not create the animation curve {data_path}[{index}]")


# --------------------------------------------------------------------------------------------------------------------
# Pose library
# --------------------------------------------------------------------------------------------------------------------


def pose_assets() -> list[bpy.types.Action]:
    """Actions marked as assets (Blender's pose library stores each pose as one)."""
    return [a for a in bpy.data.actions if a.asset_data is not None]


def pose_library_poses(rig: rr.Rig, actions: list[bpy.types.Action] | None = None) -> rr.PoseSet:
    """One pose per action (evaluated at its first frame); default: every pose asset in the file."""
    actions = pose_assets() if actions is None else actions
    if not actions:
        raise FacsimileError("no pose-library poses found (no Action is marked as an asset); pass actions explicitly")
    sets = []
    for a in actions:
        frame = int(a.frame_range[0])
        sets.append(rr.capture_frames(rig, [frame], action=a))
    return rr.PoseSet(
        pose_mats=np.concatenate([s.pose_mats for s in sets]),
        arm_world=np.concatenate([s.arm_world for s in sets]),
        mesh_world=np.concatenate([s.mesh_world for s in sets]),
        labels=[a.name for a in actions],
    )


# --------------------------------------------------------------------------------------------------------------------
# Outputs
# --------------------------------------------------------------------------------------------------------------------


def attach_cache(mesh_obj: bpy.types.Object, path: str | Path, start_frame: float = 1.0, mute_armature: bool = True):
    """Play a PC2 cache on the mesh through a Mesh Cache modifier (replacing our earlier one); the Armature modifier
    is switched off (not removed) so the cache is not deformed a second time. A cache baked for another mesh is an
    error here: Blender's modifier would silently leave the mesh unchanged."""
    header, _ = pc2.read_pc2(path)
    if header.num_points != len(mesh_obj.data.vertices):
        raise FacsimileError(
            f"{path} holds {header.num_points} points per frame but '{mesh_obj.name}' has "
            f"{len(mesh_obj.data.vertices)} vertices: the cache was baked for another mesh; bake it for this one"
        )
    old = mesh_obj.modifiers.get(PREVIEW_MODIFIER)
    if old is not None:
        mesh_obj.modifiers.remove(old)
    if mute_armature:
        for m in mesh_obj.modifiers:
            if m.type == "ARMATURE":
                m.show_viewport = False
                m.show_render = False
    mod = mesh_obj.modifiers.new(PREVIEW_MODIFIER, "MESH_CACHE")
    # Play the cache where the Armature modifier sits, so modifiers after it (subdivision...) still apply on top.
    arm_index = next((i for i, m in enumerate(mesh_obj.modifiers) if m.type == "ARMATURE"), None)
    if arm_index is not None and hasattr(mesh_obj.modifiers, "move"):
        mesh_obj.modifiers.move(len(mesh_obj.modifiers) - 1, arm_index + 1)
    mod.cache_format = "PC2"
    mod.filepath = str(path)
    mod.frame_start = float(start_frame)
    mod.deform_mode = "OVERWRITE"
    mod.interpolation = "NONE"
    return mod


def clear_preview(mesh_obj: bpy.types.Object) -> bool:
    """Remove our Mesh Cache modifier and switch the Armature modifier back on."""
    mod = mesh_obj.modifiers.get(PREVIEW_MODIFIER)
    if mod is None:
        return False
    mesh_obj.modifiers.remove(mod)
    for m in mesh_obj.modifiers:
        if m.type == "ARMATURE":
            m.show_viewport = True
            m.show_render = True
    return True


def preview_path(mesh_obj: bpy.types.Object) -> Path:
    """Where a preview cache goes: beside the saved .blend. An unsaved file has no folder the user named, and a cache
    in the temp folder would outlive the session behind a modifier pointing at it, so the preview asks for a save."""
    if not bpy.data.filepath:
        raise FacsimileError(
            "LBS Preview writes its cache beside the .blend: save the file first (or use LBS Bake to choose a file)"
        )
    base = Path(bpy.path.abspath("//"))
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in mesh_obj.name)
    return base / f"{safe}_facsimile_lbs.pc2"


def add_shape_keys(mesh_obj: bpy.types.Object, verts: np.ndarray, labels: list[str], prefix: str = "pose") -> list[str]:
    """One shape key per pose holding the posed mesh (mesh space). Returns the key names.

    The keys hold the full deformation, so they are meant to be used with the Armature modifier off.
    """
    me = mesh_obj.data
    if verts.shape[1] != len(me.vertices):
        raise FacsimileError(f"{verts.shape[1]} deformed vertices for a mesh of {len(me.vertices)}")
    if me.shape_keys is None:
        add_shape_key(mesh_obj, "Basis")
    names = []
    for v, label in zip(verts, labels, strict=True):
        key = add_shape_key(mesh_obj, f"{prefix} {label}")
        key.data.foreach_set("co", np.ascontiguousarray(v, dtype=np.float32).ravel())
        names.append(key.name)
    me.update()
    return names


def bake_to_pc2(
    rig: rr.Rig,
    poses: rr.PoseSet,
    out: str | Path,
    *,
    dqs: bool | None = None,
    device: str = "cpu",
    start_frame: float = 1.0,
    block: int = 256,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Path, str]:
    """Deform all poses and stream them into a PC2 file; returns (path, device used).

    Poses go through in blocks of `block` into one reused buffer, so memory stays at block x V x 3 floats whatever the
    clip length (and the buffer's pages are touched once). The file appears only when complete.
    """
    out = Path(out)
    if out.suffix.lower() != ".pc2":
        raise FacsimileError(f"output {out} must end in .pc2")
    if not out.parent.is_dir() or not os.access(out.parent, os.W_OK):
        raise FacsimileError(f"cannot write into {out.parent}: the folder is missing or not writable")
    total = len(poses)
    deformer = rr.Deformer(rig, dqs=dqs, device=device, num_poses=total)
    v_count = rig.binding.num_vertices
    buf = deformer.empty_output(min(block, total))  # page-locked on CUDA: the copies back are faster
    with pc2.PC2Writer(out, v_count, total, start_frame=start_frame, sample_rate=1.0) as writer:
        for p0 in range(0, total, block):
            p1 = min(total, p0 + block)
            chunk = buf[: p1 - p0]
            deformer(poses.slice(p0, p1), out=chunk)
            writer.write(chunk)
            if progress is not None:
                progress(p1, total)
    return out, deformer.used
