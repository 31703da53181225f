"""Linear blend skinning and dual-quaternion skinning with the Armature modifier's semantics, batched over poses.

What Blender does (source/blender/blenkernel/intern/armature_deform.cc, math_rotation_c.cc), reproduced here:

* A vertex is taken into armature space with premat = (mesh_world^-1 @ arm_world)^-1, deformed there and brought back
  with postmat = mesh_world^-1 @ arm_world.
* Each vertex group that names a pose bone whose bone deforms contributes `chan_mat = pose_bone.matrix @
  bone.matrix_local^-1` with its weight; groups without a bone (or with a non-deforming bone) are ignored; zero weights
  are skipped.
* LBS: co + sum_i w_i (chan_i @ co - co) / contrib, contrib = sum of the used weights. A vertex whose contrib is at or
  below 0.0001 (Blender's `contrib > 0.0001f` test) stays where it is.
* Preserve Volume (dual quaternions): per bone `mat4_to_dquat(bone.arm_mat, chan_mat)` (scale split off around the
  bone's rest frame), blended in vertex-group order with Blender's sign flip against the running sum, scale matrices
  re-pivoted at the vertex (add_weighted_dq_dq_pivot), normalised by contrib (normalize_dq), applied by mul_v3m3_dq.
* The modifier's own vertex group ("armature weight") scales the deformation per vertex.

The fast LBS path turns the sparse weights into per-chunk dense blocks: vertices are sorted by their set of bones,
cut into chunks of `chunk` vertices, and each chunk gets a small dense matrix A_c (chunk x 4*J) holding w*[x y z 1] in
the columns of the J bones the chunk uses (typically 1-3). Chunks with the same J form a bucket, and skinning P poses
is one batched matrix product A_c @ T_c per bucket, with T_c = (4*J x 3P) the chunk's bone matrices, which BLAS
(numpy) or onnxruntime (CPU or CUDA) run at full speed; no Python loop runs over vertices or bones. The same arrays
feed the ONNX graph (`build_lbs_onnx`, shipped as exported_models/lbs.onnx because the add-on has no `onnx` package).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import FacsimileError

# armature_deform.cc: `if (contrib > 0.0001f)`; at or below, the vertex keeps its coordinate.
CONTRIB_THRESHOLD = np.float32(0.0001)
# math_matrix.c is_orthonormal_m3 / is_orthogonal_m3 tolerance.
_ORTHO_EPS = 1.5 * float(np.finfo(np.float32).eps)


class SkinningError(FacsimileError, ValueError):
    """Skinning input that cannot be deformed (bad weights, NaN or singular matrices, shape mismatch)."""


# --------------------------------------------------------------------------------------------------------------------
# Binding: rest vertices + sparse weights, prepared once per mesh
# --------------------------------------------------------------------------------------------------------------------


@dataclass
class LBSBinding:
    """Rest vertices and weights of one mesh, in the forms the LBS and DQS kernels need.

    index/weight keep Blender's per-vertex influence order (it matters for dual quaternions); `num_bones` counts the
    deform bones; bone id `num_bones` is the identity "rest" bone used for static vertices in the LBS blocks.
    """

    rest: np.ndarray  # (V, 3) float32, mesh space
    index: np.ndarray  # (V, K) int32 bone ids in influence order, padding = 0 with weight 0
    weight: np.ndarray  # (V, K) float32 raw weights (not normalised), 0 for padding
    contrib: np.ndarray  # (V,) float32 sum of used weights
    armature_weight: np.ndarray  # (V,) float32 the modifier's vertex-group factor (1 when none)
    num_bones: int
    bone_names: tuple[str, ...] = ()
    # LBS blocks
    chunk: int = 0
    blocks: np.ndarray | None = None  # (C, chunk, 4*J) float32
    chunk_bones: np.ndarray | None = None  # (C, J) int64 bone ids (num_bones = identity)
    inverse_order: np.ndarray | None = None  # (V,) int64 row of each vertex in the sorted/padded order
    buckets: list | None = None  # [(first chunk, end chunk, blocks (n, chunk, 4j), bones (n, j))] per bone count j

    @property
    def num_vertices(self) -> int:
        return int(self.rest.shape[0])

    @property
    def deforming(self) -> np.ndarray:
        """Vertices the modifier moves: contrib above Blender's threshold and a non-zero armature weight."""
        return (self.contrib > CONTRIB_THRESHOLD) & (self.armature_weight != 0.0)


def bind(
    rest: np.ndarray,
    offsets: np.ndarray,
    bone_ids: np.ndarray,
    weights: np.ndarray,
    num_bones: int,
    *,
    armature_weight: np.ndarray | None = None,
    bone_names: tuple[str, ...] = (),
    chunk: int = 128,
) -> LBSBinding:
    """Prepare a mesh for skinning from CSR weights.

    offsets: (V+1,) row starts; bone_ids/weights: (nnz,) the influences of vertex v in offsets[v]:offsets[v+1], in
    Blender's vertex-group order, already restricted to deform bones (ids 0..num_bones-1).
    """
    rest = np.ascontiguousarray(rest, dtype=np.float32)
    if rest.ndim != 2 or rest.shape[1] != 3:
        raise SkinningError(f"rest vertices must be (V, 3), got shape {rest.shape}")
    v_count = rest.shape[0]
    offsets = np.asarray(offsets, dtype=np.int64)
    bone_ids = np.asarray(bone_ids, dtype=np.int64)
    weights = np.asarray(weights, dtype=np.float32)
    if offsets.shape != (v_count + 1,) or offsets[0] != 0 or np.any(np.diff(offsets) < 0):
        raise SkinningError(f"offsets must be a non-decreasing (V+1,) array starting at 0 for V={v_count}")
    nnz = int(offsets[-1])
    if bone_ids.shape != (nnz,) or weights.shape != (nnz,):
        raise SkinningError(f"bone_ids and weights must hold {nnz} entries, got {bone_ids.shape} and {weights.shape}")
    if num_bones < 1:
        raise SkinningError("the armature has no deform bone that matches a vertex group of the mesh")
    if not np.all(np.isfinite(rest)):
        raise SkinningError("the mesh's rest vertices contain NaN or infinite coordinates")
    if not np.all(np.isfinite(weights)):
        raise SkinningError("vertex-group weights contain NaN or infinite values; fix the weights and retry")
    if nnz and (bone_ids.min() < 0 or bone_ids.max() >= num_bones):
        raise SkinningError(f"bone ids must be in 0..{num_bones - 1}")
    if np.any(weights < 0):
        raise SkinningError("vertex-group weights must not be negative")
    if armature_weight is None:
        armature_weight = np.ones(v_count, dtype=np.float32)
    armature_weight = np.asarray(armature_weight, dtype=np.float32).reshape(-1)
    if armature_weight.shape != (v_count,) or not np.all(np.isfinite(armature_weight)):
        raise SkinningError("armature_weight must be a finite (V,) array")

    counts = np.diff(offsets)
    k = max(1, int(counts.max()) if v_count else 1)
    row = np.repeat(np.arange(v_count), counts)
    slot = np.arange(nnz) - np.repeat(offsets[:-1], counts)
    index = np.zeros((v_count, k), dtype=np.int32)
    weight = np.zeros((v_count, k), dtype=np.float32)
    index[row, slot] = bone_ids
    weight[row, slot] = weights
    # Blender sums in float32 in the same order; float64 then rounding is within an ulp of it.
    contrib = weight.astype(np.float64).sum(axis=1).astype(np.float32)
    binding = LBSBinding(
        rest=rest,
        index=index,
        weight=weight,
        contrib=contrib,
        armature_weight=armature_weight,
        num_bones=int(num_bones),
        bone_names=tuple(bone_names),
    )
    if v_count and not np.any(binding.deforming):
        raise SkinningError(
            "every vertex has zero total weight on the armature's deform bones, so nothing would move; "
            "weight the mesh to the bones (e.g. Ctrl+P > With Automatic Weights) and retry"
        )
    _build_blocks(binding, chunk)
    return binding


def _build_blocks(b: LBSBinding, chunk: int) -> None:
    """Dense per-chunk blocks for the matrix-product form of LBS (see the module docstring).

    Vertices are sorted by their set of bones (lexicographically), so a chunk typically spans 1-3 bones; chunks are
    then ordered by how many bones they use, so that chunks with the same count form one contiguous bucket that runs
    as one batched matrix product with no padding (`buckets`); `blocks`/`chunk_bones` pad every chunk to the largest
    count for the single-MatMul ONNX graph.
    """
    v_count, k = b.index.shape
    ident = b.num_bones
    deforming = b.deforming
    safe = np.where(deforming, b.contrib, 1.0).astype(np.float32)
    aw = np.where(deforming, b.armature_weight, 0.0).astype(np.float32)
    # Normalised weights scaled by the armature weight, plus the identity bone carrying the rest of the unit weight.
    wn = b.weight / safe[:, None] * aw[:, None]
    idx = np.concatenate([b.index.astype(np.int64), np.full((v_count, 1), ident, dtype=np.int64)], axis=1)
    wn = np.concatenate([wn, (1.0 - aw)[:, None]], axis=1).astype(np.float32)
    k1 = k + 1

    # Sort vertices by their (sorted) set of influencing bones.
    key = np.sort(np.where(wn != 0, idx, ident + 1), axis=1)
    order = np.lexsort(key.T[::-1]) if v_count else np.zeros(0, dtype=np.int64)
    chunk = max(1, min(int(chunk), max(1, v_count)))
    c_count = max(1, -(-v_count // chunk))
    vp = c_count * chunk
    idx_s = np.full((vp, k1), ident, dtype=np.int64)
    w_s = np.zeros((vp, k1), dtype=np.float32)
    rest_s = np.zeros((vp, 3), dtype=np.float32)
    idx_s[:v_count] = idx[order]
    w_s[:v_count] = wn[order]
    rest_s[:v_count] = b.rest[order]
    idx_s = np.where(w_s != 0, idx_s, -1)  # zero-weight slots use no bone
    idx_s[v_count:, 0] = ident  # padding rows: the identity bone with weight 0

    n1 = b.num_bones + 1
    chunk_of = np.repeat(np.arange(c_count), chunk)
    used = np.zeros((c_count, n1 + 1), dtype=bool)  # column n1 collects the "no bone" slots
    used[np.repeat(chunk_of, k1), np.where(idx_s < 0, n1, idx_s).reshape(-1)] = True
    used = used[:, :n1]
    counts = np.maximum(used.sum(axis=1), 1)
    # Reorder chunks by bone count (stable), so each count is one contiguous range.
    c_order = np.argsort(counts, kind="stable")
    used, counts = used[c_order], counts[c_order]
    rows = (c_order[:, None] * chunk + np.arange(chunk)[None, :]).reshape(-1)
    idx_s, w_s, rest_s = idx_s[rows], w_s[rows], rest_s[rows]
    vorder = np.concatenate([order, np.full(vp - v_count, -1, dtype=np.int64)])[rows]

    j = int(counts.max())
    chunk_bones = np.argsort(~used, axis=1, kind="stable")[:, :j]  # used bones first (ascending), then padding
    chunk_bones = np.where(np.arange(j)[None, :] < counts[:, None], chunk_bones, ident)
    lut = np.zeros((c_count, n1), dtype=np.int64)
    ci = np.repeat(np.arange(c_count), j)
    valid = (np.arange(j)[None, :] < counts[:, None]).reshape(-1)
    lut[ci[valid], chunk_bones.reshape(-1)[valid]] = np.tile(np.arange(j), c_count)[valid]
    row_chunk = np.repeat(np.arange(c_count), chunk)
    local = lut[row_chunk[:, None], np.maximum(idx_s, 0)]  # (vp, k1); weight is 0 where idx_s < 0

    vh = np.concatenate([rest_s, np.ones((vp, 1), dtype=np.float32)], axis=1)  # (vp, 4)
    vals = w_s[:, :, None].astype(np.float64) * vh[:, None, :]  # (vp, k1, 4)
    cols = local[:, :, None] * 4 + np.arange(4)[None, None, :]
    flat = (np.arange(vp)[:, None, None] * (4 * j) + cols).reshape(-1)
    blocks = np.bincount(flat, weights=vals.reshape(-1), minlength=vp * 4 * j).astype(np.float32)
    blocks = blocks.reshape(c_count, chunk, 4 * j)

    buckets = []
    for cnt in np.unique(counts):
        sel = np.nonzero(counts == cnt)[0]
        c0, c1 = int(sel[0]), int(sel[-1]) + 1
        buckets.append((c0, c1, np.ascontiguousarray(blocks[c0:c1, :, : 4 * cnt]), chunk_bones[c0:c1, :cnt].copy()))
    inverse = np.empty(v_count, dtype=np.int64)
    real = vorder >= 0
    inverse[vorder[real]] = np.nonzero(real)[0]

    b.chunk = chunk
    b.blocks = blocks
    b.chunk_bones = chunk_bones.astype(np.int64)
    b.inverse_order = inverse
    b.buckets = buckets


# --------------------------------------------------------------------------------------------------------------------
# Matrices
# --------------------------------------------------------------------------------------------------------------------


def _check_finite(name: str, m: np.ndarray) -> None:
    if not np.all(np.isfinite(m)):
        bad = np.argwhere(~np.isfinite(m).reshape(m.shape[0], -1).all(axis=1)).ravel() if m.ndim >= 3 else []
        where = f" (first bad entry index {int(bad[0])})" if len(bad) else ""
        raise SkinningError(f"{name} contain NaN or infinite values{where}; check the pose/rig for broken keys")


def _inverse(name: str, m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    _check_finite(name, m[None] if m.ndim == 2 else m)
    det = np.linalg.det(m[..., :3, :3])
    if np.any(np.abs(det) < 1e-12):
        raise SkinningError(f"{name} is singular (zero scale on an axis) and cannot be inverted; fix its scale")
    return np.linalg.inv(m)


def object_space_matrices(arm_world: np.ndarray, mesh_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(premat, postmat) as armature_deform.cc builds them: postmat = mesh_world^-1 @ arm_world, premat its inverse.

    Either matrix may be (4, 4) or (P, 4, 4) when the objects move over the poses.
    """
    postmat = _inverse("the mesh object's world matrix", mesh_world) @ np.asarray(arm_world, dtype=np.float64)
    return _inverse("the armature-to-mesh matrix", postmat), postmat


def channel_matrices(pose_mats: np.ndarray, rest_mats: np.ndarray) -> np.ndarray:
    """chan_mat = pose_bone.matrix @ bone.matrix_local^-1 per pose and bone: (P, B, 4, 4) float64, armature space."""
    pose_mats = np.asarray(pose_mats, dtype=np.float64)
    if pose_mats.ndim != 4 or pose_mats.shape[-2:] != (4, 4):
        raise SkinningError(f"pose matrices must be (P, B, 4, 4), got {pose_mats.shape}")
    _check_finite("pose matrices", pose_mats)
    det = np.linalg.det(pose_mats[..., :3, :3])
    bad = np.argwhere(np.abs(det) < 1e-12)
    if len(bad):
        p, bone = (int(x) for x in bad[0])
        raise SkinningError(
            f"pose {p} has a singular matrix for bone {bone} (zero scale); "
            f"{len(bad)} bone matrices are singular. Fix the scale keys of the pose"
        )
    return pose_mats @ _inverse("bone rest matrices (bone.matrix_local)", rest_mats)[None]


def mesh_space_matrices(chan: np.ndarray, premat: np.ndarray, postmat: np.ndarray) -> np.ndarray:
    """postmat @ chan @ premat: the bone transforms acting directly on mesh-space rest vertices."""
    post = np.asarray(postmat, dtype=np.float64)
    pre = np.asarray(premat, dtype=np.float64)
    if post.ndim == 3:
        post = post[:, None]
    if pre.ndim == 3:
        pre = pre[:, None]
    return post @ chan @ pre


# --------------------------------------------------------------------------------------------------------------------
# LBS (numpy)
# --------------------------------------------------------------------------------------------------------------------


def _bone_table(mesh_mats: np.ndarray, num_bones: int) -> np.ndarray:
    """(P, B, 4, 4) -> (P, B+1, 3, 4) float32 with the identity bone appended."""
    p = mesh_mats.shape[0]
    if mesh_mats.shape[1:] != (num_bones, 4, 4):
        raise SkinningError(f"expected matrices for {num_bones} deform bones, got shape {mesh_mats.shape}")
    table = np.empty((p, num_bones + 1, 3, 4), dtype=np.float32)
    table[:, :num_bones] = mesh_mats[:, :, :3, :]
    table[:, num_bones] = np.eye(4, dtype=np.float32)[:3]
    return table


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
    mesh_mats = np.asarray(mesh_mats)
    if mesh_mats.ndim != 4:
        raise SkinningError(f"bone matrices must be (P, B, 4, 4), got {mesh_mats.shape}")
    _check_finite("bone matrices", mesh_mats)
    p_count = mesh_mats.shape[0]
    table = _bone_table(mesh_mats, binding.num_bones)
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


# --------------------------------------------------------------------------------------------------------------------
# Dual quaternions (Preserve Volume)
# --------------------------------------------------------------------------------------------------------------------


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
    _check_finite("bone matrices", chan)
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


# --------------------------------------------------------------------------------------------------------------------
# ONNX graph of the block LBS
# --------------------------------------------------------------------------------------------------------------------

LBS_ONNX_OUTPUT = "vertices"


def lbs_onnx_inputs(buckets: int) -> tuple[str, ...]:
    """Input names of the graph with `buckets` bone-count buckets."""
    names = []
    for i in range(buckets):
        names += [f"blocks_{i}", f"bones_{i}"]
    return (*names, "inverse_order", "bone_table")


ONNX_FILE = "lbs.onnx"
ONNX_MAX_BUCKETS = 12  # buckets of the shipped graph; unused ones are fed empty, extra ones merged (padded)


def build_lbs_onnx(buckets: int = ONNX_MAX_BUCKETS, opset: int = 17, metadata: dict[str, str] | None = None) -> bytes:
    """The LBS graph for bindings with `buckets` bone-count buckets; every dimension is symbolic.

    Inputs: per bucket i, blocks_i (C_i, chunk, 4 J_i) float32 and bones_i (C_i, J_i) int64; inverse_order (V,)
    int64; bone_table (P, B+1, 3, 4) float32. Output: vertices (P, V, 3) float32. The graph depends only on the
    bucket count (not on the mesh, rig or pose count), so it is built in memory at run time rather than shipped.
    Each bucket is one batched MatMul of its chunks' blocks with their gathered bone matrices; a bucket may be empty
    (zero chunks). Needs the `onnx` package (export time: model_training/export_lbs_onnx.py writes exported_models/
    lbs.onnx); the add-on loads the shipped file.
    """
    import onnx
    from onnx import TensorProto, helper

    def const(name: str, values: list[int]) -> onnx.NodeProto:
        return helper.make_node(
            "Constant", [], [name], value=helper.make_tensor(name, TensorProto.INT64, [len(values)], values)
        )

    nodes = [
        const("c_m1", [-1]),
        const("c_3", [3]),
        const("c_4", [4]),
        # (P, B1, 3, 4) -> (B1, 4, P, 3) -> (B1, 4, P*3)
        helper.make_node("Transpose", ["bone_table"], ["t_bcpq"], perm=[1, 3, 0, 2]),
        helper.make_node("Shape", ["bone_table"], ["shape_p"], start=0, end=1),
        helper.make_node("Shape", ["t_bcpq"], ["shape_b4"], start=0, end=2),
        helper.make_node("Mul", ["shape_p", "c_3"], ["p3"]),
        helper.make_node("Concat", ["shape_b4", "p3"], ["shape_t"], axis=0),
        helper.make_node("Reshape", ["t_bcpq", "shape_t"], ["t"]),
    ]
    inputs = []
    results = []
    for i in range(buckets):
        inputs += [
            helper.make_tensor_value_info(f"blocks_{i}", TensorProto.FLOAT, [f"C{i}", "chunk", f"J4_{i}"]),
            helper.make_tensor_value_info(f"bones_{i}", TensorProto.INT64, [f"C{i}", f"J{i}"]),
        ]
        nodes += [
            # the chunks' bone matrices: (C_i, J_i, 4, P*3) -> (C_i, 4 J_i, P*3)
            helper.make_node("Gather", ["t", f"bones_{i}"], [f"tg4_{i}"], axis=0),
            helper.make_node("Shape", [f"bones_{i}"], [f"shape_c_{i}"], start=0, end=1),
            helper.make_node("Shape", [f"bones_{i}"], [f"shape_j_{i}"], start=1, end=2),
            helper.make_node("Mul", [f"shape_j_{i}", "c_4"], [f"shape_j4_{i}"]),
            helper.make_node("Concat", [f"shape_c_{i}", f"shape_j4_{i}", "p3"], [f"shape_tg_{i}"], axis=0),
            helper.make_node("Reshape", [f"tg4_{i}", f"shape_tg_{i}"], [f"tg_{i}"]),
            helper.make_node("MatMul", [f"blocks_{i}", f"tg_{i}"], [f"res_{i}"]),
        ]
        results.append(f"res_{i}")
    nodes += [
        helper.make_node("Concat", results, ["res"], axis=0)
        if buckets > 1
        else helper.make_node("Identity", results, ["res"]),
        # (C, chunk, P*3) -> (C*chunk, P, 3) -> original vertex order (V, P, 3) -> (P, V, 3)
        helper.make_node("Concat", ["c_m1", "shape_p", "c_3"], ["shape_r"], axis=0),
        helper.make_node("Reshape", ["res", "shape_r"], ["res3"]),
        helper.make_node("Gather", ["res3", "inverse_order"], ["vpc"], axis=0),
        helper.make_node("Transpose", ["vpc"], [LBS_ONNX_OUTPUT], perm=[1, 0, 2]),
    ]
    graph = helper.make_graph(
        nodes,
        "facsimile_lbs",
        [
            *inputs,
            helper.make_tensor_value_info("inverse_order", TensorProto.INT64, ["V"]),
            helper.make_tensor_value_info("bone_table", TensorProto.FLOAT, ["P", "B1", 3, 4]),
        ],
        [helper.make_tensor_value_info(LBS_ONNX_OUTPUT, TensorProto.FLOAT, ["P", "V", 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="facsimile")
    model.ir_version = min(model.ir_version, 10)
    helper.set_model_props(model, metadata or {"facsimile.model": ONNX_FILE})
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _onnx_buckets(binding: LBSBinding, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The binding's buckets as n graph inputs: extra buckets merge into the last one (padded to its largest bone
    count, the padding pointing at the identity bone with zero weight); missing ones are empty."""
    buckets = [(blk, bones.astype(np.int64)) for _, _, blk, bones in binding.buckets]
    if len(buckets) > n:
        tail = buckets[n - 1 :]
        j = max(bones.shape[1] for _, bones in tail)
        blk = np.concatenate([np.pad(b, ((0, 0), (0, 0), (0, 4 * j - b.shape[2]))) for b, _ in tail])
        bones = np.concatenate(
            [np.pad(o, ((0, 0), (0, j - o.shape[1])), constant_values=binding.num_bones) for _, o in tail]
        )
        buckets = buckets[: n - 1] + [(blk, bones)]
    chunk = binding.blocks.shape[1]
    while len(buckets) < n:
        buckets.append((np.zeros((0, chunk, 4), dtype=np.float32), np.zeros((0, 1), dtype=np.int64)))
    return buckets


class OnnxLBS:
    """LBS through onnxruntime (CUDA when present, via core.models.onnx_session.create_session).

    Runs the shipped exported_models/lbs.onnx (checked against its manifest sha256 and its ModelSpec); `model` may
    name another file or pass serialized bytes (tests).
    """

    def __init__(
        self, binding: LBSBinding, device: str = "auto", threads: int | None = None, model: str | bytes | None = None
    ) -> None:
        from ..models.onnx_session import create_session
        from ..models.specs import LBS, check_session

        if model is None:
            from ..models.store import verified_model_path

            model = verified_model_path(ONNX_FILE)
        self.binding = binding
        self.session, self.info = create_session(model, device=device, threads=threads)
        check_session(self.session, LBS)
        self._static = {"inverse_order": binding.inverse_order}
        for i, (blk, bones) in enumerate(_onnx_buckets(binding, ONNX_MAX_BUCKETS)):
            self._static[f"blocks_{i}"] = blk
            self._static[f"bones_{i}"] = bones

    def __call__(
        self,
        mesh_mats: np.ndarray,
        *,
        pose_batch: int | None = None,
        out: np.ndarray | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        mesh_mats = np.asarray(mesh_mats)
        _check_finite("bone matrices", mesh_mats)
        table = _bone_table(mesh_mats, self.binding.num_bones)
        p_count = table.shape[0]
        if pose_batch is None:
            pose_batch = 256 if self.info.device == "cuda" else 8
        if out is None:
            out = np.empty((p_count, self.binding.num_vertices, 3), dtype=np.float32)
        for p0 in range(0, p_count, pose_batch):
            p1 = min(p_count, p0 + pose_batch)
            feeds = dict(self._static, bone_table=table[p0:p1])
            out[p0:p1] = self.session.run([LBS_ONNX_OUTPUT], feeds)[0]
            if progress is not None:
                progress(p1, p_count)
        return out
