"""Bake Body to PC2 and the LBS preview: pose a skinned mesh from an Action or a BVH clip and write the deformed
vertices of every frame as a PC2 point cache (played through a Mesh Cache modifier with the Armature modifier off)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import bpy

from ..core.errors import FacsimileError

Progress = Callable[[int, int], None]
# stage name ("reading poses", "reading BVH", "skinning") -> the progress callback for that stage
ProgressFactory = Callable[[str], Progress | None]


@dataclass(frozen=True)
class SkinOptions:
    out: Path  # .pc2
    action: str | None = None  # an Action by name; "" or None = the armature's current one (unless bvh is given)
    bvh: Path | None = None  # a BVH clip to retarget instead of an Action
    joint_map: str | None = None  # BVH joint map preset or JSON file; None = detect
    frames: tuple[int, int] | None = None  # inclusive; None = the action's / clip's whole range
    dqs: bool = False  # True forces dual-quaternion skinning; False follows the modifier's Preserve Volume
    device: str | None = None  # explicit device; None = $FACSIMILE_DEVICE, then the preference
    attach: bool = False  # play the cache on the mesh afterwards

    def check(self) -> None:
        """What costs nothing, before the scene is loaded."""
        from ..core import validate
        from ..core.output_guard import Named, check_outputs, named

        out = Path(self.out)
        if out.suffix.lower() != ".pc2":
            raise FacsimileError(f"--out {out} must end in .pc2")
        if not out.parent.is_dir():
            raise FacsimileError(f"output folder {out.parent} does not exist")
        if self.bvh and not Path(self.bvh).is_file():
            raise FacsimileError(f"BVH file {self.bvh} does not exist")
        if self.frames is not None:
            validate.frame(self.frames[0], "first frame")
            validate.frame(self.frames[1], "last frame")
        joint_map = self.joint_map or None
        if joint_map and not (joint_map.lower().endswith(".json") or os.path.lexists(joint_map)):
            joint_map = None  # a preset name, not a file
        check_outputs([named("BVH file", self.bvh), named("joint map", joint_map)], [Named("output", out)])
        check_device_now(self.device)


def check_device_now(explicit: str | None) -> None:
    """The device is resolved (and CUDA, when asked for, checked) before any work: never after the poses are read."""
    from ..ui.preferences import requested_device

    if requested_device(explicit) == "cuda":
        from ..core.body.lbs_onnx import LBS
        from ..core.models.onnx_session import create_session
        from ..core.models.store import verified_model_path

        create_session(verified_model_path(LBS.file_name), device="cuda")  # DeviceUnavailableError: one line


@dataclass
class SkinResult:
    path: Path
    device: str  # what the deformer really ran on
    frames: int
    vertices: int
    bones: int
    dqs: bool
    start_frame: float
    ignored_groups: list[str] = field(default_factory=list)
    pose_seconds: float = 0.0
    skin_seconds: float = 0.0


def action_poses(rig, action_name: str | None, frames: tuple[int, int] | None, progress: Progress | None = None):
    """(PoseSet, first frame) of an Action (by name, else the armature's current one) over `frames` (default: its
    whole range)."""
    from ..scene.rig_reader import capture_frames

    anim = rig.armature.animation_data
    if action_name:
        action = bpy.data.actions.get(action_name)
        if action is None:
            names = ", ".join(sorted(a.name for a in bpy.data.actions)) or "none"
            raise FacsimileError(f"no Action named '{action_name}' (actions in the file: {names})")
    else:
        action = anim.action if anim else None
        if action is None:
            raise FacsimileError(f"armature '{rig.armature.name}' has no Action; pick one or use a BVH file")
    targets = {getattr(slot, "target_id_type", "") for slot in getattr(action, "slots", ())}
    targets.add(getattr(action, "id_root", "") or "")
    if "OBJECT" not in targets and targets - {"", "UNSPECIFIED"}:
        kinds = ", ".join(sorted(t.lower().replace("key", "shape key") for t in targets - {"", "UNSPECIFIED"}))
        raise FacsimileError(f"Action '{action.name}' animates {kinds} data, not an armature; pick the rig's Action")
    lo, hi = (int(round(x)) for x in action.frame_range)
    first, last = frames if frames else (lo, hi)
    return capture_frames(rig, range(first, last + 1), action=action, progress=progress), first


def skin_to_pc2(mesh: bpy.types.Object, opts: SkinOptions, progress: ProgressFactory | None = None) -> SkinResult:
    """Read the rig, capture the poses, deform them all and stream the PC2 (atomic); optionally attach it."""
    from ..scene import body_motion as bm
    from ..scene import rig_reader as rr
    from ..ui.preferences import requested_device

    opts.check()
    stage = progress or (lambda _name: None)
    t0 = time.perf_counter()
    rig = rr.read_rig(mesh)
    if opts.bvh:
        poses, _, _ = bm.bvh_poses(rig, str(opts.bvh), opts.joint_map or None, opts.frames, stage("reading BVH"))
        start = opts.frames[0] if opts.frames else 1
    else:
        poses, start = action_poses(rig, opts.action, opts.frames, stage("reading poses"))
    t1 = time.perf_counter()
    path, used = bm.bake_to_pc2(
        rig,
        poses,
        opts.out,
        dqs=True if opts.dqs else None,
        device=requested_device(opts.device),
        start_frame=float(start),
        progress=stage("skinning"),
    )
    t2 = time.perf_counter()
    if opts.attach:
        bm.attach_cache(mesh, path, start_frame=start)
    return SkinResult(
        path=Path(path),
        device=used,
        frames=len(poses),
        vertices=rig.binding.num_vertices,
        bones=len(rig.bone_names),
        dqs=bool(opts.dqs or rig.preserve_volume),
        start_frame=float(start),
        ignored_groups=list(rig.ignored_groups),
        pose_seconds=t1 - t0,
        skin_seconds=t2 - t1,
    )


def poses_to_shape_keys(mesh: bpy.types.Object, dqs: bool = False) -> list[str]:
    """One shape key per pose-library pose (Actions marked as assets), deformed by the LBS deformer; their names."""
    from ..scene import body_motion as bm
    from ..scene import rig_reader as rr

    rig = rr.read_rig(mesh)
    poses = bm.pose_library_poses(rig)
    verts, _ = rr.deform(rig, poses, dqs=True if dqs else None)
    return bm.add_shape_keys(mesh, verts, poses.labels)
