"""`facsimile apply`: put ARKit weights from a JSON or Live Link CSV file onto a character in a .blend."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "apply",
        help="write ARKit weights (JSON or Live Link Face CSV) onto a mesh's shape keys and save a new .blend",
        description="One weight set becomes shape-key values; a sequence becomes keyframes from --start-frame on, "
        "resampled to the scene's frame rate when the file has timing. IN is never modified unless --in-place.",
    )
    p.add_argument("--blend", help="input .blend (omit inside Blender to use the loaded file)")
    p.add_argument("--object", required=True, help="mesh object whose shape keys are driven")
    p.add_argument("--weights", required=True, help="weights .json (one frame, a sequence, or solve output) or .csv")
    p.add_argument("--out", required=True, help="output .blend (written atomically)")
    p.add_argument("--preset", default="auto", help="arkit | livelink | ict | cc4 | auto | a JSON map file")
    p.add_argument("--start-frame", type=int, default=None, help="first keyed frame (default: the scene's start)")
    p.add_argument("--mirror", action="store_true", help="swap left and right channels")
    p.add_argument("--source-fps", type=float, default=None, help="Live Link timecode rate if it cannot be inferred")
    p.add_argument("--in-place", action="store_true", help="allow --out to be the input file")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Load and check the weights before touching Blender, so bad input costs nothing.
    from ..core.formats.weights_file import load_weights_file, scene_frames
    from ..core.retarget import build_retarget_map

    seq = load_weights_file(args.weights, source_fps=args.source_fps)

    import bpy

    from ..blend_io import check_output, get_object, open_blend, save_blend_atomic
    from ..shape_keys import bake_keyframes, require_shape_key_mesh, set_values, shape_key_names

    source = open_blend(args.blend)
    out = check_output(args.out, source, args.in_place)
    obj = require_shape_key_mesh(get_object(args.object), args.object)
    rmap = build_retarget_map(shape_key_names(obj), args.preset, mirror=args.mirror)
    scene = bpy.context.scene
    if seq.weights.shape[0] == 1 and seq.fps is None:
        report = set_values(obj, rmap, seq.weights[0])
        what = f"set {len(report.written)} shape keys"
    else:
        start = scene.frame_start if args.start_frame is None else args.start_frame
        fps = scene.render.fps / scene.render.fps_base
        frames, weights = scene_frames(seq, fps, start)
        report = bake_keyframes(obj, rmap, weights, frames)
        what = f"keyed {len(report.written)} shape keys on frames {int(frames[0])}-{int(frames[-1])}"
    save_blend_atomic(out)
    print(f"facsimile apply: {what} of '{obj.name}'; saved {out}")
    if report.unmatched:
        print(f"  no shape key for {len(report.unmatched)} ARKit channel(s): {', '.join(report.unmatched)}")
    if report.widened:
        print(f"  widened the slider range of: {', '.join(report.widened)}")
    return 0
