"""Fit ICT identity + a similarity pose to the head's 468 landmarks, then warp the result onto them (RBF).

Why this order: the similarity puts ICT in the head's frame and scale whatever the orientation; identity modes take
the global proportions; a Gaussian radial-basis warp through the landmark residuals is the non-rigid step that puts ICT's
eyes, lids, lips and brows exactly where the head's are, which is what the displacement transfer needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import FacsimileError
from .geometry import umeyama
from .ict_data import KeygenModel
from .landmark_sets import FACE_OVAL

MIN_LANDMARKS = 200


@dataclass
class Fit:
    scale: float  # ICT cm -> head units
    rotation: np.ndarray  # (3, 3) ICT -> head
    translation: np.ndarray  # (3,)
    id_coeffs: np.ndarray  # (I,)
    ict_verts: np.ndarray  # (V, 3) fitted ICT face in head space, after the warp
    landmark_rms: float  # after similarity + identity, head units
    landmark_rms_warped: float
    inliers: np.ndarray  # (468,) landmarks the fit kept

    def to_head(self, ict_delta: np.ndarray) -> np.ndarray:
        """A displacement in ICT space (cm) -> head space."""
        return self.scale * ict_delta @ self.rotation.T


def rbf_warp(src: np.ndarray, dst: np.ndarray, sigma: float, ridge: float = 0.05):
    """Gaussian radial-basis warp taking src towards dst; returns f(points) -> displacement.

    Gaussian rather than thin-plate: landmarks that nearly coincide with different targets (the two lips, the two
    lids) make a thin-plate spline swing wildly between them, and a Gaussian warp fades to zero away from the face."""
    d2 = ((src[:, None] - src[None]) ** 2).sum(-1)
    k = np.exp(-d2 / (2 * sigma**2))
    coef = np.linalg.solve(k + ridge * np.eye(len(src)), dst - src)

    def f(x: np.ndarray) -> np.ndarray:
        out = np.empty_like(x)
        for s in range(0, len(x), 4096):
            xs = x[s : s + 4096]
            kx = np.exp(-((xs[:, None] - src[None]) ** 2).sum(-1) / (2 * sigma**2))
            out[s : s + 4096] = kx @ coef
        return out

    return f


def fit_ict(
    model: KeygenModel,
    landmarks: np.ndarray,
    valid: np.ndarray,
    *,
    ridge: float = 30.0,
    iterations: int = 6,
    sigma: float = 0.15,
    warp_ridge: float = 0.05,
    warp_skip: tuple[int, ...] = (),
) -> Fit:
    """landmarks: (468, 3) on the head surface (head object space), valid: (468,) bool."""
    valid = np.asarray(valid, bool)
    if valid.sum() < MIN_LANDMARKS:
        raise FacsimileError(
            f"only {int(valid.sum())} of 468 face landmarks landed on the mesh (need {MIN_LANDMARKS}); "
            "check the object is the face mesh, or give --landmarks FILE"
        )
    w_all = np.ones(468)
    w_all[list(FACE_OVAL)] = 0.3  # silhouette points: the detector places them least consistently
    modes_all = model.landmarks(model.id_deltas.astype(np.float64))  # (I, 468, 3)
    base_all = model.landmarks(model.neutral)
    inliers = valid.copy()
    c = np.zeros(len(modes_all))
    for it in range(iterations):
        w = w_all[inliers]
        target = landmarks[inliers].astype(np.float64)
        base = base_all[inliers]
        dmat = modes_all[:, inliers].reshape(len(modes_all), -1).T  # (3n, I)
        sw = np.repeat(np.sqrt(w), 3)
        cur = base + (dmat @ c).reshape(-1, 3)
        s, r, t = umeyama(cur, target, w)
        local = (target - t) @ r / s  # head landmarks in ICT space
        rhs = (local - base).ravel()
        a = dmat * sw[:, None]
        c = np.linalg.solve(a.T @ a + ridge * np.eye(len(c)), a.T @ (rhs * sw))
        # Trim: a ray that slipped past the silhouette or into an eye hole lands far from where the model says.
        full = base_all + np.tensordot(c, modes_all, axes=(0, 0))
        s, r, t = umeyama(full[inliers], landmarks[inliers], w_all[inliers])
        res = np.linalg.norm(s * full @ r.T + t - np.where(valid[:, None], landmarks, 0.0), axis=1)
        if it < iterations - 1:
            scale_ref = s * float(np.linalg.norm(base_all[33] - base_all[263]))
            limit = max(3.0 * float(np.median(res[valid])), 0.08 * scale_ref)
            inliers = valid & (res < limit)
            if inliers.sum() < MIN_LANDMARKS:
                raise FacsimileError("the landmarks on the mesh do not look like one face; use --landmarks FILE")
    target = landmarks[inliers].astype(np.float64)
    cur = base_all[inliers] + np.tensordot(c, modes_all[:, inliers], axes=(0, 0))
    s, r, t = umeyama(cur, target, w_all[inliers])
    verts = model.neutral + np.tensordot(c, model.id_deltas.astype(np.float64), axes=(0, 0))
    head = s * verts @ r.T + t
    lm_head = s * cur @ r.T + t
    rms = float(np.sqrt(((lm_head - target) ** 2).sum(1).mean()))
    # Non-rigid: a smooth warp through the residuals (width relative to the inter-ocular distance).
    iod = s * float(np.linalg.norm(base_all[33] - base_all[263]))
    steer = ~np.isin(np.nonzero(inliers)[0], list(warp_skip))
    warp = rbf_warp(lm_head[steer], target[steer], sigma=sigma * iod, ridge=warp_ridge)
    head = head + warp(head)
    lm_w = model.landmarks(head)[inliers]
    rms_w = float(np.sqrt(((lm_w - target) ** 2).sum(1).mean()))
    return Fit(s, r, t, c, head, rms, rms_w, inliers)
