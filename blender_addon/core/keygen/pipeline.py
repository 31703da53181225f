"""The whole generation on arrays: head mesh + 468 landmarks on it -> 52 ARKit deltas + checks. No Blender here."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..arkit import ARKIT_NAMES
from ..errors import FacsimileError
from .fit import Fit, fit_ict
from .geometry import adjacency, components, edges_of, knn, smooth_field, vertex_normals
from .ict_data import KeygenModel, load_model
from .landmark_sets import (
    EYE_L_CORNERS,
    EYE_R_CORNERS,
    LID_MARGINS,
    LID_PAIRS_L,
    LID_PAIRS_R,
    LIP_PAIRS,
    MOUTH_CORNERS,
    OPENINGS,
)
from .lid_margins import sunken_margins
from .quality import Gaps, KeyCheck, check_keys
from .regions import opening_labels
from .register import icp_refine
from .symmetry import symmetrize_landmarks
from .transfer import align_rotations, correspondences, falloff, transfer


@dataclass(frozen=True)
class KeygenParams:
    """Tuning of the generation (defaults chosen on the MakeHuman head; see benchmarks/bench_keygen.py)."""

    neighbours: int = 4  # ICT vertices blended per head vertex
    warp_sigma: float = 0.15  # RBF width, fraction of the inter-ocular distance
    warp_ridge: float = 0.05
    identity_ridge: float = 30.0
    falloff_near: float = 0.04  # full weight within this distance of the registered face (x inter-ocular)
    falloff_far: float = 0.15  # zero beyond
    warp_skip_lid_margins: bool = False  # the warp ignores the lid-margin landmarks (ICP places the lids)
    icp_rounds: int = 3  # non-rigid ICP rounds after the landmark warp (register.py)
    follow_normals: bool = False  # rotate each displacement with the local surface (deformation-transfer frame)
    symmetric_landmarks: bool = True  # average mirror-partner landmarks when the head is mirror-symmetric
    smoothing: int = 3  # neighbour-averaging rounds of each transferred key over the head's own mesh
    drop_sunken_margins: bool = True  # lid-margin landmarks behind the lid (ray slipped into the eye) left to the fit


@dataclass
class KeygenResult:
    deltas: np.ndarray  # (52, N, 3) float32, head object space, ARKit order
    weight: np.ndarray  # (N,) how much each vertex follows the face (0 = never moves)
    fit: Fit
    labels: np.ndarray  # (N,) opening side per vertex (regions.py)
    checks: list[KeyCheck]
    gaps: Gaps
    landmarks: np.ndarray  # (468, 3) the landmarks used (outliers replaced by the fit's)
    lid_factors: dict[str, float]  # per calibrated key (eyeBlink*, mouthClose): the scale applied
    timings: dict[str, float] = field(default_factory=dict)


def sphere_fit(p: np.ndarray, iod: float) -> tuple[np.ndarray, float, bool] | None:
    """(centre, radius, whole ball?) when the part's vertices lie on one small sphere (algebraic fit), else None."""
    if len(p) < 8:
        return None
    a = np.c_[2 * p, np.ones(len(p))]
    sol, *_ = np.linalg.lstsq(a, (p**2).sum(1), rcond=None)
    centre = sol[:3]
    radius = float(np.sqrt(max(sol[3] + centre @ centre, 0.0)))
    if radius <= 0 or radius > 0.3 * iod:
        return None
    r = np.linalg.norm(p - centre, axis=1)
    if float(np.abs(r - radius).mean()) >= 0.05 * radius:
        return None
    # A whole ball, or a cap on one (a lid shell lying on the eye is spherical too, but one-sided).
    return centre, radius, float(np.linalg.norm(((p - centre) / r[:, None]).mean(0))) < 0.3


def is_eyeball(p: np.ndarray, iod: float) -> bool:
    """A small part whose vertices cover a whole sphere is an eyeball: it stays rigid."""
    fit = sphere_fit(p, iod)
    return fit is not None and fit[2]


def slide_on_spheres(verts: np.ndarray, deltas: np.ndarray, comp: np.ndarray, parts: np.ndarray, iod: float) -> None:
    """Lid shells modelled as caps on the eyeball slide over it: each moved vertex keeps its distance to the sphere's
    centre (a blink turns the lid down over the eye instead of pushing it off)."""
    for c in parts:
        ids = np.nonzero(comp == c)[0]
        fit = sphere_fit(verts[ids], iod)
        if fit is None or fit[2]:
            continue
        centre = fit[0]
        r0 = np.linalg.norm(verts[ids] - centre, axis=1)
        moved = verts[ids][None] + deltas[:, ids] - centre
        r1 = np.maximum(np.linalg.norm(moved, axis=2, keepdims=True), 1e-12)
        deltas[:, ids] = (centre + moved * (r0[None, :, None] / r1) - verts[ids][None]).astype(deltas.dtype)


def face_components(
    verts: np.ndarray, comp: np.ndarray, landmark_comp: np.ndarray, near_face: np.ndarray, iod: float
) -> np.ndarray:
    """Mesh parts that follow the face: parts that at least 8 landmarks lie on (the skin) and parts lying on the
    registered face (lids or lips modelled as separate shells: median distance below 8% of the inter-ocular distance,
    `near_face` holds each vertex's distance), except eyeballs, which stay rigid."""
    ids, counts = np.unique(landmark_comp, return_counts=True)
    keep = {int(c) for c, n in zip(ids, counts, strict=True) if n >= 8}
    close = np.isfinite(near_face)
    for c in np.unique(comp[close]):
        if np.median(near_face[comp == c]) < 0.08 * iod:
            keep.add(int(c))
    main = int(ids[np.argmax(counts)])
    keep = [c for c in keep if c == main or not is_eyeball(verts[comp == c], iod)]
    return np.asarray(keep)


def close_lid(rest: np.ndarray, delta: np.ndarray, upper: np.ndarray, gaps: Gaps, opening: str) -> float:
    """Scale a blink's upper-lid motion so the lid meets the lower one (ICT's lid travel, carried over to a head whose
    eye opening differs, rarely lands exactly); returns the factor. Aims at 2% of the rest gap, not 0, so that the
    lid margin never passes through the lower one between the measured pairs."""
    g0 = gaps.gap(rest, opening)
    p = gaps.pairs[opening]
    travel = -float((delta[p[:, 0]] @ gaps.up).mean())  # upper lid moving down
    lower = float((delta[p[:, 1]] @ gaps.up).mean())  # lower lid moving up
    if g0 <= 0 or travel <= 1e-9:
        return 1.0
    factor = float(np.clip((0.98 * g0 - lower) / travel, 0.5, 3.0))
    delta[upper] *= factor
    return factor


def seal_lips(rest: np.ndarray, jaw: np.ndarray, close: np.ndarray, gaps: Gaps) -> float:
    """Scale mouthClose so that on top of jawOpen the lips meet as they do at rest (ARKit's mouthClose is the
    lips-together correction of an open jaw); returns the factor."""
    g0 = gaps.gap(rest, "mouth")
    g_open = gaps.gap(rest + jaw, "mouth")
    g_closed = gaps.gap(rest + jaw + close, "mouth")
    travel = g_open - g_closed
    if travel <= 1e-9 or g_open <= g0:
        return 1.0
    factor = float(np.clip((g_open - g0) / travel, 0.3, 3.0))
    close *= factor
    return factor


def _sides(labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.nonzero(labels == 2 * k)[0], np.nonzero(labels == 2 * k + 1)[0]


def generate(
    verts: np.ndarray,
    tris: np.ndarray,
    landmarks: np.ndarray,
    valid: np.ndarray | None = None,
    model: KeygenModel | None = None,
    params: KeygenParams | None = None,
) -> KeygenResult:
    """verts (N, 3), tris (T, 3) of the head (object space, any scale/orientation), landmarks (>=468, 3) on it."""
    t0 = time.perf_counter()
    params = params or KeygenParams()
    model = model or load_model()
    verts = np.asarray(verts, np.float64)
    tris = np.asarray(tris, np.int64)
    landmarks = np.asarray(landmarks, np.float64)[:468]
    if landmarks.shape != (468, 3):
        raise FacsimileError(f"need 468 face landmarks (x, y, z), got an array of shape {landmarks.shape}")
    valid = (
        np.isfinite(landmarks).all(1) if valid is None else (np.asarray(valid, bool) & np.isfinite(landmarks).all(1))
    )
    if params.drop_sunken_margins:
        valid = valid & ~sunken_margins(landmarks, valid)
    if params.symmetric_landmarks and valid[[33, 263]].all():
        iod0 = float(np.linalg.norm(landmarks[33] - landmarks[263]))
        landmarks, valid, _ = symmetrize_landmarks(verts, landmarks, valid, model, iod0)
    fit = fit_ict(
        model,
        np.where(valid[:, None], landmarks, 0.0),
        valid,
        ridge=params.identity_ridge,
        sigma=params.warp_sigma,
        warp_ridge=params.warp_ridge,
        warp_skip=LID_MARGINS if params.warp_skip_lid_margins else (),
    )
    timings = {"fit": time.perf_counter() - t0}
    lm = np.where(fit.inliers[:, None], landmarks, model.landmarks(fit.ict_verts))  # outliers/unseen from the fit
    iod = float(np.linalg.norm(lm[33] - lm[263]))

    # Face vertices: the connected part(s) of the mesh the landmarks lie on, near the registered ICT face.
    edges = edges_of(tris)
    comp = components(len(verts), edges)
    near, _ = knn(lm, verts, 1)
    lo, hi = fit.ict_verts.min(0) - 0.2 * iod, fit.ict_verts.max(0) + 0.2 * iod
    in_box = np.nonzero((verts >= lo).all(1) & (verts <= hi).all(1))[0]
    near_face = np.full(len(verts), np.inf)
    near_face[in_box] = knn(verts[in_box], fit.ict_verts, 1)[1][:, 0]
    main = face_components(verts, comp, comp[near[:, 0]], near_face, iod)
    cand = in_box[np.isin(comp[in_box], main)]
    if len(cand) == 0:
        raise FacsimileError("no mesh vertices near the fitted face; are the landmarks on this mesh?")

    # Opening sides on the head and on ICT, from the same landmark seeds.
    csr = adjacency(len(verts), edges, verts)
    ict_edges = edges_of(model.tris)
    ict_csr = adjacency(len(model.neutral), ict_edges, fit.ict_verts)
    ict_lm_vert = model.landmark_vertex()
    cand_lm, _ = knn(lm, verts[cand], 1)
    head_lm_vert = cand[cand_lm[:, 0]]
    widths = {
        "mouth": float(np.linalg.norm(lm[MOUTH_CORNERS[0]] - lm[MOUTH_CORNERS[1]])),
        "eye_R": float(np.linalg.norm(lm[EYE_R_CORNERS[0]] - lm[EYE_R_CORNERS[1]])),
        "eye_L": float(np.linalg.norm(lm[EYE_L_CORNERS[0]] - lm[EYE_L_CORNERS[1]])),
    }
    radii = [(0.6 if name == "mouth" else 0.9) * widths[name] for name, *_ in OPENINGS]
    seeds = [(head_lm_vert[list(up)], head_lm_vert[list(low)]) for _, up, low, _ in OPENINGS]
    ict_seeds = [(ict_lm_vert[list(up)], ict_lm_vert[list(low)]) for _, up, low, _ in OPENINGS]
    labels = opening_labels(csr, seeds, radii)
    ict_labels = opening_labels(ict_csr, ict_seeds, [r / 1.0 for r in radii])
    ict_verts = fit.ict_verts
    if params.icp_rounds:
        ict_verts = icp_refine(
            fit.ict_verts, ict_edges, ict_labels, verts[cand], labels[cand], iod, rounds=params.icp_rounds
        )
    timings["regions"] = time.perf_counter() - t0 - sum(timings.values())

    idx, w, dist = correspondences(verts[cand], labels[cand], ict_verts, ict_labels, params.neighbours)
    weight = np.zeros(len(verts))
    weight[cand] = falloff(dist, iod, params.falloff_near, params.falloff_far)
    deltas = np.zeros((len(model.arkit_deltas), len(verts), 3), np.float32)
    local = None
    if params.follow_normals:
        head_n = vertex_normals(verts, tris)[cand]
        ict_n = (vertex_normals(ict_verts, model.tris)[idx] * w[:, :, None]).sum(1)
        local = align_rotations(ict_n, head_n)
    deltas[:, cand] = transfer(model.arkit_deltas, idx, w, weight[cand], fit.scale, fit.rotation, local)
    if params.smoothing:
        # The head's own mesh spacing, not ICT's: blending 4 ICT vertices leaves ICT's sampling in the field.
        k, n = deltas.shape[:2]
        flat = deltas.transpose(1, 0, 2).reshape(n, 3 * k)  # all keys in one pass over the edges
        flat = smooth_field(flat, edges, params.smoothing, fixed=weight == 0)
        deltas[:] = flat.reshape(n, k, 3).transpose(1, 0, 2)
    slide_on_spheres(verts, deltas, comp, main, iod)
    timings["transfer"] = time.perf_counter() - t0 - sum(timings.values())

    # Gap pairs: each landmark's nearest vertex on its own side of the opening.
    pairs = {}
    for k, (name, _, _, _) in enumerate(OPENINGS):
        plist = {"mouth": LIP_PAIRS, "eye_R": LID_PAIRS_R, "eye_L": LID_PAIRS_L}[name]
        up_v, low_v = _sides(labels, k)
        if len(up_v) == 0 or len(low_v) == 0:
            raise FacsimileError(f"could not tell the upper from the lower side of the {name.replace('_', ' ')}")
        iu, _ = knn(lm[[p[0] for p in plist]], verts[up_v], 1)
        il, _ = knn(lm[[p[1] for p in plist]], verts[low_v], 1)
        pairs[name] = np.stack([up_v[iu[:, 0]], low_v[il[:, 0]]], 1)
    gaps = Gaps(pairs=pairs, up=fit.rotation[:, 1].copy(), scale=widths, forward=fit.rotation[:, 2].copy())
    calibration = {}
    for k, (name, *_) in enumerate(OPENINGS):
        if name.startswith("eye"):
            key = ARKIT_NAMES.index("eyeBlinkLeft" if name == "eye_L" else "eyeBlinkRight")
            calibration[ARKIT_NAMES[key]] = close_lid(verts, deltas[key], labels == 2 * k, gaps, name)
    jaw, close = ARKIT_NAMES.index("jawOpen"), ARKIT_NAMES.index("mouthClose")
    calibration["mouthClose"] = seal_lips(verts, deltas[jaw], deltas[close], gaps)
    checks = check_keys(verts, deltas, gaps)
    timings["checks"] = time.perf_counter() - t0 - sum(timings.values())
    return KeygenResult(deltas, weight, fit, labels, checks, gaps, lm, calibration, timings)
