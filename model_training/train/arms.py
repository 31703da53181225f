"""The ablation arms of `make train` (one ArmSpec each, same split and seed), how every candidate is scored on the
select and test splits (data/splits.py), and the selection (select/real_rule.py) over arms and ensembles."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from blender_addon.core.arkit import INDEX

from ..fit.mediapipe_trust import RENDER_BLIND
from ..select import real_rule
from .config import TRAINED, TrainConfig
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
    id_aug: bool = False  # real frames moved to random ICT face shapes (synth.identity_feature_offsets)
    blind_landmarks: bool = False  # no detector bias or noise on the landmarks the brow channels move (see detector())
    photo_path: bool = False  # real frames also through our photo path (detection per frame), beside tracking
    brow_regimes: bool = False  # brow columns: half ideal (real brows), half the renders' unjittered bias (BrowRegimes)
    brow_aug: tuple[str, ...] = ()  # real frames with one of these channels' displacement added (loop._add_expression)

    @property
    def uses_detector(self) -> bool:
        return self.detector_kind != "none"

    def detector(self, data: dict):
        if self.detector_kind == "none":
            return None
        det = data["detector"]
        if self.blind_detector:  # how the front-end under-reports brows on hairless renders is the renders' doing
            coef = det.coef.copy()
            coef[[INDEX[n] for n in RENDER_BLIND]] = 0.0
            det = dataclasses.replace(det, coef=coef)
        render_brows = det
        if self.blind_landmarks or self.brow_regimes:  # the hairless renders say nothing of the front-end on real brows
            det = det.without_columns(data["brow_columns"])
        if self.detector_kind == "jitter":
            det = dataclasses.replace(det, offset_range=(-0.5, 1.5))
        if self.brow_regimes:
            from .dataset import BrowRegimes

            return BrowRegimes(det, render_brows, data["brow_columns"])
        return det

    def real_term(self, cfg: TrainConfig, data: dict) -> RealTerm | None:
        if not self.real:
            return None
        from ..data.arkit_take import load_arkit_take
        from ..fit.mediapipe_trust import trust_render_blind_full

        r = data["real_train_both" if self.photo_path else "real_train"]
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
            id_offsets=data["id_offsets"] if self.id_aug else None,
            expr_offsets=data["brow_offsets"][[RENDER_BLIND.index(n) for n in self.brow_aug]]
            if self.brow_aug
            else None,
            expr_channels=tuple(TRAINED.index(INDEX[n]) for n in self.brow_aug),
        )


def _recipe(name: str, **flags) -> ArmSpec:
    """An arm on the kept recipe (detector model with offset jitter, real frames, mirror, trust floor) plus flags."""
    return ArmSpec(name, "jitter", real=True, mirror=True, floor=True, **flags)


BROW_RAISES = ("browInnerUp", "browOuterUpLeft", "browOuterUpRight")


def arm_plan(cfg: TrainConfig, data: dict) -> list[ArmSpec]:
    """Arms to train. Without renders (--tiny) the geometric arms only; `make train` has renders and real frames
    (dataset.require_inputs stops it otherwise), and trains the arms issue 18 measures for the brows."""
    if data["detector"] is None:
        return [
            ArmSpec("geometric_noise_only"),
            ArmSpec("geometric_noise_plus_critic", critic_weight=cfg.critic_weight),
        ]
    return [
        _recipe("real_pseudo_mirror_floor"),
        # MediaPipe's brows on real faces at full weight (its render trust of 0 measures the painted render brows), and
        # no detector bias or noise where the brows sit: on the renders the front-end follows 33-60% of the painted
        # brows' motion and puts them at an offset that the offset jitter turns into noise of the size of that motion,
        # so the detector-model arms can learn to discount brow height (issue 18, card/notes.md).
        _recipe("real_pseudo_mirror_floor_browtrust_browland", blind_full=True, blind_landmarks=True),
        # Each of the two also on real frames through our photo path (detection per frame): the tracked-only arm loses
        # its brows on photos (select clips through the photo path: brow shortfall 0.051 tracked, 0.124 detected).
        _recipe("real_pseudo_mirror_floor_photopath", photo_path=True),
        _recipe(
            "real_pseudo_mirror_floor_browtrust_browland_photopath",
            blind_full=True,
            blind_landmarks=True,
            photo_path=True,
        ),
        # Both brows in one network: real (ideal geometry) and hairless render brows (the renders' unjittered offset),
        # so the render brows stay readable while real brow height counts (BrowRegimes; added after the run of
        # 2026-12-07 whose kept ensemble read the hairless render brows as raised).
        _recipe("real_pseudo_mirror_floor_browtrust_browregimes", blind_full=True, brow_regimes=True),
        _recipe(
            "real_pseudo_mirror_floor_browtrust_browregimes_photopath",
            blind_full=True,
            brow_regimes=True,
            photo_path=True,
        ),
        # Stronger brow raises and frowns on real faces: the model compresses the strong ones of people it never saw, so
        # real frames get a brow channel's displacement added with its amount on the label (added after run 3).
        _recipe("real_pseudo_mirror_floor_photopath_browaug", photo_path=True, brow_aug=RENDER_BLIND),
        _recipe(
            "real_pseudo_mirror_floor_browtrust_photopath_browaug",
            blind_full=True,
            photo_path=True,
            brow_aug=RENDER_BLIND,
        ),
        # No detector model at all: the brow source of the channel-wise ensembles.
        ArmSpec(
            "geometric_real_pseudo_mirror_floor_browtrust", "none", real=True, mirror=True, floor=True, blind_full=True
        ),
    ]


# Earlier arms, runnable with `--arms` (they lost the issue-10 or an issue-18 selection; card/notes.md).
EXTRA_ARMS = (
    _recipe("real_pseudo_mirror_floor_photopath_browaugup", photo_path=True, brow_aug=BROW_RAISES),
    _recipe("real_pseudo_mirror_floor_browtrust_browland_idaug", blind_full=True, blind_landmarks=True, id_aug=True),
    ArmSpec("geometric_noise_only"),
    _recipe("real_pseudo_mirror_floor_browtrust_idaug", blind_full=True, id_aug=True),
    _recipe("real_pseudo_mirror_floor_browtrust", blind_full=True),
    ArmSpec("detector_model_offset_jitter", "jitter"),
    ArmSpec("real_pseudo", "jitter", real=True),
    ArmSpec("real_pseudo_mirror", "jitter", real=True, mirror=True),
    ArmSpec("real_pseudo_mirror_take_critic", "jitter", real=True, mirror=True, take_critic=True),
    _recipe("real_pseudo_mirror_floor_browdet", blind_detector=True),
)


def evaluate_candidate(model: nn.Module, data: dict, uses_detector: bool) -> dict:
    """Every set with known weights (synthetic and rendered) plus the select clips against MediaPipe. Keys name the
    split: val / val_geometric / render_val / select (select split), test_* / render_test (test split)."""
    out = {
        "val": metrics(predict(model, data["x_val_det" if uses_detector else "x_val"]), data["y_val"]),
        "val_geometric": metrics(predict(model, data["x_val"]), data["y_val"]),
        "test_geometric_noisy": metrics(predict(model, data["x_test"]), data["y_test"]),
        "test_geometric_clean": metrics(predict(model, data["x_clean"]), data["y_clean"]),
    }
    for key in ("render_val", "render_test", "render_test_ideal"):
        if key in data:
            out[key] = metrics(predict(model, data[key][0]), data[key][1])
    rs = data.get("real_select")
    if rs is not None and data.get("trust") is not None:
        out["select"] = real_rule.select_scores(
            predict(model, rs.features), rs.labels, rs.rest_rows(), rs.clip, data["trust"]["trust"]
        )
    return out


# Channel-wise ensembles, fixed before results: the brow channels taken (weight BROW_MIX) from an arm that moves
# them, every other channel from an arm that rests quietly. The select split chooses among them and the arms.
BROWS = RENDER_BLIND
BROW_MIX = (0.5, 1.0)
BROW_SOURCES = ("geometric_real_pseudo_mirror_floor_browtrust",)
QUIET_BASES = ("real_pseudo_mirror_floor",)


def brow_mix(weight: float) -> np.ndarray:
    """(2, 51) mix: row 0 the quiet base, row 1 the brow source (weight on the brow channels, 0 elsewhere)."""

    from .config import TRAINED

    src = np.zeros(len(TRAINED), np.float32)
    src[[TRAINED.index(INDEX[n]) for n in BROWS]] = weight
    return np.stack([1.0 - src, src])


def real_selection(data: dict, arms: dict, out_dir: Path, log) -> tuple[str, str, str]:
    """Add the fixed channel-wise brow ensembles, score every candidate by real_rule on the select split, keep the
    best."""
    for base in QUIET_BASES:
        for source in BROW_SOURCES:
            if base not in arms or source not in arms:
                continue
            for wgt in BROW_MIX:
                name = f"ensemble_{base}_brows{wgt:.1f}_{source}"
                model = Ensemble([arms[base]["model"], arms[source]["model"]], brow_mix(wgt))
                arm = {"model": model, "name": name, "ensemble_of": [base, source], "history": []}
                arm.update(evaluate_candidate(model, data, True))
                arm["train_seconds"] = 0.0
                arms[name] = arm
                torch.save(model.state_dict(), out_dir / f"arm_{name}.pt")
    cands = {
        k: {
            "R": a["render_val"]["pearson_mean"],
            "M": a["select"]["M"],
            "F": a["select"]["F"],
            "S": a["select"]["S"],
        }
        for k, a in arms.items()
    }
    keep, scores = real_rule.pick(cands)
    for k, v in scores.items():
        arms[k]["selection_score"] = v
        c = cands[k]
        log(f"{k}: R {c['R']:.4f} M {c['M']:.4f} F {c['F']:.4f} S {c['S']:.4f} -> score {v:.4f}")
    return keep, "render_val + select clips", real_rule.RULE_TEXT
