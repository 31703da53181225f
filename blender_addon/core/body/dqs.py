"""Preserve Volume (dual-quaternion skinning) with the Armature modifier's semantics, batched over poses (numpy).

What Blender does (armature_deform.cc, math_rotation_c.cc), reproduced here: per bone `mat4_to_dquat(bone.arm_mat,
chan_mat)` (scale split off around the bone's rest frame), blended in vertex-group order with Blender's sign flip
against the running sum, scale matrices re-pivoted at the vertex (add_weighted_dq_dq_pivot), normalised by contrib
(normalize_dq), applied by mul_v3m3_dq. Runs on the CPU only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .binding import LBSBinding, SkinningError
from .matrices import check_finite

# math_matrix.c is_orthonormal_m3 / is_orthogonal_m3 tolerance.
_ORTHO_EPS = 1.5 * float(np.finfo(np.float32).eps)


@dataclass
class DualQuats:
    """Per pose and bone: quat (w,x,y,z), trans (dual part), scale (4x4, row-major math form), has_scale."""

    quat: np.ndarray  # (P, B, 4)
    trans: np.ndarray  # (P, B, 4)
    scale: np.ndarray  # (P, B, 4, 4)
    has_scale: np.ndarray  # (P, B) bool


def _normalize_cols(m: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(m, axis=-2, keepdims=True)
    return m / np.where(n == 0, 1.0, n)


def matrix_to_quat(m3: np.ndarray) -> np.ndarray:
    """Rotation quaternion (w,x,y,z) with w >= 0 of (..., 3, 3) matrices, as mat4_to_quat does.

    Columns are normalised and a negative determinant is negated first (mat3_normalized_to_quat_with_checks).
    """
    r = _normalize_cols(np.asarray(m3, dtype=np.float64))
    det = np.linalg.det(r)
    r = np.where((det < 0)[..., None, None], -r, r)
    tr = r[..., 0, 0] + r[..., 1, 1] + r[..., 2, 2]
    cand = np.stack(
        [
            np.stack(
                [1 + tr, r[..., 2, 1] - r[..., 1, 2], r[..., 0, 2] - r[..., 2, 0], r[..., 1, 0] - r[..., 0, 1]], -1
            ),
            np.stack(
                [
                    r[..., 2, 1] - r[..., 1, 2],
                    1 + 2 * r[..., 0, 0] - tr,
                    r[..., 0, 1] + r[..., 1, 0],
                    r[..., 0, 2] + r[..., 2, 0],
                ],
                -1,
            ),
            np.stack(
                [
                    r[..., 0, 2] - r[..., 2, 0],
                    r[..., 0, 1] + r[..., 1, 0],
                    1 + 2 * r[..., 1, 1] - tr,
                    r[..., 1, 2] + r[..., 2, 1],
                ],
                -1,
            ),
            np.stack(
                [
                    r[..., 1, 0] - r[..., 0, 1],
                    r[..., 0, 2] + r[..., 2, 0],
                    r[..., 1, 2] + r[..., 2, 1],
                    1 + 2 * r[..., 2, 2] - tr,
                ],
                -1,
            ),
        ],
        axis=-2,
    )  # (..., 4 candidates, 4): candidate i is 4*q*q_i, best conditioned where q_i is largest
    diag = np.stack([tr, r[..., 0, 0], r[..., 1, 1], r[..., 2, 2]], -1)
    best = np.argmax(diag, axis=-1)
    q = np.take_along_axis(cand, best[..., None, None], axis=-2)[..., 0, :]
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where((q[..., :1] < 0), -q, q)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) unit quaternions -> (..., 3, 3) rotation matrices."""
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )


def _dual_part(t: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Dual quaternion translation part for rotation q and translation t (mat4_to_dquat)."""
    q0, q1, q2, q3 = np.moveaxis(q, -1, 0)
    t0, t1, t2 = np.moveaxis(t, -1, 0)
    return np.stack(
        [
            -0.5 * (t0 * q1 + t1 * q2 + t2 * q3),
            0.5 * (t0 * q0 + t1 * q3 - t2 * q2),
            0.5 * (-t0 * q3 + t1 * q0 + t2 * q1),
            0.5 * (t0 * q2 - t1 * q1 + t2 * q0),
        ],
        -1,
    )


def _orthogonalize_y(m3: np.ndarray) -> np.ndarray:
    """orthogonalize_m4(R, 1): keep the Y (bone) axis, rebuild Z then X from it (columns, unnormalised sizes dropped)."""
    x = m3[..., :, 0]
    y = m3[..., :, 1]
    y = y / np.linalg.norm(y, axis=-1, keepdims=True)
    z = np.cross(x, y)
    z = z / np.linalg.norm(z, axis=-1, keepdims=True)
    x = np.cross(y, z)
    return np.stack([x, y, z], axis=-1)


def dual_quaternions(chan: np.ndarray, rest_mats: np.ndarray) -> DualQuats:
    """mat4_to_dquat(bone.arm_mat, chan_mat) for every pose and bone (float64)."""
    chan = np.asarray(chan, dtype=np.float64)
    base = np.broadcast_to(np.asarray(rest_mats, dtype=np.float64)[None], chan.shape)
    base_rs = chan @ base
    size = np.linalg.norm(base_rs[..., :3, :3], axis=-2)
    m3 = chan[..., :3, :3]
    gram = np.swapaxes(m3, -1, -2) @ m3
    off = np.abs(gram - np.eye(3) * np.diagonal(gram, axis1=-2, axis2=-1)[..., None, :])
    orthonormal = (off.max(axis=(-1, -2)) <= _ORTHO_EPS) & (
        np.abs(np.diagonal(gram, axis1=-2, axis2=-1) - 1).max(axis=-1) <= _ORTHO_EPS
    )
    has_scale = (~orthonormal) | (np.linalg.det(chan) < 0) | (((size - 1.0) ** 2).sum(-1) > 1e-8)

    base_quat = matrix_to_quat(_orthogonalize_y(base_rs[..., :3, :3]))
    base_r = np.zeros_like(base_rs)
    base_r[..., :3, :3] = quat_to_matrix(base_quat)
    base_r[..., :3, 3] = base_rs[..., :3, 3]
    base_r[..., 3, 3] = 1.0
    base_inv = np.linalg.inv(base)
    r_scaled = base_r @ base_inv
    s = np.linalg.inv(base_r) @ base_rs
    scale = base @ s @ base_inv
    # Blender takes the scale branch whenever chan_mat is not orthonormal to float32 precision, which round-off alone
    # triggers; where the extracted scale is the identity to 2e-5 both branches agree to ~2e-5 of the coordinates, so
    # the per-vertex scale work is skipped there (a large speed-up for rigid rigs).
    dev = np.abs(scale - np.eye(4)).max(axis=(-1, -2)) / (1.0 + np.abs(base[..., :3, 3]).max(axis=-1))
    has_scale = has_scale & (dev > 2e-5)

    r = np.where(has_scale[..., None, None], r_scaled, chan)
    scale = np.where(has_scale[..., None, None], scale, np.eye(4))
    quat = matrix_to_quat(r[..., :3, :3])
    trans = _dual_part(r[..., :3, 3], quat)
    return DualQuats(quat=quat, trans=trans, scale=scale, has_scale=has_scale)


def skin_dqs(
    binding: LBSBinding,
    chan: np.ndarray,
    rest_mats: np.ndarray,
    premat: np.ndarray,
    postmat: np.ndarray,
    *,
    pose_batch: int = 16,
    out: np.ndarray | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Preserve Volume skinning of P poses: chan (P, B, 4, 4) armature-space channel matrices -> (P, V, 3) float32.

    premat/postmat are (4, 4) or (P, 4, 4) (object_space_matrices). Vectorised over vertices and poses (arrays are
    vertex-major, (V, poses, ...), so gathers copy whole rows); the loop runs over influence slots only, in Blender's
    order, because the quaternion sign flip depends on the running sum.
    """
    chan = np.asarray(chan, dtype=np.float64)
    check_finite("bone matrices", chan)
    p_count = chan.shape[0]
    if chan.shape[1:] != (binding.num_bones, 4, 4):
        raise SkinningError(f"expected matrices for {binding.num_bones} deform bones, got shape {chan.shape}")
    dq = dual_quaternions(chan, rest_mats)
    pre = np.broadcast_to(np.asarray(premat, dtype=np.float64), (p_count, 4, 4))
    post = np.broadcast_to(np.asarray(postmat, dtype=np.float64), (p_count, 4, 4))
    rest32 = binding.rest
    v_count = binding.num_vertices
    if out is None:
        out = np.empty((p_count, v_count, 3), dtype=np.float32)
    if out.shape != (p_count, v_count, 3):
        raise SkinningError(f"out must have shape {(p_count, v_count, 3)}, got {out.shape}")
    dec = binding.deforming
    aw = binding.armature_weight.astype(np.float32)[:, None, None]
    inv_c = (1.0 / np.where(dec, binding.contrib, 1.0)).astype(np.float32)[:, None, None]
    contrib = np.where(dec, binding.contrib, 1.0).astype(np.float32)[:, None]
    eye4 = np.eye(4, dtype=np.float32)
    active = [np.nonzero(binding.weight[:, k] != 0)[0] for k in range(binding.index.shape[1])]
    for p0 in range(0, p_count, pose_batch):
        p1 = min(p_count, p0 + pose_batch)
        pb = p1 - p0
        # vertex-major: (V, pb, 3) armature-space rest coordinates
        pre_b = pre[p0:p1].astype(np.float32)
        co = np.matmul(rest32[None], pre_b[:, :3, :3].transpose(0, 2, 1)) + pre_b[:, None, :3, 3]  # (pb, V, 3)
        co = np.ascontiguousarray(co.transpose(1, 0, 2))
        quat = np.ascontiguousarray(dq.quat[p0:p1].transpose(1, 0, 2), dtype=np.float32)  # (B, pb, 4)
        trans = np.ascontiguousarray(dq.trans[p0:p1].transpose(1, 0, 2), dtype=np.float32)
        has_s = np.ascontiguousarray(dq.has_scale[p0:p1].T)  # (B, pb)
        any_scale = bool(has_s.any())
        sq = np.zeros((v_count, pb, 4), dtype=np.float32)
        st = np.zeros((v_count, pb, 4), dtype=np.float32)
        if any_scale:
            scale = np.ascontiguousarray(dq.scale[p0:p1].transpose(1, 0, 2, 3), dtype=np.float32)
            ss = np.zeros((v_count, pb, 4, 4), dtype=np.float32)
            ssw = np.zeros((v_count, pb), dtype=np.float32)
        for k, rows in enumerate(active):
            # Only vertices with a non-zero weight in this slot (Blender skips zero weights): slot 0 holds nearly
            # all vertices, later slots few, so the work follows the number of influences, not V x K.
            if rows.size == 0:
                continue
            bones = binding.index[rows, k]
            w = binding.weight[rows, k][:, None]  # (n, 1)
            q = quat[bones]  # (n, pb, 4)
            t = trans[bones]
            if any_scale:
                hs = has_s[bones]  # (n, pb)
                s = scale[bones]
                c = co[rows]
                dst = np.einsum("npij,npj->npi", s[..., :3, :3], c) + s[..., :3, 3] - c
                dst *= hs[..., None]
                q0, q1, q2, q3 = np.moveaxis(q, -1, 0)
                d0, d1, d2 = np.moveaxis(dst, -1, 0)
                t = t + 0.5 * np.stack(
                    [
                        -(q1 * d0 + q2 * d1 + q3 * d2),
                        q0 * d0 + q2 * d2 - q3 * d1,
                        q0 * d1 + q3 * d0 - q1 * d2,
                        q0 * d2 + q1 * d1 - q2 * d0,
                    ],
                    -1,
                )
                s[..., :3, 3] -= dst
            if k == 0 and rows.size == v_count:
                # first influence of every vertex: the running sum is zero, so no flip (dot(q, 0) < 0 is false)
                ws = np.broadcast_to(w[..., None], q.shape[:2] + (1,))
                np.multiply(ws, q, out=sq)
                np.multiply(ws, t, out=st)
            else:
                sq_k = sq[rows]
                flip = np.einsum("npi,npi->np", q, sq_k) < 0
                ws = np.where(flip, -w, w)[..., None]  # (n, pb, 1)
                sq[rows] = sq_k + ws * q
                st[rows] += ws * t
            if any_scale:
                ws_abs = w * hs  # (n, pb)
                ss[rows] += ws_abs[..., None, None] * s
                ssw[rows] += ws_abs
        sq *= inv_c
        st *= inv_c
        r = co
        if any_scale:
            scaled = ssw != 0
            ss += (np.where(scaled, contrib - ssw, 0.0)[..., None, None] * eye4).astype(np.float32)
            ss *= inv_c[..., None]
            r = np.where(
                scaled[..., None], np.einsum("vpij,vpj->vpi", ss[..., :3, :3], co) + ss[..., :3, 3], co
            ).astype(np.float32)
        # component-major copies: the arithmetic below then runs on contiguous (V, pb) arrays
        w_, x, y, z = np.ascontiguousarray(np.moveaxis(sq, -1, 0))
        t0, t1, t2, t3 = np.ascontiguousarray(np.moveaxis(st, -1, 0))
        rx, ry, rz = np.ascontiguousarray(np.moveaxis(r, -1, 0))
        len2 = np.einsum("vpi,vpi->vp", sq, sq)
        len2 = np.where(len2 > 0, 1.0 / np.where(len2 > 0, len2, 1.0), 0.0).astype(np.float32)
        ww, xx, yy, zz = w_ * w_, x * x, y * y, z * z
        xy, xz, yz, wx, wy, wz = x * y, x * z, y * z, w_ * x, w_ * y, w_ * z
        moved = np.empty((3,) + co.shape[:2], dtype=np.float32)
        moved[0] = ((ww + xx - yy - zz) * rx + 2 * (xy - wz) * ry + 2 * (xz + wy) * rz
                         + 2 * (-t0 * x + w_ * t1 - t2 * z + y * t3)) * len2  # fmt: skip
        moved[1] = (2 * (xy + wz) * rx + (ww + yy - xx - zz) * ry + 2 * (yz - wx) * rz
                         + 2 * (-t0 * y + t1 * z - x * t3 + w_ * t2)) * len2  # fmt: skip
        moved[2] = (2 * (xz - wy) * rx + 2 * (yz + wx) * ry + (ww + zz - xx - yy) * rz
                         + 2 * (-t0 * z + x * t2 + w_ * t3 - t1 * y)) * len2  # fmt: skip
        moved = np.moveaxis(moved, 0, -1)
        moved = co + (moved - co) * aw
        res = np.where(dec[:, None, None], moved, co)  # (V, pb, 3)
        post_b = post[p0:p1].astype(np.float32)
        out[p0:p1] = np.matmul(res.transpose(1, 0, 2), post_b[:, :3, :3].transpose(0, 2, 1)) + post_b[:, None, :3, 3]
        if progress is not None:
            progress(p1, p_count)
    return out
