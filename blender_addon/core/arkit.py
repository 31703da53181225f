"""The ARKit-52 contract: the one definition of blendshape names, order, mirror pairs and regions.

Every model output, file format and shape-key preset in Facsimile indexes weights by this order, so it must never be
re-declared elsewhere. The order is the one of Apple's ARFaceAnchor.BlendShapeLocation documentation (grouped by
region: left eye, right eye, jaw, mouth, brows, cheeks, nose, tongue).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

ARKIT_NAMES: tuple[str, ...] = (
    # left eye
    "eyeBlinkLeft",
    "eyeLookDownLeft",
    "eyeLookInLeft",
    "eyeLookOutLeft",
    "eyeLookUpLeft",
    "eyeSquintLeft",
    "eyeWideLeft",
    # right eye
    "eyeBlinkRight",
    "eyeLookDownRight",
    "eyeLookInRight",
    "eyeLookOutRight",
    "eyeLookUpRight",
    "eyeSquintRight",
    "eyeWideRight",
    # jaw
    "jawForward",
    "jawLeft",
    "jawRight",
    "jawOpen",
    # mouth
    "mouthClose",
    "mouthFunnel",
    "mouthPucker",
    "mouthLeft",
    "mouthRight",
    "mouthSmileLeft",
    "mouthSmileRight",
    "mouthFrownLeft",
    "mouthFrownRight",
    "mouthDimpleLeft",
    "mouthDimpleRight",
    "mouthStretchLeft",
    "mouthStretchRight",
    "mouthRollLower",
    "mouthRollUpper",
    "mouthShrugLower",
    "mouthShrugUpper",
    "mouthPressLeft",
    "mouthPressRight",
    "mouthLowerDownLeft",
    "mouthLowerDownRight",
    "mouthUpperUpLeft",
    "mouthUpperUpRight",
    # brows
    "browDownLeft",
    "browDownRight",
    "browInnerUp",
    "browOuterUpLeft",
    "browOuterUpRight",
    # cheeks
    "cheekPuff",
    "cheekSquintLeft",
    "cheekSquintRight",
    # nose
    "noseSneerLeft",
    "noseSneerRight",
    # tongue
    "tongueOut",
)

NUM_BLENDSHAPES = len(ARKIT_NAMES)
assert NUM_BLENDSHAPES == 52

INDEX: dict[str, int] = {name: i for i, name in enumerate(ARKIT_NAMES)}
_LOWER_INDEX: dict[str, int] = {name.lower(): i for i, name in enumerate(ARKIT_NAMES)}


def _region_of(name: str) -> str:
    """Face region used by the UI and by per-region metrics."""
    if name.startswith("eye"):
        return "eyes"
    if name.startswith("jaw"):
        return "jaw"
    if name.startswith("mouth"):
        return "mouth"
    if name.startswith("brow"):
        return "brows"
    if name.startswith("cheek"):
        return "cheeks"
    if name.startswith("nose"):
        return "nose"
    return "tongue"


REGIONS: dict[str, str] = {name: _region_of(name) for name in ARKIT_NAMES}


def _mirror_name(name: str) -> str:
    """The name of the opposite side's shape; a centre shape mirrors to itself.

    jawLeft/mouthLeft are side-suffixed too, so the same rule covers them.
    """
    if name.endswith("Left"):
        return name[: -len("Left")] + "Right"
    if name.endswith("Right"):
        return name[: -len("Right")] + "Left"
    return name


MIRROR: dict[str, str] = {name: _mirror_name(name) for name in ARKIT_NAMES}
MIRROR_INDEX: np.ndarray = np.array([INDEX[MIRROR[n]] for n in ARKIT_NAMES], dtype=np.int64)
MIRROR_PAIRS: tuple[tuple[str, str], ...] = tuple((n, MIRROR[n]) for n in ARKIT_NAMES if n.endswith("Left"))
CENTRE_NAMES: tuple[str, ...] = tuple(n for n in ARKIT_NAMES if MIRROR[n] == n)

# Channels whose neutral calibration must rescale rather than subtract, so that a full blink still reaches 1.
EYELID_NAMES: tuple[str, ...] = (
    "eyeBlinkLeft",
    "eyeBlinkRight",
    "eyeSquintLeft",
    "eyeSquintRight",
    "eyeWideLeft",
    "eyeWideRight",
)


def canonical_name(name: str) -> str | None:
    """Case-insensitive lookup of an ARKit name (also accepts Live Link's capitalised form); None if unknown."""
    i = _LOWER_INDEX.get(name.strip().lower())
    return None if i is None else ARKIT_NAMES[i]


MAX_WEIGHT = 1e6  # far past any real weight (about 0..1), far below float32's largest value


def weights_from_mapping(values: Mapping[str, float], *, strict: bool = True) -> np.ndarray:
    """A dict of ARKit name -> weight as a (52,) float32 vector in contract order; missing names are 0.

    Unknown names raise a ValueError listing all of them (strict) so that a typo never zeroes a channel silently.
    """
    out = np.zeros(NUM_BLENDSHAPES, dtype=np.float32)
    unknown: list[str] = []
    for key, value in values.items():
        i = _LOWER_INDEX.get(str(key).strip().lower())
        if i is None:
            unknown.append(str(key))
            continue
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise ValueError(f"weight for {key!r} must be a number, got {value!r}")  # "0.5" or true is not a weight
        try:
            v = float(value)
        except OverflowError:  # an integer of hundreds of digits
            v = float("inf")
        shown = repr(value) if len(repr(value)) <= 40 else f"{repr(value)[:20]}...({len(repr(value))} characters)"
        if not np.isfinite(v):
            raise ValueError(f"weight for {key!r} is {shown}; every weight must be a finite number")
        if abs(v) > MAX_WEIGHT:  # past float32's range it would be stored as infinity
            raise ValueError(f"weight for {key!r} is {shown}; weights are about 0 to 1 (at most {MAX_WEIGHT:g})")
        out[i] = v
    if unknown and strict:
        raise ValueError(
            f"unknown ARKit blendshape name(s): {', '.join(sorted(unknown))}. "
            f"Valid names are the 52 ARKit names, e.g. {ARKIT_NAMES[0]}, jawOpen, mouthSmileLeft (any letter case)."
        )
    return out


def weights_to_mapping(weights: Iterable[float]) -> dict[str, float]:
    """(52,) vector -> ordered dict of ARKit name -> float, the form JSON files and reports use."""
    w = np.asarray(list(weights) if not isinstance(weights, np.ndarray) else weights, dtype=np.float64).reshape(-1)
    if w.shape[0] != NUM_BLENDSHAPES:
        raise ValueError(f"expected {NUM_BLENDSHAPES} weights, got {w.shape[0]}")
    return {name: float(v) for name, v in zip(ARKIT_NAMES, w)}


def mirror_weights(weights: np.ndarray) -> np.ndarray:
    """Swap left and right channels (last axis) — what a mirrored photo or a mirrored character needs."""
    weights = np.asarray(weights)
    if weights.shape[-1] != NUM_BLENDSHAPES:
        raise ValueError(f"last axis must hold {NUM_BLENDSHAPES} weights, got shape {weights.shape}")
    return weights[..., MIRROR_INDEX]
