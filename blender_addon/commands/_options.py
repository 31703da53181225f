"""Options the photo/bake/batch commands share, so they read the same everywhere."""

from __future__ import annotations

import argparse
import os


def add_scene_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--blend", help="input .blend (omit inside Blender to use the loaded file)")
    p.add_argument("--object", required=True, help="mesh object whose shape keys are driven")
    p.add_argument("--out", required=True, help="output .blend (written atomically; never the input unless --in-place)")
    p.add_argument("--in-place", action="store_true", help="allow --out to be the input file")
    p.add_argument(
        "--preset", default=None, help="arkit | livelink | ict | cc4 | auto | a JSON map file (default: the object's)"
    )
    p.add_argument("--mirror", action="store_true", default=None, help="swap left and right channels")
    p.add_argument(
        "--device",
        choices=("auto", "cuda", "cpu"),
        default=os.environ.get("FACSIMILE_DEVICE", "auto").lower(),
        help="inference device (default $FACSIMILE_DEVICE or auto); cuda fails clearly when CUDA is unusable",
    )
    p.add_argument("--json", dest="json_out", default=None, help="also write the solved ARKit weights to this JSON")
