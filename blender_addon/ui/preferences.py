"""Add-on preferences: the inference device, and the bpy side of resolving it.

The resolution order lives in core/models/device.py (explicit argument, then $FACSIMILE_DEVICE, then this
preference, then auto); requested_device() only adds the stored preference. When the add-on runs without being
enabled through Blender's preferences (the bpy module in tests, or the headless CLI) there is no preference.
"""

from __future__ import annotations

import bpy
from bpy.props import EnumProperty

from .. import __name__ as ADDON_ID  # the add-on's root package: the name Blender keeps its preferences under
from ..core.models.device import DEVICE_LABELS, DEVICES, Device, resolve_device

DEVICE_ITEMS = [(d, *DEVICE_LABELS[d]) for d in DEVICES]


class FacsimilePreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    device: EnumProperty(name="Device", items=DEVICE_ITEMS, default="auto")  # type: ignore[valid-type]

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.prop(self, "device")
        from ..core.models.build_info import runtime_build

        layout.label(text=runtime_build().summary())
        settings = getattr(context.scene, "facsimile", None)
        if settings is not None and settings.last_device:
            layout.label(text=f"Last run used: {settings.last_device}")


def stored_device(context: bpy.types.Context | None = None) -> str | None:
    """Preferences > Device, or None where the add-on is not enabled through Blender's preferences."""
    context = context or bpy.context
    addon = context.preferences.addons.get(ADDON_ID) if context.preferences else None
    if addon is not None and addon.preferences is not None:
        return addon.preferences.device
    return None


def requested_device(explicit: str | None = None, context: bpy.types.Context | None = None) -> Device:
    """The device to run on: `explicit` (--device), else $FACSIMILE_DEVICE, else the preference, else auto."""
    return resolve_device(explicit, stored_device(context))


def register() -> None:
    bpy.utils.register_class(FacsimilePreferences)


def unregister() -> None:
    bpy.utils.unregister_class(FacsimilePreferences)
