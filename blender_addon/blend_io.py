"""Opening and saving .blend files for the headless commands, so that input is never lost.

Outputs are saved as a copy to a temporary .blend beside the target and renamed into place, so an error or a crash
never leaves a half-written file, and the input is never overwritten unless the user asked for --in-place.
"""

from __future__ import annotations

import os
from pathlib import Path

import bpy

from .core.atomic_io import atomic_output, check_writable_dir
from .core.errors import FacsimileError

_BLEND_MAGIC = (b"BLENDER", b"\x28\xb5\x2f\xfd", b"\x1f\x8b")  # plain, zstd- and gzip-compressed .blend


def open_blend(path: str | Path | None) -> Path | None:
    """Open IN.blend; with no path, keep the file Blender already has loaded (blender -b scene.blend -P cli.py)."""
    if path is None:
        current = bpy.data.filepath
        if not current:
            raise FacsimileError("no scene given: pass --blend IN.blend (or run inside Blender with a .blend loaded)")
        return Path(current)
    path = Path(path)
    if not path.is_file():
        raise FacsimileError(f"blend file {path} does not exist")
    with open(path, "rb") as f:
        head = f.read(8)
    if not head.startswith(_BLEND_MAGIC):
        raise FacsimileError(f"{path} is not a .blend file (or it is damaged)")
    from .core.interrupt import held

    try:
        with held():  # Blender's load handlers would print a Ctrl-C as a traceback and go on
            bpy.ops.wm.open_mainfile(filepath=str(path), load_ui=False)
    except RuntimeError as exc:
        raise FacsimileError(f"Blender could not open {path}: {str(exc).strip()}") from exc
    return path


def get_object(name: str) -> bpy.types.Object:
    obj = bpy.data.objects.get(name)
    if obj is None:
        meshes = sorted(o.name for o in bpy.data.objects if o.type == "MESH" and o.data.shape_keys)
        hint = (
            f" Meshes with shape keys here: {', '.join(meshes)}."
            if meshes
            else " This file has no mesh with shape keys."
        )
        raise FacsimileError(f"no object named '{name}' in the scene.{hint}")
    return obj


def check_output(out: str | Path, source: Path | None, in_place: bool) -> Path:
    """Refuse to overwrite the input unless asked, and fail early on an unwritable folder."""
    out = Path(out)
    if out.suffix.lower() != ".blend":
        raise FacsimileError(f"output {out} must end in .blend")
    if source is not None and out.resolve() == source.resolve() and not in_place:
        raise FacsimileError(f"output {out} is the input file; choose another --out or pass --in-place")
    return check_writable_dir(out)


def save_blend_atomic(out: str | Path) -> Path:
    """Save the current session as a copy to `out`, through a temporary file in the same folder (core.atomic_io:
    removed on any failure, Ctrl-C included, and swept on the next save when a killed run left it)."""
    out = check_writable_dir(out)
    with atomic_output(out, suffix=".blend") as tmp:
        from .core.interrupt import held

        try:
            with held():  # save handlers: as for opening
                result = bpy.ops.wm.save_as_mainfile(filepath=str(tmp), copy=True, check_existing=False)
        except RuntimeError as exc:
            raise FacsimileError(f"could not save {out}: {str(exc).strip()}") from exc
        if "FINISHED" not in result or not os.path.getsize(tmp):
            raise FacsimileError(f"Blender did not save {out}")
    return out
