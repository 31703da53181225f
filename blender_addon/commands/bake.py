"""`facsimile bake`: solve a video or image sequence and key a character's shape keys in a .blend."""

from __future__ import annotations

import argparse
import sys

from ._options import add_scene_options, optional_path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bake",
        help="solve a video / image sequence and key a mesh's shape keys; save a new .blend",
        description="Tracks one face through CLIP (a video file, a folder of images or a glob), solves ARKit-52 "
        "weights per frame, smooths them (One Euro, blink-safe) and keys the object's shape keys from "
        "--start-frame on, keeping the clip's timing. IN is never modified unless --in-place.",
    )
    add_scene_options(p)
    p.add_argument("--video", required=True, help="video file, image folder or glob pattern ('shots/*.png')")
    p.add_argument("--start-frame", type=int, default=None, help="scene frame of the first key (default: scene start)")
    p.add_argument("--stride", type=int, default=1, help="use every Nth source frame (default 1)")
    p.add_argument("--first", type=int, default=0, help="first source frame, 0-based (default 0)")
    p.add_argument("--last", type=int, default=None, help="last source frame, inclusive (default: the end)")
    p.add_argument("--smoothing", type=float, default=1.0, help="One Euro strength: 0 = off, 1 = default, >1 smoother")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(run=run)


def options(args: argparse.Namespace):
    """The command line as the use case's BakeOptions."""
    from ..usecases.bake import BakeOptions

    return BakeOptions(
        clip=args.video,
        first=args.first,
        last=args.last,
        stride=args.stride,
        start_frame=args.start_frame,
        smoothing=args.smoothing,
        device=args.device,
        preset=args.preset,
        mirror=args.mirror,
        json_out=optional_path(args.json_out),
    )


def run(args: argparse.Namespace) -> int:
    from ..host.blend_io import edit_blend  # imports bpy: only once the command runs (signals held by cli)
    from ..usecases.bake import bake

    opts = options(args)
    opts.check()  # a missing or undecodable clip fails before the scene is loaded

    def progress(job) -> None:
        if not args.quiet:
            print(f"\r  {job.status}", end="", file=sys.stderr, flush=True)

    def work(obj):
        try:
            return bake(obj, opts, progress=progress)
        finally:
            if not args.quiet:
                print(file=sys.stderr)

    result, out = edit_blend(args.blend, args.object, args.out, args.in_place, work, opts)
    print(f"facsimile bake: {result.summary}; saved {out}")
    return 0
