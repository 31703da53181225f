"""One training run of the generator (same seed and batches for every ablation arm)."""

from __future__ import annotations

import json
import time

import numpy as np
import torch

from ..fit.detector_model import DetectorModel
from .config import TRAINED, TrainConfig
from .critic import Critic, gradient_penalty
from .dataset import MixedDetector
from .losses import FP_COLS
from .metrics import metrics, predict
from .networks import Generator


def train_one(
    cfg: TrainConfig,
    data: dict,
    critic_weight: float,
    log,
    detector: DetectorModel | MixedDetector | None = None,
    overshoot_penalty: float = 0.0,
) -> tuple[Generator, list[dict]]:
    """One training run; same seed and batches for every ablation arm, only the critic term / detector model differ.

    overshoot_penalty > 0 adds that weight times the squared over-prediction (pred above truth) of the resting-face
    false-positive channels (FALSE_POSITIVE): a prior against reading sneer/gaze/squint/browDown that is not there.
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
            x = torch.from_numpy(xb)
            y = torch.from_numpy(ytr[rows])
            pred = model(x)[:, :-1]
            loss = ((pred - y) ** 2).mean()
            if overshoot_penalty > 0:
                over = torch.relu(pred[:, FP_COLS] - y[:, FP_COLS])
                loss = loss + overshoot_penalty * (over**2).mean() * len(FP_COLS) / len(TRAINED)
            if critic_weight > 0:
                for _ in range(cfg.n_critic):
                    real = prior[torch.randint(len(prior), (cfg.batch,), generator=gen)]
                    fake = pred.detach()
                    closs = critic(fake).mean() - critic(real).mean()
                    closs = closs + cfg.gp_weight * gradient_penalty(critic, real, fake)
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
            f"  critic={critic_weight:g} detector_model={detector is not None} epoch {epoch}: {json.dumps({k: round(v, 4) for k, v in rec.items()})}"
        )
    return model, history
