"""Facsimile: face photo/video to ARKit-52 shape keys, and LBS body posing, as a Blender extension.

bpy is imported only inside register()/unregister() and the modules they load, so that `blender_addon.core` can be
imported by training code and tests without Blender.
"""

from __future__ import annotations


# Modules with register()/unregister(), in registration order (properties before the operators and panels using them).
def _ui_modules() -> tuple:
    from .ui import capture_ui, keygen_operators, lbs_operators, operators, panel, preferences, properties

    return (properties, preferences, operators, lbs_operators, keygen_operators, panel, capture_ui)


_loaded: list = []


def register() -> None:
    for module in _ui_modules():
        module.register()
        _loaded.append(module)


def unregister() -> None:
    while _loaded:
        _loaded.pop().unregister()
