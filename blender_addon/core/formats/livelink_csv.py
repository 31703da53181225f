"""Live Link Face CSV (Epic's iPhone capture app): read and write takes.

Columns are matched by name (case-insensitive), never by position, because recordings from different app versions
differ in letter case ("BlendShapeCount" / "BlendshapeCount"). All 52 blendshape columns and the Timecode must be
there: a take with a missing column would otherwise zero a channel silently. The writer uses the app's column order.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..arkit import ARKIT_NAMES, NUM_BLENDSHAPES
from ..atomic_io import atomic_output
from ..errors import FacsimileError

# The app's blendshape column order (JawRight before JawLeft, MouthRight before MouthLeft, as recorded).
LIVELINK_ORDER: tuple[str, ...] = (
    "EyeBlinkLeft", "EyeLookDownLeft", "EyeLookInLeft", "EyeLookOutLeft", "EyeLookUpLeft", "EyeSquintLeft",
    "EyeWideLeft", "EyeBlinkRight", "EyeLookDownRight", "EyeLookInRight", "EyeLookOutRight", "EyeLookUpRight",
    "EyeSquintRight", "EyeWideRight", "JawForward", "JawRight", "JawLeft", "JawOpen", "MouthClose", "MouthFunnel",
    "MouthPucker", "MouthRight", "MouthLeft", "MouthSmileLeft", "MouthSmileRight", "MouthFrownLeft",
    "MouthFrownRight", "MouthDimpleLeft", "MouthDimpleRight", "MouthStretchLeft", "MouthStretchRight",
    "MouthRollLower", "MouthRollUpper", "MouthShrugLower", "MouthShrugUpper", "MouthPressLeft", "MouthPressRight",
    "MouthLowerDownLeft", "MouthLowerDownRight", "MouthUpperUpLeft", "MouthUpperUpRight", "BrowDownLeft",
    "BrowDownRight", "BrowInnerUp", "BrowOuterUpLeft", "BrowOuterUpRight", "CheekPuff", "CheekSquintLeft",
    "CheekSquintRight", "NoseSneerLeft", "NoseSneerRight", "TongueOut",
)  # fmt: skip
HEAD_COLUMNS: tuple[str, ...] = ("HeadYaw", "HeadPitch", "HeadRoll")
EYE_COLUMNS: tuple[str, ...] = (
    "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll", "RightEyeYaw", "RightEyePitch", "RightEyeRoll",
)  # fmt: skip
HEADER: tuple[str, ...] = ("Timecode", "BlendShapeCount") + LIVELINK_ORDER + HEAD_COLUMNS + EYE_COLUMNS

# Column j of a Live Link row holds ARKit channel _LL_TO_ARKIT[j].
_LL_TO_ARKIT = np.array([ARKIT_NAMES.index(n[0].lower() + n[1:]) for n in LIVELINK_ORDER], dtype=np.int64)
_RECORDING_RATES = (24.0, 25.0, 30.0, 60.0, 120.0)  # the rates Live Link Face records at
_TIMECODE = re.compile(r"^(\d+):(\d{1,2}):(\d{1,2})[:;](\d+)(?:\.(\d+))?$")


@dataclass
class LiveLinkTake:
    """One recording: per-row time in seconds, ARKit weights in contract order, head and eye rotations."""

    seconds: np.ndarray  # (N,) float64, from the Timecode column
    weights: np.ndarray  # (N, 52) float32, core.arkit order
    head: np.ndarray  # (N, 3) yaw, pitch, roll (0 when absent)
    eyes: np.ndarray  # (N, 6) left yaw/pitch/roll, right yaw/pitch/roll (0 when absent)
    source_fps: float


def parse_timecode(text: str, fps: float) -> float:
    """'HH:MM:SS:FF[.sub]' -> seconds, where FF(.sub) counts frames at the recording's fps."""
    m = _TIMECODE.match(text.strip())
    if not m:
        raise FacsimileError(f"bad timecode {text!r}; expected HH:MM:SS:FF.mmm")
    h, mi, s, f = (int(g) for g in m.groups()[:4])
    sub = float("0." + m.group(5)) if m.group(5) else 0.0
    return h * 3600 + mi * 60 + s + (f + sub) / fps


def format_timecode(seconds: float, fps: float) -> str:
    whole_frames = seconds * fps
    frame_total = math.floor(whole_frames + 1e-9)
    sub = max(0.0, whole_frames - frame_total)
    fps_int = int(round(fps))
    secs_total, ff = divmod(frame_total, fps_int)
    h, rem = divmod(int(secs_total), 3600)
    mi, s = divmod(rem, 60)
    return f"{h % 24:02d}:{mi:02d}:{s:02d}:{int(ff):02d}.{int(round(sub * 1000)) % 1000:03d}"


def _infer_fps(frame_fields: list[int], second_fields: list[int]) -> float:
    """The recording's rate: the frame field just before a seconds roll-over is fps - 1; without a roll-over, the
    smallest recording rate above the largest frame field seen."""
    top = max(frame_fields, default=0)
    for i in range(1, len(frame_fields)):
        if second_fields[i] == second_fields[i - 1] + 1 and frame_fields[i] < frame_fields[i - 1]:
            rate = float(frame_fields[i - 1] + 1)
            if rate in _RECORDING_RATES and top < rate:
                return rate
    for rate in _RECORDING_RATES:
        if top < rate:
            return rate
    raise FacsimileError(f"timecode frame field reaches {top}; give the recording's frame rate explicitly")


def read_livelink_csv(path: str | Path, source_fps: float | None = None) -> LiveLinkTake:
    """Parse a Live Link Face CSV; missing columns, NaN values and bad timecodes raise FacsimileError."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError as exc:
        raise FacsimileError(f"CSV file {path} does not exist") from exc
    except UnicodeDecodeError as exc:
        raise FacsimileError(f"{path} is not a text CSV file") from exc
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise FacsimileError(f"{path} is empty; expected a Live Link Face CSV with a header row")
    header = [h.strip() for h in rows[0]]
    col = {h.lower(): i for i, h in enumerate(header)}
    required = ("Timecode",) + LIVELINK_ORDER
    missing = [c for c in required if c.lower() not in col]
    if missing:
        raise FacsimileError(
            f"{path} is missing Live Link Face column(s): {', '.join(missing)}. "
            "Export the take again from Live Link Face, or write the 52 ARKit columns plus Timecode."
        )
    body = rows[1:]
    if not body:
        raise FacsimileError(f"{path} has a header but no data rows")
    n = len(body)
    weights_ll = np.zeros((n, NUM_BLENDSHAPES), dtype=np.float64)
    extras = np.zeros((n, 9), dtype=np.float64)
    extra_cols = HEAD_COLUMNS + EYE_COLUMNS
    timecodes: list[str] = []
    for r, row in enumerate(body, start=2):
        if len(row) < len(header):
            raise FacsimileError(f"{path} line {r}: {len(row)} fields, header has {len(header)}")
        timecodes.append(row[col["timecode"]].strip())
        for j, name in enumerate(LIVELINK_ORDER):
            weights_ll[r - 2, j] = _number(row[col[name.lower()]], path, r, name)
        for j, name in enumerate(extra_cols):
            if name.lower() in col:
                extras[r - 2, j] = _number(row[col[name.lower()]], path, r, name)
    parsed = []
    for r, tc in enumerate(timecodes, start=2):
        m = _TIMECODE.match(tc)
        if not m:
            raise FacsimileError(f"{path} line {r}: bad timecode {tc!r}; expected HH:MM:SS:FF.mmm")
        parsed.append(m.groups())
    frame_fields = [int(g[3]) for g in parsed]
    second_fields = [int(g[0]) * 3600 + int(g[1]) * 60 + int(g[2]) for g in parsed]
    fps = float(source_fps) if source_fps else _infer_fps(frame_fields, second_fields)
    seconds = np.array([parse_timecode(t, fps) for t in timecodes], dtype=np.float64)
    # A take that runs past midnight wraps to 00:00:00; unwrap so time keeps increasing.
    seconds = seconds + 86400.0 * np.cumsum(np.concatenate([[0], np.diff(seconds) < -43200]))
    if np.any(np.diff(seconds) <= 0):
        raise FacsimileError(f"{path}: timecodes are not strictly increasing (is the source fps {fps} right?)")
    weights = np.zeros_like(weights_ll, dtype=np.float32)
    weights[:, _LL_TO_ARKIT] = weights_ll
    return LiveLinkTake(seconds=seconds, weights=weights, head=extras[:, :3], eyes=extras[:, 3:], source_fps=fps)


def _number(text: str, path: Path, line: int, column: str) -> float:
    try:
        v = float(text)
    except ValueError as exc:
        raise FacsimileError(f"{path} line {line}, column {column}: {text!r} is not a number") from exc
    if not math.isfinite(v):
        raise FacsimileError(f"{path} line {line}, column {column}: value is {text}; NaN/inf are not allowed")
    return v


def write_livelink_csv(
    path: str | Path,
    weights: np.ndarray,
    fps: float,
    *,
    start_seconds: float = 0.0,
    head: np.ndarray | None = None,
    eyes: np.ndarray | None = None,
) -> Path:
    """Write (N, 52) ARKit weights (contract order) as a Live Link Face take, one row per frame at `fps`."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.shape[1] != NUM_BLENDSHAPES:
        raise FacsimileError(f"expected (frames, 52) weights, got {w.shape}")
    if not np.all(np.isfinite(w)):
        raise FacsimileError("weights contain NaN or infinite values; nothing written")
    if fps <= 0:
        raise FacsimileError(f"frame rate must be positive, got {fps}")
    n = w.shape[0]
    head = np.zeros((n, 3)) if head is None else np.asarray(head, dtype=np.float64).reshape(n, 3)
    eyes = np.zeros((n, 6)) if eyes is None else np.asarray(eyes, dtype=np.float64).reshape(n, 6)
    count = NUM_BLENDSHAPES + len(HEAD_COLUMNS) + len(EYE_COLUMNS)
    path = Path(path)
    with atomic_output(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(HEADER)
            for i in range(n):
                row = [format_timecode(start_seconds + i / fps, fps), count]
                row += [f"{v:.6g}" for v in w[i, _LL_TO_ARKIT]]
                row += [f"{v:.6g}" for v in head[i]] + [f"{v:.6g}" for v in eyes[i]]
                writer.writerow(row)
    return path
