"""Export the ICT-FaceKit data the shape-key generator needs at run time into exported_models/ict_keygen.npz.

Why a data file: the add-on may not import model_training (nor scipy), and users should not need the 390 MB ICT
folder. The generator needs only ICT's face sub-mesh (9,409 vertices: face, front neck, ears), its 53 expression
deltas, the leading identity modes (a landmark fit cannot pin more) and where MediaPipe's 478 landmarks sit on it
(the embedding from model_training/landmark_embedding.py). ICT-FaceKit is MIT licensed; its notice goes into
exported_models/NOTICE. Stored in float16 (rounding < 0.001 cm, ICT's own npz precision) and compressed.

    python -m model_training.export_keygen_data --out exported_models [--ict PATH] [--identity-modes 40]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from blender_addon.core.models.store import record_model

from .ict_facekit import FACE_POLYS, FACE_VERTS, load_ict, shared_data_dir
from .landmark_embedding import embed

FILE_NAME = "ict_keygen.npz"
NOTICE_MARK = "== ICT-FaceKit (ict_keygen.npz) =="


def export(out_dir: Path, ict: str | None, identity_modes: int) -> Path:
    model = load_ict(ict)
    emb = embed(model)
    faces = model.faces[:FACE_POLYS]
    if faces.max() >= FACE_VERTS:
        raise SystemExit("ICT face polygons reach outside the face sub-mesh; unexpected model layout")
    eyes = np.stack([e.centre for e in emb.eyes]).astype(np.float32)  # (subject's right, left), cm
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / FILE_NAME
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(
        tmp,
        neutral=model.neutral[:FACE_VERTS].astype(np.float32),
        faces=faces.astype(np.int32),
        expr_names=np.array(model.expr_names),
        expr_deltas=model.expr_deltas[:, :FACE_VERTS].astype(np.float16),
        id_deltas=model.id_deltas[:identity_modes, :FACE_VERTS].astype(np.float16),
        lm_tri_verts=emb.tri_verts.astype(np.int32),
        lm_bary=emb.bary.astype(np.float32),
        eye_centres=eyes,
    )
    tmp.replace(path)
    record_model(
        path,
        source="ICT-FaceKit Light (github.com/ICT-VGL/ICT-FaceKit, FaceXModel), face sub-mesh [0, 9409)",
        license="MIT",
        identity_modes=identity_modes,
        embedding_residual_cm=round(emb.stats["corr_residual_projected_cm_mean"], 4),
    )
    notice = out_dir / "NOTICE"
    text = notice.read_text(encoding="utf-8") if notice.is_file() else ""
    if NOTICE_MARK not in text:
        licence = (shared_data_dir() / "ict_facekit" / "LICENSE").read_text(encoding="utf-8")
        text += (
            f"\n{NOTICE_MARK}\nict_keygen.npz holds part of ICT-FaceKit's Light face model (face sub-mesh neutral, "
            f"expression and leading identity deltas, float16) and the positions of MediaPipe's landmarks on it, "
            f"exported by model_training/export_keygen_data.py.\n{licence}"
        )
        notice.write_text(text, encoding="utf-8")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="exported_models")
    ap.add_argument("--ict", default=None, help="ICT npz or FaceXModel folder (default: ../shared/data/ict_facekit)")
    ap.add_argument("--identity-modes", type=int, default=40)
    a = ap.parse_args()
    p = export(Path(a.out), a.ict, a.identity_modes)
    print(f"wrote {p} ({p.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
