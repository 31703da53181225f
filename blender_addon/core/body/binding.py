"""Binding: a mesh's rest vertices and sparse vertex-group weights, prepared once for the skinning kernels.

Blender's rules reproduced here (armature_deform.cc): groups without a deforming bone are ignored, zero weights are
skipped, weights are divided by their sum (`contrib`), and a vertex whose contrib is at or below 0.0001 stays at rest;
the modifier's own vertex group ("armature weight") scales the deformation per vertex.

Two forms of the weights are built here: per-chunk dense blocks for the numpy kernel (core/body/lbs_kernel.py; see
`_build_blocks`) and, on demand, one dense (V, 4 (B+1)) matrix of weighted rest positions for the ONNX graph
(`weighted_rest`, core/body/lbs_onnx.py), whose single matrix product over all poses suits a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import FacsimileError

# armature_deform.cc: `if (contrib > 0.0001f)`; at or below, the vertex keeps its coordinate.
CONTRIB_THRESHOLD = np.float32(0.0001)


class SkinningError(FacsimileError, ValueError):
    """Skinning input that cannot be deformed (bad weights, NaN or singular matrices, shape mismatch)."""


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


def weighted_rest(b: LBSBinding) -> np.ndarray:
    """(V, 4 (B+1)) float32: per vertex and bone, the normalised weight times [x y z 1] (the dense LBS graph's input).

    The weights are Blender's: divided by their sum, scaled by the armature weight, zero for vertices at or below the
    contrib threshold; the identity bone B carries what is left of the unit weight (1 - armature weight), so
    out = weighted_rest @ [bone matrices; identity] reproduces the modifier's result for every vertex.
    """
    v_count = b.num_vertices
    n1 = b.num_bones + 1
    deforming = b.deforming
    safe = np.where(deforming, b.contrib, 1.0).astype(np.float64)
    aw = np.where(deforming, b.armature_weight, 0.0).astype(np.float64)
    wn = b.weight.astype(np.float64) / safe[:, None] * aw[:, None]
    idx = np.concatenate([b.index.astype(np.int64), np.full((v_count, 1), b.num_bones, dtype=np.int64)], axis=1)
    wn = np.concatenate([wn, (1.0 - aw)[:, None]], axis=1)
    vh = np.concatenate([b.rest.astype(np.float64), np.ones((v_count, 1))], axis=1)  # (V, 4)
    cols = idx[:, :, None] * 4 + np.arange(4)[None, None, :]  # (V, K+1, 4)
    flat = (np.arange(v_count)[:, None, None] * (4 * n1) + cols).reshape(-1)
    vals = (wn[:, :, None] * vh[:, None, :]).reshape(-1)
    dense = np.bincount(flat, weights=vals, minlength=v_count * 4 * n1)  # a bone listed twice adds up
    return dense.reshape(v_count, 4 * n1).astype(np.float32)
