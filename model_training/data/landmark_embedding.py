"""Place MediaPipe's 468 face landmarks (+10 iris points) on the ICT-FaceKit surface.

Why: the generator is trained on landmarks the front-end would output for an ICT face with known ARKit weights, so
every MediaPipe landmark needs a fixed spot on the ICT mesh. Method (no hand registration):
1. 51 correspondences between MediaPipe's canonical mesh and ICT's own Multi-PIE landmark vertices (brows, nose,
   eyes, mouth; the jaw contour is left out because the two conventions place it differently);
2. a similarity fit (Umeyama) of the canonical mesh onto the ICT neutral face, then a smooth thin-plate-spline warp
   driven by the remaining residuals at those correspondences;
3. each warped vertex is projected onto the nearest point of the ICT face sub-mesh and stored as (triangle, barycentric),
   so it follows every identity mode and expression exactly.
The 10 iris points sit on the ICT eyeballs (centre of the iris dome + 4 limbus points) and rotate with the gaze,
because ICT's eyeLook shapes move only the lids.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from blender_addon.core.errors import FacsimileError

from .ict_facekit import (
    EYEBALL_LEFT,
    EYEBALL_RIGHT,
    FACE_POLYS,
    IRIS_LEFT,
    IRIS_RIGHT,
    SCLERA_LEFT,
    SCLERA_RIGHT,
    ICTModel,
    shared_data_dir,
)

NUM_FACE_LANDMARKS = 468
NUM_LANDMARKS = 478

# Multi-PIE 68 index -> MediaPipe canonical landmark id, for points 17..67 (brows, nose, eyes, mouth).
MP_FOR_MULTIPIE: dict[int, int] = dict(
    zip(
        range(17, 68),
        [70, 63, 105, 66, 107, 336, 296, 334, 293, 300]  # brows 17-26
        + [168, 197, 5, 4, 98, 97, 2, 326, 327]  # nose 27-35
        + [33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380]  # eyes 36-47
        + [61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181]  # outer lips 48-59
        + [78, 82, 13, 312, 308, 317, 14, 87],  # inner lips 60-67
        strict=True,
    )
)
# MediaPipe iris ids: right eye (subject's, x < 0) centre 468 then 469..472; left eye centre 473 then 474..477.
IRIS_IDS = ((468, 469, 470, 471, 472), (473, 474, 475, 476, 477))


def read_obj_vertices_faces(path: Path) -> tuple[np.ndarray, np.ndarray]:
    verts, faces = [], []
    for line in path.read_text().splitlines():
        if line.startswith("v "):
            verts.append([float(t) for t in line.split()[1:4]])
        elif line.startswith("f "):
            faces.append([int(t.split("/")[0]) - 1 for t in line.split()[1:4]])
    return np.asarray(verts, np.float64), np.asarray(faces, np.int64)


def load_canonical(folder: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe's canonical face with iris (478, 3) in cm, and its triangles."""
    folder = folder or shared_data_dir() / "mediapipe_geometry"
    path = folder / "face_model_with_iris.obj"
    if not path.is_file():
        raise FacsimileError(f"MediaPipe canonical mesh not found: {path}")
    v, f = read_obj_vertices_faces(path)
    if len(v) != NUM_LANDMARKS:
        raise FacsimileError(f"{path} has {len(v)} vertices, expected {NUM_LANDMARKS}")
    return v, f


def umeyama(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Similarity (s, R, t) minimising |s R src + t - dst|^2."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    u, sig, vt = np.linalg.svd(b.T @ a / len(src))
    d = np.ones(3)
    if np.linalg.det(u @ vt) < 0:
        d[-1] = -1
    r = u @ np.diag(d) @ vt
    s = float((sig * d).sum() / (a**2).sum(1).mean())
    return s, r, mu_d - s * r @ mu_s


def closest_points_on_triangles(points: np.ndarray, tri_xyz: np.ndarray, chunk: int = 64):
    """For each point: index of the nearest triangle, barycentric coords (3,) and distance. Brute force, exact."""
    a, b, c = tri_xyz[:, 0], tri_xyz[:, 1], tri_xyz[:, 2]
    best_i = np.zeros(len(points), np.int64)
    best_bc = np.zeros((len(points), 3))
    best_d = np.full(len(points), np.inf)
    ab, ac = b - a, c - a
    d00 = (ab * ab).sum(1)
    d01 = (ab * ac).sum(1)
    d11 = (ac * ac).sum(1)
    for s in range(0, len(points), chunk):
        p = points[s : s + chunk, None, :]  # (k, 1, 3)
        # Solve in the triangle plane, then clamp to the triangle by testing edges: use a projected-gradient-free
        # closed form (Ericson) on barycentric coordinates.
        ap = p - a
        d20 = (ap * ab).sum(-1)
        d21 = (ap * ac).sum(-1)
        denom = d00 * d11 - d01 * d01
        v = (d11 * d20 - d01 * d21) / denom
        w = (d00 * d21 - d01 * d20) / denom
        u = 1 - v - w
        bc = np.stack([u, v, w], -1)
        inside = (bc >= 0).all(-1)
        # Outside: nearest point on each edge.
        cands = []
        for e0, e1, i0, i1 in ((a, b, 0, 1), (a, c, 0, 2), (b, c, 1, 2)):
            ed = e1 - e0
            t = np.clip(((p - e0) * ed).sum(-1) / np.maximum((ed * ed).sum(1), 1e-12), 0, 1)
            q = e0 + t[..., None] * ed
            dist = np.linalg.norm(p - q, axis=-1)
            ebc = np.zeros(bc.shape)
            ebc[..., i0] = 1 - t
            ebc[..., i1] = t
            cands.append((dist, ebc))
        plane_pt = u[..., None] * a + v[..., None] * b + w[..., None] * c
        dist_in = np.where(inside, np.linalg.norm(p - plane_pt, axis=-1), np.inf)
        dists = np.stack([dist_in] + [c_[0] for c_ in cands], -1)  # (k, T, 4)
        bcs = np.stack([bc] + [c_[1] for c_ in cands], -2)  # (k, T, 4, 3)
        which = dists.argmin(-1)
        dmin = np.take_along_axis(dists, which[..., None], -1)[..., 0]
        ti = dmin.argmin(1)
        rows = np.arange(len(ti))
        best_i[s : s + chunk] = ti
        best_d[s : s + chunk] = dmin[rows, ti]
        best_bc[s : s + chunk] = bcs[rows, ti, which[rows, ti]]
    return best_i, best_bc, best_d


@dataclass
class EyeModel:
    """One eyeball: centre (3,), the 5 iris landmark offsets from the centre (5, 3), identity shift (I, 3)."""

    centre: np.ndarray
    offsets: np.ndarray
    id_shift: np.ndarray


@dataclass
class Embedding:
    """Where every MediaPipe landmark sits on ICT: face landmarks on triangles, iris landmarks on eyeballs."""

    tri_verts: np.ndarray  # (468, 3) ICT vertex ids
    bary: np.ndarray  # (468, 3)
    eyes: tuple[EyeModel, EyeModel]  # (subject's right, subject's left), MediaPipe's iris order
    stats: dict


def _eye_model(model: ICTModel, eyeball: tuple[int, int], sclera: tuple[int, int], iris: tuple[int, int], mp_off):
    """Sphere fit of the sclera gives the rotation centre; the iris dome gives centre and limbus radius."""
    sv = model.neutral[sclera[0] : sclera[1]].astype(np.float64)
    # Algebraic sphere fit: |p|^2 = 2 c.p + k.
    a = np.c_[2 * sv, np.ones(len(sv))]
    sol, *_ = np.linalg.lstsq(a, (sv**2).sum(1), rcond=None)
    centre = sol[:3]
    iv = model.neutral[iris[0] : iris[1]].astype(np.float64) - centre
    # ICT's "iris" block is a whole shell; its front cap (the iris disc under the cornea) is what a detector sees.
    front = iv[iv[:, 2] > 1.0]
    axis = front.mean(0)
    axis /= np.linalg.norm(axis)
    depth = iv @ axis
    perp = np.linalg.norm(iv - depth[:, None] * axis, axis=1)
    disc = depth > 0.87 * depth.max()
    radius = perp[disc].max()
    depth, perp = depth[disc], perp[disc]
    limbus_depth = depth[perp > 0.9 * radius].mean()
    ux = np.cross([0.0, 1.0, 0.0], axis)
    ux = -ux / np.linalg.norm(ux) if ux[0] < 0 else ux / np.linalg.norm(ux)
    uy = np.cross(axis, ux)
    offsets = [axis * depth.max()]
    for off in mp_off:  # boundary points: MediaPipe's canonical direction of each (+x, +y, -x, -y)
        k = int(np.argmax(np.abs(off[:2])))
        sign = np.sign(off[k])
        offsets.append(axis * limbus_depth + sign * radius * (ux if k == 0 else uy))
    id_shift = model.id_deltas[:, eyeball[0] : eyeball[1]].mean(1).astype(np.float64)
    return EyeModel(centre=centre, offsets=np.asarray(offsets), id_shift=id_shift), radius


def embed(model: ICTModel, canonical: np.ndarray | None = None) -> Embedding:
    """Fit the canonical mesh to the ICT neutral face and return barycentric positions plus fit statistics."""
    from scipy.interpolate import RBFInterpolator

    if canonical is None:
        canonical, _ = load_canonical()
    import json

    lm68 = json.loads((shared_data_dir() / "ict_facekit" / "vertex_indices.json").read_text())["idx_to_landmark_verts"]
    mp_ids = np.array(list(MP_FOR_MULTIPIE.values()))
    ict_ids = np.array([lm68[k] for k in MP_FOR_MULTIPIE])
    src = canonical[mp_ids]
    dst = model.neutral[ict_ids].astype(np.float64)
    s, r, t = umeyama(src, dst)
    rigid = (s * canonical[:NUM_FACE_LANDMARKS] @ r.T) + t
    res_rigid = np.linalg.norm(rigid[mp_ids] - dst, axis=1)
    warp = RBFInterpolator(rigid[mp_ids], dst - rigid[mp_ids], kernel="thin_plate_spline", smoothing=1.0)
    warped = rigid + warp(rigid)
    res_warp = np.linalg.norm(warped[mp_ids] - dst, axis=1)
    tris = model.triangles((0, FACE_POLYS))
    tri_xyz = model.neutral[tris].astype(np.float64)
    ti, bc, dist = closest_points_on_triangles(warped, tri_xyz)
    projected = (bc[:, :, None] * tri_xyz[ti]).sum(1)
    res_proj = np.linalg.norm(projected[mp_ids] - dst, axis=1)
    eyes = []
    radii = []
    for eyeball, sclera, iris, ids in (
        (EYEBALL_RIGHT, SCLERA_RIGHT, IRIS_RIGHT, IRIS_IDS[0]),
        (EYEBALL_LEFT, SCLERA_LEFT, IRIS_LEFT, IRIS_IDS[1]),
    ):
        off = canonical[list(ids[1:])] - canonical[ids[0]]
        eye, radius = _eye_model(model, eyeball, sclera, iris, off)
        eyes.append(eye)
        radii.append(float(radius))
    stats = {
        "scale": s,
        "corr_residual_rigid_cm_mean": float(res_rigid.mean()),
        "corr_residual_warp_cm_mean": float(res_warp.mean()),
        "corr_residual_projected_cm_mean": float(res_proj.mean()),
        "corr_residual_projected_cm_max": float(res_proj.max()),
        "surface_distance_cm_mean": float(dist.mean()),
        "surface_distance_cm_p95": float(np.percentile(dist, 95)),
        "surface_distance_cm_max": float(dist.max()),
        "iris_radius_cm": radii,
    }
    return Embedding(tri_verts=tris[ti], bary=bc, eyes=(eyes[0], eyes[1]), stats=stats)


@dataclass
class LandmarkBasis:
    """Linear landmark model: face landmarks = neutral + id @ id_lm + expr @ expr_lm; iris points rotate with gaze."""

    neutral: np.ndarray  # (468, 3)
    id_lm: np.ndarray  # (I, 468, 3)
    expr_lm: np.ndarray  # (E, 468, 3)
    eye_centre: np.ndarray  # (2, 3)
    eye_id: np.ndarray  # (I, 2, 3)
    eye_offsets: np.ndarray  # (2, 5, 3)

    @classmethod
    def build(cls, model: ICTModel, emb: Embedding) -> LandmarkBasis:
        def lm(verts: np.ndarray) -> np.ndarray:  # (..., V, 3) -> (..., 468, 3)
            return (verts[..., emb.tri_verts, :] * emb.bary[:, :, None]).sum(-2)

        return cls(
            neutral=lm(model.neutral).astype(np.float32),
            id_lm=lm(model.id_deltas).astype(np.float32),
            expr_lm=lm(model.expr_deltas).astype(np.float32),
            eye_centre=np.stack([e.centre for e in emb.eyes]).astype(np.float32),
            eye_id=np.stack([e.id_shift for e in emb.eyes], 1).astype(np.float32),
            eye_offsets=np.stack([e.offsets for e in emb.eyes]).astype(np.float32),
        )

    def landmarks(self, id_coeffs: np.ndarray, expr_coeffs: np.ndarray, gaze: np.ndarray) -> np.ndarray:
        """(N, 478, 3) model-space landmarks (cm) for identity (N, I), ICT expression (N, E), gaze (N, 2, 2).

        gaze[:, eye] = (yaw, pitch) in radians; yaw > 0 turns the eye towards the subject's left (+x), pitch > 0 up.
        """
        n = len(id_coeffs)
        face = (id_coeffs @ self.id_lm.reshape(len(self.id_lm), -1)).reshape(n, -1, 3) + self.neutral[None]
        face += (expr_coeffs @ self.expr_lm.reshape(len(self.expr_lm), -1)).reshape(n, -1, 3)
        centre = self.eye_centre[None] + (id_coeffs @ self.eye_id.reshape(len(self.eye_id), -1)).reshape(n, 2, 3)
        yaw, pitch = gaze[..., 0], gaze[..., 1]
        cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
        rot = np.zeros((n, 2, 3, 3), np.float32)
        # R = R_yaw(about y) @ R_pitch(about -x so that positive pitch looks up)
        rot[..., 0, 0] = cy
        rot[..., 0, 1] = -sy * sp
        rot[..., 0, 2] = sy * cp
        rot[..., 1, 1] = cp
        rot[..., 1, 2] = sp
        rot[..., 2, 0] = -sy
        rot[..., 2, 1] = -cy * sp
        rot[..., 2, 2] = cy * cp
        iris = self.eye_offsets[None] @ rot.transpose(0, 1, 3, 2) + centre[:, :, None, :]
        return np.concatenate([face, iris.reshape(n, 10, 3)], 1).astype(np.float32)


def overlay_png(model: ICTModel, basis: LandmarkBasis, path: Path, size: int = 900) -> None:
    """Front view of the ICT neutral face (grey vertices) with the embedded MediaPipe landmarks (green, iris blue)
    and ICT's own 68 landmarks (red): the by-eye check of the embedding."""
    import json

    import cv2

    verts = model.neutral[:9409, :2]
    lms = basis.landmarks(
        np.zeros((1, len(basis.id_lm)), np.float32),
        np.zeros((1, len(basis.expr_lm)), np.float32),
        np.zeros((1, 2, 2), np.float32),
    )[0]
    lo, hi = verts.min(0), verts.max(0)
    scale = (size - 40) / (hi - lo).max()

    def px(p: np.ndarray) -> np.ndarray:
        q = (p[:, :2] - lo) * scale + 20
        q[:, 1] = size - q[:, 1]
        return q.astype(int)

    img = np.full((size, size, 3), 255, np.uint8)
    for x, y in px(model.neutral[:9409]):
        img[min(max(y, 0), size - 1), min(max(x, 0), size - 1)] = (190, 190, 190)
    lm68 = json.loads((shared_data_dir() / "ict_facekit" / "vertex_indices.json").read_text())["idx_to_landmark_verts"]
    for x, y in px(model.neutral[lm68]):
        cv2.circle(img, (int(x), int(y)), 5, (0, 0, 255), 1)
    for i, (x, y) in enumerate(px(lms)):
        cv2.circle(img, (int(x), int(y)), 2, (0, 160, 0) if i < NUM_FACE_LANDMARKS else (255, 0, 0), -1)
    cv2.imwrite(str(path), img)
