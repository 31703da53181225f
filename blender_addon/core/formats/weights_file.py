"""Weights files a user brings: one frame or a sequence of ARKit weights as JSON, `facsimile solve` output, or a Live
Link Face CSV. Everything becomes a WeightsSequence: (N, 52) in contract order plus the frame rate when known.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import validate
from ..arkit import weights_from_mapping, weights_to_mapping
from ..atomic_io import atomic_write_text
from ..errors import FacsimileError
from .livelink_csv import read_livelink_csv


@dataclass
class WeightsSequence:
    weights: np.ndarray  # (N, 52) float32
    fps: float | None  # None: a single pose or frames without timing
    seconds: np.ndarray | None = None  # per-frame times when the source had real timecodes (Live Link)
    head: np.ndarray | None = None  # (N, 3) Live Link HeadYaw/HeadPitch/HeadRoll (radians) when the file has them
    eyes: np.ndarray | None = None  # (N, 6) Live Link Left/RightEye Yaw/Pitch/Roll (radians)


def _frame(obj: object, where: str) -> np.ndarray:
    if not isinstance(obj, dict):
        raise FacsimileError(f"{where}: expected an object of ARKit name -> weight, got {type(obj).__name__}")
    if not obj:
        raise FacsimileError(f'{where}: names no ARKit channel; give at least one, e.g. {{"jawOpen": 0.5}}')
    try:
        return weights_from_mapping(obj)
    except (ValueError, TypeError) as exc:
        raise FacsimileError(f"{where}: {exc}") from exc


def scene_frames(seq: WeightsSequence, scene_fps: float, start_frame: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Frames and weights to key at the scene's rate: timed sources are resampled (linear), untimed ones get one
    frame per row."""
    n = seq.weights.shape[0]
    if seq.fps is None and seq.seconds is None:
        validate.frame_span(start_frame, n, "start frame")
        return start_frame + np.arange(n), seq.weights
    if scene_fps <= 0:
        raise FacsimileError(f"scene fps must be positive, got {scene_fps}")
    seconds = seq.seconds if seq.seconds is not None else np.arange(n) / float(seq.fps)
    t = seconds - seconds[0]
    span = t[-1] * scene_fps
    if not np.isfinite(span) or span > validate.MAX_FRAME - validate.MIN_FRAME:
        raise FacsimileError(
            f"the take lasts {t[-1]:g} s, more than Blender's frame range holds at {scene_fps:g} fps; check its fps"
        )
    count = int(np.floor(span + 1e-6)) + 1
    validate.frame_span(start_frame, count, "start frame")
    times = np.arange(count) / scene_fps
    out = np.empty((count, seq.weights.shape[1]), dtype=np.float32)
    for c in range(seq.weights.shape[1]):
        out[:, c] = np.interp(times, t, seq.weights[:, c])
    return start_frame + np.arange(count), out


def parse_weights_json(data: object, source: str = "JSON") -> WeightsSequence:
    """Accepts {"jawOpen": 0.5, ...}, {"fps": 30, "frames": [{...}, ...]} or solve's {"results": [...]}."""
    if isinstance(data, dict) and "frames" in data:
        frames = data["frames"]
        if not isinstance(frames, list) or not frames:
            raise FacsimileError(f"{source}: 'frames' must be a non-empty list of ARKit weight objects")
        fps = data.get("fps")
        if fps is not None:
            if isinstance(fps, bool) or not isinstance(fps, int | float):
                raise FacsimileError(f"{source}: 'fps' must be a positive number, got {fps!r}")
            fps = validate.fps(fps, f"{source}: 'fps'")
        w = np.stack([_frame(f, f"{source} frame {i}") for i, f in enumerate(frames)])
        return WeightsSequence(w, float(fps) if fps else None)
    if isinstance(data, dict) and "results" in data:
        rows, problems = [], []
        results = data["results"] or []
        if not isinstance(results, list):
            raise FacsimileError(f"{source}: 'results' must be a list, as `facsimile solve` writes it")
        for r in results:
            name = r.get("file", "?") if isinstance(r, dict) else "?"
            faces = r.get("faces") if isinstance(r, dict) else None
            if faces and (not isinstance(faces, list) or not isinstance(faces[0], dict)):
                raise FacsimileError(f"{source}: result {name}: 'faces' must be a list of objects with 'weights'")
            if not faces:
                problems.append(f"{name} ({r.get('error', 'no face found') if isinstance(r, dict) else 'bad entry'})")
                continue
            rows.append(_frame(faces[0].get("weights"), f"{source} result {name}"))
        if problems:
            raise FacsimileError(
                f"{source}: solve results without a usable face: {'; '.join(problems)}. Remove them or re-run solve."
            )
        if not rows:
            raise FacsimileError(f"{source}: solve output holds no results")
        return WeightsSequence(np.stack(rows), None)
    return WeightsSequence(_frame(data, source)[None, :], None)


def load_weights_file(path: str | Path, source_fps: float | None = None) -> WeightsSequence:
    """Load .json (any form above) or .csv (Live Link Face) weights, with errors that name the file and problem."""
    from ..output_plan import check_input

    path = Path(path)
    check_input("weights file", path)
    if not path.is_file():
        raise FacsimileError(f"weights file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        take = read_livelink_csv(path, source_fps=source_fps)
        return WeightsSequence(take.weights, take.source_fps, take.seconds, take.head, take.eyes)
    if suffix != ".json":
        raise FacsimileError(f"weights file {path} must be .json or a Live Link Face .csv")
    from .json_file import read_json_file

    return parse_weights_json(read_json_file(path, "weights file"), str(path))


def write_weights_json(path: str | Path, weights: np.ndarray, fps: float | None = None) -> Path:
    """(52,) -> a single-frame object; (N, 52) -> {"fps": ..., "frames": [...]}. Written atomically."""
    w = np.asarray(weights, dtype=np.float64)
    if not np.all(np.isfinite(w)):
        raise FacsimileError("weights contain NaN or infinite values; nothing written")
    if w.ndim == 1:
        payload: object = weights_to_mapping(w)
    else:
        payload = {"fps": fps, "frames": [weights_to_mapping(row) for row in w]}
    return atomic_write_text(path, json.dumps(payload, indent=1) + "\n")
