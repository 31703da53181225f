"""A BVH file is checked whole before Blender's importer sees it: the importer fails on a truncated or damaged file
with its own traceback and a message that only names a source location, so the user never learns what is wrong."""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import FacsimileError


def check_bvh(path: str | Path) -> int:
    """The number of frames of a complete BVH file; FacsimileError naming the problem for anything else."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise FacsimileError(f"{path} is not a BVH file (it is not text)") from None
    head, sep, motion = text.partition("MOTION")
    tokens = head.split()
    if not tokens or tokens[0].upper() != "HIERARCHY":
        raise FacsimileError(f"{path} is not a BVH file (it does not start with HIERARCHY)")
    if not sep:
        raise FacsimileError(f"{path} is truncated: it has no MOTION section")
    channels = 0
    for i, tok in enumerate(tokens):
        if tok == "CHANNELS":
            try:
                channels += int(tokens[i + 1])
            except (IndexError, ValueError):
                raise FacsimileError(f"{path}: a CHANNELS line has no channel count") from None
    if channels == 0 or tokens.count("{") != tokens.count("}"):
        raise FacsimileError(f"{path}: its HIERARCHY is damaged (no channels, or unbalanced braces)")
    lines = [line.split() for line in motion.splitlines() if line.strip()]
    try:
        if lines[0][0] != "Frames:" or lines[1][:2] != ["Frame", "Time:"]:
            raise ValueError
        frames = int(lines[0][1])
        frame_time = float(lines[1][2])
    except (IndexError, ValueError):
        raise FacsimileError(f"{path}: MOTION must start with 'Frames: N' and 'Frame Time: T'") from None
    if frames < 1 or not (math.isfinite(frame_time) and frame_time > 0):
        raise FacsimileError(f"{path}: MOTION declares {frames} frames of {frame_time} s; both must be positive")
    rows = lines[2:]
    if len(rows) < frames:
        raise FacsimileError(f"{path} is truncated: its header promises {frames} frames, it holds {len(rows)}")
    for n, row in enumerate(rows[:frames], start=1):
        if len(row) != channels:
            raise FacsimileError(
                f"{path} is damaged or truncated: frame {n} has {len(row)} values, the hierarchy has {channels} channels"
            )
        try:
            if not all(math.isfinite(float(v)) for v in row):
                raise ValueError
        except ValueError:
            raise FacsimileError(f"{path}: frame {n} holds a value that is not a finite number") from None
    return frames
