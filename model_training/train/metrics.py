"""Per-blendshape RMSE and Pearson (the seed paper's metrics) and batched prediction of a torch model."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from blender_addon.core.arkit import ARKIT_NAMES

from .config import NUM


def metrics(pred: np.ndarray, true: np.ndarray) -> dict:
    """The seed's per-blendshape RMSE and Pearson, plus means (Pearson over channels whose truth varies)."""
    rmse = np.sqrt(((pred - true) ** 2).mean(0))
    pear = np.full(NUM, np.nan)
    for i in range(NUM):
        if true[:, i].std() > 1e-6 and pred[:, i].std() > 1e-9:
            pear[i] = np.corrcoef(pred[:, i], true[:, i])[0, 1]
        elif true[:, i].std() > 1e-6:
            pear[i] = 0.0
    varying = [i for i in range(NUM) if true[:, i].std() > 1e-6]
    return {
        "rmse_overall": float(np.sqrt(((pred - true) ** 2).mean())),
        "rmse_mean": float(rmse[varying].mean()),
        "pearson_mean": float(np.nanmean(pear[varying])),
        "per_blendshape": {
            ARKIT_NAMES[i]: {"rmse": float(rmse[i]), "pearson": None if np.isnan(pear[i]) else float(pear[i])}
            for i in range(NUM)
        },
    }


def predict(model: nn.Module, x: np.ndarray) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        return np.concatenate([model(torch.from_numpy(x[i : i + 4096])).numpy() for i in range(0, len(x), 4096)])
