"""Rotation arithmetic shared by the head pose fit and the rig: yaw/pitch/roll, matrices and quaternions (numpy).

The yaw/pitch/roll convention (camera frame x right, y up, z towards the viewer): R = Rz(roll) @ Ry(yaw) @ Rx(-pitch);
yaw > 0 turns the face to the image's right, pitch > 0 tilts it up, roll > 0 turns it counter-clockwise on screen.
Quaternions are (w, x, y, z).
"""

from __future__ import annotations

import numpy as np


def ypr_matrices(ypr_deg: np.ndarray) -> np.ndarray:
    """(N, 3) yaw, pitch, roll degrees -> (N, 3, 3) R = Rz(roll) @ Ry(yaw) @ Rx(-pitch) (head_pose's convention)."""
    a = np.radians(np.asarray(ypr_deg, dtype=np.float64).reshape(-1, 3))
    cy, sy, cp, sp, cr, sr = (
        np.cos(a[:, 0]),
        np.sin(a[:, 0]),
        np.cos(a[:, 1]),
        np.sin(a[:, 1]),
        np.cos(a[:, 2]),
        np.sin(a[:, 2]),
    )
    n = len(a)
    ry = np.zeros((n, 3, 3))
    ry[:, 0, 0], ry[:, 0, 2], ry[:, 1, 1], ry[:, 2, 0], ry[:, 2, 2] = cy, sy, 1, -sy, cy
    rx = np.zeros((n, 3, 3))
    rx[:, 0, 0], rx[:, 1, 1], rx[:, 1, 2], rx[:, 2, 1], rx[:, 2, 2] = 1, cp, sp, -sp, cp
    rz = np.zeros((n, 3, 3))
    rz[:, 0, 0], rz[:, 0, 1], rz[:, 1, 0], rz[:, 1, 1], rz[:, 2, 2] = cr, -sr, sr, cr, 1
    return rz @ ry @ rx


def quats_from_matrices(m: np.ndarray) -> np.ndarray:
    """(N, 3, 3) rotations -> (N, 4) unit quaternions (w, x, y, z), w >= 0."""
    m = np.asarray(m, dtype=np.float64).reshape(-1, 3, 3)
    q = np.empty((len(m), 4))
    q[:, 0] = np.sqrt(np.maximum(0.0, 1 + m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2])) / 2
    q[:, 1] = np.sqrt(np.maximum(0.0, 1 + m[:, 0, 0] - m[:, 1, 1] - m[:, 2, 2])) / 2
    q[:, 2] = np.sqrt(np.maximum(0.0, 1 - m[:, 0, 0] + m[:, 1, 1] - m[:, 2, 2])) / 2
    q[:, 3] = np.sqrt(np.maximum(0.0, 1 - m[:, 0, 0] - m[:, 1, 1] + m[:, 2, 2])) / 2
    q[:, 1] = np.copysign(q[:, 1], m[:, 2, 1] - m[:, 1, 2])
    q[:, 2] = np.copysign(q[:, 2], m[:, 0, 2] - m[:, 2, 0])
    q[:, 3] = np.copysign(q[:, 3], m[:, 1, 0] - m[:, 0, 1])
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def power(m: np.ndarray, t: float) -> np.ndarray:
    """R^t for (N, 3, 3) rotations (same axis, angle scaled by t)."""
    q = quats_from_matrices(m)
    angle = 2 * np.arctan2(np.linalg.norm(q[:, 1:], axis=1), q[:, 0])
    axis = q[:, 1:] / np.maximum(np.linalg.norm(q[:, 1:], axis=1, keepdims=True), 1e-12)
    half = angle * t / 2
    qt = np.concatenate([np.cos(half)[:, None], axis * np.sin(half)[:, None]], 1)
    return matrices_from_quats(qt)


def matrices_from_quats(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64).reshape(-1, 4)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    w, x, y, z = q.T
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], 1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], 1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], 1),
        ],
        1,
    )


def ypr_from_matrices(m: np.ndarray) -> np.ndarray:
    """(N, 3, 3) rotations -> (N, 3) yaw, pitch, roll degrees, the inverse of ypr_matrices (|yaw| < 90)."""
    m = np.asarray(m, dtype=np.float64).reshape(-1, 3, 3)
    yaw = np.arcsin(np.clip(-m[:, 2, 0], -1.0, 1.0))
    pitch = np.arctan2(-m[:, 2, 1], m[:, 2, 2])
    roll = np.arctan2(m[:, 1, 0], m[:, 0, 0])
    return np.degrees(np.stack([yaw, pitch, roll], 1))
