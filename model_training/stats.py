"""The one Pearson correlation of model_training: per channel, the same rule for training, selection and evaluation.

Why one: a constant channel must count the same everywhere. A channel whose reference (truth, or MediaPipe) is
constant has no Pearson (NaN: it drops out of every mean); a constant prediction against a varying reference follows
nothing and scores 0 (it must not drop out of a mean, or a flat model would look good).
"""

from __future__ import annotations

import numpy as np

MIN_STD = 1e-3  # below this standard deviation a channel counts as constant


def pearson_per_channel(pred: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """(C,) Pearson of each column of pred with the same column of ref (NaN: ref constant; 0: pred constant)."""
    pred = np.asarray(pred, np.float64)
    ref = np.asarray(ref, np.float64)
    if len(pred) == 0:
        return np.full(pred.shape[1], np.nan)
    p = pred - pred.mean(0)
    t = ref - ref.mean(0)
    sp, st = p.std(0), t.std(0)
    r = (p * t).mean(0) / np.maximum(sp * st, 1e-12)
    r[sp < MIN_STD] = 0.0
    r[st < MIN_STD] = np.nan
    return r


def nanmean(r: np.ndarray) -> float:
    """Mean over the channels that have a Pearson (NaN when none has)."""
    r = np.asarray(r, np.float64)
    finite = r[np.isfinite(r)]
    return float(finite.mean()) if finite.size else float("nan")
