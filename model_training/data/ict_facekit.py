"""ICT-FaceKit "Light" morphable model: one loader for the original OBJ folder and for the compact npz.

Both give the same ICTModel (neutral + identity modes + expression deltas, in cm), so the rest of training never cares
which form a user has. The npz layout is described in ../shared/data/ict_facekit/NPZ.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from blender_addon.core.arkit import ARKIT_NAMES, INDEX
from blender_addon.core.errors import FacsimileError

from ..paths import REPO_ROOT, shared_data_dir  # noqa: F401  (re-exported for the data loaders)

FACE_VERTS = 9409  # ICT sub-mesh #0 "Face": vertices [0, 9408]
FACE_POLYS = 9230
NARROW_FACE_POLYS = 6560
EYEBALL_LEFT = (21451, 23021)  # subject's left (x > 0)
EYEBALL_RIGHT = (23021, 24591)
IRIS_LEFT = (22221, 23021)
IRIS_RIGHT = (23791, 24591)
SCLERA_LEFT = (21451, 22221)
SCLERA_RIGHT = (23021, 23791)


@dataclass
class ICTModel:
    """Linear face model: verts = neutral + id_coeffs @ id_deltas + expr_coeffs @ expr_deltas (all in cm)."""

    neutral: np.ndarray  # (V, 3) float32
    expr_names: list[str]  # ICT names (browDown_L, ...)
    expr_deltas: np.ndarray  # (E, V, 3) float32
    id_deltas: np.ndarray  # (I, V, 3) float32
    faces: np.ndarray  # (P, 4) int32, triangles padded with -1

    def triangles(self, poly_range: tuple[int, int] | None = None) -> np.ndarray:
        """(T, 3) triangles from the polygons (quads split along 0-2), optionally only polygons [a, b)."""
        polys = self.faces if poly_range is None else self.faces[poly_range[0] : poly_range[1]]
        tris = [polys[:, [0, 1, 2]]]
        quads = polys[polys[:, 3] >= 0]
        tris.append(quads[:, [0, 2, 3]])
        return np.concatenate(tris).astype(np.int64)

    def arkit_to_ict(self, weights: np.ndarray) -> np.ndarray:
        """(N, 52) ARKit weights -> (N, E) ICT coefficients (browInnerUp and cheekPuff drive both ICT halves)."""
        return weights @ arkit_to_ict_matrix(self.expr_names)


def ict_to_arkit_name(name: str) -> str:
    """ICT name -> ARKit name (browInnerUp_L -> browInnerUp, eyeBlink_L -> eyeBlinkLeft)."""
    base, _, side = name.rpartition("_")
    if side in ("L", "R") and base:
        if base in ("browInnerUp", "cheekPuff"):
            return base
        return base + ("Left" if side == "L" else "Right")
    return name


def arkit_to_ict_matrix(expr_names: list[str]) -> np.ndarray:
    """(52, E) 0/1 matrix mapping ARKit weights to ICT coefficients; raises if an ICT name has no ARKit channel."""
    m = np.zeros((len(ARKIT_NAMES), len(expr_names)), dtype=np.float32)
    for j, name in enumerate(expr_names):
        arkit = ict_to_arkit_name(name)
        if arkit not in INDEX:
            continue  # extras outside ARKit (cheekRaiser, PupilDilate) stay at 0
        m[INDEX[arkit], j] = 1.0
    return m


def load_npz(path: str | Path) -> ICTModel:
    """The compact npz (ict_face_full_f16.npz)."""
    path = Path(path)
    if not path.is_file():
        raise FacsimileError(f"ICT-FaceKit npz not found: {path}")
    with np.load(path) as d:
        missing = {"neutral", "expr_names", "expr_deltas", "id_deltas", "faces"} - set(d.files)
        if missing:
            raise FacsimileError(f"{path} is not an ICT-FaceKit npz (missing keys {sorted(missing)}); see NPZ.md")
        return ICTModel(
            neutral=d["neutral"].astype(np.float32),
            expr_names=[str(n) for n in d["expr_names"]],
            expr_deltas=d["expr_deltas"].astype(np.float32),
            id_deltas=d["id_deltas"].astype(np.float32),
            faces=d["faces"].astype(np.int32),
        )


def read_obj(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertex positions (V, 3) and polygons (P, 4) (-1 padded) of an OBJ file; texture/normal indices dropped."""
    verts: list[list[float]] = []
    polys: list[list[int]] = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("v "):
                parts = line.split()
                verts.append([float(parts[1]), float(parts[2]), float(parts[3])])
            elif line.startswith("f "):
                idx = [int(tok.split("/")[0]) - 1 for tok in line.split()[1:]]
                if len(idx) not in (3, 4):
                    raise FacsimileError(f"{path}: only triangles and quads are supported, got a {len(idx)}-gon")
                polys.append(idx + [-1] * (4 - len(idx)))
    if not verts:
        raise FacsimileError(f"{path} has no vertices; is it an OBJ file?")
    return np.asarray(verts, dtype=np.float32), np.asarray(polys, dtype=np.int32).reshape(-1, 4)


def load_obj_folder(folder: str | Path, *, require_complete: bool = True) -> ICTModel:
    """ICT-FaceKit's original FaceXModel/ folder: generic_neutral_mesh.obj, identityNNN.obj, <expression>.obj.

    require_complete=False loads whichever identity/expression files exist (missing expressions get zero deltas),
    which is what the five-file sample in ../shared needs.
    """
    folder = Path(folder)
    neutral_path = folder / "generic_neutral_mesh.obj"
    if not neutral_path.is_file():
        raise FacsimileError(f"{folder} is not an ICT-FaceKit FaceXModel folder (no generic_neutral_mesh.obj)")
    neutral, faces = read_obj(neutral_path)
    index_path = folder / "vertex_indices.json"
    if not index_path.is_file():
        index_path = shared_data_dir() / "ict_facekit" / "vertex_indices.json"
    expr_names = list(json.loads(index_path.read_text())["expressions"])

    def delta(path: Path) -> np.ndarray:
        v, _ = read_obj(path)
        if v.shape != neutral.shape:
            raise FacsimileError(
                f"{path} has {len(v)} vertices, the neutral mesh {len(neutral)}; mixed model versions?"
            )
        return v - neutral

    expr = np.zeros((len(expr_names), *neutral.shape), dtype=np.float32)
    missing = []
    for j, name in enumerate(expr_names):
        p = folder / f"{name}.obj"
        if p.is_file():
            expr[j] = delta(p)
        else:
            missing.append(name)
    if missing and require_complete:
        raise FacsimileError(f"{folder}: missing expression OBJs {missing[:5]}... ({len(missing)} in all)")
    ids = [delta(p) for p in sorted(folder.glob("identity[0-9][0-9][0-9].obj"))]
    if not ids and require_complete:
        raise FacsimileError(f"{folder}: no identityNNN.obj files")
    id_deltas = np.stack(ids) if ids else np.zeros((0, *neutral.shape), dtype=np.float32)
    return ICTModel(neutral=neutral, expr_names=expr_names, expr_deltas=expr, id_deltas=id_deltas, faces=faces)


def load_ict(path: str | Path | None = None) -> ICTModel:
    """Load either form: a .npz file, or a FaceXModel folder. Default: ../shared/data/ict_facekit npz."""
    path = Path(path) if path is not None else shared_data_dir() / "ict_facekit" / "ict_face_full_f16.npz"
    if path.is_dir():
        return load_obj_folder(path)
    return load_npz(path)
