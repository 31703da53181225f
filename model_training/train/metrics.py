"""Per-blendshape RMSE and Pearson (the seed paper's metrics) and batched prediction of a torch model."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from blender_addon.core.arkit import ARKIT_NAMES

from ..stats import nanmean, pearson_per_channel
from .config import NUM


def metrics(pred: np.ndarray, true: np.ndarray) -> dict:
    """The seed's per-blendshape RMSE and Pearson, plus means (Pearson over channels whose truth varies)."""
    rmse = np.sqrt(((pred - true) ** 2).mean(0))
    pear = pearson_per_channel(pred, true)
    varying = np.isfinite(pear)
    return {
        "rmse_overall": float(np.sqrt(((pred - true) ** 2).mean())),
        "rmse_zero": float(np.sqrt((true**2).mean())),
        "rmse_mean": float(rmse[varying].mean()),
        "pearson_mean": nanmean(pear),
        "per_blendshape": {
            ARKIT_NAMES[i]: {"rmse": float(rmse[i]), "pearson": None if np.isnan(pear[i]) else float(pear[i])}
            for i in range(NUM)
        },
    }


def predict(model: nn.Module, x: np.ndarray) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        return np.concatenate([model(torch.from_numpy(x[i : i + 4096])).numpy() for i in range(0, len(x), 4096)])
