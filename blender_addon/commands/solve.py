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
import json
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
    p.set_defaults(run=run)


def _face_entry(face) -> dict:
    from ..core.arkit import weights_to_mapping

    entry = {
        "box": [round(float(v), 2) for v in face.box],
        "confidence": round(float(face.confidence), 4),
        "in_range": bool(face.in_range),
        "pose_deg": {k: round(float(v), 1) for k, v in zip(("yaw", "pitch", "roll"), face.pose_deg)},
        "weights": {k: round(v, 5) for k, v in weights_to_mapping(face.weights).items()},
    }
    if face.reason:
        entry["reason"] = face.reason
    return entry


def csv_paths(csv_out: str | None, videos: list[str]) -> dict[str, Path]:
    """Where each video's CSV goes: --csv itself for one video (unless it names a folder), else one file per video in
    that folder, never two videos onto one name (a/clip.mp4, b/clip.mp4 -> a_clip.csv, b_clip.csv)."""
    from ..core.output_guard import outputs_in_folder

    if csv_out is None or not videos:
        return {}
    if len(videos) == 1 and not csv_out.endswith(("/", "\\")) and not Path(csv_out).is_dir():
        return {videos[0]: Path(csv_out)}
    return dict(zip(videos, outputs_in_folder(csv_out, videos, ".csv")))


def _solve_video(solver, path: str, csv_path: Path | None, args) -> dict:
    import numpy as np

    from ..core.formats.livelink_csv import write_livelink_csv
    from ..core.formats.video_io import open_video

    source = open_video(path, args.fps)
    frames = list(solver.solve_video(path, smoothing=args.smoothing, fps=source.fps))
    weights = np.stack([f.weights for f in frames])
    found = sum(f.found for f in frames)
    entry: dict = {"file": path, "video": {"frames": len(frames), "fps": source.fps, "frames_with_face": found}}
    out_of_range = sum(1 for f in frames if f.face is not None and not f.face.in_range)
    if out_of_range:
        entry["video"]["frames_out_of_range"] = out_of_range
    if 0 < source.frame_count and len(frames) < source.frame_count:
        entry["video"]["warning"] = (
            f"ended after {len(frames)} of the {source.frame_count} frames its header promises (truncated or damaged?)"
        )
        print(f"facsimile solve: {path}: warning: {entry['video']['warning']}", file=sys.stderr)
    if found == 0:
        entry["error"] = "no face found in any frame; nothing written"
        return entry
    if csv_path is not None:
        write_livelink_csv(csv_path, weights, source.fps)
        entry["video"]["csv"] = str(csv_path)
    return entry


def run(args: argparse.Namespace) -> int:
    from ..core import validate
    from ..core.errors import FacsimileError
    from ..core.face.pipeline import FaceSolver
    from ..core.formats.video_io import is_pattern, is_video_path, sequence_files
    from ..core.models.device import resolve_device
    from ..core.output_guard import Named, check_outputs, named

    validate.whole(args.max_faces, "--max-faces", 1, 100)
    validate.number(args.smoothing, "--smoothing", 0.0, 1000.0)
    if args.fps is not None:
        validate.fps(args.fps, "--fps")
    videos = list(dict.fromkeys(p for p in args.inputs if is_video_path(p)))
    if videos and args.csv_out is None:
        print("facsimile solve: note: no --csv given, video weights are only summarised in the JSON", file=sys.stderr)
    if args.csv_out is not None and not videos:
        raise FacsimileError("--csv is for videos and image sequences, and no input is one")
    csv_for = csv_paths(args.csv_out, videos)
    # Before any solving: no output is an input or another output, and every output folder can be written.
    check_outputs(
        [Named("input", p) for p in args.inputs],
        [named("--json", args.json_out), *(Named("--csv", c) for c in csv_for.values())],
    )
    for p in args.inputs:
        if is_pattern(p):
            print(f"facsimile solve: note: {p} does not exist; read as a pattern matching "
                  f"{len(sequence_files(p))} image(s)", file=sys.stderr)  # fmt: skip
    device = resolve_device(args.device)  # no Blender here, so no add-on preference: --device, then the environment
    solver = FaceSolver(device=device, max_faces=args.max_faces)
    print(f"facsimile solve: running on {solver.device_info}", file=sys.stderr)
    results = []
    failed = 0
    for path in args.inputs:
        try:
            if is_video_path(path):
                entry = _solve_video(solver, path, csv_for.get(path), args)
            else:
                entry = {"file": path, "faces": [_face_entry(f) for f in solver.solve_file(path)]}
                if not entry["faces"]:  # as for a video without a face: said, and the exit code is 1
                    entry["error"] = "no face found; use a photo where a face is clearly visible and roughly frontal"
        except (FacsimileError, OSError) as exc:
            entry = {"file": path, "error": str(exc)}
        if "error" in entry:
            failed += 1
            print(f"facsimile solve: {path}: {entry['error']}", file=sys.stderr)
        results.append(entry)
    text = json.dumps({"results": results}, indent=1)
    if args.json_out:
        from ..core.atomic_io import atomic_output

        with atomic_output(args.json_out) as tmp:
            Path(tmp).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return 1 if failed else 0
