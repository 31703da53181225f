"""Let the bpy module shut Blender down at interpreter exit, so that a headless command always ends.

Why this exists: the bpy module (4.5) runs Blender's shutdown (WM_exit: stops the audio device's delayed-close thread,
removes the session temp folder) only when the module object itself is freed during interpreter finalisation.
Anything that Blender's C side keeps and that refers to the module keeps it alive, and then the shutdown never runs:
the Python-driver namespace (created the first time a scripted driver that is not a simple expression is evaluated,
which opening such a .blend does, or when `bpy.app.driver_namespace` is read; it holds `bpy`). (An app handler or
timer left registered does the same; the add-on registers none outside Blender's own add-on cycle.) At exit() the sound module's static state then destroys a condition variable
that its still-running thread waits on, and the process blocks forever in pthread_cond_destroy after the command has
succeeded. Dropping those references before finalisation lets the normal shutdown run, with the exit code intact.
"""

from __future__ import annotations

import atexit
import sys

_installed = False


def release_blender_references() -> None:
    """Empty what Blender's C side holds that keeps the bpy module alive (only at exit: drivers need it while open)."""
    bpy = sys.modules.get("bpy")
    if bpy is None:
        return
    try:
        bpy.app.driver_namespace.clear()
    except Exception:  # noqa: BLE001 - at exit nothing may stop the shutdown
        pass


def install() -> None:
    """Run release_blender_references() at interpreter exit (once; a no-op when bpy was never imported)."""
    global _installed
    if _installed or "bpy" not in sys.modules:
        return
    atexit.register(release_blender_references)
    _installed = True
