"""What the commands share: the options they spell the same way.

Commands only parse: they turn arguments into a use case's options, run it through blend_io.edit_blend() (or on the
loaded file) and print its result.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.models.device import DEVICES, ENV_VAR


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
