"""What the commands share: the options they spell the same way, and opening / saving the scene around a use case.

Commands only parse: they turn arguments into a use case's options, run it through edit_blend() (or on the loaded
file) and print its result.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ..core.models.device import DEVICES, ENV_VAR

T = TypeVar("T")


def add_device_option(p: argparse.ArgumentParser, what: str = "inference device") -> None:
    """--device; unset means $FACSIMILE_DEVICE, then the add-on preference, then auto (core/models/device.py)."""
    p.add_argument(
        "--device",
        choices=DEVICES,
        type=str.lower,
        default=None,
        help=f"{what}: {' | '.join(DEVICES)} (default ${ENV_VAR}, else the add-on preference, else auto); "
        "cuda fails clearly when CUDA is unusable",
    )


def add_scene_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--blend", help="input .blend (omit inside Blender to use the loaded file)")
    p.add_argument("--object", required=True, help="mesh object whose shape keys are driven")
    p.add_argument("--out", required=True, help="output .blend (written atomically; never the input unless --in-place)")
    p.add_argument("--in-place", action="store_true", help="allow --out to be the input file")
    p.add_argument(
        "--preset", default=None, help="arkit | livelink | ict | cc4 | auto | a JSON map file (default: the object's)"
    )
    p.add_argument("--mirror", action="store_true", default=None, help="swap left and right channels")
    add_device_option(p)
    p.add_argument("--json", dest="json_out", default=None, help="also write the solved ARKit weights to this JSON")


def parse_frame_range(text: str | None, default: tuple[int, int]) -> tuple[int, int]:
    """--frames 'A:B' -> (A, B) inclusive; `default` when not given."""
    from ..core.errors import FacsimileError

    if not text:
        return default
    try:
        a, b = (int(v) for v in text.split(":"))
    except ValueError:
        raise FacsimileError(
            f"--frames must look like A:B (two whole frame numbers, e.g. 1:120), got {text!r}"
        ) from None
    if b < a:
        raise FacsimileError(f"--frames {text}: the last frame comes before the first")
    return a, b


def optional_path(value: str | None) -> Path | None:
    return Path(value) if value else None


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

    from ..blend_io import check_output, get_object, open_blend, save_blend_atomic
    from ..core import output_plan
    from ..core.output_guard import Named, check_outputs
    from ..headless import ensure_registered

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
