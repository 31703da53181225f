"""How far MediaPipe's blendshapes can be trusted, per channel: its Pearson on renders with known ARKit weights.

Why: MediaPipe is the teacher on real frames, but it is flat on some channels (cheekPuff, noseSneer, eyeWide,
jawForward). Where it does not follow the known weights of rendered ICT faces, its label on a real frame carries no
signal, so those channels are taught by the synthetic geometry only. Measured on the *training*-identity renders
(model_training/cache/renders/train_images.npz), never on a test set.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from blender_addon.core.arkit import ARKIT_NAMES

from ..data.splits import RENDER_FIT_FRACTION
from ..paths import file_sha256
from ..stats import pearson_per_channel

TRUST_LOW, TRUST_HIGH = 0.3, 0.6  # Pearson at or below LOW: no trust; at or above HIGH: full trust; linear between
# Channels the training renders cannot show: the ICT heads are hairless (no brows), so MediaPipe's blendshape head, which
# reads the brow hair, has nothing to follow there (Pearson 0.10-0.32 on the renders) while it reads brows on real faces.
# Its render Pearson on these channels measures the renders, not MediaPipe, so it is no trust estimate for them.
RENDER_BLIND = ("browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight")


def trust_from_pearson(pearson: np.ndarray, low: float = TRUST_LOW, high: float = TRUST_HIGH) -> np.ndarray:
    """(52,) weights in [0, 1] for the pseudo-label loss (0 where MediaPipe's Pearson is undefined)."""
    p = np.nan_to_num(np.asarray(pearson, np.float64), nan=0.0)
    return np.clip((p - low) / (high - low), 0.0, 1.0).astype(np.float32)


def trusted_channels(trust: np.ndarray) -> list[int]:
    """The one definition of a channel MediaPipe is trusted on: full trust (its Pearson on the training renders
    >= TRUST_HIGH). Selection (select/real_rule.py) and evaluation (evaluate/) both use it."""
    return [i for i, t in enumerate(np.asarray(trust)) if t >= 1.0]


def trust_render_blind_full(trust: np.ndarray) -> np.ndarray:
    """Trust with the RENDER_BLIND channels at 1: where the renders cannot measure MediaPipe, its pseudo-label is
    taken at full weight instead of the (render-biased) near-zero estimate; every other channel is unchanged."""
    out = np.asarray(trust, np.float32).copy()
    out[[ARKIT_NAMES.index(n) for n in RENDER_BLIND]] = 1.0
    return out


def mediapipe_on_renders(renders_dir: Path, split: str = "train", log=print) -> tuple[np.ndarray, np.ndarray]:
    """(MediaPipe weights (N, 52) with NaN rows where it found no face, true weights (N, 52)) on a split's saved
    renders; cached next to them (<split>_mediapipe.npz), recomputed when the render file changes."""
    from ..render.render_ict import load_images

    npz = renders_dir / f"{split}.npz"
    cache = renders_dir / f"{split}_mediapipe.npz"
    truth = np.load(npz)["weights"]
    images = renders_dir / f"{split}_images.npz"  # MediaPipe reads the pixels: a re-detection keeps its cache
    stamp = json.dumps(["sha256", file_sha256(images)])  # by content, not size and mtime
    if cache.is_file():
        c = np.load(cache)
        if str(c["stamp"]) == stamp:
            return c["mp"], truth
    from ..data.real_faces import _MediaPipe  # the one MediaPipe runner of the project (real-face cache)

    runner = _MediaPipe(video=False)
    rows = []
    try:
        for img in load_images(renders_dir / f"{split}_images.npz"):
            faces = runner(img)
            rows.append(faces[0][1] if faces else np.full(len(ARKIT_NAMES), np.nan, np.float32))
    finally:
        runner.close()
    mp = np.asarray(rows, np.float32)
    np.savez(cache, mp=mp, stamp=stamp)
    log(f"MediaPipe on {len(mp)} {split} renders: face found in {np.isfinite(mp[:, 0]).mean():.1%}")
    return mp, truth


def mediapipe_trust(renders_dir: Path, log=print) -> dict | None:
    """{"pearson": (52,), "trust": (52,), "n": rows} from the fit rows of the training renders (the train split:
    the first RENDER_FIT_FRACTION; render_val, the select split, is left out), or None without renders/images."""
    if not (renders_dir / "train_images.npz").is_file():
        log("no saved training renders: MediaPipe trust unavailable (run python -m model_training.render)")
        return None
    mp, truth = mediapipe_on_renders(renders_dir, "train", log)
    n_fit = int(len(mp) * RENDER_FIT_FRACTION)
    mp, truth = mp[:n_fit], truth[:n_fit]
    ok = np.isfinite(mp).all(1)
    pear = pearson_per_channel(mp[ok], truth[ok])
    return {"pearson": pear, "trust": trust_from_pearson(pear), "n": int(ok.sum())}
