"""The demo character's body, in pure numpy: a mannequin of tubes, its bones, and smooth skin weights.

Why: the body path (LBS deformer, armature posing) needs a skinned character the project builds itself. Each limb
is one tube along its bone chain, so weights blend smoothly across a joint (a smoothstep over +-delta around it) and
sum to 1 on every vertex, which is what both Blender's Armature modifier and an LBS deformer expect.

Frame: Blender's, metres, feet on z = 0, facing -Y, the character's left on +X (".L" bones), A-pose arms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .head import smoothstep


@dataclass(frozen=True)
class Bone:
    name: str
    head: tuple[float, float, float]
    tail: tuple[float, float, float]
    parent: str | None
    deform: bool = True


HEAD_CENTRE = (0.0, 0.0, 1.61)  # where the head mesh's origin sits (world), parented to the "head" bone

_ARM_DIR = np.array([np.cos(np.radians(35)), 0.0, -np.sin(np.radians(35))])


def _bones() -> tuple[Bone, ...]:
    out = [
        Bone("root", (0, 0, 0), (0, 0.3, 0), None, deform=False),
        Bone("hips", (0, 0, 0.95), (0, 0, 1.05), "root"),
        Bone("spine", (0, 0, 1.05), (0, 0, 1.20), "hips"),
        Bone("chest", (0, 0, 1.20), (0, 0, 1.40), "spine"),
        Bone("neck", (0, 0, 1.40), (0, 0, 1.50), "chest"),
        Bone("head", (0, 0, 1.50), (0, 0, 1.74), "neck"),
    ]
    for side, s in (("L", 1.0), ("R", -1.0)):
        shoulder = np.array([0.02 * s, 0.0, 1.37])
        sh_end = np.array([0.16 * s, 0.0, 1.38])
        d = _ARM_DIR * np.array([s, 1.0, 1.0])
        elbow = sh_end + 0.28 * d
        wrist = elbow + 0.25 * d
        hand_end = wrist + 0.10 * d
        hip = np.array([0.10 * s, 0.0, 0.95])
        knee = np.array([0.10 * s, -0.01, 0.52])
        ankle = np.array([0.10 * s, 0.0, 0.09])
        toe = np.array([0.10 * s, -0.13, 0.03])

        def t(v: np.ndarray) -> tuple[float, float, float]:
            return (float(v[0]), float(v[1]), float(v[2]))

        out += [
            Bone(f"shoulder.{side}", t(shoulder), t(sh_end), "chest"),
            Bone(f"upper_arm.{side}", t(sh_end), t(elbow), f"shoulder.{side}"),
            Bone(f"forearm.{side}", t(elbow), t(wrist), f"upper_arm.{side}"),
            Bone(f"hand.{side}", t(wrist), t(hand_end), f"forearm.{side}"),
            Bone(f"thigh.{side}", t(hip), t(knee), "hips"),
            Bone(f"shin.{side}", t(knee), t(ankle), f"thigh.{side}"),
            Bone(f"foot.{side}", t(ankle), t(toe), f"shin.{side}"),
        ]
    return tuple(out)


BONES: tuple[Bone, ...] = _bones()
BONE_NAMES: tuple[str, ...] = tuple(b.name for b in BONES)
DEFORM_BONES: tuple[str, ...] = tuple(b.name for b in BONES if b.deform)

BODY_MATERIALS: tuple[tuple[str, tuple[float, float, float, float]], ...] = (
    ("FacsimileSkin", (0.80, 0.58, 0.47, 1.0)),
    ("FacsimileShirt", (0.20, 0.36, 0.55, 1.0)),
    ("FacsimileTrousers", (0.18, 0.18, 0.22, 1.0)),
    ("FacsimileShoes", (0.10, 0.08, 0.07, 1.0)),
)
_SKIN, _SHIRT, _TROUSERS, _SHOES = range(4)


@dataclass
class BodyGeometry:
    vertices: np.ndarray  # (V, 3) float32
    faces: list[tuple[int, ...]]
    face_materials: np.ndarray  # (F,) int32 into BODY_MATERIALS
    weights: np.ndarray  # (V, len(DEFORM_BONES)) float32, rows sum to 1
    bone_names: tuple[str, ...]  # columns of weights


def _bone(name: str) -> Bone:
    return BONES[BONE_NAMES.index(name)]


def _tube(
    path: np.ndarray,
    s_samples: np.ndarray,
    radii: np.ndarray,
    side: np.ndarray,
    segments: int = 20,
) -> tuple[np.ndarray, list[tuple[int, ...]], np.ndarray]:
    """A capped tube along a polyline; radii (len(s), 2) are the ellipse half-axes (along `side`, across it).

    Returns vertices, faces (outward) and each vertex's arc length s (caps take their ring's s).
    """
    seg_len = np.linalg.norm(np.diff(path, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg_len)])
    centres = np.stack([np.interp(s_samples, cum, path[:, k]) for k in range(3)], axis=-1)
    k = np.clip(np.searchsorted(cum, s_samples, side="right") - 1, 0, len(seg_len) - 1)
    tangent = (path[k + 1] - path[k]) / seg_len[k, None]
    u = side - (tangent @ side)[:, None] * tangent
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v = np.cross(tangent, u)
    a = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    rings = (
        centres[:, None, :]
        + radii[:, 0, None, None] * np.cos(a)[None, :, None] * u[:, None, :]
        + radii[:, 1, None, None] * np.sin(a)[None, :, None] * v[:, None, :]
    )
    n = len(s_samples)
    verts = np.vstack([rings.reshape(-1, 3), centres[0], centres[-1]])
    s_of = np.concatenate([np.repeat(s_samples, segments), [s_samples[0], s_samples[-1]]])
    faces: list[tuple[int, ...]] = []
    for r in range(n - 1):
        for c in range(segments):
            c1 = (c + 1) % segments
            faces.append((r * segments + c, r * segments + c1, (r + 1) * segments + c1, (r + 1) * segments + c))
    first, last = n * segments, n * segments + 1
    for c in range(segments):
        c1 = (c + 1) % segments
        faces.append((first, c1, c))
        faces.append((last, (n - 1) * segments + c, (n - 1) * segments + c1))
    # Outward: the first side quad's normal must point away from its ring centre.
    p = verts[list(faces[0])]
    normal = np.cross(p[1] - p[0], p[2] - p[0])
    if normal @ (p.mean(axis=0) - centres[0]) < 0:
        faces = [tuple(reversed(f)) for f in faces]
    return verts, faces, s_of


def _chain_weights(s: np.ndarray, joints: list[float], bones: list[str], delta: list[float]) -> dict[str, np.ndarray]:
    """Partition of unity along a chain: bone k owns s between joints k-1 and k, blended over +-delta at each joint."""
    t = [smoothstep(j - d, j + d, s) for j, d in zip(joints, delta)]
    out = {}
    for k, name in enumerate(bones):
        lo = t[k - 1] if k > 0 else np.ones_like(s)
        hi = t[k] if k < len(t) else np.zeros_like(s)
        out[name] = out.get(name, 0) + (lo - hi)
    return out


def build_body() -> BodyGeometry:
    """Build the mannequin body and its skin weights (deterministic, a few ms): the torso, then per side an arm, a
    leg and a foot, each one tube along its bone chain."""
    b = _BodyBuilder()
    _add_torso(b)
    for side, sgn in (("L", 1.0), ("R", -1.0)):
        _add_arm(b, side)
        _add_leg(b, side)
        _add_foot(b, side, sgn)
    return b.geometry()


class _BodyBuilder:
    """Accumulates tubes into one vertex/face list with a row of skin weights per vertex."""

    def __init__(self) -> None:
        self.verts: list[np.ndarray] = []
        self.faces: list[tuple[int, ...]] = []
        self.mats: list[int] = []
        self.wrows: list[np.ndarray] = []
        self.col = {n: i for i, n in enumerate(DEFORM_BONES)}
        self.count = 0

    def add(self, verts: np.ndarray, faces: list[tuple[int, ...]], mats: list[int], weights: dict[str, np.ndarray]):
        w = np.zeros((len(verts), len(DEFORM_BONES)))
        for name, value in weights.items():
            w[:, self.col[name]] += value
        self.verts.append(verts)
        self.faces.extend(tuple(i + self.count for i in f) for f in faces)
        self.mats.extend(mats)
        self.wrows.append(w)
        self.count += len(verts)

    def geometry(self) -> BodyGeometry:
        weights = np.vstack(self.wrows)
        weights[weights < 1e-3] = 0.0  # no negligible influences: every stored weight matters, sums stay exactly 1
        weights = weights / weights.sum(axis=1, keepdims=True)
        return BodyGeometry(
            vertices=np.vstack(self.verts).astype(np.float32),
            faces=self.faces,
            face_materials=np.asarray(self.mats, dtype=np.int32),
            weights=weights.astype(np.float32),
            bone_names=DEFORM_BONES,
        )


def _face_mats(faces: list[tuple[int, ...]], s_of: np.ndarray, rule) -> list[int]:
    """Each face's material from the mean position of its corners along the tube."""
    return [rule(float(np.mean(s_of[list(f)]))) for f in faces]


def _add_torso(b: _BodyBuilder) -> None:
    """Torso: pelvis to the top of the neck (inside the head), along z."""
    ctrl = np.array(
        [
            [0.86, 0.12, 0.09],
            [0.93, 0.15, 0.11],
            [1.05, 0.14, 0.10],
            [1.15, 0.13, 0.095],
            [1.27, 0.15, 0.105],
            [1.34, 0.165, 0.11],
            [1.39, 0.13, 0.085],
            [1.42, 0.058, 0.052],
            [1.47, 0.047, 0.045],
            [1.53, 0.045, 0.043],
        ]
    )
    path = np.array([[0, 0.005, 0.86], [0, 0.005, 1.53]])
    zs = np.linspace(0.86, 1.53, 36)
    s = zs - 0.86
    radii = np.stack([np.interp(zs, ctrl[:, 0], ctrl[:, 1]), np.interp(zs, ctrl[:, 0], ctrl[:, 2])], axis=-1)
    v, f, s_of = _tube(path, s, radii, np.array([1.0, 0, 0]), segments=24)
    z_of = s_of + 0.86
    w = _chain_weights(
        z_of, [1.05, 1.20, 1.40, 1.50], ["hips", "spine", "chest", "neck", "head"], [0.05, 0.06, 0.03, 0.02]
    )
    b.add(v, f, _face_mats(f, z_of, lambda z: _SKIN if z > 1.405 else (_TROUSERS if z < 0.97 else _SHIRT)), w)


def _add_arm(b: _BodyBuilder, side: str) -> None:
    """Shoulder to the hand's end, a sleeve with a bare hand (palm flattened across)."""
    sh, ua, fa, hd = (_bone(f"{n}.{side}") for n in ("shoulder", "upper_arm", "forearm", "hand"))
    path = np.array([sh.head, sh.tail, ua.tail, fa.tail, hd.tail], dtype=np.float64)
    lens = np.linalg.norm(np.diff(path, axis=0), axis=1)
    joints = np.cumsum(lens)  # shoulder/upper_arm, elbow, wrist, hand end
    s = np.linspace(0.07, joints[-1], 40)
    prof_s = [
        0.07,
        joints[0],
        joints[0] + 0.08,
        joints[1],
        joints[2] - 0.01,
        joints[2] + 0.02,
        joints[3] - 0.02,
        joints[3],
    ]
    rx = np.interp(s, prof_s, [0.06, 0.058, 0.05, 0.042, 0.031, 0.038, 0.036, 0.02])  # front-back (palm width)
    ry = np.interp(s, prof_s, [0.06, 0.058, 0.05, 0.042, 0.031, 0.016, 0.014, 0.01])  # across (palm thickness)
    v, f, s_of = _tube(path, s, np.stack([rx, ry], axis=-1), np.array([0.0, 1.0, 0.0]))
    w = _chain_weights(
        s_of,
        [0.09, joints[0], joints[1], joints[2]],
        ["chest", f"shoulder.{side}", f"upper_arm.{side}", f"forearm.{side}", f"hand.{side}"],
        [0.02, 0.05, 0.05, 0.03],
    )
    b.add(v, f, _face_mats(f, s_of, lambda x, j=joints[2]: _SKIN if x > j - 0.012 else _SHIRT), w)


def _add_leg(b: _BodyBuilder, side: str) -> None:
    """Hip to ankle, in trousers."""
    th, sn, ft = (_bone(f"{n}.{side}") for n in ("thigh", "shin", "foot"))
    path = np.array([[th.head[0], 0.0, 1.00], th.head, th.tail, sn.tail], dtype=np.float64)
    lens = np.linalg.norm(np.diff(path, axis=0), axis=1)
    joints = np.cumsum(lens)
    s = np.linspace(0.0, joints[-1] - 0.01, 44)
    r = np.interp(s, [0.0, joints[0], joints[1], joints[2]], [0.08, 0.085, 0.055, 0.042])
    v, f, s_of = _tube(path, s, np.stack([r, r * 0.95], axis=-1), np.array([1.0, 0.0, 0.0]))
    w = _chain_weights(s_of, [joints[0] + 0.02, joints[1]], ["hips", f"thigh.{side}", f"shin.{side}"], [0.06, 0.05])
    b.add(v, f, [_TROUSERS] * len(f), w)


def _add_foot(b: _BodyBuilder, side: str, sgn: float) -> None:
    """Foot: heel to toe, a flattened tube; its top by the ankle follows the shin half-way."""
    foot_path = np.array([[sgn * 0.10, 0.05, 0.05], [sgn * 0.10, -0.16, 0.04]])
    s = np.linspace(0.0, np.linalg.norm(foot_path[1] - foot_path[0]), 12)
    rx = np.interp(s, [0, 0.03, 0.15, s[-1]], [0.03, 0.045, 0.048, 0.02])
    rz = np.interp(s, [0, 0.03, 0.15, s[-1]], [0.035, 0.05, 0.035, 0.015])
    v, f, s_of = _tube(foot_path, s, np.stack([rx, rz], axis=-1), np.array([1.0, 0.0, 0.0]))
    up = smoothstep(0.06, 0.1, v[:, 2]) * smoothstep(-0.06, 0.0, v[:, 1]) * 0.5
    b.add(v, f, [_SHOES] * len(f), {f"shin.{side}": up, f"foot.{side}": 1.0 - up})
