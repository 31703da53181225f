"""How much of a brow expression's landmark motion our face front-end reports on ICT renders, per brow look.

Why (issue 18): the detector model (model_training/fit/detector_model.py) learns the front-end's behaviour from
renders, so renders whose brows the front-end does not follow teach the generator flat brows. This measures it in
controlled pairs: for each of N random identities (yaw within +-15 degrees, the project's Workbench look), the neutral
face and one brow expression at 1.0 (browInnerUp; both browOuterUp; both browDown) are rendered, both go through
FaceTracker.detect, and the detected displacement of MediaPipe's 20 eyebrow landmarks (normalised features) is
projected on the ideal one: 1.0 means the front-end follows the brows fully, 0 not at all. Looks: `paint` (render_ict's
painted brows), `thick` (a 0.6 cm band at 0.12 of the skin colour), `relief` (the thick band pushed 1.5 mm out).
Nothing is cached; Blender writes each render into a temporary folder that is removed.

    .venv/bin/python benchmarks/bench_render_brows.py --looks paint thick relief --n 10
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

EYEBROWS = (46, 52, 53, 55, 63, 65, 66, 70, 105, 107, 276, 282, 283, 285, 293, 295, 296, 300, 334, 336)
EXPRESSIONS = {
    "browInnerUp": ("browInnerUp",),
    "browOuterUp": ("browOuterUpLeft", "browOuterUpRight"),
    "browDown": ("browDownLeft", "browDownRight"),
}
SIZE = 384


class BrowRenderer:
    """render_ict's Workbench scene for one look; render(weights) -> (detected or None, ideal) pixel landmarks."""

    def __init__(self, look: str, workdir: Path) -> None:
        import model_training.render.render_ict as ri
        from blender_addon.core.face.tracking import FaceTracker
        from model_training.data.ict_facekit import arkit_to_ict_matrix, load_ict
        from model_training.data.landmark_embedding import LandmarkBasis, embed

        self.ri, self.look, self.out = ri, look, workdir / "r.png"
        self.model = load_ict(None)
        self.emb = embed(self.model)
        self.basis = LandmarkBasis.build(self.model, self.emb)
        self.a2i = arkit_to_ict_matrix(self.model.expr_names)
        self.scene, self.world, self.cam = ri.new_scene(SIZE)
        ri.use_workbench(self.scene)
        self.mesh, self.used, self.attr = ri.face_mesh(self.scene, self.model)
        self.tracker = FaceTracker(device="cpu", max_faces=1)
        self.band = self._brow_band(0.6)

    def _brow_band(self, width_cm: float) -> np.ndarray:
        face = self.model.neutral[: self.ri.FACE_VERTS]
        band = np.zeros(len(face), bool)
        for ids in self.ri.BROW_IDS:
            pts = self.basis.neutral[list(ids), :2]
            d = np.full(len(face), np.inf)
            for a, b in zip(pts[:5], pts[1:5], strict=False):
                ab = b - a
                t = np.clip(((face[:, :2] - a) @ ab) / (ab @ ab), 0, 1)
                d = np.minimum(d, np.linalg.norm(face[:, :2] - (a + t[:, None] * ab), axis=1))
            band |= (d < width_cm) & (face[:, 2] > 5.0)
        return band

    def render(self, ids: np.ndarray, skin: np.ndarray, iris: np.ndarray, yaw: float, weights: np.ndarray):
        import bpy
        import cv2

        ri, m, expr = self.ri, self.model, weights @ self.a2i
        verts = m.neutral + np.tensordot(ids, m.id_deltas, 1) + np.tensordot(expr, m.expr_deltas, 1)
        lm = self.basis.landmarks(ids[None], expr[None], np.zeros((1, 2, 2), np.float32))[0]
        col = ri._colours(m, self.basis, self.emb.eyes, skin, iris)
        if self.look in ("thick", "relief"):
            col[: ri.FACE_VERTS][self.band, :3] = skin * 0.12
        if self.look == "relief":
            verts = verts.copy()
            verts[: ri.FACE_VERTS][self.band, 2] += 0.15
        rot = ri._rotation(*np.radians(np.array([yaw, 0.0, 0.0]))[:, None])[0]
        pivot = self.basis.neutral[:468].mean(0) + np.array([0, 0, -6.0])
        fov = np.radians(40)
        f = SIZE / (2 * np.tan(fov / 2))
        dist = f * 15.0 / (0.5 * SIZE)
        world_v = (verts - pivot) @ rot.T + np.array([0, 0, -dist])
        world_lm = (lm - pivot) @ rot.T + np.array([0, 0, -dist])
        self.mesh.vertices.foreach_set("co", world_v[self.used].astype(np.float32).ravel())
        self.mesh.update()
        self.attr.data.foreach_set("color", col[self.used].ravel())
        self.world.color = (0.3, 0.4, 0.5)
        self.cam.angle = fov
        self.scene.render.filepath = str(self.out)
        bpy.ops.render.render(write_still=True)
        img = cv2.cvtColor(cv2.imread(str(self.out)), cv2.COLOR_BGR2RGB)
        zc = -world_lm[:, 2]
        ideal = np.stack(
            [f * world_lm[:, 0] / zc + SIZE / 2, -f * world_lm[:, 1] / zc + SIZE / 2, (zc - dist) * f / dist], 1
        )
        faces = self.tracker.detect(img)
        return (faces[0].landmarks if faces else None), ideal


def follow_fractions(look: str, n: int, seed: int = 5) -> dict[str, list[float]]:
    """{expression: per-identity fraction of the ideal eyebrow motion that the front-end reports}."""
    from blender_addon.core.arkit import INDEX
    from blender_addon.core.face.landmark_normalize import normalize_landmarks

    rng = np.random.default_rng(seed)
    out: dict[str, list[float]] = {k: [] for k in EXPRESSIONS}
    with tempfile.TemporaryDirectory(prefix="bench_render_brows_") as tmp:
        r = BrowRenderer(look, Path(tmp))
        for _ in range(n):
            ids = np.clip(rng.normal(0, 0.8, r.model.id_deltas.shape[0]), -3, 3).astype(np.float32)
            skin = np.array([rng.uniform(0.45, 0.95), 0.0, 0.0])
            skin[1] = skin[0] * rng.uniform(0.62, 0.8)
            skin[2] = skin[1] * rng.uniform(0.7, 0.9)
            iris = rng.uniform(0.05, 0.45, 3)
            yaw = rng.uniform(-15, 15)
            zero = np.zeros(52, np.float32)
            det0, ideal0 = r.render(ids, skin, iris, yaw, zero)
            for name, channels in EXPRESSIONS.items():
                w = zero.copy()
                w[[INDEX[c] for c in channels]] = 1.0
                det1, ideal1 = r.render(ids, skin, iris, yaw, w)
                if det0 is None or det1 is None:
                    continue
                feats = normalize_landmarks(np.stack([det0, det1, ideal0, ideal1]))[0].reshape(4, -1, 3)
                moved = (feats[1] - feats[0])[list(EYEBROWS)].ravel()
                ideal = (feats[3] - feats[2])[list(EYEBROWS)].ravel()
                out[name].append(float(moved @ ideal / (ideal @ ideal)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--looks", nargs="+", default=["paint"], choices=("paint", "thick", "relief"))
    ap.add_argument("--n", type=int, default=10, help="identities per look")
    args = ap.parse_args(argv)
    for look in args.looks:
        res = follow_fractions(look, args.n)
        cells = [
            f"{k} {np.mean(v):.2f} +- {np.std(v) / np.sqrt(max(len(v), 1)):.2f} (n={len(v)})" for k, v in res.items()
        ]
        print(f"{look}: " + "; ".join(cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
