"""Small mesh-geometry helpers on numpy arrays: similarity fit, graph distances, nearest neighbours, normals."""

from __future__ import annotations

import heapq

import numpy as np


def umeyama(src: np.ndarray, dst: np.ndarray, w: np.ndarray | None = None) -> tuple[float, np.ndarray, np.ndarray]:
    """Weighted similarity (s, R, t) minimising sum w |s R src + t - dst|^2."""
    w = np.ones(len(src)) if w is None else np.asarray(w, np.float64)
    w = w / w.sum()
    mu_s, mu_d = w @ src, w @ dst
    a, b = src - mu_s, dst - mu_d
    u, sig, vt = np.linalg.svd((b * w[:, None]).T @ a)
    d = np.ones(3)
    if np.linalg.det(u @ vt) < 0:
        d[-1] = -1
    r = u @ np.diag(d) @ vt
    s = float((sig * d).sum() / (w @ (a**2).sum(1)))
    return s, r, mu_d - s * r @ mu_s


def edges_of(tris: np.ndarray) -> np.ndarray:
    """Unique undirected edges (E, 2) of a triangle list."""
    e = np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]])
    e.sort(1)
    return np.unique(e, axis=0)


def adjacency(n: int, edges: np.ndarray, verts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR adjacency (indptr, neighbours, edge lengths) for graph searches."""
    a = np.concatenate([edges[:, 0], edges[:, 1]])
    b = np.concatenate([edges[:, 1], edges[:, 0]])
    order = np.argsort(a, kind="stable")
    a, b = a[order], b[order]
    indptr = np.zeros(n + 1, np.int64)
    np.add.at(indptr, a + 1, 1)
    indptr = np.cumsum(indptr)
    lengths = np.linalg.norm(verts[a] - verts[b], axis=1)
    return indptr, b, lengths


def graph_distance(csr: tuple[np.ndarray, np.ndarray, np.ndarray], seeds: np.ndarray, limit: float) -> np.ndarray:
    """Multi-source Dijkstra along mesh edges, stopping at `limit` (inf beyond): distance over the surface, so two
    lips or lids that touch but share no edge stay far apart."""
    indptr, nbr, length = csr
    dist = np.full(len(indptr) - 1, np.inf)
    heap = [(0.0, int(s)) for s in np.unique(seeds)]
    for _, s in heap:
        dist[s] = 0.0
    heapq.heapify(heap)
    while heap:
        d, v = heapq.heappop(heap)
        if d > dist[v]:
            continue
        for k in range(indptr[v], indptr[v + 1]):
            nd = d + length[k]
            u = nbr[k]
            if nd < dist[u] and nd <= limit:
                dist[u] = nd
                heapq.heappush(heap, (nd, int(u)))
    return dist


def knn(points: np.ndarray, ref: np.ndarray, k: int, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """k nearest `ref` rows of each point (brute force in chunks; exact): (indices (N, k), distances (N, k))."""
    ref32 = ref.astype(np.float32)
    rn = (ref32**2).sum(1)
    idx = np.empty((len(points), k), np.int64)
    dst = np.empty((len(points), k), np.float64)
    for s in range(0, len(points), chunk):
        p = points[s : s + chunk].astype(np.float32)
        d2 = (p**2).sum(1)[:, None] - 2 * p @ ref32.T + rn[None]
        if k == 1:
            part = d2.argmin(1)[:, None]
        elif k < len(ref):
            part = np.argpartition(d2, k - 1, axis=1)[:, :k]
        else:
            part = np.tile(np.arange(len(ref)), (len(p), 1))
        pd = np.take_along_axis(d2, part, 1)
        o = np.argsort(pd, 1)
        idx[s : s + chunk] = np.take_along_axis(part, o, 1)
        dst[s : s + chunk] = np.sqrt(np.maximum(np.take_along_axis(pd, o, 1), 0))
    return idx, dst


def vertex_normals(verts: np.ndarray, tris: np.ndarray) -> np.ndarray:
    fn = np.cross(verts[tris[:, 1]] - verts[tris[:, 0]], verts[tris[:, 2]] - verts[tris[:, 0]])
    vn = np.zeros_like(verts)
    for i in range(3):
        np.add.at(vn, tris[:, i], fn)
    return vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12)


def components(n: int, edges: np.ndarray) -> np.ndarray:
    """Connected-component label of each vertex (union-find)."""
    parent = np.arange(n)

    def find(x: np.ndarray) -> np.ndarray:
        while True:
            p = parent[x]
            if np.array_equal(p, x):
                return x
            parent[x] = parent[p]
            x = parent[x]

    e = edges.copy()
    while len(e):
        ra, rb = find(e[:, 0]), find(e[:, 1])
        diff = ra != rb
        if not diff.any():
            break
        lo, hi = np.minimum(ra[diff], rb[diff]), np.maximum(ra[diff], rb[diff])
        parent[hi] = lo
        e = e[diff]
    return find(np.arange(n))


def smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def smooth_field(field: np.ndarray, edges: np.ndarray, iterations: int, fixed: np.ndarray | None = None) -> np.ndarray:
    """Neighbour averaging (uniform Laplacian, Jacobi) of a per-vertex field; `fixed` vertices keep their value."""
    n = len(field)
    deg = np.bincount(edges.ravel(), minlength=n).astype(np.float64)
    out = field.astype(np.float64).copy()
    for _ in range(iterations):
        acc = np.zeros_like(out)
        np.add.at(acc, edges[:, 0], out[edges[:, 1]])
        np.add.at(acc, edges[:, 1], out[edges[:, 0]])
        new = (
            np.where(deg[:, None] > 0, acc / np.maximum(deg, 1)[:, None], out)
            if out.ndim == 2
            else acc / np.maximum(deg, 1)
        )
        new = 0.5 * out + 0.5 * new
        if fixed is not None:
            new[fixed] = field[fixed]
        out = new
    return out
