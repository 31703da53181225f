"""Loss terms beyond MSE: the prior against over-predicting the resting-face false-positive channels."""

from __future__ import annotations

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
