"""The real iPhone ARKit take (../shared/data/real_faces/arkit_takes): what real ARKit weights look like.

Used as a prior only (ranges, rest levels, co-activation), never as labels: it has no video.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from blender_addon.core.arkit import ARKIT_NAMES

from ..paths import shared_data_dir


def take_path() -> Path:
    return shared_data_dir() / "real_faces" / "arkit_takes" / "MySlate_166_iPhone_cal.csv"


def load_arkit_take(path: Path | None = None) -> np.ndarray:
    """(N, 52) float32 weights in ARKit order (Live Link Face CSV columns are the ARKit names capitalised)."""
    path = path or take_path()
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    head = rows[0]
    col = {h[:1].lower() + h[1:]: i for i, h in enumerate(head)}
    missing = [n for n in ARKIT_NAMES if n not in col]
    if missing:
        raise ValueError(f"{path}: no columns for {missing}")
    idx = [col[n] for n in ARKIT_NAMES]
    out = np.array([[float(r[i]) for i in idx] for r in rows[1:] if len(r) == len(head)], np.float32)
    return np.clip(out, 0.0, 1.0)
