"""Training data: synthetic ICT samples (data/), the detector model fitted on renders (fit/), rendered sets."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.ict_facekit import arkit_to_ict_matrix, load_ict
from ..data.landmark_embedding import LandmarkBasis, embed
from ..data.splits import RENDER_FIT_FRACTION
from ..data.synth import (
    NoiseConfig,
    Synthesizer,
    expression_feature_offsets,
    identity_feature_offsets,
    moved_feature_columns,
    sample_expressions,
)
from ..fit.detector_model import DetectorModel, render_features
from ..fit.detector_model import fit as fit_detector
from ..fit.mediapipe_trust import RENDER_BLIND, mediapipe_trust
from ..paths import file_sha256
from .config import TrainConfig
from .real_data import PATHS, load_real

ID_AUG_SIGMA = 0.5  # identity offsets for the *_idaug arms: N(0, 0.5) on ICT's modes (synthetic faces: 0.8)


@dataclass
class MixedDetector:
    """Apply the detector model to a random fraction of each batch only (the rest keeps geometric noise only)."""

    detector: DetectorModel
    fraction: float

    def apply(self, rng: np.random.Generator, features: np.ndarray, weights: np.ndarray, pose_deg: np.ndarray):
        out = np.array(features, np.float32, copy=True)
        mask = rng.random(len(features)) < self.fraction
        if mask.any():
            out[mask] = self.detector.apply(rng, features[mask], weights[mask], pose_deg[mask])
        return out


@dataclass
class BrowRegimes:
    """Two regimes where the brows sit: in `ideal_fraction` of each batch the brow columns keep the synthetic geometry
    (a real brow, which the front-end follows), in the rest they get the renders' detector bias and noise without
    offset jitter (a hairless render brow: under-reported motion at the renders' fixed offset). Every other column
    gets `elsewhere` (the detector model with offset jitter, blind to the brow columns).

    Why: the jittered render offset lets the detector-model arms discount brow height, and an arm blind to it reads
    the hairless renders' brows as raised (held-out Workbench renders: browInnerUp 0.72 mean, truth 0.09). With
    both regimes kept apart by the offset, one network can read real brows and rendered ones."""

    elsewhere: DetectorModel
    render_brows: DetectorModel
    cols: np.ndarray
    ideal_fraction: float = 0.5

    def apply(self, rng: np.random.Generator, features: np.ndarray, weights: np.ndarray, pose_deg: np.ndarray):
        out = self.elsewhere.apply(rng, features, weights, pose_deg)
        rendered = rng.random(len(features)) >= self.ideal_fraction
        if rendered.any():
            zero = np.zeros_like(features[rendered])
            delta = self.render_brows.apply(rng, zero, weights[rendered], pose_deg[rendered])
            out[np.ix_(rendered, self.cols)] += delta[:, self.cols]
        return out


def require_inputs(cfg: TrainConfig) -> None:
    """Stop with one line naming the first missing input the config asks for, and the command that makes it (no
    quiet fallback to another set of arms or another selection rule)."""
    if cfg.real and not cfg.renders:
        raise SystemExit("make train: real frames need the training renders (MediaPipe's trust): set renders")
    if cfg.renders:
        d = Path(cfg.renders)
        for name, split in (("train", "train"), ("train_images", "train"), ("test", "test")):
            if not (d / f"{name}.npz").is_file():
                raise SystemExit(
                    f"make train: {d / (name + '.npz')} is missing: run "
                    f"python -m model_training.render --split {split} --n N (make train's render stage)"
                )


def build_data(cfg: TrainConfig, ict_path: str | None, log) -> dict:
    model = load_ict(ict_path)
    emb = embed(model)
    log(f"embedding: {json.dumps({k: v for k, v in emb.stats.items()})}")
    basis = LandmarkBasis.build(model, emb)
    syn = Synthesizer(basis, arkit_to_ict_matrix(model.expr_names), id_sigma=0.8, one_sided=cfg.one_sided)
    out: dict = {"embedding_stats": emb.stats}

    def draw(seed: int, n: int, noise: NoiseConfig | None):
        rng = np.random.default_rng(seed)
        xs, ys, ps = [], [], []
        for s in range(0, n, 8192):
            b = syn.sample(rng, min(8192, n - s), noise)
            xs.append(b.features)
            ys.append(b.weights)
            ps.append(b.pose)
        return np.concatenate(xs), np.concatenate(ys), np.concatenate(ps)

    t = time.time()
    out["x_train"], out["y_train"], out["pose_train"] = draw(cfg.seed * 1000 + 1, cfg.n_train, NoiseConfig())
    out["x_val"], out["y_val"], out["pose_val"] = draw(cfg.seed * 1000 + 2, cfg.n_val, NoiseConfig())
    out["x_test"], out["y_test"], out["pose_test"] = draw(cfg.seed * 1000 + 3, cfg.n_test, NoiseConfig())
    out["x_clean"], out["y_clean"], _ = draw(cfg.seed * 1000 + 4, cfg.n_test, None)
    out["id_offsets"] = identity_feature_offsets(basis, np.random.default_rng(cfg.seed * 1000 + 6), 4096, ID_AUG_SIGMA)
    out["brow_columns"] = moved_feature_columns(basis, syn.a2i, RENDER_BLIND)
    out["brow_offsets"] = expression_feature_offsets(basis, syn.a2i, RENDER_BLIND)
    out["prior"] = sample_expressions(
        np.random.default_rng(cfg.seed * 1000 + 5), max(cfg.n_train // 2, 1000), one_sided=cfg.one_sided
    )
    log(f"synthetic data: {cfg.n_train} train, {cfg.n_val} val, {cfg.n_test} x2 test in {time.time() - t:.1f}s")
    out["detector"] = None
    require_inputs(cfg)
    train_npz = Path(cfg.renders) / "train.npz" if cfg.renders else None
    if train_npz is not None:
        r = render_features(train_npz)
        n_fit = int(len(r["det"]) * RENDER_FIT_FRACTION)
        out["detector"] = fit_detector(train_npz, rows=slice(0, n_fit))
        out["render_val"] = (r["det"][n_fit:], r["weights"][n_fit:])
        out["x_val_det"] = out["detector"].apply(
            np.random.default_rng(cfg.seed + 3), out["x_val"], out["y_val"], out["pose_val"]
        )
        log(f"detector model from {n_fit} training-identity renders: {json.dumps(out['detector'].fit_stats)}")
        h_r = file_sha256(train_npz)
    else:
        log("renders off (--tiny): the detector-model arms are skipped")
        h_r = ""
    test_npz = Path(cfg.renders) / "test.npz" if cfg.renders else None
    if test_npz is not None:
        r = render_features(test_npz)
        out["render_test"] = (r["det"], r["weights"])
        out["render_test_ideal"] = (r["ideal"], r["weights"])
        out["render_test_found"] = r["found"]
        out["render_test_n"] = r["n"]
    out["real_train"] = out["real_select"] = out["trust"] = None
    h_real = ""
    if cfg.real:
        out["trust"] = mediapipe_trust(Path(cfg.renders), log)
        try:
            out["real_train"] = load_real("train", log)
            out["real_train_both"] = load_real("train", log, paths=PATHS)
            out["real_select"] = load_real("select", log, paths=PATHS)  # the selection sees both paths of the product
        except FileNotFoundError as exc:
            raise SystemExit(f"make train: {exc}") from None
        log(
            f"real frames: {len(out['real_train'])} train ({len(out['real_train'].clip_names)} clips), "
            f"{len(out['real_select'])} select ({len(out['real_select'].clip_names)} clips)"
        )
        h_real = out["real_train_both"].digest() + hashlib.sha256(out["trust"]["trust"].tobytes()).hexdigest()
    out["mean"] = out["x_train"].mean(0)
    out["std"] = out["x_train"].std(0) + 1e-4
    z = (out["x_train"][:20000] - out["mean"]) / out["std"]
    out["ood_threshold"] = float(np.percentile(np.sqrt((z**2).mean(1)), 99.9) * 1.5)
    h = hashlib.sha256()
    for k in ("x_train", "y_train"):
        h.update(np.ascontiguousarray(out[k]).tobytes())
    h.update(h_r.encode())
    h.update(h_real.encode())
    out["data_hash"] = h.hexdigest()
    return out
