"""Epic's Live Link Face CSV takes: read them as ARKit weights, write ARKit weights back in the same layout.

(read_livelink_csv(path, source_fps=None) -> LiveLinkTake(weights, seconds, source_fps, ...) is the API weights_file
uses; write_livelink_csv writes a take atomically.)

A take is one row per captured frame: `Timecode,BlendShapeCount,EyeBlinkLeft,...,TongueOut,HeadYaw,...` with the
timecode as HH:MM:SS:FF.fff (FF = frame at the timecode rate, .fff = sub-frame). Columns are matched by name, case
insensitively, so files from other tools that keep the ARKit names but reorder or drop the head columns also load.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .arkit import ARKIT_NAMES, INDEX, NUM_BLENDSHAPES, canonical_name
from .atomic_io import atomic_write_text
from .errors import FacsimileError

# Live Link Face's own column order (it lists jaw/mouth Right before Left, unlike ARKit's documentation order).
LIVELINK_ORDER: tuple[str, ...] = tuple(
    n
    for n in (
        ARKIT_NAMES[:14]
        + ("jawForward", "jawRight", "jawLeft", "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker")
        + ("mouthRight", "mouthLeft")
        + ARKIT_NAMES[23:]
    )
)
assert sorted(LIVELINK_ORDER) == sorted(ARKIT_NAMES)
HEAD_COLUMNS: tuple[str, ...] = (
    "HeadYaw",
    "HeadPitch",
    "HeadRoll",
    "LeftEyeYaw",
    "LeftEyePitch",
    "LeftEyeRoll",
    "RightEyeYaw",
    "RightEyePitch",
    "RightEyeRoll",
)
_TIMECODE = re.compile(r"^\s*(\d+):(\d{1,2}):(\d{1,2})[:;](\d+)(?:\.(\d+))?\s*$")
_STANDARD_RATES = (24, 25, 30, 48, 50, 60, 120)


@dataclass
class LiveLinkTake:
    """A loaded take: (N, 52) weights in ARKit order, seconds since the first row, the capture rate, missing columns."""

    weights: np.ndarray
    seconds: np.ndarray
    source_fps: float
    timecodes: list[str]
    missing: list[str]


def _cap(name: str) -> str:
    return name[0].upper() + name[1:]


def parse_timecode(text: str) -> tuple[int, int, int, int, float]:
    """'HH:MM:SS:FF.fff' -> (h, m, s, frame, sub-frame fraction); a FacsimileError for anything else."""
    m = _TIMECODE.match(text)
    if not m:
        raise FacsimileError(f"bad Live Link timecode {text!r}; expected HH:MM:SS:FF.fff")
    h, mi, s, f = (int(g) for g in m.groups()[:4])
    frac = float("0." + m.group(5)) if m.group(5) else 0.0
    return h, mi, s, f, frac


def _infer_rate(frames: list[int]) -> float:
    """The smallest standard timecode rate that holds every frame number seen (Live Link Face records at 60)."""
    top = max(frames, default=0)
    for rate in _STANDARD_RATES:
        if top < rate:
            return float(rate)
    return float(top + 1)


def read_livelink_csv(path: str | Path, source_fps: float | None = None) -> LiveLinkTake:
    """Load a Live Link Face CSV. source_fps (the timecode rate) None = infer it from the largest frame number seen."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise FacsimileError(f"Live Link CSV {path} does not exist") from exc
    except UnicodeDecodeError as exc:
        raise FacsimileError(f"{path} is not a text CSV file ({exc.reason})") from exc
    rows = list(csv.reader(io.StringIO(text)))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise FacsimileError(f"Live Link CSV {path} is empty")
    header = [c.strip() for c in rows[0]]
    columns: dict[int, int] = {}
    for j, col in enumerate(header):
        name = canonical_name(col)
        if name is not None:
            columns[j] = INDEX[name]
    if not columns:
        raise FacsimileError(
            f"{path} has no ARKit blendshape columns (header starts {', '.join(header[:4])}); "
            "expected a Live Link Face CSV with columns like Timecode, EyeBlinkLeft, ..., TongueOut"
        )
    tc_col = next((j for j, c in enumerate(header) if c.lower() == "timecode"), None)
    body = rows[1:]
    if not body:
        raise FacsimileError(f"Live Link CSV {path} has a header but no frames")
    weights = np.zeros((len(body), NUM_BLENDSHAPES), dtype=np.float32)
    stamps: list[tuple[int, int, int, int, float]] = []
    timecodes: list[str] = []
    for r, row in enumerate(body, start=2):
        for j, i in columns.items():
            try:
                v = float(row[j])
            except (IndexError, ValueError) as exc:
                cell = row[j] if j < len(row) else "(missing)"
                raise FacsimileError(f"{path} line {r}: column {header[j]} holds {cell!r}, not a number") from exc
            if not np.isfinite(v):
                raise FacsimileError(f"{path} line {r}: column {header[j]} is {v}; weights must be finite")
            weights[r - 2, i] = v
        if tc_col is not None and tc_col < len(row):
            timecodes.append(row[tc_col].strip())
            stamps.append(parse_timecode(row[tc_col]))
    if stamps:
        rate = float(source_fps) if source_fps else _infer_rate([s[3] for s in stamps])
        secs = np.array([h * 3600 + m * 60 + s + (f + fr) / rate for h, m, s, f, fr in stamps], dtype=np.float64)
        # A take that crosses midnight wraps to 00:00:00; unwrap so time keeps increasing.
        secs = secs + 86400.0 * np.cumsum(np.concatenate([[0], np.diff(secs) < -43200]))
        times = secs - secs[0]
    else:
        rate = float(source_fps or 60.0)
        times = np.arange(len(body), dtype=np.float64) / rate
    missing = [n for n in ARKIT_NAMES if INDEX[n] not in columns.values()]
    return LiveLinkTake(weights=weights, seconds=times, source_fps=rate, timecodes=timecodes, missing=missing)


def resample(take: LiveLinkTake, fps: float) -> np.ndarray:
    """The take at a scene's frame rate: (F, 52) with row k = the latest captured row at or before k / fps."""
    if fps <= 0:
        raise FacsimileError(f"frame rate must be positive, got {fps}")
    count = int(np.floor(take.seconds[-1] * fps + 1e-6)) + 1
    t = np.arange(count, dtype=np.float64) / fps
    rows = np.searchsorted(take.seconds, t + 1e-9, side="right") - 1
    return take.weights[np.clip(rows, 0, len(take.seconds) - 1)]


def format_timecode(seconds: float, fps: float) -> str:
    """Seconds -> 'HH:MM:SS:FF.fff' at the given frame rate."""
    total_frames = seconds * fps
    whole = int(np.floor(total_frames + 1e-9))
    frac = max(0.0, total_frames - whole)
    fps_i = max(1, int(round(fps)))
    f = whole % fps_i
    s_total = whole // fps_i
    h, rem = divmod(s_total, 3600)
    m, s = divmod(rem, 60)
    return f"{h % 24:02d}:{m:02d}:{s:02d}:{f:02d}.{int(round(frac * 1000)) % 1000:03d}"


def write_livelink_csv(path: str | Path, weights: np.ndarray, fps: float, start_seconds: float = 0.0) -> Path:
    """Write (N, 52) ARKit weights as a Live Link Face CSV (head/eye rotation columns are 0), atomically."""
    path = Path(path)
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.shape[1] != NUM_BLENDSHAPES:
        raise FacsimileError(f"expected (frames, {NUM_BLENDSHAPES}) weights, got shape {w.shape}")
    if fps <= 0:
        raise FacsimileError(f"frame rate must be positive, got {fps}")
    header = ["Timecode", "BlendShapeCount"] + [_cap(n) for n in LIVELINK_ORDER] + list(HEAD_COLUMNS)
    order = [INDEX[n] for n in LIVELINK_ORDER]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    count = NUM_BLENDSHAPES + len(HEAD_COLUMNS)
    for k, row in enumerate(w):
        tc = format_timecode(start_seconds + k / fps, fps)
        writer.writerow([tc, count] + [f"{v:.6g}" for v in row[order]] + ["0"] * len(HEAD_COLUMNS))
    atomic_write_text(path, buf.getvalue())
    return path
