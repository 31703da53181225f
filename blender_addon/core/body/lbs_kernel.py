"""The numpy LBS kernel (the CPU path): per-chunk dense blocks times the chunk's bone matrices, batched over poses.

LBS of Blender's Armature modifier: co + sum_i w_i (chan_i @ co - co) / contrib. The binding (core/body/binding.py)
turns the sparse weights into per-chunk dense blocks: vertices are sorted by their set of bones, cut into chunks of
`chunk` vertices, and each chunk gets a small dense matrix A_c (chunk x 4*J) holding w*[x y z 1] in the columns of the
J bones the chunk uses (typically 1-3). Chunks with the same J form a bucket, and skinning P poses is one batched matrix
product A_c @ T_c per bucket, with T_c = (4*J x 3P) the chunk's bone matrices; no Python loop runs over vertices or
bones. On a GPU one dense product over all bones wins instead (core/body/lbs_onnx.py).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .binding import LBSBinding, SkinningError
from .matrices import bone_table


def skin_lbs(
    binding: LBSBinding,
    mesh_mats: np.ndarray,
    *,
    out: np.ndarray | None = None,
    pose_batch: int = 8,
    threads: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Deform the rest vertices by P poses of mesh-space bone matrices (P, B, 4, 4): returns (P, V, 3) float32."""
    table = bone_table(mesh_mats, binding.num_bones)
    p_count = table.shape[0]
    v_count = binding.num_vertices
    if out is None:
        out = np.empty((p_count, v_count, 3), dtype=np.float32)
    if out.shape != (p_count, v_count, 3) or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise SkinningError(f"out must be a C-contiguous float32 array of shape {(p_count, v_count, 3)}")
    c_count, chunk, _ = binding.blocks.shape
    inv = binding.inverse_order
    n1 = binding.num_bones + 1
    void = np.dtype((np.void, 12))  # one xyz triple as a single item: the final transpose moves 12-byte items
    out_v = out.view(void).reshape(p_count, v_count)

    def batch(p0: int) -> int:
        p1 = min(p_count, p0 + pose_batch)
        pb = p1 - p0
        # (B+1, 4, pb*3): row = bone*4 + homogeneous coordinate, column = pose*3 + output axis.
        t = np.ascontiguousarray(table[p0:p1].transpose(1, 3, 0, 2)).reshape(n1, 4, pb * 3)
        res = np.empty((c_count, chunk, pb * 3), dtype=np.float32)
        for c0, c1, blk, bones in binding.buckets:
            tg = t[bones].reshape(c1 - c0, blk.shape[2], pb * 3)
            np.matmul(blk, tg, out=res[c0:c1])
        res_v = res.view(void).reshape(c_count * chunk, pb)
        out_v[p0:p1] = np.take(res_v, inv, axis=0).T
        return p1

    starts = range(0, p_count, pose_batch)
    workers = max(1, min(int(threads or _default_threads()), len(starts)))
    if workers == 1:
        for p0 in starts:
            p1 = batch(p0)
            if progress is not None:
                progress(p1, p_count)
        return out
    # numpy releases the GIL in take/copy/matmul: batches (disjoint slices of `out`) run on several cores.
    from concurrent.futures import ThreadPoolExecutor

    done = 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for p1 in pool.map(batch, starts):
            done = max(done, p1)
            if progress is not None:
                progress(done, p_count)
    return out


def _default_threads() -> int:
    """Worker threads for the numpy kernel: the same policy as onnxruntime's sessions (FACSIMILE_THREADS)."""
    from ..models.onnx_session import default_threads

    return default_threads()


def skin_lbs_reference(binding: LBSBinding, mesh_mats: np.ndarray) -> np.ndarray:
    """Straightforward float64 LBS (gather per influence slot), used by tests to check the block form."""
    mats = np.asarray(mesh_mats, dtype=np.float64)
    co = binding.rest.astype(np.float64)
    acc = np.zeros((mats.shape[0],) + co.shape)
    for k in range(binding.index.shape[1]):
        m = mats[:, binding.index[:, k]]  # (P, V, 4, 4)
        moved = np.einsum("pvij,vj->pvi", m[..., :3, :3], co) + m[..., :3, 3] - co
        acc += binding.weight[:, k, None].astype(np.float64) * moved
    dec = binding.deforming
    factor = np.where(dec, binding.armature_weight / np.where(dec, binding.contrib, 1.0), 0.0)
    return (co + acc * factor[None, :, None]).astype(np.float32)
