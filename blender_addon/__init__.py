"""Facsimile: face photo/video to ARKit-52 shape keys, and LBS body posing, as a Blender extension.

bpy is imported only inside register()/unregister() and the modules they load, so that `blender_addon.core` can be
imported by training code and tests without Blender.
"""

from __future__ import annotations

import importlib

# Modules with register()/unregister(), in registration order (properties before the operators and panels using them).
_UI_MODULES: tuple[str, ...] = (
    "properties",
    "preferences",
    "operators",
    "lbs_operators",
    "keygen_operators",
    "panel",
    "capture_ui",
)

_loaded: list = []


def register() -> None:
    for name in _UI_MODULES:
        module = importlib.import_module(f"{__package__}.{name}")
        module.register()
        _loaded.append(module)


def unregister() -> None:
    while _loaded:
        _loaded.pop().unregister()
