"""The panel's "Generate ARKit Shape Keys" operator: reads the target (or active) mesh, calls usecases.keys, reports.

One undo step (bl_options UNDO): the keys on the head and its eye/teeth meshes appear and disappear together.
"""

from __future__ import annotations

import bpy
from bpy.props import StringProperty

from ..usecases import keys as keys_uc
from .operator_guard import guarded


class FACSIMILE_OT_generate_keys(bpy.types.Operator):
    """Find the face on the mesh, fit ICT-FaceKit to it and write the 52 ARKit shape keys (existing keys are kept)"""

    bl_idname = "facsimile.generate_keys"
    bl_label = "Generate ARKit Shape Keys"
    bl_options = {"REGISTER", "UNDO"}

    landmarks: StringProperty(  # type: ignore[valid-type]
        name="Landmarks", default="auto", description="auto, or a landmark file (.json/.npy, object space)"
    )
    eye_left: StringProperty(name="Left eye", default="", description="Eye mesh (subject's left)")  # type: ignore[valid-type]
    eye_right: StringProperty(name="Right eye", default="", description="Eye mesh (subject's right)")  # type: ignore[valid-type]
    teeth: StringProperty(name="Teeth", default="", description="Teeth/tongue mesh")  # type: ignore[valid-type]

    @guarded
    def execute(self, context):
        st = getattr(context.scene, "facsimile", None)
        obj = st.target if st is not None and st.target is not None else context.active_object
        eyes = (self.eye_left, self.eye_right) if self.eye_left and self.eye_right else None
        opts = keys_uc.KeysOptions(
            landmarks=bpy.path.abspath(self.landmarks) if self.landmarks != "auto" else "auto",
            eyes=eyes,
            teeth=self.teeth or None,
        )
        report = keys_uc.generate_keys(obj, opts)
        lines = report.lines()
        self.report({"INFO"}, lines[0])
        failed = [c.name for c in report.checks if not c.ok]
        if failed:
            self.report({"WARNING"}, f"check these keys: {', '.join(failed)}")
        if st is not None:
            st.last_report = lines[0][:200]
        return {"FINISHED"}


CLASSES = (FACSIMILE_OT_generate_keys,)
register, unregister = bpy.utils.register_classes_factory(CLASSES)
