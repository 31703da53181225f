"""The selection rule once real frames are in the loop (issue 10), fixed on 2026-11-27 before any arm was scored.

Validation data only: render_val (held-back renders of training identities, known weights) and the real `val` clips
(model_training/data/real_faces.py VAL_CLIPS, held out by clip). MEAD, photos_rest, the astronaut, the test renders
and the held-out render style are evaluation sets and never choose.

    score = (R + M) / 2 - F
    R = render_val mean Pearson over varying channels (known weights)
    M = mean over MediaPipe-trusted channels (trust >= TRUSTED, measured on training renders) of the Pearson between
        the candidate and MediaPipe on the real val frames
    F = mean over the issue's resting channels (RESTING_CHANNELS) of max(0, mean output on the val clips' first
        REST_FRAMES frames - REST_LIMIT)

The highest score wins; candidates are every trained arm and the fixed ensembles built in the pipeline.
"""

from __future__ import annotations

import numpy as np

from blender_addon.core.arkit import INDEX

from ..fit.mediapipe_trust import channel_pearson

TRUSTED = 0.5
REST_FRAMES = 10
REST_LIMIT = 0.10
RESTING_CHANNELS = tuple(
    f"{base}{side}" for base in ("noseSneer", "eyeWide", "browDown", "eyeLookUp") for side in ("Left", "Right")
) + ("cheekPuff", "jawForward", "mouthFunnel", "mouthPucker")
RULE_TEXT = (
    f"score = (R + M) / 2 - F on validation data only: R = render_val mean Pearson; M = mean Pearson with MediaPipe on "
    f"the held-out real val clips over the channels MediaPipe is trusted on (trust >= {TRUSTED} from its Pearson on "
    f"training renders); F = mean over {', '.join(RESTING_CHANNELS)} of max(0, mean output on the val clips' first "
    f"{REST_FRAMES} frames - {REST_LIMIT}); the highest score wins (fixed before any arm was scored)"
)


def real_val_scores(pred: np.ndarray, mp: np.ndarray, rest: np.ndarray, trust: np.ndarray) -> dict:
    """M, F and the per-channel figures behind them for one candidate's outputs on the real val frames."""
    pear = channel_pearson(pred, mp)
    trusted = [i for i in range(len(trust)) if trust[i] >= TRUSTED and mp[:, i].std() > 1e-6]
    cols = [INDEX[c] for c in RESTING_CHANNELS]
    rest_mean = pred[rest][:, cols].mean(0) if rest.any() else np.zeros(len(cols))
    return {
        "M": float(np.mean(pear[trusted])) if trusted else 0.0,
        "F": float(np.maximum(rest_mean - REST_LIMIT, 0).mean()),
        "trusted_channels": len(trusted),
        "rest_means": {c: float(v) for c, v in zip(RESTING_CHANNELS, rest_mean)},
        "pearson_vs_mediapipe": [float(v) for v in pear],
    }


def pick(candidates: dict[str, dict]) -> tuple[str, dict[str, float]]:
    """(winner, {name: score}) from candidates {name: {"R": ..., "M": ..., "F": ...}}."""
    scores = {k: (v["R"] + v["M"]) / 2 - v["F"] for k, v in candidates.items()}
    return max(scores, key=lambda k: scores[k]), scores
