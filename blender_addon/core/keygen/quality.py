"""Checks of generated keys (reported by the command) and the comparison against artist-made keys.

Gaps are measured across the openings between vertex pairs on opposite sides (upper lid/lower lid, upper/lower inner
lip), signed along the face's up axis: a blink should bring the lid gap near 0, jawOpen should widen the lip gap, and a
gap that turns clearly negative at weight 1 while the two sides stay level front-to-back means they passed
through each other (a proxy for a self-intersection test, measured at three pairs per opening).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..arkit import ARKIT_NAMES

BLINK_CLOSED = 0.10  # gap left after a blink, as a fraction of the rest gap
CROSS_TOLERANCE = 0.10  # a gap below -10% of the rest opening counts as the sides passing through each other
LIPS_PART = 0.05  # jawOpen must open the lips by 5% of the mouth width


@dataclass
class Gaps:
    """Vertex pairs (upper, lower) per opening, the face's up axis and the rest gaps."""

    pairs: dict[str, np.ndarray]  # opening -> (P, 2) vertex ids
    up: np.ndarray  # (3,)
    scale: dict[str, float]  # opening -> its width (eye or mouth width)
    forward: np.ndarray | None = None  # (3,) out of the face

    def gap(self, verts: np.ndarray, opening: str) -> float:
        p = self.pairs[opening]
        return float(((verts[p[:, 0]] - verts[p[:, 1]]) @ self.up).mean())

    def depth_apart(self, verts: np.ndarray, opening: str) -> float:
        """How far the two sides are apart front-to-back: a lip rolled in behind the other is not a crossing."""
        if self.forward is None:
            return 0.0
        p = self.pairs[opening]
        return float(np.abs((verts[p[:, 0]] - verts[p[:, 1]]) @ self.forward).mean())


@dataclass
class KeyCheck:
    name: str
    max_displacement: float
    checks: dict[str, float | bool] = field(default_factory=dict)
    ok: bool = True


def check_keys(rest: np.ndarray, deltas: np.ndarray, gaps: Gaps) -> list[KeyCheck]:
    out = []
    rest_gap = {k: gaps.gap(rest, k) for k in gaps.pairs}
    for k, name in enumerate(ARKIT_NAMES):
        posed = rest + deltas[k]
        if name == "mouthClose":  # ARKit's mouthClose seals the lips of an open jaw: check it on top of jawOpen
            posed = posed + deltas[ARKIT_NAMES.index("jawOpen")]
        c = KeyCheck(name, float(np.linalg.norm(deltas[k], axis=1).max()))
        for op, g0 in rest_gap.items():
            g1 = gaps.gap(posed, op)
            crossed = g1 < -CROSS_TOLERANCE * max(abs(g0), 0.05 * gaps.scale[op])
            crossed &= gaps.depth_apart(posed, op) < 0.1 * gaps.scale[op]
            if crossed:
                c.checks[f"{op}_crossed"] = True
                c.ok = False
        if name.startswith("eyeBlink"):
            op = "eye_L" if name.endswith("Left") else "eye_R"
            ratio = gaps.gap(posed, op) / rest_gap[op] if rest_gap[op] > 0 else float("nan")
            c.checks["gap_ratio"] = round(ratio, 3)
            c.ok &= bool(abs(ratio) <= BLINK_CLOSED)
        if name == "mouthClose":
            c.checks["lip_gap_with_jawOpen"] = round(gaps.gap(posed, "mouth") / gaps.scale["mouth"], 3)
        if name == "jawOpen":
            opened = (gaps.gap(posed, "mouth") - rest_gap["mouth"]) / gaps.scale["mouth"]
            c.checks["lips_part"] = round(opened, 3)
            c.ok &= bool(opened >= LIPS_PART)
        out.append(c)
    return out


def compare(gen: np.ndarray, ref: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per key cosine similarity of the displacement fields and relative error |gen - ref| / |ref| over mask."""
    g = gen[:, mask].reshape(len(gen), -1).astype(np.float64)
    r = ref[:, mask].reshape(len(ref), -1).astype(np.float64)
    gn, rn = np.linalg.norm(g, axis=1), np.linalg.norm(r, axis=1)
    cos = (g * r).sum(1) / np.maximum(gn * rn, 1e-12)
    rel = np.linalg.norm(g - r, axis=1) / np.maximum(rn, 1e-12)
    return cos, rel
