"""Add-on state stored in the .blend: per-object mapping (it belongs to the character) and per-scene run settings.

The mapping lives on the mesh object so that a character saved with its tuned gains keeps them when appended into
another file; the scene holds what the panel's buttons act on (target, photo/clip paths, bake and smoothing settings,
the device the last run actually used).
"""

from __future__ import annotations

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

from ..core.retarget import PRESET_LABELS, PRESETS

PRESET_ITEMS = [("auto", "Auto", "The preset matching the most shape keys on the target")] + [
    (p, p.upper() if p != "livelink" else "Live Link", PRESET_LABELS[p]) for p in PRESETS
]
PRESET_ITEMS.append(("json", "JSON file", "A JSON map of ARKit name -> shape key name(s) (see Map file)"))


def is_shape_key_mesh(obj: bpy.types.Object | None) -> bool:
    """Only meshes with at least one shape key besides the basis can be driven."""
    return (
        obj is not None
        and obj.type == "MESH"
        and obj.data.shape_keys is not None
        and len(obj.data.shape_keys.key_blocks) > 1
    )


def _poll_target(_self, obj: bpy.types.Object) -> bool:
    return is_shape_key_mesh(obj)


class FacsimileMappingItem(bpy.types.PropertyGroup):
    """One ARKit channel -> the shape key(s) it drives, with its adjustment (out = clamp(gain * w + offset))."""

    arkit_name: StringProperty(name="ARKit", description="ARKit blendshape name")  # type: ignore[valid-type]
    shape_key: StringProperty(  # type: ignore[valid-type]
        name="Shape key",
        description="Shape key(s) driven by this channel; several are separated by commas",
    )
    gain: FloatProperty(name="Gain", default=1.0, soft_min=0.0, soft_max=3.0)  # type: ignore[valid-type]
    offset: FloatProperty(name="Offset", default=0.0, soft_min=-1.0, soft_max=1.0)  # type: ignore[valid-type]
    clamp_min: FloatProperty(name="Min", default=0.0, soft_min=-1.0, soft_max=1.0)  # type: ignore[valid-type]
    clamp_max: FloatProperty(name="Max", default=1.0, soft_min=0.0, soft_max=2.0)  # type: ignore[valid-type]
    enabled: BoolProperty(name="Enabled", default=True)  # type: ignore[valid-type]
    unmatched: BoolProperty(  # type: ignore[valid-type]
        name="Unmatched", description="No shape key on the target matches this channel", default=False
    )

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(t.strip() for t in self.shape_key.split(",") if t.strip())


class FacsimileObjectSettings(bpy.types.PropertyGroup):
    """Stored on the character's mesh object: how ARKit channels reach its shape keys."""

    preset: EnumProperty(name="Preset", items=PRESET_ITEMS, default="auto")  # type: ignore[valid-type]
    map_file: StringProperty(name="Map file", subtype="FILE_PATH")  # type: ignore[valid-type]
    mapping: CollectionProperty(type=FacsimileMappingItem)  # type: ignore[valid-type]
    mapping_index: IntProperty(name="Active channel", default=0)  # type: ignore[valid-type]
    mirror: BoolProperty(  # type: ignore[valid-type]
        name="Mirror", description="Swap left and right channels (a mirrored video, or a mirrored rig)", default=False
    )
    resolved_preset: StringProperty(name="Resolved preset")  # type: ignore[valid-type]


class FacsimileSceneSettings(bpy.types.PropertyGroup):
    """What the panel's buttons act on, and what the last run reported."""

    target: PointerProperty(  # type: ignore[valid-type]
        name="Target", type=bpy.types.Object, poll=_poll_target, description="Mesh with shape keys to drive"
    )
    photo_path: StringProperty(name="Photo", subtype="FILE_PATH")  # type: ignore[valid-type]
    face_index: IntProperty(  # type: ignore[valid-type]
        name="Face", default=0, min=0, description="Which face when a photo shows several (0 = the largest)"
    )
    faces_found: IntProperty(name="Faces found", default=0)  # type: ignore[valid-type]
    key_frame: BoolProperty(  # type: ignore[valid-type]
        name="Key current frame", description="Also insert keyframes at the current frame", default=False
    )
    clip_path: StringProperty(  # type: ignore[valid-type]
        name="Clip", subtype="FILE_PATH", description="Video file, image-sequence folder or first image of a sequence"
    )
    clip_first: IntProperty(name="First", default=0, min=0, description="First source frame (0-based)")  # type: ignore[valid-type]
    clip_last: IntProperty(  # type: ignore[valid-type]
        name="Last", default=-1, min=-1, description="Last source frame (inclusive); -1 = to the end"
    )
    stride: IntProperty(name="Stride", default=1, min=1, description="Use every Nth source frame")  # type: ignore[valid-type]
    start_frame: IntProperty(name="Start frame", default=1, description="Scene frame of the first baked key")  # type: ignore[valid-type]
    smoothing: BoolProperty(name="Smoothing", default=True, description="One Euro filter per channel")  # type: ignore[valid-type]
    smoothing_strength: FloatProperty(  # type: ignore[valid-type]
        name="Strength",
        default=1.0,
        min=0.05,
        soft_max=3.0,
        description="One Euro filter strength: 1 = default, higher = smoother, lower = less lag (blinks stay sharp)",
    )
    chunk_frames: IntProperty(  # type: ignore[valid-type]
        name="Chunk", default=8, min=1, max=256, description="Frames solved per UI update while baking"
    )
    last_device: StringProperty(name="Device used")  # type: ignore[valid-type]
    last_report: StringProperty(name="Last run")  # type: ignore[valid-type]


_CLASSES = (FacsimileMappingItem, FacsimileObjectSettings, FacsimileSceneSettings)


def register() -> None:
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Object.facsimile = PointerProperty(type=FacsimileObjectSettings)
    bpy.types.Scene.facsimile = PointerProperty(type=FacsimileSceneSettings)


def unregister() -> None:
    del bpy.types.Scene.facsimile
    del bpy.types.Object.facsimile
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
