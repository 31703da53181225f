"""Loss terms beyond the synthetic MSE: pseudo-labels on real frames, the prior against resting false positives."""

from __future__ import annotations

import torch

from blender_addon.core.arkit import INDEX

from .config import TRAINED

FALSE_POSITIVE = (
    "noseSneerLeft",
    "noseSneerRight",
    "eyeLookUpLeft",
    "eyeLookUpRight",
    "eyeSquintLeft",
    "eyeSquintRight",
    "browDownLeft",
    "browDownRight",
)
FP_COLS = [TRAINED.index(INDEX[c]) for c in FALSE_POSITIVE]  # their columns in the 51 trained outputs


def pseudo_label_loss(pred: torch.Tensor, target: torch.Tensor, trust: torch.Tensor) -> torch.Tensor:
    """Trust-weighted squared error against a teacher's labels, on the scale of the synthetic MSE (mean over all
    trained channels): a channel with trust 0 adds nothing, one with trust 1 counts as a synthetic label does."""
    return (trust * (pred - target) ** 2).mean()
