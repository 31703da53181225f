"""Non-rigid ICP: pull the landmark-fitted ICT face onto the head's surface between the landmarks.

Each round moves every ICT vertex part of the way to its nearest head vertex on the same side of each opening, with
the offsets smoothed over ICT's mesh (neighbour averaging) so the face slides as a sheet instead of collapsing onto
single vertices; offsets longer than a fraction of the inter-ocular distance are ignored (no partner there).
"""

from __future__ import annotations

import numpy as np

from .geometry import knn, smooth_field
from .regions import NONE, opposite


def icp_refine(
    ict: np.ndarray,
    ict_edges: np.ndarray,
    ict_labels: np.ndarray,
    head: np.ndarray,
    head_labels: np.ndarray,
    iod: float,
    rounds: int = 3,
    reach: float = 0.1,
    smoothing: int = 10,
) -> np.ndarray:
    out = ict.copy()
    for _ in range(rounds):
        offset = np.zeros_like(out)
        for lab in np.unique(ict_labels):
            rows = np.nonzero(ict_labels == lab)[0]
            allowed = np.nonzero(head_labels != opposite(int(lab)))[0] if lab != NONE else np.arange(len(head))
            i, d = knn(out[rows], head[allowed], 1)
            o = head[allowed[i[:, 0]]] - out[rows]
            o[d[:, 0] > reach * iod] = 0.0
            offset[rows] = o
        out = out + 0.7 * smooth_field(offset, ict_edges, smoothing)
    return out
