"""Choosing the shipped variant on validation data only (rule fixed before results are seen).

First stage (first_stage_pick): best rendered-validation mean Pearson, ties broken by synthetic validation.
Second stage (resting_face_selection): the resting-face false positives on the near-neutral selection photos.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from blender_addon.core.arkit import INDEX
from blender_addon.core.face.landmark_normalize import normalize_landmarks

from ..data.photo_lists import SELECTION_PHOTOS
from ..paths import shared_data_dir
from ..train.config import TIE, TrainConfig
from ..train.losses import FALSE_POSITIVE
from ..train.metrics import metrics, predict
from ..train.networks import Ensemble

ENSEMBLE_WEIGHTS = (0.5, 0.6, 0.7)  # weight of the offset-jitter arm; the geometric-only arm gets the rest
MAX_RENDER_VAL_DROP = 0.02


def first_stage_pick(arms: dict, data: dict) -> tuple[str, str, str]:
    """(kept arm, set it was chosen on, rule text). Test sets are reported, never used to decide.

    Arms within TIE of the best on that set count as tied; among them the one that also reads ideal geometry best
    (val_geometric) wins, as the less render-specific model (real photos are neither renders nor ideal geometry).
    """
    sel = "render_val" if "render_val" in data else "val"
    best = max(arms[k][sel]["pearson_mean"] for k in arms)
    tied = [k for k in arms if arms[k][sel]["pearson_mean"] >= best - TIE]
    keep = max(tied, key=lambda k: arms[k]["val_geometric"]["pearson_mean"])
    return keep, sel, f"best {sel} mean Pearson; arms within {TIE} of it are tied and val_geometric decides"


def photo_features(names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Normalised features of the largest face of each photo in ../shared/data/photos (runtime front-end)."""
    from blender_addon.core.face.tracking import FaceTracker
    from blender_addon.core.formats.image_io import load_image

    tracker = FaceTracker(device="cpu", max_faces=1)
    out = {}
    for name in names:
        path = shared_data_dir() / "photos" / name
        if path.is_file():
            faces = tracker.detect(load_image(path))
            if faces:
                out[name] = normalize_landmarks(faces[0].landmarks)[0]
    return out


def false_positive_score(model: nn.Module, feats: dict[str, np.ndarray]) -> float:
    """Mean over near-neutral photos of the largest resting-face false-positive channel (lower is better)."""
    w = predict(model, np.concatenate(list(feats.values())))
    cols = [INDEX[c] for c in FALSE_POSITIVE]
    return float(w[:, cols].max(1).mean())


def resting_face_selection(
    cfg: TrainConfig, data: dict, arms: dict, keep: str, rule: str, out_dir: Path, log
) -> tuple[str, str]:
    """Second stage of the selection, fixed before its results were seen (see MODEL_CARD.md).

    Adds geometric-only + offset-jitter ensembles as candidates. Primary: render_val mean Pearson may drop at most
    MAX_RENDER_VAL_DROP below the first-stage pick; secondary: the false-positive score on the near-neutral
    selection photos (SELECTION_PHOTOS) must be lower than the first-stage pick's. The lowest score among candidates
    passing both wins; without renders or photos the first-stage pick stays.
    """
    geo, jit = arms.get("geometric_noise_only"), arms.get("detector_model_offset_jitter")
    if "render_val" not in data or geo is None or jit is None:
        return keep, rule
    feats = photo_features(SELECTION_PHOTOS)
    if len(feats) < len(SELECTION_PHOTOS):
        log(f"selection photos missing ({sorted(feats)} found): first-stage pick {keep} stays")
        return keep, rule
    for a in ENSEMBLE_WEIGHTS:
        name = f"ensemble_geometric{1 - a:.1f}_offset_jitter{a:.1f}"
        model = Ensemble([jit["model"], geo["model"]], [a, 1 - a])
        arm = {
            "model": model,
            "critic_weight": 0.0,
            "detector_model": True,
            "history": [],
            "val": metrics(predict(model, data["x_val_det"]), data["y_val"]),
            "val_geometric": metrics(predict(model, data["x_val"]), data["y_val"]),
            "test_geometric_noisy": metrics(predict(model, data["x_test"]), data["y_test"]),
            "test_geometric_clean": metrics(predict(model, data["x_clean"]), data["y_clean"]),
            "train_seconds": 0.0,
        }
        for key in ("render_val", "render_test", "render_test_ideal"):
            if key in data:
                arm[key] = metrics(predict(model, data[key][0]), data[key][1])
        arms[name] = arm
        torch.save(model.state_dict(), out_dir / f"arm_{name}.pt")
    for name, arm in arms.items():
        arm["selection_fp_score"] = false_positive_score(arm["model"], feats)
        log(f"{name}: render_val {arm['render_val']['pearson_mean']:.4f}, selection fp {arm['selection_fp_score']:.3f}")
    floor = arms[keep]["render_val"]["pearson_mean"] - MAX_RENDER_VAL_DROP
    ok = [
        k
        for k in arms
        if arms[k]["render_val"]["pearson_mean"] >= floor
        and arms[k]["selection_fp_score"] < arms[keep]["selection_fp_score"]
    ]
    rule2 = (
        f"{rule}; then (fixed before results were seen) among all arms and the geometric-only + offset-jitter "
        f"ensembles (jitter weight {', '.join(map(str, ENSEMBLE_WEIGHTS))}), those with render_val mean Pearson at "
        f"most {MAX_RENDER_VAL_DROP} below that pick and a lower mean of max({', '.join(FALSE_POSITIVE)}) on the "
        f"near-neutral selection photos {', '.join(SELECTION_PHOTOS)}; the lowest such score wins"
    )
    if not ok:
        return keep, rule2 + " (none passed)"
    return min(ok, key=lambda k: arms[k]["selection_fp_score"]), rule2
