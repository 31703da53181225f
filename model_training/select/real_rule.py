"""The selection rule once real frames are in the loop, on the select split only (data/splits.py).

Issue 10's rule, (R + M) / 2 - F, rewarded damping: its resting term F was the only one that told the arms apart,
and the arm that damps everything at rest (brows included) won. Issue 18 (2026-12-07, fixed before any arm of the
new run was scored) adds a motion term S, weighted as much as F, so an arm must also move where the person moves:

    score = (R + M) / 2 - F - S
    R = render_val mean Pearson (the select rows of the training-identity renders, known weights), every channel.
        Two runs of 2026-12-07 left the brows out of R (hairless renders cannot show real brows); the rule then kept
        an ensemble that reads the hairless render brows as raised (held-out Workbench renders: browInnerUp 0.72 mean,
        truth 0.09), which the shipped-model test refuses, so R counts them again (the *_browregimes arms read both)
    M = mean Pearson with MediaPipe on the select clips over the channels MediaPipe is trusted on
        (fit/mediapipe_trust.trusted_channels: full trust from its Pearson on the training renders)
    F = mean over REST_CHANNELS of max(0, mean output on the select clips' rest frames - REST_LIMIT)
    S = mean over (select clip, MOVE_CHANNELS channel) pairs where MediaPipe's rise over the clip's own rest is at
        least MOVE_MIN_RISE, of max(0, MediaPipe's rise - ours); a rise is the clip's RISE_HIGH percentile minus its
        RISE_REST percentile (the person's rest, identity-relative as the hidden posed sets judge it)

The select clips are read through both of our front-end's paths (train/real_data.PATHS: tracking, as a video is,
and detection on each frame alone, as a photo is; each path's rows count as clips of their own for the rises), so
an arm that reads brows only from tracked landmarks cannot win by the video path alone (added 2026-12-07 with the
*_photopath arms, before the run that scored them).

MOVE_CHANNELS are the upper face plus the lower face's strongest signals; brows are in it although MediaPipe's render
trust for them is 0 (painted brows on hairless renders), because MediaPipe reads real brows (MEAD surprised: every
frame). The highest score wins among every trained arm and the fixed ensembles built in the pipeline.
"""

from __future__ import annotations

import numpy as np

from blender_addon.core.arkit import INDEX

from ..data.splits import REST_CHANNELS, REST_FRAMES
from ..fit.mediapipe_trust import trusted_channels
from ..stats import nanmean, pearson_per_channel

REST_LIMIT = 0.10
MOVE_CHANNELS = (
    "browInnerUp",
    "browOuterUpLeft",
    "browOuterUpRight",
    "browDownLeft",
    "browDownRight",
    "eyeWideLeft",
    "eyeWideRight",
    "eyeSquintLeft",
    "eyeSquintRight",
    "jawOpen",
    "mouthSmileLeft",
    "mouthSmileRight",
    "mouthFrownLeft",
    "mouthFrownRight",
    "noseSneerLeft",
    "noseSneerRight",
)
MOVE_MIN_RISE = 0.15
RISE_HIGH, RISE_REST = 95.0, 10.0
RULE_TEXT = (
    "score = (R + M) / 2 - F - S on the select split only: R = render_val mean Pearson; M = mean Pearson with "
    "MediaPipe on the select clips over the channels MediaPipe is trusted on (full trust from its Pearson on the "
    f"training renders); F = mean over {', '.join(REST_CHANNELS)} of max(0, mean output on the select clips' first "
    f"{REST_FRAMES} frames - {REST_LIMIT}); M, F and S on the select clips through both of our front-end's paths "
    "(tracking, and detection per frame as for a photo); S = mean over (select clip, channel of {', '.join(MOVE_CHANNELS)}) pairs "
    f"where MediaPipe's rise (p{RISE_HIGH:.0f} - p{RISE_REST:.0f} over the clip) is >= {MOVE_MIN_RISE} of "
    "max(0, MediaPipe's rise - ours); the highest score wins (fixed before any arm was scored)"
)


def rises(w: np.ndarray, clip: np.ndarray, channels: tuple[str, ...] = MOVE_CHANNELS) -> np.ndarray:
    """(clips, channels) rise of each channel over the clip's own rest: p RISE_HIGH - p RISE_REST per clip."""
    cols = [INDEX[c] for c in channels]
    out = []
    for c in np.unique(clip):
        v = w[clip == c][:, cols]
        out.append(np.percentile(v, RISE_HIGH, axis=0) - np.percentile(v, RISE_REST, axis=0))
    return np.asarray(out).reshape(-1, len(cols))


def select_scores(pred: np.ndarray, mp: np.ndarray, rest: np.ndarray, clip: np.ndarray, trust: np.ndarray) -> dict:
    """M, F, S and the per-channel figures behind them for one candidate's outputs on the select clips."""
    pear = pearson_per_channel(pred, mp)
    trusted = [i for i in trusted_channels(trust) if np.isfinite(pear[i])]
    cols = [INDEX[c] for c in REST_CHANNELS]
    rest_mean = pred[rest][:, cols].mean(0) if rest.any() else np.zeros(len(cols))
    r_mp, r_ours = rises(mp, clip), rises(pred, clip)
    moving = r_mp >= MOVE_MIN_RISE
    short = np.maximum(r_mp - r_ours, 0.0)
    return {
        "M": nanmean(pear[trusted]) if trusted else 0.0,
        "F": float(np.maximum(rest_mean - REST_LIMIT, 0).mean()),
        "S": float(short[moving].mean()) if moving.any() else 0.0,
        "trusted_channels": len(trusted),
        "moving_pairs": int(moving.sum()),
        "rest_means": {c: float(v) for c, v in zip(REST_CHANNELS, rest_mean, strict=True)},
        "shortfall_by_channel": {
            c: float(short[:, j][moving[:, j]].mean()) if moving[:, j].any() else None
            for j, c in enumerate(MOVE_CHANNELS)
        },
        "pearson_vs_mediapipe": [None if not np.isfinite(v) else float(v) for v in pear],
    }


def pick(candidates: dict[str, dict]) -> tuple[str, dict[str, float]]:
    """(winner, {name: score}) from candidates {name: {"R": ..., "M": ..., "F": ..., "S": ...}}."""
    scores = {k: (v["R"] + v["M"]) / 2 - v["F"] - v["S"] for k, v in candidates.items()}
    return max(scores, key=lambda k: scores[k]), scores
