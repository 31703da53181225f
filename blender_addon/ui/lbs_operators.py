"""Operators of the LBS body deformer (the panel that shows them lives in panel.py, owned elsewhere).

facsimile.lbs_bake_pc2      bake an Action or a BVH clip on the active skinned mesh into a PC2 file (optionally play it)
facsimile.lbs_preview       fast preview: bake the armature's current Action over the scene range and play it
facsimile.lbs_clear_preview remove the preview's Mesh Cache modifier and switch the Armature modifier back on
facsimile.lbs_pose_shape_keys  one shape key per pose-library pose (pose assets)

User errors (FacsimileError, file errors) become an operator report and {'CANCELLED'}; nothing is half-written.
"""

from __future__ import annotations

from pathlib import Path

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, StringProperty

from ..core.errors import FacsimileError
from ..core.models.device import DEVICE_LABELS, DEVICES
from .operator_guard import guarded as _guarded


def _mesh(context) -> bpy.types.Object:
    obj = context.active_object
    if obj is None or obj.type != "MESH":
        raise FacsimileError("select the skinned mesh (the object with the Armature modifier) first")
    return obj


class _Progress:
    def __init__(self, context) -> None:
        self.wm = context.window_manager

    def __enter__(self):
        self.wm.progress_begin(0, 1000)
        return self

    def __call__(self, done: int, total: int) -> None:
        self.wm.progress_update(int(1000 * done / max(1, total)))

    def __exit__(self, *exc) -> None:
        self.wm.progress_end()


# The skinning kernel each device means (the Device type and its order come from core/models/device.py).
_KERNELS = {
    "auto": "The GPU (ONNX on CUDA) when onnxruntime can use it, else the numpy CPU kernel",
    "cuda": "ONNX graph on the GPU; fails when CUDA is not usable",
    "cpu": "Batched numpy kernel",
}
_DEVICES = tuple((d, DEVICE_LABELS[d][0], _KERNELS[d]) for d in DEVICES)


class FACSIMILE_OT_lbs_bake_pc2(bpy.types.Operator):
    """Bake the active mesh's body animation (an Action or a BVH clip) into a PC2 point cache with the LBS deformer"""

    bl_idname = "facsimile.lbs_bake_pc2"
    bl_label = "Bake Body to PC2"
    bl_options = {"REGISTER", "UNDO"}

    filepath: StringProperty(name="Output .pc2", subtype="FILE_PATH", default="//body.pc2")  # type: ignore[valid-type]
    source: EnumProperty(  # type: ignore[valid-type]
        name="Source",
        items=(("ACTION", "Action", "An Action played on the armature"), ("BVH", "BVH", "A BVH motion file")),
        default="ACTION",
    )
    action: StringProperty(name="Action", description="empty = the armature's current Action")  # type: ignore[valid-type]
    bvh_path: StringProperty(name="BVH file", subtype="FILE_PATH")  # type: ignore[valid-type]
    joint_map: StringProperty(  # type: ignore[valid-type]
        name="Joint map", default="auto", description="auto, cmu, 3dsmax, daz (or SRC:TGT), or a JSON map file"
    )
    frame_start: IntProperty(name="Start", default=-1, description="-1 = the source's first frame")  # type: ignore[valid-type]
    frame_end: IntProperty(name="End", default=-1, description="-1 = the source's last frame")  # type: ignore[valid-type]
    dqs: BoolProperty(name="Preserve Volume (DQS)", default=False)  # type: ignore[valid-type]
    device: EnumProperty(name="Device", items=_DEVICES, default="auto")  # type: ignore[valid-type]
    attach: BoolProperty(name="Play on the mesh", default=True, description="add a Mesh Cache modifier for the bake")  # type: ignore[valid-type]

    @_guarded
    def execute(self, context):
        from ..usecases.skin import SkinOptions, skin_to_pc2

        mesh = _mesh(context)
        if self.source == "BVH" and not self.bvh_path:
            raise FacsimileError("choose a BVH file first")
        frames = (self.frame_start, self.frame_end) if self.frame_start >= 0 and self.frame_end >= 0 else None
        opts = SkinOptions(
            out=Path(bpy.path.abspath(self.filepath)),
            action=self.action if self.source == "ACTION" else None,
            bvh=Path(bpy.path.abspath(self.bvh_path)) if self.source == "BVH" else None,
            joint_map=self.joint_map or None,
            frames=frames,
            dqs=self.dqs,
            device=self.device,
            attach=self.attach,
        )
        with _Progress(context) as progress:
            result = skin_to_pc2(mesh, opts, lambda _stage: progress)
        self.report(
            {"INFO"}, f"Baked {result.frames} frames of {result.vertices} vertices to {result.path} ({result.device})"
        )
        return {"FINISHED"}


class FACSIMILE_OT_lbs_preview(bpy.types.Operator):
    """Fast preview: bake the armature's current Action over the scene's frame range and play it on the mesh"""

    bl_idname = "facsimile.lbs_preview"
    bl_label = "LBS Preview"
    bl_options = {"REGISTER", "UNDO"}

    @_guarded
    def execute(self, context):
        from ..scene import body_motion as bm
        from ..usecases.skin import SkinOptions, skin_to_pc2

        mesh = _mesh(context)
        bm.clear_preview(mesh)
        scene = context.scene
        opts = SkinOptions(out=bm.preview_path(mesh), frames=(scene.frame_start, scene.frame_end), attach=True)
        with _Progress(context) as progress:
            result = skin_to_pc2(mesh, opts, lambda _stage: progress)
        self.report({"INFO"}, f"Preview: {result.frames} frames baked to {result.path} ({result.device})")
        return {"FINISHED"}


class FACSIMILE_OT_lbs_clear_preview(bpy.types.Operator):
    """Remove the LBS preview (Mesh Cache modifier) and switch the Armature modifier back on"""

    bl_idname = "facsimile.lbs_clear_preview"
    bl_label = "Clear LBS Preview"
    bl_options = {"REGISTER", "UNDO"}

    @_guarded
    def execute(self, context):
        from ..scene import body_motion as bm

        if not bm.clear_preview(_mesh(context)):
            self.report({"WARNING"}, "no LBS preview on this mesh")
        return {"FINISHED"}


class FACSIMILE_OT_lbs_pose_shape_keys(bpy.types.Operator):
    """Add one shape key per pose-library pose (Actions marked as assets), deformed by the LBS deformer"""

    bl_idname = "facsimile.lbs_pose_shape_keys"
    bl_label = "Poses to Shape Keys"
    bl_options = {"REGISTER", "UNDO"}

    dqs: BoolProperty(name="Preserve Volume (DQS)", default=False)  # type: ignore[valid-type]

    @_guarded
    def execute(self, context):
        from ..usecases.skin import poses_to_shape_keys

        names = poses_to_shape_keys(_mesh(context), self.dqs)
        self.report({"INFO"}, f"Added {len(names)} pose shape keys (use them with the Armature modifier off)")
        return {"FINISHED"}


CLASSES = (
    FACSIMILE_OT_lbs_bake_pc2,
    FACSIMILE_OT_lbs_preview,
    FACSIMILE_OT_lbs_clear_preview,
    FACSIMILE_OT_lbs_pose_shape_keys,
)

register, unregister = bpy.utils.register_classes_factory(CLASSES)
