"""Solve photos and videos to ARKit-52 weights without Blender: the use case behind `facsimile solve`.

Photos give every face (largest first) with its box, confidence, head pose and weights; a video (file, image folder or
glob) is tracked and smoothed, and its weights go to a Live Link Face CSV. A file that cannot be read, or holds no
face, becomes an entry with an "error" and the run goes on. Nothing here imports bpy.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import FacsimileError

NO_FACE_IN_PHOTO = "no face found; use a photo where a face is clearly visible and roughly frontal"
NO_FACE_IN_VIDEO = "no face found in any frame; nothing written"


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr)


@dataclass(frozen=True)
class SolveOptions:
    inputs: tuple[str, ...]
    json_out: Path | None = None  # None: the caller prints the JSON
    csv_out: str | None = None  # a Live Link CSV for one video, or a folder for several
    device: str | None = None  # explicit device; None = $FACSIMILE_DEVICE, then auto (no add-on preference here)
    max_faces: int = 4
    smoothing: float = 1.0  # video One Euro smoothing: 0 off, 1 default
    fps: float | None = None  # video frame rate override (image sequences default to 30)
    body: bool = False  # also the 33 body landmarks per person (core/body/pose_report.py gives the JSON)

    def videos(self) -> list[str]:
        """The inputs that are videos or image sequences, each once."""
        from ..core.formats.video_io import is_video_path

        return list(dict.fromkeys(p for p in self.inputs if is_video_path(p)))

    def csv_paths(self) -> dict[str, Path]:
        """Where each video's CSV goes: csv_out itself for one video (unless it names a folder), else one file per
        video in that folder, never two videos onto one name (a/clip.mp4, b/clip.mp4 -> a_clip.csv, b_clip.csv)."""
        from ..core.output_guard import outputs_in_folder

        videos = self.videos()
        if self.csv_out is None or not videos:
            return {}
        out = self.csv_out
        if len(videos) == 1 and not out.endswith(("/", "\\")) and not Path(out).is_dir():
            return {videos[0]: Path(out)}
        return dict(zip(videos, outputs_in_folder(out, videos, ".csv")))

    def check(self) -> None:
        """What costs nothing, before any model loads: numbers in range, --csv only with a video, and no output is an
        input or another output (every output folder writable)."""
        from ..core import validate
        from ..core.output_guard import Named, check_outputs, named

        if not self.inputs:
            raise FacsimileError("no input given: name at least one photo, video, image folder or glob")
        validate.whole(self.max_faces, "--max-faces", 1, 100)
        validate.number(self.smoothing, "--smoothing", 0.0, 1000.0)
        if self.fps is not None:
            validate.fps(self.fps, "--fps")
        if self.csv_out is not None and not self.videos():
            raise FacsimileError("--csv is for videos and image sequences, and no input is one")
        check_outputs(
            [Named("input", p) for p in self.inputs],
            [named("--json", self.json_out), *(Named("--csv", c) for c in self.csv_paths().values())],
        )


@dataclass
class SolveResult:
    """One entry per input, in input order (see module docstring), and the devices the stages ran on."""

    entries: list[dict] = field(default_factory=list)
    device: str = ""

    @property
    def failed(self) -> int:
        return sum(1 for e in self.entries if "error" in e)

    def to_json(self) -> str:
        return json.dumps({"results": self.entries}, indent=1)


def face_entry(face, head=None) -> dict:
    """One solved face as JSON: box, confidence, in-range flag, head pose (yaw, pitch, roll in degrees: the fit of
    core/face/head_pose.py when `head` is given, its docstring has the convention) and gaze, weights."""
    from ..core.arkit import weights_to_mapping

    pose = face.pose_deg if head is None else head.ypr_deg
    entry = {
        "box": [round(float(v), 2) for v in face.box],
        "confidence": round(float(face.confidence), 4),
        "in_range": bool(face.in_range),
        "pose_deg": {k: round(float(v), 1) for k, v in zip(("yaw", "pitch", "roll"), pose)},
        "weights": {k: round(v, 5) for k, v in weights_to_mapping(face.weights).items()},
    }
    if head is not None:
        entry["gaze_deg"] = {
            side: {"yaw": round(float(g[0]), 1), "pitch": round(float(g[1]), 1)}
            for side, g in zip(("right_eye", "left_eye"), head.gaze_deg)
        }
    if face.reason:
        entry["reason"] = face.reason
    return entry


def _solve_photo(solver, path: str, bodies=None) -> dict:
    from ..core.face.head_pose import head_poses
    from ..core.formats.image_io import load_image

    image = load_image(path)  # one decode for the face, the head and the body
    faces = solver.solve_image(image)
    entry = {"file": path, "faces": [face_entry(f, h) for f, h in zip(faces, head_poses(faces, image))]}
    if bodies is not None:  # each body goes to the face it carries (else to "bodies")
        from ..core.body.pose_report import body_entry, match_faces

        poses = bodies.detect(image).poses
        owner, rest = match_faces([f.box for f in faces], poses, (image.shape[1], image.shape[0]))
        for fi, pi in owner.items():
            entry["faces"][fi]["body"] = body_entry(poses[pi])
        if rest:
            entry["bodies"] = [{"body": body_entry(poses[pi])} for pi in rest]
    if not entry["faces"]:  # as for a video without a face: said, and the exit code is 1
        entry["error"] = NO_FACE_IN_PHOTO
    return entry


def _solve_video(solver, path: str, csv_path: Path | None, opts: SolveOptions, warn: Callable[[str], None]) -> dict:
    """Track and smooth one video (opened once), summarise it, and write its CSV when a face was found."""
    import numpy as np

    from ..core.formats.livelink_csv import write_livelink_csv
    from ..core.formats.video_io import open_video

    source = open_video(path, opts.fps)
    size: list[tuple[int, int]] = []

    def sized(frames):
        for image in frames:
            size[:] = [image.shape[:2]]
            yield image

    decoded, bodies = sized(source.frames()), []
    if opts.body:  # the body tracker sees the same decoded frames as the face tracker
        from ..core.body.pose_report import track_bodies
        from ..core.models.device import resolve_device

        decoded = track_bodies(
            decoded, source.fps, bodies, device=resolve_device(opts.device), smoothing=opts.smoothing
        )
    frames = list(solver.solve_video(decoded, smoothing=opts.smoothing, fps=source.fps))
    found = sum(f.found for f in frames)
    video: dict = {"frames": len(frames), "fps": source.fps, "frames_with_face": found}
    entry: dict = {"file": path, "video": video}
    out_of_range = sum(1 for f in frames if f.face is not None and not f.face.in_range)
    if out_of_range:
        video["frames_out_of_range"] = out_of_range
    if source.ended_early(len(frames)):
        video["warning"] = (
            f"ended after {len(frames)} of the {source.frame_count} frames its header promises (truncated or damaged?)"
        )
        warn(f"{path}: warning: {video['warning']}")
    if opts.body:
        video["body"] = {"frames_with_body": sum(b is not None for b in bodies), "frames": bodies}
    if found == 0:
        entry["error"] = NO_FACE_IN_VIDEO
        return entry
    if csv_path is not None:
        from ..core.face.head_pose import track_video_heads
        from ..core.rig.head_rig import livelink_from_angles

        ypr, gaze, _ = track_video_heads(frames, size[0][1], size[0][0], opts.smoothing)
        head, eyes = livelink_from_angles(ypr, gaze)
        write_livelink_csv(csv_path, np.stack([f.weights for f in frames]), source.fps, head=head, eyes=eyes)
        video["csv"] = str(csv_path)
    return entry


def solve(opts: SolveOptions, warn: Callable[[str], None] = _to_stderr) -> SolveResult:
    """Check the options, solve every input in order and write the CSVs and (when asked) the JSON atomically.

    warn receives notes and per-file errors as they happen (the CLI prefixes them with its name)."""
    from ..core.face.pipeline import FaceSolver
    from ..core.formats.video_io import is_pattern, is_video_path, sequence_files
    from ..core.models.device import resolve_device

    opts.check()
    if opts.videos() and opts.csv_out is None:
        warn("note: no --csv given, video weights are only summarised in the JSON")
    for p in opts.inputs:
        if is_pattern(p):
            warn(f"note: {p} does not exist; read as a pattern matching {len(sequence_files(p))} image(s)")
    csv_for = opts.csv_paths()
    solver = FaceSolver(device=resolve_device(opts.device), max_faces=opts.max_faces)
    result = SolveResult(device=solver.device_info)
    bodies = None
    if opts.body and any(not is_video_path(p) for p in opts.inputs):
        from ..core.body.pose_landmarker import PoseLandmarker, PoseLandmarkerOptions

        bodies = PoseLandmarker(PoseLandmarkerOptions(num_poses=opts.max_faces, device=resolve_device(opts.device)))
    warn(f"running on {result.device}")
    for path in opts.inputs:
        try:
            if is_video_path(path):
                entry = _solve_video(solver, path, csv_for.get(path), opts, warn)
            else:
                entry = _solve_photo(solver, path, bodies)
        except (FacsimileError, OSError) as exc:
            entry = {"file": path, "error": str(exc)}
        if "error" in entry:
            warn(f"{path}: {entry['error']}")
        result.entries.append(entry)
    if opts.json_out is not None:
        from ..core.atomic_io import atomic_output

        with atomic_output(opts.json_out) as tmp:
            Path(tmp).write_text(result.to_json() + "\n", encoding="utf-8")
    return result
