"""Opening and saving .blend files for the headless commands, so that input is never lost.

Outputs are saved as a copy to a temporary .blend beside the target and renamed into place, so an error or a crash
never leaves a half-written file, and the input is never overwritten unless the user asked for --in-place.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import bpy

from ..core.atomic_io import atomic_output, check_writable_dir
from ..core.errors import FacsimileError

T = TypeVar("T")

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
    from ..core.interrupt import held

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


@contextlib.contextmanager
def _no_thumbnail():
    """Save without a preview image: Blender 5.x also writes it to ~/.cache/thumbnails, a picture of the actor's face
    outside the outputs the user named (issue 21, finding 14). The preference is restored after the save."""
    paths = getattr(getattr(bpy.context, "preferences", None), "filepaths", None)
    previous = getattr(paths, "file_preview_type", None)
    if previous is None:
        yield
        return
    paths.file_preview_type = "NONE"
    try:
        yield
    finally:
        paths.file_preview_type = previous


def save_blend_atomic(out: str | Path) -> Path:
    """Save the current session as a copy to `out`, through a temporary file in the same folder (core.atomic_io:
    removed on any failure, Ctrl-C included, and swept on the next save when a killed run left it)."""
    out = check_writable_dir(out)
    with atomic_output(out, suffix=".blend") as tmp:
        from ..core.interrupt import held

        try:
            with held(), _no_thumbnail():  # save handlers: as for opening
                result = bpy.ops.wm.save_as_mainfile(filepath=str(tmp), copy=True, check_existing=False)
        except RuntimeError as exc:
            raise FacsimileError(f"could not save {out}: {str(exc).strip()}") from exc
        if "FINISHED" not in result or not os.path.getsize(tmp):
            raise FacsimileError(f"Blender did not save {out}")
    return out


def edit_blend(
    blend: str | None,
    object_name: str,
    out: str,
    in_place: bool,
    work: Callable[[object], T],
    opts=None,
    extra_outputs: tuple = (),
) -> tuple[T, Path]:
    """Open the scene, run work(object) on the named object and save the result atomically to `out` (never the
    input unless in_place); the saved path comes back with work's result.

    Before anything is opened, `out` and the use case's side outputs (opts.outputs()) are checked against the scene
    and the use case's inputs (opts.inputs()), with `extra_outputs` (core.output_guard.Named: what the command writes
    after the scene, e.g. a report): no output may be an input or another output, and each must be replaceable
    (core.output_guard, core.output_plan). The scene is the run's main output: side outputs wait for it."""
    import os

    import bpy

    from ..core import output_plan
    from ..core.output_guard import Named, check_outputs
    from .headless import ensure_registered

    scene = blend or bpy.data.filepath or None
    check_outputs(
        [Named("scene", scene) if scene else None, *(opts.inputs() if opts is not None else ())],
        [Named("output", out), *(opts.outputs() if opts is not None else ()), *extra_outputs],
        in_place_pairs=[("output", "scene")],
        in_place=in_place,
    )
    if scene and os.path.isfile(scene):  # the saved scene is about the size of the one it was opened from
        output_plan.check_free_space(out, os.path.getsize(scene))
    from ..core.output_guard import same_file

    # Side outputs written by the work wait for the saved scene.
    output_plan.declare_main(out, in_place=bool(in_place and scene and same_file(out, scene)))
    ensure_registered()
    source = open_blend(blend)
    target = check_output(out, source, in_place)
    result = work(get_object(object_name))
    return result, save_blend_atomic(target)
