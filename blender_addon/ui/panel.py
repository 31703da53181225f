"""The "Facsimile" sidebar tab of the 3D View: target and mapping, photo, neutral, video bake, Live Link, body (LBS)."""

from __future__ import annotations

import bpy

from ..core.errors import FacsimileError
from ..scene.character import NEUTRAL_SOURCE_PROP
from .preferences import requested_device
from .properties import is_shape_key_mesh


class FACSIMILE_UL_mapping(bpy.types.UIList):
    """One row per ARKit channel: enabled, name, target shape key(s), gain; unmatched rows are flagged red."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0):
        row = layout.row(align=True)
        row.prop(item, "enabled", text="")
        sub = row.row(align=True)
        sub.alert = item.unmatched
        sub.label(text=item.arkit_name, icon="ERROR" if item.unmatched else "SHAPEKEY_DATA")
        sub.prop(item, "shape_key", text="")
        row.prop(item, "gain", text="")

    def filter_items(self, context, data, propname):
        """The name filter matches ARKit names and shape-key names."""
        items = getattr(data, propname)
        flags = [self.bitflag_filter_item] * len(items)
        if self.filter_name:
            needle = self.filter_name.lower()
            flags = [
                self.bitflag_filter_item if needle in (it.arkit_name + " " + it.shape_key).lower() else 0
                for it in items
            ]
        return flags, []


class _FacsimilePanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Facsimile"


def _target(context):
    st = context.scene.facsimile
    return st.target if st.target is not None else context.active_object


class VIEW3D_PT_facsimile(_FacsimilePanel, bpy.types.Panel):
    bl_label = "Facsimile"

    def draw(self, context):
        layout = self.layout
        st = context.scene.facsimile
        layout.prop(st, "target")
        obj = _target(context)
        if obj is not None and obj.type == "MESH":
            layout.operator("facsimile.generate_keys", icon="SHAPEKEY_DATA")
        if obj is None or not is_shape_key_mesh(obj):
            layout.label(text="Pick a mesh with shape keys", icon="INFO")
            return
        ost = obj.facsimile
        row = layout.row(align=True)
        row.prop(ost, "preset", text="")
        row.operator("facsimile.refresh_mapping", text="", icon="FILE_REFRESH")
        if ost.preset == "json":
            layout.prop(ost, "map_file")
        layout.prop(ost, "mirror")
        neutral = obj.get(NEUTRAL_SOURCE_PROP)
        row = layout.row(align=True)
        row.label(text=f"Neutral: {bpy.path.basename(neutral)}" if neutral else "Neutral: none", icon="USER")
        if neutral:
            row.operator("facsimile.clear_neutral", text="", icon="X")
        try:
            device = requested_device(context=context)
        except FacsimileError as exc:  # a bad $FACSIMILE_DEVICE: show why, the operators refuse to run
            device = str(exc)
        used = st.last_device or "-"
        layout.label(text=f"Device: {device} (last run: {used})", icon="MEMORY")
        layout.label(text=_build_line())
        if st.last_report:
            layout.label(text=st.last_report)


class VIEW3D_PT_facsimile_mapping(_FacsimilePanel, bpy.types.Panel):
    bl_label = "Mapping"
    bl_parent_id = "VIEW3D_PT_facsimile"
    bl_options = {"DEFAULT_CLOSED"}

    @classmethod
    def poll(cls, context):
        return is_shape_key_mesh(_target(context))

    def draw(self, context):
        layout = self.layout
        ost = _target(context).facsimile
        if not ost.mapping:
            layout.operator("facsimile.refresh_mapping", text="Build Mapping", icon="FILE_REFRESH")
            return
        unmatched = sum(1 for r in ost.mapping if r.unmatched)
        if unmatched:
            layout.label(text=f"{unmatched} of 52 channels unmatched", icon="ERROR")
        layout.template_list("FACSIMILE_UL_mapping", "", ost, "mapping", ost, "mapping_index", rows=6)
        if 0 <= ost.mapping_index < len(ost.mapping):
            item = ost.mapping[ost.mapping_index]
            col = layout.column(align=True)
            col.prop(item, "shape_key")
            row = col.row(align=True)
            row.prop(item, "gain")
            row.prop(item, "offset")
            row = col.row(align=True)
            row.prop(item, "clamp_min")
            row.prop(item, "clamp_max")


class VIEW3D_PT_facsimile_photo(_FacsimilePanel, bpy.types.Panel):
    bl_label = "Photo"
    bl_parent_id = "VIEW3D_PT_facsimile"

    def draw(self, context):
        layout = self.layout
        st = context.scene.facsimile
        layout.prop(st, "photo_path", text="")
        row = layout.row()
        row.prop(st, "face_index")
        if st.faces_found > 1:
            row.label(text=f"of {st.faces_found}")
        layout.prop(st, "key_frame")
        op = layout.operator("facsimile.apply_photo", icon="IMAGE_DATA")
        op.filepath = st.photo_path
        op = layout.operator("facsimile.capture_neutral", icon="USER")
        op.filepath = st.photo_path


class VIEW3D_PT_facsimile_bake(_FacsimilePanel, bpy.types.Panel):
    bl_label = "Video Bake"
    bl_parent_id = "VIEW3D_PT_facsimile"

    def draw(self, context):
        layout = self.layout
        st = context.scene.facsimile
        layout.prop(st, "clip_path", text="")
        row = layout.row(align=True)
        row.prop(st, "clip_first")
        row.prop(st, "clip_last")
        row = layout.row(align=True)
        row.prop(st, "stride")
        row.prop(st, "start_frame")
        layout.prop(st, "smoothing")
        if st.smoothing:
            layout.prop(st, "smoothing_strength")
        op = layout.operator("facsimile.bake_clip", icon="RENDER_ANIMATION")
        op.filepath = st.clip_path


class VIEW3D_PT_facsimile_files(_FacsimilePanel, bpy.types.Panel):
    bl_label = "Live Link / Files"
    bl_parent_id = "VIEW3D_PT_facsimile"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        col = self.layout.column(align=True)
        col.operator("facsimile.import_livelink", icon="IMPORT")
        col.operator("facsimile.export_livelink", icon="EXPORT")
        col.operator("facsimile.export_weights_json", icon="FILE_TEXT")


def lbs_operator_ids() -> list[str]:
    """The body (LBS) operators another module registers, found by name so this panel needs no import of them."""
    ops = getattr(bpy.ops, "facsimile", None)
    if ops is None:
        return []
    return sorted(f"facsimile.{name}" for name in dir(ops) if name.startswith("lbs"))


class VIEW3D_PT_facsimile_body(_FacsimilePanel, bpy.types.Panel):
    bl_label = "Body (LBS)"
    bl_parent_id = "VIEW3D_PT_facsimile"
    bl_options = {"DEFAULT_CLOSED"}

    @classmethod
    def poll(cls, context):
        return bool(lbs_operator_ids())

    def draw(self, context):
        col = self.layout.column(align=True)
        for idname in lbs_operator_ids():
            col.operator(idname)


CLASSES = (
    FACSIMILE_UL_mapping,
    VIEW3D_PT_facsimile,
    VIEW3D_PT_facsimile_mapping,
    VIEW3D_PT_facsimile_photo,
    VIEW3D_PT_facsimile_bake,
    VIEW3D_PT_facsimile_files,
    VIEW3D_PT_facsimile_body,
)

register, unregister = bpy.utils.register_classes_factory(CLASSES)


def _build_line() -> str:
    """Which onnxruntime build this install carries (default zip: CPU; -cuda zip: CUDA), short for the panel."""
    from ..core.models.build_info import runtime_build

    build = runtime_build()
    return "Build: CUDA (-cuda zip)" if build.is_cuda_build else "Build: CPU (CUDA needs the -cuda zip)"
