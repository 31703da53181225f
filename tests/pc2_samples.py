"""A whole (S, V, 3) array as one PC2 file, for tests: the product streams its bakes through pc2.PC2Writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from blender_addon.core.formats.pc2 import PC2Writer


def write_pc2(path: str | Path, samples: np.ndarray, start_frame: float = 1.0, sample_rate: float = 1.0) -> Path:
    samples = np.asarray(samples)
    with PC2Writer(path, samples.shape[1], samples.shape[0], start_frame, sample_rate) as w:
        w.write(samples)
    return Path(path)
