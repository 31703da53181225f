"""A bias + noise model of the real face front-end, fitted on renders of *training* identities.

Why: the issue's measurement (ridge on ideal geometry 0.997 Pearson, on detector landmarks of renders 0.35) says the
detector, not the regression, is the bottleneck. Rendering ICT faces with known weights and running the ONNX front-end
on them (model_training/render/render_ict.py) gives, per render, the detector's landmarks and the ideal ones. In feature
space (core.face.landmark_normalize) the residual r = f(detected) - f(ideal) is modelled as
    r = [w, pose terms, 1] @ B  +  e,    e ~ N(0, PCA of the remaining residuals)
(ridge regression for B: the detector's expression-dependent under/over-shoot; PCA for e: its correlated jitter).
Training adds s * ([w, pose, 1] @ B) + e to the synthetic features (s around 1), so the network learns to read
weights from landmarks as the detector really places them. Test-identity renders are never used here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from blender_addon.core.face.landmark_normalize import normalize_landmarks


def design(weights: np.ndarray, pose_deg: np.ndarray) -> np.ndarray:
    """Regressors: the 52 weights, pose (yaw, pitch, roll, |yaw|, |pitch|) / 30 degrees, and a constant."""
    p = np.asarray(pose_deg, np.float64) / 30.0
    return np.concatenate([weights, p, np.abs(p[:, :2]), np.ones((len(weights), 1))], 1)


@dataclass
class DetectorModel:
    coef: np.ndarray  # (R, F) ridge coefficients
    noise_basis: np.ndarray  # (K, F) principal residual directions scaled by their std
    fit_stats: dict

    offset_range: tuple[float, float] = (0.7, 1.3)  # scale of the pose + constant part of the bias

    def apply(self, rng: np.random.Generator, features: np.ndarray, weights: np.ndarray, pose_deg: np.ndarray):
        """Features of ideal-ish landmarks -> features as the detector would give them (random bias scale + noise).

        The expression-dependent part (how the detector under/over-reports motion) is scaled by U(0.7, 1.3); the
        pose + constant part (where the detector puts landmarks on a resting face) by offset_range, which can be
        widened so the network cannot lean on a resting-face offset that may be specific to the renders.
        """
        n = len(features)
        x = design(weights, pose_deg)
        nw = weights.shape[1]
        s_w = rng.uniform(0.7, 1.3, (n, 1))
        s_o = rng.uniform(*self.offset_range, (n, 1))
        bias = s_w * (x[:, :nw] @ self.coef[:nw]) + s_o * (x[:, nw:] @ self.coef[nw:])
        noise = rng.normal(0, 1, (n, len(self.noise_basis))) @ self.noise_basis
        return (features + bias + noise).astype(np.float32)

    def without_columns(self, cols: np.ndarray) -> DetectorModel:
        """A copy that adds neither bias nor noise on these feature columns: there the training features keep the
        synthetic geometry and its noise (for landmarks the renders cannot show the front-end's behaviour on)."""
        coef, basis = self.coef.copy(), self.noise_basis.copy()
        coef[:, cols] = 0.0
        basis[:, cols] = 0.0
        return DetectorModel(coef, basis, {**self.fit_stats, "columns_left_out": int(len(cols))}, self.offset_range)

    def save(self, path: Path) -> None:
        """The fitted model beside the run's arms (a run's training data can be inspected without refitting)."""
        np.savez_compressed(path, coef=self.coef, noise_basis=self.noise_basis, stats=np.array(repr(self.fit_stats)))


def render_features(npz_path: Path) -> dict:
    """Rows of a render npz where the front-end found a face: features of detected and ideal landmarks."""
    with np.load(npz_path) as d:
        ok = np.isfinite(d["detected"]).all(axis=(1, 2))
        det, _ = normalize_landmarks(d["detected"][ok])
        ideal, _ = normalize_landmarks(d["ideal"][ok])
        return {
            "det": det,
            "ideal": ideal,
            "weights": d["weights"][ok],
            "pose": d["pose"][ok],
            "found": float(ok.mean()),
            "n": int(len(ok)),
        }


def fit(npz_path: Path, ridge: float = 1.0, k: int = 32, rows: slice | None = None) -> DetectorModel:
    """Fit B (ridge) and the residual PCA on training-identity renders (rows: the fitting part of the split)."""
    rows = rows if rows is not None else slice(None)
    r = {k_: (v[rows] if isinstance(v, np.ndarray) else v) for k_, v in render_features(npz_path).items()}
    x = design(r["weights"], r["pose"])
    res = (r["det"] - r["ideal"]).astype(np.float64)
    a = x.T @ x + ridge * np.eye(x.shape[1])
    coef = np.linalg.solve(a, x.T @ res)
    rest = res - x @ coef
    rest -= rest.mean(0)
    _, s, vt = np.linalg.svd(rest, full_matrices=False)
    k = min(k, len(s))
    basis = vt[:k] * (s[:k] / np.sqrt(max(len(rest) - 1, 1)))[:, None]
    total = float(((res - res.mean(0)) ** 2).sum())
    explained = 1.0 - float((rest**2).sum()) / max(total, 1e-12)
    stats = {
        "renders_used": int(len(x)),
        "found": r["found"],
        "residual_rms": float(np.sqrt((res**2).mean())),
        "after_bias_rms": float(np.sqrt((rest**2).mean())),
        "bias_explained_fraction": explained,
        "pca_k": k,
    }
    return DetectorModel(coef=coef.astype(np.float32), noise_basis=basis.astype(np.float32), fit_stats=stats)
