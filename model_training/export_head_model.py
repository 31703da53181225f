"""Export MediaPipe's canonical face (with iris) into exported_models/head_model.npz for the head-pose fit.

Why a data file: the add-on fits the 478 landmarks to the canonical face to get the head's rotation
(core/face/head_pose.py), and it may not read ../shared at run time. The file holds the 478 canonical vertices in
landmark order (cm; x towards the subject's left, y up, z out of the face) and the Procrustes landmark basis MediaPipe's
geometry pipeline weights its own fit with. MediaPipe is Apache-2.0; its notice goes into exported_models/NOTICE.

    python -m model_training.export_head_model --out exported_models
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

from blender_addon.core.models.store import record_model

from .data.landmark_embedding import load_canonical
from .paths import shared_data_dir

FILE_NAME = "head_model.npz"
NOTICE_MARK = "== MediaPipe canonical face (head_model.npz) =="
METADATA = "geometry_pipeline_metadata_including_iris_landmarks.pbtxt"


def procrustes_basis(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """(ids, weights) of the `procrustes_landmark_basis` entries in MediaPipe's geometry pipeline metadata."""
    text = (folder / METADATA).read_text(encoding="utf-8")
    pairs = re.findall(r"procrustes_landmark_basis\s*\{\s*landmark_id:\s*(\d+)\s+weight:\s*([0-9.eE+-]+)\s*\}", text)
    if not pairs:
        raise SystemExit(f"no procrustes_landmark_basis in {folder / METADATA}")
    return np.array([int(i) for i, _ in pairs], np.int32), np.array([float(w) for _, w in pairs], np.float32)


def export(out_dir: Path) -> Path:
    folder = shared_data_dir() / "mediapipe_geometry"
    points, _ = load_canonical(folder)
    ids, weights = procrustes_basis(folder)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / FILE_NAME
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, points=points.astype(np.float32), basis_ids=ids, basis_weights=weights)
    tmp.replace(path)
    record_model(
        path,
        source="MediaPipe face_geometry data: face_model_with_iris.obj, " + METADATA,
        license="Apache-2.0",
    )
    notice = out_dir / "NOTICE"
    text = notice.read_text(encoding="utf-8") if notice.is_file() else ""
    if NOTICE_MARK not in text:
        text += (
            f"\n{NOTICE_MARK}\nhead_model.npz holds the vertices of MediaPipe's canonical face model with iris "
            f"(face_model_with_iris.obj) and the Procrustes landmark basis of its geometry pipeline metadata, "
            f"exported by model_training/export_head_model.py. Copyright The MediaPipe Authors. Licensed under the "
            f'Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0); distributed on an "AS IS" '
            f"BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND. Changes made: stored as numpy arrays.\n"
        )
        notice.write_text(text, encoding="utf-8")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="exported_models")
    p = export(Path(ap.parse_args().out))
    print(f"wrote {p} ({p.stat().st_size / 1e3:.1f} kB)")


if __name__ == "__main__":
    main()
