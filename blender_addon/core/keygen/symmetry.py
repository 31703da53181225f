"""Per-eye landmark consistency on a mirror-symmetric head: each landmark and its mirror partner agree.

A detector run on renders places the two eyes' landmarks independently, and on an untextured head one lid margin can
slip into the eye hole while the other does not; the keys of that eye then follow the wrong rows of vertices. Most
character heads are modelled mirror-symmetric: when the mesh around the face is (checked, not assumed), each landmark
becomes the mean of itself and its partner reflected across the face's mid-plane, so both eyes (and mouth corners,
brows) get the same, better-averaged placement. An asymmetric head keeps its landmarks as found.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .geometry import knn, umeyama
from .ict_data import KeygenModel

SYMMETRIC_TOLERANCE = 0.002  # median mirror mismatch of the face's vertices, fraction of the inter-ocular distance:
# a head modelled mirrored matches to float precision; a scanned or sculpted one (ICT's sample identity 0.0055, the
# demo head 0.007) keeps its own landmarks


@lru_cache(maxsize=2)
def _mirror_index(model_id: int, landmarks_ict: bytes) -> np.ndarray:
    lm = np.frombuffer(landmarks_ict).reshape(-1, 3)
    idx, _ = knn(lm * [-1.0, 1.0, 1.0], lm, 1)  # ICT is symmetric about x = 0
    return idx[:, 0]


def mirror_index(model: KeygenModel) -> np.ndarray:
    """(468,) each MediaPipe landmark's mirror partner (itself on the mid-line), read off ICT's symmetric face."""
    lm = np.ascontiguousarray(model.landmarks(model.neutral), np.float64)
    return _mirror_index(id(model), lm.tobytes())


def mid_plane(landmarks: np.ndarray, valid: np.ndarray, partner: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(point, unit normal) of the mirror that best swaps the landmark pairs (least squares over all of them), or None
    without enough pairs."""
    ok = valid & valid[partner]
    if (ok & (partner != np.arange(len(partner)))).sum() < 40:
        return None
    p, q = landmarks[ok], landmarks[partner[ok]]
    flip = np.diag([-1.0, 1.0, 1.0])
    _, r, _ = umeyama(p @ flip, q)  # q = R F p + t: an improper isometry whose -1 eigenvector is the normal
    w, v = np.linalg.eig(r @ flip)
    n = np.real(v[:, np.argmin(np.real(w))])
    return (p + q).mean(0) / 2, n / np.linalg.norm(n)


def reflect(points: np.ndarray, plane: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    c, n = plane
    return points - 2.0 * ((points - c) @ n)[:, None] * n


def refine_plane(
    points: np.ndarray, surface: np.ndarray, plane: tuple[np.ndarray, np.ndarray], rounds: int = 100
) -> tuple[tuple[np.ndarray, np.ndarray], float]:
    """Rigid ICP of the reflected points (a sample of the surface) onto the surface's vertices (trimmed: the patch's border has no partner in it); the
    reflection composed with that motion is the mesh's mirror, whose -1 eigenvector is the plane's normal. Returns
    the plane and the median mirror mismatch."""
    mirrored = reflect(points, plane)
    cur = mirrored.copy()
    for _ in range(rounds):
        idx, d = knn(cur, surface, 1)
        keep = d[:, 0] <= np.percentile(d[:, 0], 80)
        _, r, t = umeyama(cur[keep], surface[idx[keep, 0]])
        t = surface[idx[keep, 0]].mean(0) - cur[keep].mean(0) @ r.T
        cur = cur @ r.T + t
        if np.arccos(np.clip((np.trace(r) - 1) / 2, -1.0, 1.0)) < 1e-6:
            break
    # The whole map x -> cur: an improper isometry A x + b; fit it on the points.
    src = points - points.mean(0)
    a, *_ = np.linalg.lstsq(src, cur - cur.mean(0), rcond=None)
    a = a.T
    w, v = np.linalg.eig(a)
    n = np.real(v[:, np.argmin(np.real(w))])
    n /= np.linalg.norm(n)
    c = ((points + cur) / 2).mean(0)
    _, d = knn(reflect(points, (c, n)), surface, 1)
    return (c, n), float(np.median(d))


def symmetrize_landmarks(
    verts: np.ndarray, landmarks: np.ndarray, valid: np.ndarray, model: KeygenModel, iod: float
) -> tuple[np.ndarray, np.ndarray, bool]:
    """(landmarks, valid, applied): pair-averaged landmarks when the mesh near them is mirror-symmetric."""
    partner = mirror_index(model)
    plane = mid_plane(landmarks, valid, partner)
    if plane is None:
        return landmarks, valid, False
    centre = landmarks[valid].mean(0)
    near = verts[np.linalg.norm(verts - centre, axis=1) < 1.5 * iod]
    if len(near) < 50:
        return landmarks, valid, False
    step = max(1, len(near) // 1200)
    plane, mismatch = refine_plane(near[::step], near, plane)
    if mismatch > SYMMETRIC_TOLERANCE * iod:
        return landmarks, valid, False
    mirrored = reflect(np.where(valid[:, None], landmarks, 0.0)[partner], plane)
    both = valid & valid[partner]
    out = np.where(both[:, None], (landmarks + mirrored) / 2, np.where(valid[:, None], landmarks, mirrored))
    return out, valid | valid[partner], True
