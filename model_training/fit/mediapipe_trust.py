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

TRUST_LOW, TRUST_HIGH = 0.3, 0.6  # Pearson at or below LOW: no trust; at or above HIGH: full trust; linear between
# Channels the training renders cannot show: the ICT heads are hairless (no brows), so MediaPipe's blendshape head, which
# reads the brow hair, has nothing to follow there (Pearson 0.10-0.32 on the renders) while it reads brows on real faces.
# Its render Pearson on these channels measures the renders, not MediaPipe, so it is no trust estimate for them.
RENDER_BLIND = ("browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight")


def channel_pearson(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(52,) Pearson per channel (0 where either side is constant)."""
    out = np.zeros(pred.shape[1])
    for i in range(pred.shape[1]):
        if pred[:, i].std() > 1e-6 and truth[:, i].std() > 1e-6:
            out[i] = np.corrcoef(pred[:, i], truth[:, i])[0, 1]
    return out


def trust_from_pearson(pearson: np.ndarray, low: float = TRUST_LOW, high: float = TRUST_HIGH) -> np.ndarray:
    """(52,) weights in [0, 1] for the pseudo-label loss."""
    return np.clip((np.asarray(pearson) - low) / (high - low), 0.0, 1.0).astype(np.float32)


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
    stamp = json.dumps([images.stat().st_size, int(images.stat().st_mtime)])
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
    """{"pearson": (52,), "trust": (52,), "n": rows} from the training renders, or None without renders/images."""
    if not (renders_dir / "train_images.npz").is_file():
        log("no saved training renders: MediaPipe trust unavailable (run python -m model_training.render)")
        return None
    mp, truth = mediapipe_on_renders(renders_dir, "train", log)
    ok = np.isfinite(mp).all(1)
    pear = channel_pearson(mp[ok], truth[ok])
    return {"pearson": pear, "trust": trust_from_pearson(pear), "n": int(ok.sum())}
