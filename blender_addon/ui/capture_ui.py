"""The panel's "Capture: Head, Eyes, Body" section: its settings, the Capture from Photo / Video operators (thin
wrappers over usecases/capture.py, one undo step each) and the actor's head neutral.

The rig is the target mesh's armature unless one is picked; the head/neck/eye bones are found by naming convention
(core/rig/conventions) unless picked here. The video operator is the bake operator's modal, cancellable job with
the capture collectors added, so a cancelled capture changes nothing.
"""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, FloatVectorProperty, PointerProperty, StringProperty

from ..scene import character
from .operator_guard import guarded
from .operators import FACSIMILE_OT_bake_clip, _path_or_error, _remember_device, _settings


def _poll_armature(_self, obj: bpy.types.Object) -> bool:
    return obj.type == "ARMATURE"


class FacsimileCaptureSettings(bpy.types.PropertyGroup):
    """Scene settings of the capture section."""

    face: BoolProperty(name="Face", default=True, description="Key the target's shape keys")  # type: ignore[valid-type]
    head: BoolProperty(name="Head", default=True, description="Turn the head (and neck) bone")  # type: ignore[valid-type]
    eyes: BoolProperty(name="Eyes", default=True, description="Turn the eye bones where the rig has them")  # type: ignore[valid-type]
    body: BoolProperty(name="Body", default=False, description="Pose the armature from the body landmarks")  # type: ignore[valid-type]
    rig: PointerProperty(  # type: ignore[valid-type]
        name="Rig", type=bpy.types.Object, poll=_poll_armature, description="Armature (empty: the target's armature)"
    )
    rig_map: StringProperty(  # type: ignore[valid-type]
        name="Rig map", subtype="FILE_PATH", description="A role -> bone JSON map (empty: detect the naming convention)"
    )
    head_bone: StringProperty(name="Head bone", description="Empty: found by naming convention")  # type: ignore[valid-type]
    neck_bone: StringProperty(name="Neck bone", description="Empty: found by naming convention")  # type: ignore[valid-type]
    neck_ratio: FloatProperty(  # type: ignore[valid-type]
        name="Neck share", default=0.0, min=0.0, max=1.0, description="Share of the head turn given to the neck"
    )
    gain: FloatVectorProperty(name="Gain", size=3, default=(1.0, 1.0, 1.0), soft_min=0.0, soft_max=3.0)  # type: ignore[valid-type]
    limits: FloatVectorProperty(  # type: ignore[valid-type]
        name="Limits", size=3, default=(80.0, 60.0, 50.0), min=0.0, max=180.0, description="Yaw, pitch, roll (deg)"
    )
    neutral: EnumProperty(  # type: ignore[valid-type]
        name="Neutral",
        items=[
            ("NONE", "Camera", "Zero is the actor looking straight into the camera"),
            ("CAPTURED", "Captured", "The head angle captured from a photo (Capture Head Neutral)"),
            ("FIRST", "First frame", "Video: the first frame with a face is the actor's rest"),
            ("MEDIAN", "Median", "Video: the take's median head angle is the actor's rest"),
        ],
        default="NONE",
    )
    neutral_deg: FloatVectorProperty(name="Captured neutral", size=3, default=(0.0, 0.0, 0.0))  # type: ignore[valid-type]


def capture_settings(context) -> FacsimileCaptureSettings:
    return context.scene.facsimile_capture


def capture_options(context, source: str):
    """The panel's settings as the use case's CaptureOptions."""
    from ..core.rig.head_rig import HeadRigOptions
    from ..scene.head_capture import HeadTargetOptions
    from ..usecases.capture import CaptureOptions

    st, cs = _settings(context), capture_settings(context)
    bones = {r: b for r, b in (("head", cs.head_bone), ("neck", cs.neck_bone)) if b}
    neutral = tuple(cs.neutral_deg) if cs.neutral == "CAPTURED" else (0.0, 0.0, 0.0)
    return CaptureOptions(
        source=source,
        face=cs.face,
        head=cs.head,
        eyes=None if cs.eyes else False,
        body=cs.body,
        rig=HeadTargetOptions(
            rig=cs.rig.name if cs.rig else None,
            rig_map=bpy.path.abspath(cs.rig_map) if cs.rig_map else None,
            bones=bones,
        ),
        head_rig=HeadRigOptions(
            neutral_deg=neutral, gain=tuple(cs.gain), limits_deg=tuple(cs.limits), neck_ratio=cs.neck_ratio
        ),
        neutral={"FIRST": "first", "MEDIAN": "median"}.get(cs.neutral, "none"),
        face_index=st.face_index,
        key_frame=context.scene.frame_current if st.key_frame else None,
        first=st.clip_first,
        last=None if st.clip_last < 0 else st.clip_last,
        stride=st.stride,
        start_frame=st.start_frame,
        smoothing=st.smoothing_strength if st.smoothing else 0.0,
    )


def livelink_head_options(context, opts):
    """Import Live Link CSV: with the Capture section's Head (or Eyes) on and a take that has head columns, the
    head and eye columns go onto the same bones a capture would use."""
    from dataclasses import replace

    from ..core.formats.livelink_csv import read_livelink_csv

    cs = getattr(context.scene, "facsimile_capture", None)
    if cs is None or not (cs.head or cs.eyes):
        return opts
    take = read_livelink_csv(opts.weights)
    if not take.head.any() and not take.eyes.any():
        return opts
    capture = capture_options(context, str(opts.weights))
    return replace(opts, head=capture.rig, head_rig=capture.head_rig)


def _target(context) -> bpy.types.Object:
    """The panel's target (a face mesh), else the active object (an armature is fine with Face off)."""
    st = _settings(context)
    obj = st.target or context.active_object
    if capture_settings(context).face or obj is None:
        return character.resolve_target(context)
    return obj


class FACSIMILE_OT_capture_photo(bpy.types.Operator):
    """Face, head, eyes (and body) from the panel's photo onto the target and its armature, in one undo step"""

    bl_idname = "facsimile.capture_photo"
    bl_label = "Capture from Photo"
    bl_options = {"REGISTER", "UNDO"}

    @guarded
    def execute(self, context):
        from ..usecases.capture import capture

        path = _path_or_error(_settings(context).photo_path, "photo")
        result = capture(_target(context), capture_options(context, str(path)))
        _settings(context).last_report = result.summary
        self.report({"INFO"}, result.summary)
        return {"FINISHED"}


class FACSIMILE_OT_capture_head_neutral(bpy.types.Operator):
    """Store the head angle of the panel's photo as the actor's resting head (Neutral: Captured)"""

    bl_idname = "facsimile.capture_head_neutral"
    bl_label = "Capture Head Neutral"
    bl_options = {"REGISTER", "UNDO"}

    @guarded
    def execute(self, context):
        from ..core.face.head_pose import HeadPoseEstimator
        from ..usecases.face_session import pick_face, solve_photo
        from .preferences import requested_device

        st, cs = _settings(context), capture_settings(context)
        path = _path_or_error(st.photo_path, "photo")
        solved = solve_photo(path, requested_device(None))
        face = pick_face(solved, st.face_index, path)
        h, w = solved.image.shape[:2]
        ypr = HeadPoseEstimator().estimate(face.landmarks, w, h).ypr_deg
        cs.neutral_deg = tuple(float(v) for v in ypr)
        cs.neutral = "CAPTURED"
        _remember_device(context, solved.device)
        self.report({"INFO"}, f"head neutral: yaw {ypr[0]:+.1f}, pitch {ypr[1]:+.1f}, roll {ypr[2]:+.1f} deg")
        return {"FINISHED"}


class FACSIMILE_OT_capture_clip(bpy.types.Operator):
    """Face, head, eyes (and body) from a video onto the target and its armature (Esc cancels; nothing changes)"""

    bl_idname = "facsimile.capture_clip"
    bl_label = "Capture from Video"
    bl_options = {"REGISTER", "UNDO"}

    filepath: StringProperty(name="Clip", subtype="FILE_PATH")  # type: ignore[valid-type]
    filter_movie: BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})  # type: ignore[valid-type]
    filter_image: BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})  # type: ignore[valid-type]
    filter_folder: BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})  # type: ignore[valid-type]
    synchronous: BoolProperty(default=False, options={"HIDDEN", "SKIP_SAVE"})  # type: ignore[valid-type]

    _job = None
    _timer = None
    _opts = None
    # The bake operator's modal, cancellable job loop, shared (a registered operator class is not subclassed).
    invoke = FACSIMILE_OT_bake_clip.invoke
    _start_modal = FACSIMILE_OT_bake_clip._start_modal
    _stop = FACSIMILE_OT_bake_clip._stop
    modal = FACSIMILE_OT_bake_clip.modal
    cancel = FACSIMILE_OT_bake_clip.cancel

    def _options(self, context):
        return capture_options(context, str(_path_or_error(self.filepath or _settings(context).clip_path, "clip")))

    def _make_job(self, context):
        from ..usecases.capture import start_capture

        opts = self._options(context)
        opts.check()
        job = start_capture(_target(context), opts, context.scene)
        _settings(context).clip_path = str(opts.source)
        self._opts = opts
        return job

    def _finish(self, context, job):
        from ..usecases.capture import finish_capture

        return self._report_capture(context, finish_capture(job, self._opts))

    def _report_capture(self, context, result) -> set[str]:
        _settings(context).last_report = result.summary
        self.report({"INFO"}, result.summary)
        return {"FINISHED"}

    @guarded
    def execute(self, context):
        if not (self.synchronous or bpy.app.background or context.window is None):
            return self._start_modal(context)
        from ..usecases.capture import capture

        result = capture(_target(context), self._options(context), scene=context.scene)
        return self._report_capture(context, result)


class VIEW3D_PT_facsimile_capture(bpy.types.Panel):
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Facsimile"
    bl_label = "Capture: Head, Eyes, Body"
    bl_parent_id = "VIEW3D_PT_facsimile"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        cs = capture_settings(context)
        layout = self.layout
        row = layout.row(align=True)
        for name in ("face", "head", "eyes", "body"):
            row.prop(cs, name, toggle=True)
        layout.prop(cs, "rig")
        layout.prop(cs, "rig_map")
        arm = cs.rig or _settings(context).target
        arm = arm if arm is not None and arm.type == "ARMATURE" else getattr(arm, "parent", None)
        if arm is not None and arm.type == "ARMATURE":
            layout.prop_search(cs, "head_bone", arm.data, "bones")
            layout.prop_search(cs, "neck_bone", arm.data, "bones")
        else:
            layout.prop(cs, "head_bone")
            layout.prop(cs, "neck_bone")
        layout.prop(cs, "neck_ratio", slider=True)
        col = layout.column(align=True)
        col.prop(cs, "gain")
        col.prop(cs, "limits")
        row = layout.row(align=True)
        row.prop(cs, "neutral", text="Neutral")
        row.operator(FACSIMILE_OT_capture_head_neutral.bl_idname, text="", icon="EYEDROPPER")
        row = layout.row(align=True)
        row.operator(FACSIMILE_OT_capture_photo.bl_idname, icon="IMAGE_DATA")
        row.operator(FACSIMILE_OT_capture_clip.bl_idname, icon="SEQUENCE")


CLASSES = (
    FacsimileCaptureSettings,
    FACSIMILE_OT_capture_photo,
    FACSIMILE_OT_capture_head_neutral,
    FACSIMILE_OT_capture_clip,
    VIEW3D_PT_facsimile_capture,
)

_register, _unregister = bpy.utils.register_classes_factory(CLASSES)


def register() -> None:
    _register()
    bpy.types.Scene.facsimile_capture = PointerProperty(type=FacsimileCaptureSettings)


def unregister() -> None:
    if hasattr(bpy.types.Scene, "facsimile_capture"):
        del bpy.types.Scene.facsimile_capture
    _unregister()
