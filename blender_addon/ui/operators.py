"""Facsimile's operators: thin wrappers that read the panel's settings into a use case's options, call it, and report.

Every execute() runs inside _guarded(): a FacsimileError (or a file error) becomes self.report({'ERROR'}, message)
and {'CANCELLED'}, never a traceback in the console. Operators that change the scene are one undo step each
(bl_options UNDO); the bake writes its keys in one go at the end, so a cancelled or failed bake changes nothing.
"""

from __future__ import annotations

from pathlib import Path

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, StringProperty

from ..core.errors import FacsimileError
from ..scene import character
from ..usecases import bake as bake_uc
from ..usecases import face_session
from ..usecases import photo as photo_uc
from .operator_guard import USER_ERRORS, report_user_error
from .operator_guard import guarded as _guarded


def _settings(context: bpy.types.Context):
    return context.scene.facsimile


def _path_or_error(raw: str, what: str) -> Path:
    if not raw:
        raise FacsimileError(f"no {what} given: choose a file first")
    path = Path(bpy.path.abspath(raw))
    if not path.exists():
        raise FacsimileError(f"{what} {path} does not exist")
    return path


def _remember_device(context: bpy.types.Context, device: str) -> None:
    """The panel shows each stage's device ("face cpu, generator cpu"); the reasons go into the operator's report."""
    _settings(context).last_device = device.split(" (", 1)[0]


class FACSIMILE_OT_refresh_mapping(bpy.types.Operator):
    """Rebuild the ARKit -> shape key mapping from the preset (tuned gains are kept)"""

    bl_idname = "facsimile.refresh_mapping"
    bl_label = "Refresh Mapping"
    bl_options = {"REGISTER", "UNDO"}

    @_guarded
    def execute(self, context):
        obj = character.resolve_target(context)
        rmap = character.refresh_mapping(obj)
        matched = 52 - len(rmap.unmatched)
        msg = f"{obj.name}: {matched} of 52 ARKit channels matched (preset {obj.facsimile.resolved_preset})"
        if rmap.unmatched:
            msg += f"; unmatched: {', '.join(rmap.unmatched[:8])}{' ...' if len(rmap.unmatched) > 8 else ''}"
        self.report({"INFO"}, msg)
        return {"FINISHED"}


class _PhotoOperator:
    """Shared by Apply and Capture Neutral: a photo path picked with the file browser or taken from the panel."""

    filepath: StringProperty(name="Photo", subtype="FILE_PATH")  # type: ignore[valid-type]
    filter_image: BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})  # type: ignore[valid-type]
    filter_folder: BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})  # type: ignore[valid-type]

    def invoke(self, context, event):
        if not self.filepath:
            self.filepath = _settings(context).photo_path
        if not self.filepath:
            context.window_manager.fileselect_add(self)
            return {"RUNNING_MODAL"}
        return self.execute(context)


class FACSIMILE_OT_apply_photo(_PhotoOperator, bpy.types.Operator):
    """Solve the face in a photo and set the target's shape keys (optionally keying the current frame)"""

    bl_idname = "facsimile.apply_photo"
    bl_label = "Apply from Photo"
    bl_options = {"REGISTER", "UNDO"}

    face: IntProperty(  # type: ignore[valid-type]
        name="Face", default=-1, min=-1, description="Which face (0 = largest); -1 = the panel's Face setting"
    )
    key_frame: EnumProperty(  # type: ignore[valid-type]
        name="Key frame",
        items=[("PANEL", "Panel setting", ""), ("YES", "Key", ""), ("NO", "Don't key", "")],
        default="PANEL",
    )

    @_guarded
    def execute(self, context):
        st = _settings(context)
        obj = character.resolve_target(context)
        path = _path_or_error(self.filepath or st.photo_path, "photo")
        index = st.face_index if self.face < 0 else self.face
        key = st.key_frame if self.key_frame == "PANEL" else self.key_frame == "YES"
        opts = photo_uc.PhotoOptions(
            photo=path, face=index, key_frame=context.scene.frame_current if key else None, show_preview=True
        )
        result = photo_uc.apply_photo(obj, opts)
        solved, face, report = result.solved, result.face, result.report
        _remember_device(context, solved.device)
        st.photo_path = str(path)
        st.faces_found = len(solved.faces)
        msg = f"{obj.name}: face {index + 1} of {len(solved.faces)} from {path.name} on {solved.device}: "
        msg += face_session.weights_summary(face.weights)
        st.last_report = msg
        if len(solved.faces) > 1:
            msg += f" ({len(solved.faces)} faces found; pick another with Face and apply again)"
        self.report({"INFO"}, msg)
        if not getattr(face, "in_range", True):
            self.report({"WARNING"}, "the face is outside the range the model was trained on; check the result")
        if report.widened:
            self.report({"WARNING"}, f"slider range widened on: {', '.join(report.widened)}")
        return {"FINISHED"}


class FACSIMILE_OT_capture_neutral(_PhotoOperator, bpy.types.Operator):
    """Solve a photo of the actor at rest and store it on the target: every later apply and bake subtracts it"""

    bl_idname = "facsimile.capture_neutral"
    bl_label = "Capture Neutral"
    bl_options = {"REGISTER", "UNDO"}

    face: IntProperty(name="Face", default=-1, min=-1)  # type: ignore[valid-type]

    @_guarded
    def execute(self, context):
        st = _settings(context)
        obj = character.resolve_target(context)
        path = _path_or_error(self.filepath or st.photo_path, "neutral photo")
        index = st.face_index if self.face < 0 else self.face
        result = photo_uc.capture_neutral(obj, photo_uc.PhotoOptions(photo=path, face=index))
        _remember_device(context, result.solved.device)
        summary = face_session.weights_summary(result.face.weights)
        self.report({"INFO"}, f"{obj.name}: neutral captured from {path.name} ({summary})")
        return {"FINISHED"}


class FACSIMILE_OT_clear_neutral(bpy.types.Operator):
    """Forget the target's neutral capture"""

    bl_idname = "facsimile.clear_neutral"
    bl_label = "Clear Neutral"
    bl_options = {"REGISTER", "UNDO"}

    @_guarded
    def execute(self, context):
        obj = character.resolve_target(context)
        if not character.clear_neutral(obj):
            self.report({"WARNING"}, f"{obj.name} has no neutral capture")
            return {"CANCELLED"}
        self.report({"INFO"}, f"{obj.name}: neutral cleared")
        return {"FINISHED"}


class FACSIMILE_OT_bake_clip(bpy.types.Operator):
    """Solve a video or image sequence and key the target's shape keys (Esc cancels; a cancelled bake changes nothing)"""

    bl_idname = "facsimile.bake_clip"
    bl_label = "Bake from Video"
    bl_options = {"REGISTER", "UNDO"}

    filepath: StringProperty(name="Clip", subtype="FILE_PATH")  # type: ignore[valid-type]
    filter_movie: BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})  # type: ignore[valid-type]
    filter_image: BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})  # type: ignore[valid-type]
    filter_folder: BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})  # type: ignore[valid-type]
    synchronous: BoolProperty(  # type: ignore[valid-type]
        name="Synchronous",
        description="Bake without returning to the UI in between (always so in background mode)",
        default=False,
        options={"HIDDEN", "SKIP_SAVE"},
    )

    _job = None
    _timer = None
    _opts = None

    def _options(self, context) -> bake_uc.BakeOptions:
        st = _settings(context)
        return bake_uc.BakeOptions(
            clip=_path_or_error(self.filepath or st.clip_path, "clip"),
            first=st.clip_first,
            last=None if st.clip_last < 0 else st.clip_last,
            stride=st.stride,
            start_frame=st.start_frame,
            smoothing=st.smoothing_strength if st.smoothing else 0.0,
        )

    def _make_job(self, context) -> face_session.BakeJob:
        opts = self._options(context)
        job = bake_uc.start_bake(character.resolve_target(context), opts, context.scene)
        _settings(context).clip_path = str(opts.clip)
        self._opts = opts
        return job

    def _finish(self, context, job: face_session.BakeJob):
        return self._report_bake(context, bake_uc.finish_bake(job, self._opts))

    def _report_bake(self, context, result) -> set[str]:
        st = _settings(context)
        _remember_device(context, result.device)
        st.last_report = result.summary
        self.report({"INFO"}, result.summary)
        if result.missing:
            self.report({"WARNING"}, f"no face in {result.missing} frame(s); those hold the nearest solved pose")
        return {"FINISHED"}

    @_guarded
    def execute(self, context):
        """With a window (after the file browser too): the modal, cancellable bake. In background mode, scripts
        asking for synchronous=True and tests: the same chunks in a loop, without a UI in between."""
        if not (self.synchronous or bpy.app.background or context.window is None):
            return self._start_modal(context)
        st = _settings(context)
        obj = character.resolve_target(context)
        opts = self._options(context)
        st.clip_path = str(opts.clip)
        result = bake_uc.bake(obj, opts, scene=context.scene, chunk=st.chunk_frames)
        return self._report_bake(context, result)

    @_guarded
    def invoke(self, context, event):
        if not (self.filepath or _settings(context).clip_path):
            context.window_manager.fileselect_add(self)
            return {"RUNNING_MODAL"}
        return self._start_modal(context)

    def _start_modal(self, context):
        if bpy.app.background or context.window is None:
            self.synchronous = True
            return self.execute(context)
        self._job = self._make_job(context)
        wm = context.window_manager
        wm.progress_begin(0, 1000)
        self._timer = wm.event_timer_add(0.01, window=context.window)
        wm.modal_handler_add(self)
        self.report({"INFO"}, "Baking... (Esc to cancel)")
        return {"RUNNING_MODAL"}

    def _stop(self, context) -> None:
        if context.workspace is not None:
            context.workspace.status_text_set(None)
        wm = context.window_manager
        if self._timer is not None:
            wm.event_timer_remove(self._timer)
            self._timer = None
        wm.progress_end()
        if self._job is not None:
            self._job.close()

    def modal(self, context, event):
        if event.type == "ESC" and event.value == "PRESS":
            self._stop(context)
            self._job = None
            self.report({"WARNING"}, "Bake cancelled; nothing was changed")
            return {"CANCELLED"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        job = self._job
        try:
            done = job.step(_settings(context).chunk_frames)
            context.window_manager.progress_update(int(1000 * job.fraction))
            context.workspace.status_text_set(f"Facsimile: {job.status}  (Esc to cancel)")
            if not done:
                return {"RUNNING_MODAL"}
            result = self._finish(context, job)
        except USER_ERRORS as exc:
            result = report_user_error(self, exc)
        except ReferenceError:  # the target was deleted while the UI stayed usable during the bake
            self.report({"ERROR"}, "the target object was deleted during the bake; nothing was keyed")
            result = {"CANCELLED"}
        self._stop(context)
        self._job = None
        return result

    def cancel(self, context):
        """Blender calls this when the window closes mid-bake: release the clip, write nothing."""
        self._stop(context)
        self._job = None


class _FileOperator:
    filepath: StringProperty(name="File", subtype="FILE_PATH")  # type: ignore[valid-type]

    def invoke(self, context, event):
        if not self.filepath:
            obj = context.scene.facsimile.target or context.active_object
            stem = obj.name if obj is not None else "take"
            self.filepath = bpy.path.ensure_ext(stem, self.filename_ext)
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}


class FACSIMILE_OT_import_livelink(_FileOperator, bpy.types.Operator):
    """Key a Live Link Face CSV take onto the target's shape keys, resampled to the scene's frame rate"""

    bl_idname = "facsimile.import_livelink"
    bl_label = "Import Live Link CSV"
    bl_options = {"REGISTER", "UNDO"}
    filename_ext = ".csv"

    filter_glob: StringProperty(default="*.csv", options={"HIDDEN"})  # type: ignore[valid-type]
    start_frame: IntProperty(name="Start frame", default=-1, description="-1 = the panel's Start frame")  # type: ignore[valid-type]

    def invoke(self, context, event):
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    @_guarded
    def execute(self, context):
        from ..usecases.apply import ApplyOptions, apply_weights

        obj = character.resolve_target(context)
        path = _path_or_error(self.filepath, "Live Link CSV")
        start = _settings(context).start_frame if self.start_frame < 0 else self.start_frame
        # The take comes from another capture, not from the actor the neutral was taken of: no neutral.
        opts = ApplyOptions(weights=path, start_frame=start, use_neutral=False, always_key=True)
        from .capture_ui import livelink_head_options

        opts = livelink_head_options(context, opts)  # the Capture section's Head switch: head/eye columns too
        result = apply_weights(obj, opts, scene=context.scene)
        frames = result.last_frame - result.first_frame + 1
        head = f"; {result.head}" if result.head else ""
        self.report({"INFO"}, f"{obj.name}: {frames} frames keyed from {path.name} starting at frame {start}{head}")
        return {"FINISHED"}


def _frame_range(context, first: int, last: int) -> tuple[int, int]:
    scene = context.scene
    return (scene.frame_start if first < 0 else first, scene.frame_end if last < 0 else last)


class FACSIMILE_OT_export_livelink(_FileOperator, bpy.types.Operator):
    """Write the target's shape-key animation (per ARKit channel) as a Live Link Face CSV"""

    bl_idname = "facsimile.export_livelink"
    bl_label = "Export Live Link CSV"
    filename_ext = ".csv"

    filter_glob: StringProperty(default="*.csv", options={"HIDDEN"})  # type: ignore[valid-type]
    frame_first: IntProperty(name="First", default=-1, description="-1 = scene start")  # type: ignore[valid-type]
    frame_last: IntProperty(name="Last", default=-1, description="-1 = scene end")  # type: ignore[valid-type]

    @_guarded
    def execute(self, context):
        from ..usecases.export import ExportCsvOptions, export_csv, output_path

        obj = character.resolve_target(context)
        a, b = _frame_range(context, self.frame_first, self.frame_last)
        out = output_path(self.filepath, ".csv")
        export_csv(obj, ExportCsvOptions(out=out, frames=(a, b)), context.scene)
        self.report({"INFO"}, f"{obj.name}: frames {a}-{b} written to {out}")
        return {"FINISHED"}


class FACSIMILE_OT_export_weights_json(_FileOperator, bpy.types.Operator):
    """Write the last solved ARKit weights (photo: one pose, bake: every frame) as JSON"""

    bl_idname = "facsimile.export_weights_json"
    bl_label = "Export Solved Weights"
    filename_ext = ".json"

    filter_glob: StringProperty(default="*.json", options={"HIDDEN"})  # type: ignore[valid-type]

    @_guarded
    def execute(self, context):
        from ..usecases.export import export_solved_json, output_path

        obj = character.resolve_target(context)
        result = export_solved_json(obj, output_path(self.filepath, ".json"))
        self.report({"INFO"}, f"{obj.name}: {result.frames} solved frame(s) written to {result.out}")
        return {"FINISHED"}


CLASSES = (
    FACSIMILE_OT_refresh_mapping,
    FACSIMILE_OT_apply_photo,
    FACSIMILE_OT_capture_neutral,
    FACSIMILE_OT_clear_neutral,
    FACSIMILE_OT_bake_clip,
    FACSIMILE_OT_import_livelink,
    FACSIMILE_OT_export_livelink,
    FACSIMILE_OT_export_weights_json,
)

register, _unregister_classes = bpy.utils.register_classes_factory(CLASSES)


def unregister() -> None:
    _unregister_classes()
    face_session.forget_solvers()
