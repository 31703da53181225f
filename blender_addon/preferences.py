"""Add-on preferences: the inference device.

When the add-on runs without being enabled through Blender's preferences (the bpy module in tests, or the headless
CLI), there is no AddonPreferences instance; device_preference() then falls back to $FACSIMILE_DEVICE or "auto".
"""

from __future__ import annotations

import os

import bpy
from bpy.props import EnumProperty

ADDON_ID = __package__ or "blender_addon"

DEVICE_ITEMS = [
    ("auto", "Auto", "CUDA when onnxruntime can use it, else the CPU"),
    ("cuda", "CUDA", "NVIDIA GPU; an error (not a silent CPU fallback) when CUDA cannot be used"),
    ("cpu", "CPU", "Always the CPU"),
]


class FacsimilePreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    device: EnumProperty(name="Device", items=DEVICE_ITEMS, default="auto")  # type: ignore[valid-type]

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.prop(self, "device")
        settings = getattr(context.scene, "facsimile", None)
        if settings is not None and settings.last_device:
            layout.label(text=f"Last run used: {settings.last_device}")


def device_preference(context: bpy.types.Context | None = None) -> str:
    """The device the user asked for: the add-on preference, else $FACSIMILE_DEVICE, else auto."""
    context = context or bpy.context
    addon = context.preferences.addons.get(ADDON_ID) if context.preferences else None
    if addon is not None and addon.preferences is not None:
        return addon.preferences.device
    env = os.environ.get("FACSIMILE_DEVICE", "auto").lower()
    return env if env in ("auto", "cuda", "cpu") else "auto"


def register() -> None:
    bpy.utils.register_class(FacsimilePreferences)


def unregister() -> None:
    bpy.utils.unregister_class(FacsimilePreferences)
