"""The ablation arms of `make train` (one ArmSpec each, same split and seed), how every candidate is scored on the
validation and evaluation sets, and the real-frame selection (select/real_rule.py) over arms and ensembles."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..select import real_rule
from ..select.resting import photo_features
from .config import TrainConfig
from .loop import RealTerm
from .metrics import metrics, predict
from .networks import Ensemble


@dataclass(frozen=True)
class ArmSpec:
    name: str
    detector_kind: str = "none"  # "none": geometric noise only; "plain": detector model; "jitter": with offset jitter
    critic_weight: float = 0.0  # the seed paper's critic on synthetic outputs vs the synthetic prior
    real: bool = False  # real frames with MediaPipe's trust-weighted pseudo-labels
    mirror: bool = False  # mirror half of every batch, Left/Right channels swapped
    floor: bool = False  # untrusted channels keep weight cfg.real_floor on real frames
    take_critic: bool = False  # critic: outputs on real frames vs the real ARKit take
    blind_full: bool = False  # channels the hairless renders cannot show (brows) get full trust on real frames
    blind_detector: bool = False  # the detector model keeps no expression bias on those channels (see detector())

    @property
    def uses_detector(self) -> bool:
        return self.detector_kind != "none"

    def detector(self, data: dict):
        if self.detector_kind == "none":
            return None
        det = data["detector"]
        if self.blind_detector:  # how the front-end under-reports brows on hairless renders is the renders' doing
            from blender_addon.core.arkit import INDEX

            from ..fit.mediapipe_trust import RENDER_BLIND

            coef = det.coef.copy()
            coef[[INDEX[n] for n in RENDER_BLIND]] = 0.0
            det = dataclasses.replace(det, coef=coef)
        if self.detector_kind == "jitter":
            return dataclasses.replace(det, offset_range=(-0.5, 1.5))
        return det

    def real_term(self, cfg: TrainConfig, data: dict) -> RealTerm | None:
        if not self.real:
            return None
        from ..data.arkit_take import load_arkit_take
        from ..fit.mediapipe_trust import trust_render_blind_full

        r = data["real_train"]
        trust = data["trust"]["trust"]
        return RealTerm(
            features=r.features,
            labels=r.labels,
            trust=trust_render_blind_full(trust) if self.blind_full else trust,
            weight=cfg.real_weight,
            batch=cfg.real_batch,
            floor=cfg.real_floor if self.floor else 0.0,
            take=load_arkit_take() if self.take_critic else None,
            critic_weight=cfg.take_critic_weight if self.take_critic else 0.0,
        )


def arm_plan(cfg: TrainConfig, data: dict) -> list[ArmSpec]:
    """Arms to train, given what data exists (renders -> detector model; real-face cache -> real-frame arms)."""
    if data["detector"] is None:
        return [
            ArmSpec("geometric_noise_only"),
            ArmSpec("geometric_noise_plus_critic", critic_weight=cfg.critic_weight),
        ]
    plan = [ArmSpec("geometric_noise_only"), ArmSpec("detector_model_offset_jitter", "jitter")]
    if data.get("real_train") is None:
        return plan + [
            ArmSpec("detector_model", "plain"),
            ArmSpec("detector_model_plus_critic", "plain", critic_weight=cfg.critic_weight),
        ]
    return plan + [
        ArmSpec("real_pseudo", "jitter", real=True),
        ArmSpec("real_pseudo_mirror", "jitter", real=True, mirror=True),
        ArmSpec("real_pseudo_mirror_floor", "jitter", real=True, mirror=True, floor=True),
        ArmSpec("real_pseudo_mirror_take_critic", "jitter", real=True, mirror=True, take_critic=True),
        ArmSpec("geometric_real_pseudo_mirror", "none", real=True, mirror=True),
    ]


# Studied with `--arms` (2026-11-27, issue 10 follow-up), not in the default plan: both lost the selection to
# real_pseudo_mirror_floor and lowered surprised.jpeg's brows (model_training/card/notes.md).
EXTRA_ARMS = (
    ArmSpec("real_pseudo_mirror_floor_browtrust", "jitter", real=True, mirror=True, floor=True, blind_full=True),
    ArmSpec("real_pseudo_mirror_floor_browdet", "jitter", real=True, mirror=True, floor=True, blind_detector=True),
)


def evaluate_candidate(model: nn.Module, data: dict, uses_detector: bool) -> dict:
    """Every set with known weights (synthetic and rendered) plus the real val clips against MediaPipe."""
    out = {
        "val": metrics(predict(model, data["x_val_det" if uses_detector else "x_val"]), data["y_val"]),
        "val_geometric": metrics(predict(model, data["x_val"]), data["y_val"]),
        "test_geometric_noisy": metrics(predict(model, data["x_test"]), data["y_test"]),
        "test_geometric_clean": metrics(predict(model, data["x_clean"]), data["y_clean"]),
    }
    for key in ("render_val", "render_test", "render_test_ideal"):
        if key in data:
            out[key] = metrics(predict(model, data[key][0]), data[key][1])
    rv = data.get("real_val")
    if rv is not None and data.get("trust") is not None:
        pred = predict(model, rv.features)
        out["real_val"] = real_rule.real_val_scores(
            pred, rv.labels, rv.rest_rows(real_rule.REST_FRAMES), data["trust"]["trust"]
        )
    return out


ENSEMBLE_GEOMETRIC = 0.3  # fixed before results: geometric-only weight in the real-arm ensembles


def real_selection(data: dict, arms: dict, out_dir: Path, log) -> tuple[str, str, str]:
    """Add the fixed ensembles (geometric-only with each other arm), score all by real_rule, keep the best."""
    geo = arms.get("geometric_noise_only")
    if geo is not None:
        for name in [k for k in arms if k != "geometric_noise_only"]:
            ens_name = f"ensemble_geometric{ENSEMBLE_GEOMETRIC}_{name}{1 - ENSEMBLE_GEOMETRIC:.1f}"
            model = Ensemble([arms[name]["model"], geo["model"]], [1 - ENSEMBLE_GEOMETRIC, ENSEMBLE_GEOMETRIC])
            arm = {"model": model, "name": ens_name, "ensemble_of": [name, "geometric_noise_only"], "history": []}
            arm.update(evaluate_candidate(model, data, arms[name].get("detector_kind", "none") != "none"))
            arm["train_seconds"] = 0.0
            arms[ens_name] = arm
            torch.save(model.state_dict(), out_dir / f"arm_{ens_name}.pt")
    feats = photo_features(("zoom_15cm.jpg", "zoom_30cm.jpg", "zoom_45cm.jpg", "zoom_60cm.jpg"))
    cands = {}
    for k, a in arms.items():
        cands[k] = {"R": a["render_val"]["pearson_mean"], "M": a["real_val"]["M"], "F": a["real_val"]["F"]}
        if feats:
            from ..select.resting import false_positive_score

            a["selection_fp_score"] = false_positive_score(a["model"], feats)  # reported only (old rule's figure)
    keep, scores = real_rule.pick(cands)
    for k, v in scores.items():
        arms[k]["selection_score"] = v
        log(f"{k}: R {cands[k]['R']:.4f} M {cands[k]['M']:.4f} F {cands[k]['F']:.4f} -> score {v:.4f}")
    return keep, "render_val + real_val", real_rule.RULE_TEXT
