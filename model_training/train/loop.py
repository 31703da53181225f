"""One training run of the generator (same seed and batches for every ablation arm)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np
import torch

from ..data.mirror import mirror_features, mirror_weights
from ..fit.detector_model import DetectorModel
from .config import TRAINED, TrainConfig
from .critic import Critic, gradient_penalty
from .dataset import BrowRegimes, MixedDetector
from .losses import FP_COLS, pseudo_label_loss
from .metrics import metrics, predict
from .networks import Generator


@dataclass
class RealTerm:
    """Real frames in the loss: features (N, 1434), MediaPipe's labels (N, 52), per-channel trust (52,) in [0, 1].

    floor: the least weight any channel gets (0: untrusted channels are taught by geometry alone); take: real ARKit
    weight vectors (the iPhone take) for a critic on the outputs on real frames (critic_weight > 0)."""

    features: np.ndarray
    labels: np.ndarray
    trust: np.ndarray
    weight: float = 1.0
    batch: int = 64
    floor: float = 0.0
    take: np.ndarray | None = None
    critic_weight: float = 0.0
    id_offsets: np.ndarray | None = None  # (K, 1434) identity feature offsets added to real frames (synth.py)
    expr_offsets: np.ndarray | None = None  # (C, 1434) feature displacement of channels expr_channels at weight 1
    expr_channels: tuple[int, ...] = ()  # their indices in TRAINED order


EXPR_AUG_SHARE = 0.5  # of the real rows in a batch that get one channel's displacement added (the rest unchanged)
EXPR_AUG_FOLLOW = (0.5, 1.0)  # how much of the geometric displacement the front-end shows (render pairs: 0.33-0.59)


def _add_expression(
    rng: np.random.Generator, xr: np.ndarray, yr: np.ndarray, offsets: np.ndarray, channels: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Half the rows: one random channel raised by a ~ U(0, 1 - label) with its displacement (times a follow factor)
    added to the features and a added to the label, so the label stays in [0, 1]."""
    xr, yr = xr.copy(), yr.copy()
    rows = np.flatnonzero(rng.random(len(xr)) < EXPR_AUG_SHARE)
    c = rng.integers(0, len(channels), len(rows))
    cols = np.asarray(channels)[c]
    amount = rng.uniform(0.0, 1.0, len(rows)) * (1.0 - yr[rows, cols])
    follow = rng.uniform(*EXPR_AUG_FOLLOW, len(rows))
    xr[rows] += (amount * follow)[:, None].astype(np.float32) * offsets[c]
    yr[rows, cols] += amount.astype(yr.dtype)
    return xr, yr


def _mirror_half(rng: np.random.Generator, x: np.ndarray, y51: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mirror a random half of the rows (features and their 51 trained channels, Left/Right swapped)."""
    flip = rng.random(len(x)) < 0.5
    if not flip.any():
        return x, y51
    x, y51 = x.copy(), y51.copy()
    x[flip] = mirror_features(x[flip])
    full = np.zeros((int(flip.sum()), len(TRAINED) + 1), y51.dtype)
    full[:, TRAINED] = y51[flip]
    y51[flip] = mirror_weights(full)[:, TRAINED]
    return x, y51


def train_one(
    cfg: TrainConfig,
    data: dict,
    critic_weight: float,
    log,
    detector: DetectorModel | MixedDetector | BrowRegimes | None = None,
    overshoot_penalty: float = 0.0,
    real: RealTerm | None = None,
    mirror: bool = False,
) -> tuple[Generator, list[dict]]:
    """One training run; same seed and batches for every ablation arm, only the critic term / detector model differ.

    overshoot_penalty > 0 adds that weight times the squared over-prediction (pred above truth) of the resting-face
    false-positive channels (FALSE_POSITIVE): a prior against reading sneer/gaze/squint/browDown that is not there.
    real adds, per batch, real frames with MediaPipe's pseudo-labels (RealTerm); mirror flips half of every batch
    left/right with the channels swapped. Both draw from their own random streams, so the synthetic batches (and the
    arms without them) are unchanged.
    """
    torch.manual_seed(cfg.seed)
    aug_rng = np.random.default_rng(cfg.seed + 17)
    xtr, ytr = data["x_train"], data["y_train"][:, TRAINED]
    model = Generator(data["mean"], data["std"], cfg.hidden)
    critic = Critic(cfg.critic_hidden)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    copt = torch.optim.Adam(critic.parameters(), lr=1e-4, betas=(0.5, 0.9))
    steps = cfg.epochs * (len(xtr) // cfg.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps, pct_start=0.1)
    prior = torch.from_numpy(data["prior"][:, TRAINED])
    gen = torch.Generator().manual_seed(cfg.seed)
    real_rng = np.random.default_rng(cfg.seed + 29)
    mirror_rng = np.random.default_rng(cfg.seed + 31)
    if real is not None:
        trust = torch.from_numpy(np.maximum(real.trust, real.floor)[TRAINED].astype(np.float32))
        take = torch.from_numpy(real.take[:, TRAINED]) if real.take is not None else None
    history = []
    step = 0
    for epoch in range(cfg.epochs):
        model.train()
        order = torch.randperm(len(xtr), generator=gen)
        t0, tot = time.time(), 0.0
        for b in range(len(xtr) // cfg.batch):
            idx = order[b * cfg.batch : (b + 1) * cfg.batch]
            rows = idx.numpy()
            xb = xtr[rows]
            if detector is not None:
                xb = detector.apply(aug_rng, xb, data["y_train"][rows], data["pose_train"][rows])
            yb = ytr[rows]
            if mirror:
                xb, yb = _mirror_half(mirror_rng, xb, yb)
            x = torch.from_numpy(xb)
            y = torch.from_numpy(yb)
            pred = model(x)[:, :-1]
            loss = ((pred - y) ** 2).mean()
            if real is not None:
                r = real_rng.integers(0, len(real.features), real.batch)
                xr, yr = real.features[r], real.labels[r][:, TRAINED]
                if real.id_offsets is not None:  # the same expression on another face shape
                    k = real_rng.integers(0, len(real.id_offsets), real.batch)
                    xr = xr + real.id_offsets[k] * real_rng.uniform(0.0, 1.0, (real.batch, 1)).astype(np.float32)
                if real.expr_offsets is not None:  # stronger brows on real faces (see _add_expression)
                    xr, yr = _add_expression(real_rng, xr, yr, real.expr_offsets, real.expr_channels)
                if mirror:
                    xr, yr = _mirror_half(mirror_rng, xr, yr)
                pred_r = model(torch.from_numpy(xr))[:, :-1]
                loss = loss + real.weight * pseudo_label_loss(pred_r, torch.from_numpy(yr), trust)
                if take is not None and real.critic_weight > 0:  # outputs on real frames vs real ARKit weights
                    treal = take[torch.from_numpy(real_rng.integers(0, len(take), real.batch))]
                    closs = critic(pred_r.detach()).mean() - critic(treal).mean()
                    closs = closs + cfg.gp_weight * gradient_penalty(critic, treal, pred_r.detach())
                    copt.zero_grad()
                    closs.backward()
                    copt.step()
                    loss = loss - real.critic_weight * critic(pred_r).mean()
            if overshoot_penalty > 0:
                over = torch.relu(pred[:, FP_COLS] - y[:, FP_COLS])
                loss = loss + overshoot_penalty * (over**2).mean() * len(FP_COLS) / len(TRAINED)
            if critic_weight > 0:
                for _ in range(cfg.n_critic):
                    prior_w = prior[torch.randint(len(prior), (cfg.batch,), generator=gen)]
                    fake = pred.detach()
                    closs = critic(fake).mean() - critic(prior_w).mean()
                    closs = closs + cfg.gp_weight * gradient_penalty(critic, prior_w, fake)
                    copt.zero_grad()
                    closs.backward()
                    copt.step()
                loss = loss - critic_weight * critic(pred).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            tot += loss.item()
        val = metrics(predict(model, data["x_val_det" if detector is not None else "x_val"]), data["y_val"])
        rec = {
            "epoch": epoch,
            "loss": tot / max(1, len(xtr) // cfg.batch),
            "val_pearson": val["pearson_mean"],
            "val_rmse": val["rmse_overall"],
            "seconds": time.time() - t0,
        }
        history.append(rec)
        log(
            f"  critic={critic_weight:g} detector_model={detector is not None} real={real is not None} "
            f"mirror={mirror} epoch {epoch}: {json.dumps({k: round(v, 4) for k, v in rec.items()})}"
        )
    return model, history
