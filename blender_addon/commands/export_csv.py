"""`facsimile export-csv`: read a character's baked shape-key animation back as a Live Link Face CSV."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export-csv",
        help="write a mesh's shape-key animation (per ARKit channel) as a Live Link Face CSV",
        description="Evaluates the object's shape-key animation at every frame of the range and writes one row per "
        "frame at the scene's frame rate. A channel driving several keys exports their mean; unmapped channels are 0.",
    )
    p.add_argument("--blend", help="input .blend (omit inside Blender to use the loaded file)")
    p.add_argument("--object", required=True, help="mesh object whose shape keys are animated")
    p.add_argument("--out", required=True, help="output .csv (written atomically)")
    p.add_argument("--frames", default=None, help="A:B inclusive frame range (default: the scene's range)")
    p.add_argument("--preset", default=None, help="mapping preset or JSON map (default: the object's)")
    p.set_defaults(run=run)


def parse_range(text: str | None, default: tuple[int, int]) -> tuple[int, int]:
    from ..core.errors import FacsimileError

    if not text:
        return default
    try:
        a, b = (int(v) for v in text.split(":"))
    except ValueError as exc:
        raise FacsimileError(f"--frames {text!r} must look like A:B (two whole frame numbers)") from exc
    if b < a:
        raise FacsimileError(f"--frames {text}: the last frame comes before the first")
    return a, b


def run(args: argparse.Namespace) -> int:
    import bpy
    import numpy as np

    from ..blend_io import get_object, open_blend
    from ..core.atomic_io import check_writable_dir
    from ..core.errors import FacsimileError
    from ..core.formats.livelink_csv import write_livelink_csv
    from ..runtime import configure_mapping, ensure_registered, read_channel_animation, scene_fps

    if not args.out.lower().endswith(".csv"):
        raise FacsimileError(f"output {args.out} must end in .csv")
    check_writable_dir(args.out)
    ensure_registered()
    open_blend(args.blend)
    scene = bpy.context.scene
    a, b = parse_range(args.frames, (scene.frame_start, scene.frame_end))
    obj = get_object(args.object)
    configure_mapping(obj, args.preset, None)
    weights = read_channel_animation(obj, np.arange(a, b + 1))
    write_livelink_csv(args.out, weights, scene_fps(scene))
    print(f"facsimile export-csv: frames {a}-{b} of '{obj.name}' at {scene_fps(scene):g} fps written to {args.out}")
    return 0
