"""Running without the add-on enabled (the headless CLI, scripts, tests): register the properties the character
state lives in, once, and release them at exit."""

from __future__ import annotations

import bpy


def ensure_registered() -> None:
    """Headless commands need the add-on's properties (the mapping stored on objects): register them once.

    Inside Blender with the extension enabled they already exist and nothing happens. The bpy module hangs at
    interpreter exit while add-on classes are still registered, so what is registered here is unregistered at exit.
    """
    if not hasattr(bpy.types.Object, "facsimile"):
        import atexit

        from ..ui import properties

        properties.register()
        atexit.register(release_properties)


def release_properties() -> None:
    """Undo ensure_registered() (tests, and the exit hook)."""
    from ..ui import properties

    if hasattr(bpy.types.Object, "facsimile"):
        properties.unregister()
