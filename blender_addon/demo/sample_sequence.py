"""A sample ARKit weight sequence made by code: the demo's performance, with no capture file needed.

The face goes through a list of named expressions (neutral, blink, smile, jaw open, ...); each is held briefly and the
transitions are eased (smoothstep), so the curves are C1 and the keyframes look like a performance, not a slideshow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.arkit import NUM_BLENDSHAPES, weights_from_mapping

# (label, {ARKit name: weight}) in the order they are performed; "Left" is the character's left.
EXPRESSIONS: tuple[tuple[str, dict[str, float]], ...] = (
    ("neutral", {}),
    ("blink", {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0, "cheekSquintLeft": 0.2, "cheekSquintRight": 0.2}),
    (
        "smile",
        {
            "mouthSmileLeft": 1.0,
            "mouthSmileRight": 1.0,
            "cheekSquintLeft": 0.6,
            "cheekSquintRight": 0.6,
            "eyeSquintLeft": 0.4,
            "eyeSquintRight": 0.4,
            "mouthDimpleLeft": 0.3,
            "mouthDimpleRight": 0.3,
        },
    ),
    ("jaw open", {"jawOpen": 0.9, "mouthLowerDownLeft": 0.3, "mouthLowerDownRight": 0.3, "browInnerUp": 0.3}),
    (
        "brows up",
        {"browInnerUp": 1.0, "browOuterUpLeft": 1.0, "browOuterUpRight": 1.0, "eyeWideLeft": 0.7, "eyeWideRight": 0.7},
    ),
    (
        "frown",
        {
            "mouthFrownLeft": 1.0,
            "mouthFrownRight": 1.0,
            "browDownLeft": 0.9,
            "browDownRight": 0.9,
            "mouthShrugLower": 0.5,
            "noseSneerLeft": 0.4,
            "noseSneerRight": 0.4,
        },
    ),
    ("pucker", {"mouthPucker": 1.0, "browInnerUp": 0.4}),
    ("look left", {"eyeLookOutLeft": 1.0, "eyeLookInRight": 1.0, "mouthLeft": 0.5}),
    ("look right", {"eyeLookInLeft": 1.0, "eyeLookOutRight": 1.0, "mouthRight": 0.5}),
    ("tongue out", {"jawOpen": 0.35, "tongueOut": 1.0, "eyeSquintLeft": 0.3, "eyeSquintRight": 0.3}),
)


@dataclass(frozen=True)
class SampleSequence:
    weights: np.ndarray  # (N, 52) float32 in ARKit order, values in [0, 1]
    fps: float
    labels: tuple[str, ...]  # the expression each key pose shows
    key_frames: np.ndarray  # (len(labels),) 0-based frame index where each expression is fully reached


def sample_sequence(frames: int = 120, fps: float = 30.0) -> SampleSequence:
    """The demo performance over `frames` frames: every expression eases in, holds, and hands over to the next.

    The last pose eases back to neutral at the end so a looping playback has no jump.
    """
    if frames < 2 * len(EXPRESSIONS):
        raise ValueError(f"need at least {2 * len(EXPRESSIONS)} frames for the sample sequence, got {frames}")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    poses = np.stack([weights_from_mapping(w) for _, w in EXPRESSIONS] + [np.zeros(NUM_BLENDSHAPES, np.float32)])
    n_seg = len(poses) - 1
    # Pose k is reached at t_k; each segment is half transition, half hold.
    t = np.linspace(0.0, frames - 1, n_seg + 1)
    out = np.zeros((frames, NUM_BLENDSHAPES), dtype=np.float64)
    f = np.arange(frames, dtype=np.float64)
    seg = np.clip(np.searchsorted(t, f, side="right") - 1, 0, n_seg - 1)
    local = (f - t[seg]) / (t[seg + 1] - t[seg])
    ease = np.clip((local - 0.5) / 0.5, 0.0, 1.0)  # hold the first half, move in the second
    ease = ease * ease * (3.0 - 2.0 * ease)
    out = poses[seg] * (1.0 - ease[:, None]) + poses[seg + 1] * ease[:, None]
    # Each pose is fully shown over the hold just after it is reached; its middle is the frame to preview.
    key_frames = np.minimum(np.round(t[:-1] + 0.25 * (t[1] - t[0])).astype(np.int64), frames - 1)
    return SampleSequence(
        weights=np.clip(out, 0.0, 1.0).astype(np.float32),
        fps=float(fps),
        labels=tuple(label for label, _ in EXPRESSIONS),
        key_frames=key_frames,
    )
