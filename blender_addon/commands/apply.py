"""`facsimile apply`: put ARKit weights from a JSON or Live Link CSV file onto a character in a .blend."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "apply",
        help="write ARKit weights (JSON or Live Link Face CSV) onto a mesh's shape keys and save a new .blend",
        description="One weight set becomes shape-key values; a sequence becomes keyframes from --start-frame on, "
        "resampled to the scene's frame rate when the file has timing. The object's stored mapping, channel tuning "
        "and captured neutral apply, as in the panel (--raw-preset: the preset alone). IN is never modified unless "
        "--in-place.",
    )
    p.add_argument("--blend", help="input .blend (omit inside Blender to use the loaded file)")
    p.add_argument("--object", required=True, help="mesh object whose shape keys are driven")
    p.add_argument("--weights", required=True, help="weights .json (one frame, a sequence, or solve output) or .csv")
    p.add_argument("--out", required=True, help="output .blend (written atomically)")
    p.add_argument(
        "--preset", default=None, help="arkit | livelink | ict | cc4 | auto | a JSON map file (default: the object's)"
    )
    p.add_argument("--start-frame", type=int, default=None, help="first keyed frame (default: the scene's start)")
    p.add_argument("--mirror", action="store_true", default=None, help="swap left and right channels")
    p.add_argument(
        "--raw-preset",
        action="store_true",
        help="use the preset alone: ignore the object's stored channel tuning and captured neutral "
        "(by default they apply, as in the panel)",
    )
    p.add_argument("--source-fps", type=float, default=None, help="Live Link timecode rate if it cannot be inferred")
    p.add_argument("--in-place", action="store_true", help="allow --out to be the input file")
    p.add_argument(
        "--head", action="store_true", help="also key a Live Link CSV's head and eye columns on the rig (see --rig)"
    )
    from .capture import add_head_options

    add_head_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..host.blend_io import edit_blend
    from ..usecases.apply import ApplyOptions, apply_weights
    from .capture import head_options

    opts = ApplyOptions(
        weights=Path(args.weights),
        start_frame=args.start_frame,
        source_fps=args.source_fps,
        preset=args.preset,
        mirror=args.mirror,
        raw_preset=args.raw_preset,
        **(dict(zip(("head", "head_rig", "head_neutral"), head_options(args))) if args.head else {}),
    )
    seq = opts.load()  # bad weights fail before Blender loads anything
    (obj_name, result), out = edit_blend(
        args.blend, args.object, args.out, args.in_place, lambda obj: (obj.name, apply_weights(obj, opts, seq)), opts
    )
    print(f"facsimile apply: {result.summary} of '{obj_name}'; saved {out}")
    report = result.report
    if report.unmatched:
        print(f"  no shape key for {len(report.unmatched)} ARKit channel(s): {', '.join(report.unmatched)}")
    if report.widened:
        print(f"  widened the slider range of: {', '.join(report.widened)}")
    return 0
