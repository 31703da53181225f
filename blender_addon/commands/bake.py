"""`facsimile bake`: solve a video or image sequence and key a character's shape keys in a .blend."""

from __future__ import annotations

import argparse
import sys

from ._options import add_scene_options


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


def bake_loaded_scene(args: argparse.Namespace, obj) -> object:
    """The bake itself on the scene already open (shared with `facsimile batch`)."""
    import bpy

    from ..runtime import BakeJob, run_bake

    scene = bpy.context.scene
    start = scene.frame_start if args.start_frame is None else args.start_frame
    job = BakeJob(
        obj,
        args.video,
        device=args.device,
        first=args.first,
        last=args.last,
        stride=args.stride,
        start_frame=start,
        smoothing=args.smoothing,
        scene=scene,
    )

    def progress(j) -> None:
        if not getattr(args, "quiet", False):
            print(f"\r  {j.status}", end="", file=sys.stderr, flush=True)

    try:
        result = run_bake(job, chunk=32, progress=progress)
    finally:
        if not getattr(args, "quiet", False):
            print(file=sys.stderr)
    if args.json_out:
        from ..core.formats.weights_file import write_weights_json
        from ..runtime import last_solve

        weights, fps = last_solve(obj)
        write_weights_json(args.json_out, weights, fps)
    return result


def run(args: argparse.Namespace) -> int:
    from ..blend_io import check_output, get_object, open_blend, save_blend_atomic
    from ..core.atomic_io import check_writable_dir
    from ..core.formats.video_io import open_video
    from ..runtime import configure_mapping, ensure_registered

    open_video(args.video)  # a missing or undecodable clip fails before the scene is loaded
    if args.json_out:
        check_writable_dir(args.json_out)
    ensure_registered()
    source = open_blend(args.blend)
    out = check_output(args.out, source, args.in_place)
    obj = get_object(args.object)
    configure_mapping(obj, args.preset, args.mirror)
    result = bake_loaded_scene(args, obj)
    save_blend_atomic(out)
    print(f"facsimile bake: {result.summary}; saved {out}")
    return 0
