"""Synthetic training samples: ICT identities x an expression prior x head pose x perspective camera x detector noise.

Every sample is drawn on the fly from a seeded generator (no data set on disk): the landmark basis makes one sample a
few hundred multiply-adds, so training sees fresh faces every step and held-out sets are just other seeds (their
identities are independent Gaussian draws, disjoint from training ones with probability 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blender_addon.core.arkit import ARKIT_NAMES, INDEX, MIRROR_PAIRS
from blender_addon.core.face.landmark_normalize import normalize_landmarks

from .landmark_embedding import LandmarkBasis

NUM = len(ARKIT_NAMES)
GAZE_YAW_DEG = 30.0  # eyeLookIn/Out = 1 turns the eye this far
GAZE_PITCH_DEG = 25.0
# Trained head-pose range (degrees); the runtime flags faces beyond it.
POSE_LIMITS = {"yaw": 50.0, "pitch": 35.0, "roll": 40.0}
POSE_SIGMA = {"yaw": 20.0, "pitch": 12.0, "roll": 12.0}

# Recognisable expression templates (weights at full intensity); the prior blends one in for a share of samples.
TEMPLATES: dict[str, dict[str, float]] = {
    "smile": {"mouthSmile": 0.9, "cheekSquint": 0.5, "eyeSquint": 0.35, "mouthDimple": 0.2},
    "laugh": {"mouthSmile": 1.0, "jawOpen": 0.5, "cheekSquint": 0.7, "eyeSquint": 0.6, "mouthUpperUp": 0.3},
    "surprise": {"browInnerUp": 0.9, "browOuterUp": 0.9, "eyeWide": 0.8, "jawOpen": 0.45},
    "anger": {"browDown": 0.9, "eyeSquint": 0.6, "noseSneer": 0.4, "mouthPress": 0.5, "mouthFrown": 0.3},
    "sad": {"browInnerUp": 0.8, "mouthFrown": 0.7, "mouthShrugLower": 0.4, "eyeSquint": 0.2},
    "disgust": {"noseSneer": 0.9, "mouthUpperUp": 0.6, "browDown": 0.4, "cheekSquint": 0.3},
    "fear": {"browInnerUp": 0.8, "eyeWide": 0.7, "mouthStretch": 0.6, "jawOpen": 0.2},
    "pucker": {"mouthPucker": 0.9, "mouthFunnel": 0.3},
    "puff": {"cheekPuff": 0.9, "mouthClose": 0.0},
    "speech_o": {"jawOpen": 0.35, "mouthFunnel": 0.7, "mouthPucker": 0.3},
}
# One-sided templates (issue 10: left and right are independent): a smirk, a one-sided sneer, a wink. Added to the
# training prior only (Synthesizer(one_sided=True)); the render splits keep TEMPLATES so cached renders stay valid.
ONE_SIDED_TEMPLATES: dict[str, dict[str, float]] = {
    **{
        f"{kind}_{side.lower()}": {k + side: v for k, v in chans.items()}
        for side in ("Left", "Right")
        for kind, chans in (
            ("smirk", {"mouthSmile": 0.9, "cheekSquint": 0.45, "eyeSquint": 0.25, "mouthDimple": 0.2}),
            ("sneer", {"noseSneer": 0.85, "mouthUpperUp": 0.5, "cheekSquint": 0.2}),
            ("wink", {"eyeBlink": 1.0, "cheekSquint": 0.35, "eyeSquint": 0.2}),
        )
    },
}

_GAZE = {n for n in ARKIT_NAMES if n.startswith("eyeLook")}
_EXCLUSIVE = (("jawLeft", "jawRight"), ("mouthLeft", "mouthRight"))
_EXCLUSIVE_NAMES = {n for pair in _EXCLUSIVE for n in pair}


def _expand(name: str) -> list[str]:
    """Template key -> the ARKit channels it sets (a paired base name sets both sides)."""
    if name in INDEX:
        return [name]
    return [name + "Left", name + "Right"]


def sample_expressions(rng: np.random.Generator, n: int, p_active: float = 0.11, one_sided: bool = False) -> np.ndarray:
    """(n, 52) ARKit weights from a sparse, mostly left/right-symmetric prior with full range to 1 and blinks.

    tongueOut stays 0 (ICT has no tongue shape). Gaze channels come from a conjugate gaze direction (both eyes look the
    same way), so eyeLookInLeft moves with eyeLookOutRight as real eyes do.
    """
    w = np.zeros((n, NUM), np.float32)
    for left, right in MIRROR_PAIRS:
        if left in _GAZE or left in _EXCLUSIVE_NAMES:
            continue
        active = rng.random(n) < p_active
        v = rng.random(n) ** 0.7
        sym = rng.random(n) < 0.75
        other = np.clip(v + rng.normal(0, 0.08, n), 0, 1)
        lone = rng.random(n) < 0.5  # asymmetric: one side only, or both sides independent
        v_r = np.where(sym, other, np.where(lone, 0.0, rng.random(n) ** 0.7))
        swap = rng.random(n) < 0.5
        a, b = np.where(swap, v_r, v), np.where(swap, v, v_r)
        w[:, INDEX[left]] = np.where(active, a, 0)
        w[:, INDEX[right]] = np.where(active, b, 0)
    for name in ARKIT_NAMES:
        if name.endswith(("Left", "Right")) or name == "tongueOut":
            continue
        p = 0.3 if name == "jawOpen" else p_active
        w[:, INDEX[name]] = np.where(rng.random(n) < p, rng.random(n) ** 0.7, 0)
    for a, b in _EXCLUSIVE:
        active = rng.random(n) < p_active
        side = rng.random(n) < 0.5
        v = rng.random(n) ** 0.7
        w[:, INDEX[a]] = np.where(active & side, v, 0)
        w[:, INDEX[b]] = np.where(active & ~side, v, 0)
    # Templates blended in for recognisable faces.
    use = rng.random(n) < 0.35
    templates = {**TEMPLATES, **ONE_SIDED_TEMPLATES} if one_sided else TEMPLATES
    names = list(templates)
    pick = rng.integers(0, len(names), n)
    inten = rng.uniform(0.3, 1.05, n)
    for k, tname in enumerate(names):
        rows = use & (pick == k)
        for key, val in templates[tname].items():
            for ch in _expand(key):
                w[rows, INDEX[ch]] = np.maximum(w[rows, INDEX[ch]], np.clip(val * inten[rows], 0, 1))
    # Blinks: both eyes (sometimes one: a wink); a closing lid cannot be wide open.
    blink = rng.random(n) < 0.2
    bv = rng.uniform(0.4, 1.0, n)
    wink = rng.random(n) < 0.15
    side = rng.random(n) < 0.5
    for ch, other_side in (("eyeBlinkLeft", side), ("eyeBlinkRight", ~side)):
        val = np.where(wink & other_side, 0.0, np.clip(bv + rng.normal(0, 0.05, n), 0, 1))
        w[:, INDEX[ch]] = np.where(blink, np.maximum(w[:, INDEX[ch]], val), w[:, INDEX[ch]])
    for s in ("Left", "Right"):
        closed = w[:, INDEX["eyeBlink" + s]] > 0.3
        w[closed, INDEX["eyeWide" + s]] = 0
    # mouthClose only makes sense with the jaw open (lips together while the jaw drops).
    w[:, INDEX["mouthClose"]] = np.minimum(w[:, INDEX["mouthClose"]], w[:, INDEX["jawOpen"]])
    # Gaze: conjugate direction with a little vergence.
    look = rng.random(n) < 0.6
    yaw = np.where(look, rng.uniform(-1, 1, n), 0)
    pitch = np.where(look, rng.uniform(-0.9, 0.9, n), 0)
    for s, sgn in (("Left", 1.0), ("Right", -1.0)):
        y = np.clip(yaw * sgn + np.where(look, rng.normal(0, 0.05, n), 0), -1, 1)  # > 0: outwards for this eye
        w[:, INDEX["eyeLookOut" + s]] = np.maximum(y, 0)
        w[:, INDEX["eyeLookIn" + s]] = np.maximum(-y, 0)
        w[:, INDEX["eyeLookUp" + s]] = np.maximum(pitch, 0)
        w[:, INDEX["eyeLookDown" + s]] = np.maximum(-pitch, 0)
    neutral = rng.random(n) < 0.04
    keep = np.array([n_.startswith("eyeLook") for n_ in ARKIT_NAMES])
    w[neutral] *= keep
    return np.clip(w, 0, 1)


def gaze_angles(w: np.ndarray) -> np.ndarray:
    """(N, 52) weights -> (N, 2, 2) eye (yaw, pitch) radians for (subject's right, left) eyes."""
    yr, pr = np.radians(GAZE_YAW_DEG), np.radians(GAZE_PITCH_DEG)
    out = np.zeros((len(w), 2, 2), np.float32)
    # +yaw turns towards the subject's left (+x): outwards for the left eye, inwards for the right eye.
    out[:, 0, 0] = (w[:, INDEX["eyeLookInRight"]] - w[:, INDEX["eyeLookOutRight"]]) * yr
    out[:, 1, 0] = (w[:, INDEX["eyeLookOutLeft"]] - w[:, INDEX["eyeLookInLeft"]]) * yr
    out[:, 0, 1] = (w[:, INDEX["eyeLookUpRight"]] - w[:, INDEX["eyeLookDownRight"]]) * pr
    out[:, 1, 1] = (w[:, INDEX["eyeLookUpLeft"]] - w[:, INDEX["eyeLookDownLeft"]]) * pr
    return out


def _rotation(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """(N, 3, 3) head rotation in the y-up, z-towards-camera frame: roll(z) @ yaw(y) @ pitch(-x), radians."""
    n = len(yaw)
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    ry = np.zeros((n, 3, 3))
    ry[:, 0, 0], ry[:, 0, 2], ry[:, 1, 1], ry[:, 2, 0], ry[:, 2, 2] = cy, sy, 1, -sy, cy
    rx = np.zeros((n, 3, 3))
    rx[:, 0, 0], rx[:, 1, 1], rx[:, 1, 2], rx[:, 2, 1], rx[:, 2, 2] = 1, cp, sp, -sp, cp
    rz = np.zeros((n, 3, 3))
    rz[:, 0, 0], rz[:, 0, 1], rz[:, 1, 0], rz[:, 1, 1], rz[:, 2, 2] = cr, -sr, sr, cr, 1
    return rz @ ry @ rx


@dataclass(frozen=True)
class NoiseConfig:
    """Detector-like corruption, in fractions of the face width (eye-corner span x 2.2, about the face width)."""

    iid: tuple[float, float] = (0.001, 0.006)  # per-landmark jitter sigma range
    iris_extra: float = 0.01
    shear: float = 0.01  # per-sample smooth (affine) distortion the detector leaves
    z_scale: tuple[float, float] = (0.75, 1.25)  # MediaPipe's depth scale is loosely calibrated


DEFAULT_NOISE = NoiseConfig()


def project(
    rng: np.random.Generator, lm_model: np.ndarray, noise: NoiseConfig | None, pose_deg: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Model-space landmarks (N, 478, 3) cm -> MediaPipe-like pixels (N, 478, 3), and the pose used (N, 3) degrees."""
    n = len(lm_model)
    if pose_deg is None:
        pose_deg = np.stack(
            [
                np.clip(rng.normal(0, POSE_SIGMA[k], n), -POSE_LIMITS[k], POSE_LIMITS[k])
                for k in ("yaw", "pitch", "roll")
            ],
            1,
        )
    rad = np.radians(pose_deg)
    rot = _rotation(rad[:, 0], rad[:, 1], rad[:, 2])
    pivot = lm_model[:, :468].mean(1, keepdims=True) + np.array([0, 0, -6.0])  # roughly the head's centre
    p = (lm_model - pivot) @ rot.transpose(0, 2, 1)
    if noise is not None:  # smooth per-sample distortion before projection
        a = np.eye(3)[None] + rng.normal(0, noise.shear, (n, 3, 3))
        p = p @ a.transpose(0, 2, 1)
    width = rng.uniform(480, 1920, n)
    height = width * rng.uniform(0.56, 1.34, n)
    fov = np.radians(rng.uniform(35, 75, n))
    f = width / (2 * np.tan(fov / 2))
    face_frac = rng.uniform(0.12, 0.6, n)
    dist = f * 15.0 / (face_frac * width)
    cx = width * rng.uniform(0.35, 0.65, n)
    cy = height * rng.uniform(0.35, 0.65, n)
    X = p[..., 0]
    Y = -p[..., 1]
    Z = dist[:, None] - p[..., 2]
    u = f[:, None] * X / Z + cx[:, None]
    v = f[:, None] * Y / Z + cy[:, None]
    zs = rng.uniform(*noise.z_scale, n) if noise is not None else np.ones(n)
    zp = (Z - dist[:, None]) * (f / dist * zs)[:, None]
    out = np.stack([u, v, zp], -1)
    if noise is not None:
        face_px = 15.0 * f / dist
        sig = rng.uniform(*noise.iid, n) * face_px
        jitter = rng.normal(0, 1, out.shape) * sig[:, None, None]
        jitter[:, 468:] += rng.normal(0, 1, (n, 10, 3)) * (noise.iris_extra * face_px)[:, None, None]
        jitter[..., 2] *= 2.0
        out = out + jitter
    return out.astype(np.float32), pose_deg.astype(np.float32)


@dataclass
class SampleBatch:
    weights: np.ndarray  # (N, 52)
    pixels: np.ndarray  # (N, 478, 3)
    features: np.ndarray  # (N, F)
    pose: np.ndarray  # (N, 3) degrees, the true pose


def identity_feature_offsets(basis: LandmarkBasis, rng: np.random.Generator, n: int, sigma: float) -> np.ndarray:
    """(n, F) feature offsets of random ICT identities from the mean face, neutral expression, frontal and exact.

    Why: real training frames show few people, so a brow reading learned on them can lean on who the person is (brows
    sit higher on some faces at rest). Adding these offsets to a real frame's features moves it to another face shape
    with the same expression, and its pseudo-label stays valid."""
    ids = np.clip(rng.normal(0, sigma, (n, basis.id_lm.shape[0])), -3, 3).astype(np.float32)
    zero_expr = np.zeros((n, basis.expr_lm.shape[0]), np.float32)
    gaze = np.zeros((n, 2, 2), np.float32)
    pose = np.zeros((n, 3), np.float32)
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)  # the same camera for both faces
    px_id, _ = project(rng_a, basis.landmarks(ids, zero_expr, gaze), None, pose)
    px_0, _ = project(rng_b, basis.landmarks(np.zeros_like(ids), zero_expr, gaze), None, pose)
    return (normalize_landmarks(px_id)[0] - normalize_landmarks(px_0)[0]).astype(np.float32)


def moved_feature_columns(
    basis: LandmarkBasis, arkit_to_ict: np.ndarray, channels: tuple[str, ...], share: float = 0.25
) -> np.ndarray:
    """Feature columns (landmark index * 3 + axis) of the landmarks that these ARKit channels move in ICT's geometry:
    every landmark whose largest displacement over the channels is at least `share` of the largest of all.

    Why: the brow channels move the brow and forehead landmarks; on hairless renders the front-end has no brow to
    follow there, so the detector model fitted on those renders describes the renders, not the front-end on a real
    brow (fit/mediapipe_trust.RENDER_BLIND). The *_browland arms leave these columns to the synthetic geometry."""
    from blender_addon.core.arkit import INDEX

    rows = np.asarray(arkit_to_ict, np.float32)[[INDEX[c] for c in channels]]  # (C, E)
    disp = np.einsum("ce,elk->clk", rows, basis.expr_lm)  # (C, 468, 3)
    size = np.linalg.norm(disp, axis=2).max(0)  # (468,)
    moved = np.flatnonzero(size >= share * size.max())
    return (moved[:, None] * 3 + np.arange(3)[None]).ravel()


def expression_feature_offsets(basis: LandmarkBasis, arkit_to_ict: np.ndarray, channels: tuple[str, ...]) -> np.ndarray:
    """(C, F) feature displacement of each ARKit channel at weight 1 on the mean face, frontal and exact.

    Why: the real training clips hold few strong brow raises and frowns of few people, and the model compresses the
    strong ones of people it never saw (MEAD posed surprise read as photos: brows-up sum 0.58 against MediaPipe's
    1.59). Adding a channel's displacement to a real frame (and its amount to the label) extends the range on real
    faces, as identity_feature_offsets extends the identities."""
    from blender_addon.core.arkit import INDEX

    rows = np.asarray(arkit_to_ict, np.float32)[[INDEX[c] for c in channels]]  # (C, E)
    n = len(channels)
    ids = np.zeros((n + 1, basis.id_lm.shape[0]), np.float32)
    expr = np.concatenate([np.zeros((1, rows.shape[1]), np.float32), rows])
    gaze = np.zeros((n + 1, 2, 2), np.float32)
    px, _ = project(np.random.default_rng(1), basis.landmarks(ids, expr, gaze), None, np.zeros((n + 1, 3), np.float32))
    f = normalize_landmarks(px)[0]
    return (f[1:] - f[:1]).astype(np.float32)


class Synthesizer:
    """Draws (features, weights) batches from the ICT landmark basis; seeded and deterministic."""

    def __init__(self, basis: LandmarkBasis, arkit_to_ict: np.ndarray, id_sigma: float = 1.0, one_sided: bool = False):
        self.basis = basis
        self.a2i = arkit_to_ict.astype(np.float32)
        self.id_sigma = id_sigma
        self.one_sided = one_sided  # also draw the one-sided templates (smirk, one-sided sneer, wink)

    def sample(self, rng: np.random.Generator, n: int, noise: NoiseConfig | None = DEFAULT_NOISE) -> SampleBatch:
        w = sample_expressions(rng, n, one_sided=self.one_sided)
        ids = np.clip(rng.normal(0, self.id_sigma, (n, self.basis.id_lm.shape[0])), -3, 3).astype(np.float32)
        lm = self.basis.landmarks(ids, w @ self.a2i, gaze_angles(w))
        px, pose = project(rng, lm, noise)
        feats, _ = normalize_landmarks(px)
        return SampleBatch(weights=w, pixels=px, features=feats, pose=pose)
