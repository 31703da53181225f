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


def falloff(distance: np.ndarray, face_size: float, near: float = 0.04, far: float = 0.15) -> np.ndarray:
    """1 on the registered face, 0 beyond `far` x the inter-ocular distance from it."""
    return 1.0 - smoothstep(near * face_size, far * face_size, distance)


def transfer(
    deltas_ict: np.ndarray,
    idx: np.ndarray,
    w: np.ndarray,
    weight: np.ndarray,
    scale: float,
    rotation: np.ndarray,
    local: np.ndarray | None = None,
) -> np.ndarray:
    """(K, V_ict, 3) ICT deltas -> (K, N, 3) head deltas (head units and frame); `local` (N, 3, 3) per-vertex
    rotations applied after the global one (align_rotations)."""
    blended = (deltas_ict[:, idx] * w[None, :, :, None]).sum(2)  # (K, N, 3)
    out = scale * blended @ rotation.T
    if local is not None:
        out = np.einsum("nij,knj->kni", local, out)
    return (weight[None, :, None] * out).astype(np.float32)


def align_rotations(src_n: np.ndarray, dst_n: np.ndarray, max_deg: float = 25.0) -> np.ndarray:
    """(N, 3, 3) smallest rotations taking each src normal onto its dst normal (identity where they differ by more
    than max_deg: that is a bad correspondence, not a surface to follow). This is the local-frame part of deformation
    transfer: a displacement keeps its angle to the surface, so a lip that faces down on the head is pushed the way
    ICT's lip is pushed relative to its own surface."""
    a = src_n / np.maximum(np.linalg.norm(src_n, axis=1, keepdims=True), 1e-12)
    b = dst_n / np.maximum(np.linalg.norm(dst_n, axis=1, keepdims=True), 1e-12)
    v = np.cross(a, b)
    c = (a * b).sum(1)
    vx = np.zeros((len(a), 3, 3))
    vx[:, 0, 1], vx[:, 0, 2], vx[:, 1, 2] = -v[:, 2], v[:, 1], -v[:, 0]
    vx[:, 1, 0], vx[:, 2, 0], vx[:, 2, 1] = v[:, 2], -v[:, 1], v[:, 0]
    rot = np.eye(3)[None] + vx + vx @ vx / np.maximum(1 + c, 1e-6)[:, None, None]
    rot[c < np.cos(np.radians(max_deg))] = np.eye(3)
    return rot
