"""Left/right mirror augmentation: a face seen in a mirror, with its ARKit channels swapped side for side.

Why: left and right are independent (a wink, a one-sided smile); training on each face and its mirror image, with
the Left/Right channels swapped, removes any side bias the data has and teaches that each side follows its own
landmarks. The landmark permutation comes from MediaPipe's canonical mesh, which is exactly symmetric (every point has
a mirror partner within 1e-5 cm, iris points included).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from blender_addon.core.arkit import MIRROR_INDEX

from .landmark_embedding import load_canonical


@lru_cache(maxsize=1)
def landmark_mirror_index() -> np.ndarray:
    """(478,) index: the mirror partner of every landmark (an involution)."""
    v, _ = load_canonical()
    m = v * np.array([-1.0, 1.0, 1.0])
    d = ((m[:, None] - v[None]) ** 2).sum(-1)
    perm = d.argmin(1)
    if not (np.sqrt(d.min(1)).max() < 1e-3 and np.array_equal(perm[perm], np.arange(len(v)))):
        raise ValueError("the canonical mesh is not left/right symmetric; cannot build the mirror index")
    return perm


def mirror_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """(N, 478, 3) pixel landmarks of the mirrored image (x negated; the normalisation is translation-free)."""
    out = np.asarray(landmarks)[:, landmark_mirror_index()].copy()
    out[..., 0] = -out[..., 0]
    return out


def mirror_weights(weights: np.ndarray) -> np.ndarray:
    """(N, 52) ARKit weights with Left and Right swapped."""
    return np.asarray(weights)[..., MIRROR_INDEX]


def mirror_features(features: np.ndarray) -> np.ndarray:
    """(N, 1434) normalised features of the mirrored face: exactly normalize_landmarks(mirror_landmarks(x)), since the
    face frame is built from mirror-symmetric rigid points (tests/test_generator_real.py checks the identity)."""
    f = np.asarray(features).reshape(len(features), -1, 3)[:, landmark_mirror_index()]
    return (f * np.array([-1.0, 1.0, 1.0], f.dtype)).reshape(len(features), -1)
