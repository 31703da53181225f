"""Displacement transfer from the registered ICT face to the head's vertices, with falloff.

Each head vertex takes the inverse-distance blend of its k nearest ICT vertices on the *same side* of every opening
(regions.py), so a blink moves the upper lid only and jawOpen carries the lower lip away from the upper one. ICT's
expression deltas are rotated and scaled into the head's frame (fit.Fit.to_head). The weight fades from 1 to 0 with
distance from the registered ICT surface, so the scalp, neck and the rest of a body stay still.
"""

from __future__ import annotations

import numpy as np

from .geometry import knn, smoothstep
from .regions import NONE, opposite


def correspondences(
    head: np.ndarray, head_labels: np.ndarray, ict: np.ndarray, ict_labels: np.ndarray, k: int = 4
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(idx (N, k) ICT vertex ids, weights (N, k) summing to 1, distance to the nearest (N,))."""
    idx = np.zeros((len(head), k), np.int64)
    dist = np.zeros((len(head), k))
    for lab in np.unique(head_labels):
        rows = np.nonzero(head_labels == lab)[0]
        allowed = np.nonzero(ict_labels != opposite(int(lab)))[0] if lab != NONE else np.arange(len(ict))
        i, d = knn(head[rows], ict[allowed], k)
        idx[rows] = allowed[i]
        dist[rows] = d
    w = 1.0 / np.maximum(dist, 1e-9) ** 2
    w /= w.sum(1, keepdims=True)
    return idx, w, dist[:, 0]


def falloff(distance: np.ndarray, face_size: float) -> np.ndarray:
    """1 on the registered face, 0 beyond 15% of the inter-ocular distance from it."""
    return 1.0 - smoothstep(0.04 * face_size, 0.15 * face_size, distance)


def transfer(
    deltas_ict: np.ndarray, idx: np.ndarray, w: np.ndarray, weight: np.ndarray, scale: float, rotation: np.ndarray
) -> np.ndarray:
    """(K, V_ict, 3) ICT deltas -> (K, N, 3) head deltas (head units and frame)."""
    blended = (deltas_ict[:, idx] * w[None, :, :, None]).sum(2)  # (K, N, 3)
    return (scale * weight[None, :, None] * blended @ rotation.T).astype(np.float32)
