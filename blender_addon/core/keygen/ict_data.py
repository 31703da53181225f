"""The ICT-FaceKit face data the generator ships (exported_models/ict_keygen.npz, sha256-checked at load).

Exported by model_training/export_keygen_data.py: ICT's face sub-mesh (cm), its 53 expression deltas, leading identity
modes, and where MediaPipe's 468 face landmarks sit on it (triangle + barycentric). ICT-FaceKit is MIT licensed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..arkit import ARKIT_NAMES, INDEX
from ..errors import FacsimileError
from ..models.store import verified_model_path

FILE_NAME = "ict_keygen.npz"
_KEYS = {"neutral", "faces", "expr_names", "expr_deltas", "id_deltas", "lm_tri_verts", "lm_bary", "eye_centres"}


@dataclass(frozen=True)
class KeygenModel:
    neutral: np.ndarray  # (V, 3) float64, cm
    tris: np.ndarray  # (T, 3) int64
    arkit_deltas: np.ndarray  # (52, V, 3) float32, ARKit order (tongueOut is zero: ICT has no tongue shape)
    id_deltas: np.ndarray  # (I, V, 3) float32
    lm_tri_verts: np.ndarray  # (468, 3) int64
    lm_bary: np.ndarray  # (468, 3) float64
    eye_centres: np.ndarray  # (2, 3) subject's right, left

    def landmarks(self, verts: np.ndarray) -> np.ndarray:
        """(..., V, 3) -> (..., 468, 3): the MediaPipe face landmarks on an ICT-topology mesh."""
        return (verts[..., self.lm_tri_verts, :] * self.lm_bary[:, :, None]).sum(-2)

    def landmark_vertex(self) -> np.ndarray:
        """(468,) the ICT vertex each landmark sits closest to (largest barycentric weight)."""
        return self.lm_tri_verts[np.arange(len(self.lm_bary)), self.lm_bary.argmax(1)]


def ict_to_arkit(expr_names: list[str]) -> np.ndarray:
    """(52, E) matrix: ARKit key = sum of its ICT expressions (browInnerUp/cheekPuff = _L + _R)."""
    m = np.zeros((len(ARKIT_NAMES), len(expr_names)), np.float32)
    for j, name in enumerate(expr_names):
        base, _, side = name.rpartition("_")
        if side in ("L", "R") and base:
            arkit = base if base in ("browInnerUp", "cheekPuff") else base + ("Left" if side == "L" else "Right")
        else:
            arkit = name
        if arkit in INDEX:
            m[INDEX[arkit], j] = 1.0
    return m


# ARKit has no channel that lowers the inner brow, so a frown (the corrugator drawing the inner brow down) is
# browDown{Left,Right}: artist-made browDown targets lower the whole brow, inner end included (MakeHuman's hand-made
# ones; the demo head's procedural ones). ICT's scanned browDown_L/R lower mostly the outer brow, so the generator's
# browDown adds the reverse of the same side's inner-brow lift (ICT's browInnerUp_L/R) at this fraction: the demo head's
# browDown stops gaining above it (0.3 / 0.5 / 0.8: 0.71 / 0.73 / 0.74), and ICT's own browDown, the truth on an ICT
# head, loses more (0.96 / 0.93 / 0.88). benchmarks/bench_keygen.py measures both; README "Keys".
FROWN_INNER = 0.5


def generator_mapping(expr_names: list[str]) -> np.ndarray:
    """(52, E) the generator's keys from ICT's expressions: ict_to_arkit (ICT's own, which the benchmark's ICT head is
    judged against), with browDown{Left,Right} lowering the inner brow too (FROWN_INNER)."""
    m = ict_to_arkit(expr_names)
    for j, name in enumerate(expr_names):
        if name in ("browInnerUp_L", "browInnerUp_R"):
            m[INDEX["browDownLeft" if name.endswith("_L") else "browDownRight"], j] -= FROWN_INNER
    return m


@lru_cache(maxsize=2)
def load_model(path: str | None = None) -> KeygenModel:
    """The shipped data (checked against the manifest), or a user-given npz with the same keys."""
    p = Path(path) if path else verified_model_path(FILE_NAME)
    try:
        with np.load(p) as d:
            missing = _KEYS - set(d.files)
            if missing:
                raise FacsimileError(f"{p} is not a Facsimile ICT keygen file (missing {sorted(missing)})")
            faces = d["faces"].astype(np.int64)
            names = [str(n) for n in d["expr_names"]]
            expr = d["expr_deltas"].astype(np.float32)
            arkit = np.tensordot(generator_mapping(names), expr, axes=(1, 0)).astype(np.float32)
            tris = np.concatenate([faces[:, [0, 1, 2]], faces[faces[:, 3] >= 0][:, [0, 2, 3]]])
            return KeygenModel(
                neutral=d["neutral"].astype(np.float64),
                tris=tris,
                arkit_deltas=arkit,
                id_deltas=d["id_deltas"].astype(np.float32),
                lm_tri_verts=d["lm_tri_verts"].astype(np.int64),
                lm_bary=d["lm_bary"].astype(np.float64),
                eye_centres=d["eye_centres"].astype(np.float64),
            )
    except (OSError, ValueError) as exc:
        raise FacsimileError(f"cannot read ICT keygen data {p}: {exc}") from exc
