"""Upper/lower lip and lid regions from topology, so each side of an opening only ever follows its own side.

A vertex belongs to the upper (lower) side of an opening when it is nearer, *along the surface*, to that side's
landmarks. Lips and lids that touch share no edge (there is a slit), so the surface path from the upper lid to the lower
lid goes round the eye corner: the split is right even where the two sides are closer in space than the mesh spacing.
"""

from __future__ import annotations

import numpy as np

from .geometry import graph_distance

NONE = -1


def opening_labels(
    csr: tuple[np.ndarray, np.ndarray, np.ndarray],
    seeds: list[tuple[np.ndarray, np.ndarray]],
    radii: list[float],
) -> np.ndarray:
    """int8 label per vertex: 2k = upper side of opening k, 2k+1 = lower side, -1 = neither (beyond its radius)."""
    n = len(csr[0]) - 1
    labels = np.full(n, NONE, np.int8)
    best = np.full(n, np.inf)
    for k, ((up, low), r) in enumerate(zip(seeds, radii, strict=True)):
        du = graph_distance(csr, up, r)
        dl = graph_distance(csr, low, r)
        d = np.minimum(du, dl)
        take = np.isfinite(d) & (d < best) & (du != dl)
        labels[take] = np.where(du[take] < dl[take], 2 * k, 2 * k + 1)
        best[take] = d[take]
    return labels


def opposite(label: int) -> int:
    return NONE if label == NONE else label ^ 1
