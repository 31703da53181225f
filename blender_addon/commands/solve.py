"""`facsimile solve`: the 52 ARKit weights of every face in photos, and a Live Link Face CSV per video. No Blender.

JSON (--json, else stdout): {"results": [{"file": PATH, "faces": [{"box": [x, y, w, h], "confidence": c,
"in_range": bool, "weights": {"eyeBlinkLeft": v, ...}}]}]}, faces largest first, weights in contract order. A file that
cannot be read gets {"file": PATH, "error": MESSAGE} and the run goes on; the exit code is 1 when any input failed.
A photo or video without a face is such an error too. A video (file, image folder or glob) is tracked and smoothed,
one CSV row per frame (--csv; with several videos --csv names a folder and each video gets <name>.csv, or
<folder>_<name>.csv when two share a name); its JSON entry says where the CSV went and how many frames had a face.
No output may be an input or another output; all is checked before any solving.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._options import add_device_option


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "solve",
        help="ARKit-52 weights for every face in photos (JSON) and per frame of videos (Live Link Face CSV)",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    p.add_argument("inputs", nargs="+", metavar="PHOTO_OR_VIDEO", help="photos, videos, image folders or globs")
    p.add_argument("--json", dest="json_out", help="write the JSON here (default: print it)")
    p.add_argument("--csv", dest="csv_out", help="Live Link Face CSV for a video (a folder when several videos)")
    add_device_option(p)
    p.add_argument("--max-faces", type=int, default=4, help="most faces per photo (default 4)")
    p.add_argument("--smoothing", type=float, default=1.0, help="video One Euro smoothing: 0 off, 1 default")
    p.add_argument("--fps", type=float, default=None, help="video frame rate override (image sequences: 30)")
    p.add_argument(
        "--body",
        action="store_true",
        help='also the 33 body landmarks per person: "body": {"world_landmarks", "visibility", ...} in MediaPipe\'s '
        "order and axes (metres, origin between the hips, x right, y down, z away from the camera)",
    )
    p.set_defaults(run=run)


def options(args: argparse.Namespace):
    """The command line as the use case's SolveOptions."""
    from ..usecases.solve import SolveOptions

    return SolveOptions(
        inputs=tuple(args.inputs),
        json_out=Path(args.json_out) if args.json_out else None,
        csv_out=args.csv_out,
        device=args.device,
        max_faces=args.max_faces,
        smoothing=args.smoothing,
        fps=args.fps,
        body=args.body,
    )


def run(args: argparse.Namespace) -> int:
    from ..usecases.solve import solve

    result = solve(options(args), warn=lambda message: print(f"facsimile solve: {message}", file=sys.stderr))
    if args.json_out is None:
        print(result.to_json())
    return 1 if result.failed else 0
