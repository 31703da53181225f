"""MediaPipe world landmarks (33 points) -> per-role local rotations of a humanoid rig, solved against its rest pose.

Only rotations are solved, so the character keeps its own bone lengths. For each role, in hierarchy order:
  * a target frame in armature space: a primary direction (the bone's landmark segment) and a secondary one that
    fixes the twist (elbow/knee bend plane, palm line, hip line, shoulder line, ear line);
  * the matching rest frame from the rig's own rest skeleton (the body's left/up/forward axes are read off the rest
    hips, legs and spine, so any rig orientation, T- or A-pose works);
  * the bone's armature-space rotation change G_b maps the rest frame onto the target frame; the local pose-bone
    rotation is then R_b^T G_parent^T G_b R_b (R_b: rest rotation, bone.matrix_local), Blender's convention.
MediaPipe's world frame (x right, y down, z away from the camera) is mapped onto the rig's so that an actor facing
the camera gives the character's rest facing; the actor turning turns the hips.

Low visibility: a bone whose landmarks are not visible blends its local rotation to rest (per frame), or, in a
sequence (BodyPoseSolver), holds its last well-seen rotation and eases to rest after `hold_seconds`; quaternion signs
are kept continuous, so no bone flips through 360 degrees between frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import FacsimileError
from ..rig.roles import ROLE_PARENT, ROLES, role_ancestors

L = {name: i for i, name in enumerate(
    ("nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
     "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
     "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
     "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
     "left_heel", "right_heel", "left_foot_index", "right_foot_index")
)}  # fmt: skip

# Roles this solver drives (eyes, jaw, shoulders and toes stay at rest: the landmarks do not determine them).
SOLVED_ROLES = (
    "hips", "spine", "chest", "upperChest", "neck", "head",
    "leftUpperArm", "leftLowerArm", "leftHand", "rightUpperArm", "rightLowerArm", "rightHand",
    "leftUpperLeg", "leftLowerLeg", "leftFoot", "rightUpperLeg", "rightLowerLeg", "rightFoot",
)  # fmt: skip
SPINE_CHAIN = ("spine", "chest", "upperChest")
REQUIRED_ROLES = ("hips", "leftUpperLeg", "rightUpperLeg")  # the rest body frame is read from these
IDENTITY = np.array([1.0, 0.0, 0.0, 0.0])


def _norm(v: np.ndarray) -> float:
    """Length of a 3-vector: np.linalg.norm and np.cross on single vectors were most of the solve's profile."""
    return math.sqrt(float(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]))


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product of two 3-vectors (see _norm)."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    if v.ndim == 1:
        return v / max(_norm(v), 1e-12)
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, 1e-12)


# ----- quaternions (w, x, y, z) ------------------------------------------------------------------------------------
def quat_from_matrix(m: np.ndarray) -> np.ndarray:
    """Unit quaternion (w, x, y, z) of a 3x3 rotation matrix, w >= 0."""
    m = np.asarray(m, dtype=np.float64)
    t = np.trace(m)
    if t > 0:
        s = math.sqrt(t + 1.0) * 2
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2]) * 2
        q = [(m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s]
    elif m[1, 1] > m[2, 2]:
        s = math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2]) * 2
        q = [(m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s]
    else:
        s = math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1]) * 2
        q = [(m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s]
    q = np.array(q)
    q /= math.sqrt(float(q @ q))
    return q if q[0] >= 0 else -q


def matrix_from_quat(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    w, x, y, z = q / math.sqrt(float(q @ q))
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def slerp(q0: np.ndarray, q1: np.ndarray, t: float) -> np.ndarray:
    """Shortest-arc spherical interpolation from q0 (t=0) to q1 (t=1)."""
    q0, q1 = np.asarray(q0, float), np.asarray(q1, float)
    d = float(np.dot(q0, q1))
    if d < 0:
        q1, d = -q1, -d
    if d > 0.9995:
        q = q0 + t * (q1 - q0)
        return q / math.sqrt(float(q @ q))
    a = math.acos(min(d, 1.0))
    return (math.sin((1 - t) * a) * q0 + math.sin(t * a) * q1) / math.sin(a)


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation taking unit vector a onto unit vector b (half turn about a perpendicular when opposite)."""
    v, c = _cross(a, b), float(np.dot(a, b))
    if c < -1 + 1e-9:
        axis = _cross(a, [1.0, 0.0, 0.0])
        if _norm(axis) < 1e-6:
            axis = _cross(a, [0.0, 1.0, 0.0])
        axis = _unit(axis)
        return 2 * np.outer(axis, axis) - np.eye(3)
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1 + c)


def _frame(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray | None:
    """Orthonormal columns (p, s', p x s') with s' the part of secondary perpendicular to primary; None if degenerate."""
    p = _unit(primary)
    s = secondary - np.dot(secondary, p) * p
    if _norm(s) < 1e-6 or _norm(primary) < 1e-9:
        return None
    s = _unit(s)
    return np.stack([p, s, _cross(p, s)], axis=1)


def _align(rest_p, rest_s, tgt_p, tgt_s, current: np.ndarray) -> np.ndarray:
    """Rotation change G taking the rest (primary, secondary) frame onto the target one; when the secondary is
    undetermined, the smallest swing of the current (parent-carried) primary onto the target primary."""
    fr, ft = _frame(rest_p, rest_s), None if tgt_s is None else _frame(tgt_p, tgt_s)
    if fr is not None and ft is not None:
        return ft @ fr.T
    cur = current @ _unit(rest_p)
    return _rotation_between(cur, _unit(tgt_p)) @ current


# ----- rest skeleton -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RestSkeleton:
    """The rig's rest pose per role, armature space (the Blender side's rig_pose.RestFrames has these fields)."""

    roles: tuple[str, ...]
    matrix_local: np.ndarray  # (R, 4, 4) bone.matrix_local
    head: np.ndarray  # (R, 3)
    tail: np.ndarray  # (R, 3)
    parent_role: tuple[str | None, ...]  # nearest mapped ancestor role

    @classmethod
    def from_frames(cls, frames) -> RestSkeleton:
        """From any object with roles, matrix_local, head, tail (and optionally parent_role): RestFrames, a dict."""
        get = frames.get if isinstance(frames, dict) else lambda k, d=None: getattr(frames, k, d)
        roles = tuple(str(r) for r in get("roles"))
        unknown = [r for r in roles if r not in ROLE_PARENT]
        if unknown:
            raise FacsimileError(f"unknown humanoid role(s) in the rest skeleton: {', '.join(unknown)}")
        n = len(roles)
        mats = np.asarray(get("matrix_local"), dtype=np.float64).reshape(n, 4, 4)
        head = np.asarray(get("head"), dtype=np.float64).reshape(n, 3)
        tail = np.asarray(get("tail"), dtype=np.float64).reshape(n, 3)
        if not (np.isfinite(mats).all() and np.isfinite(head).all() and np.isfinite(tail).all()):
            raise FacsimileError("the rest skeleton holds NaN or infinite values")
        parents = get("parent_role")
        if parents is None:
            parents = tuple(next((a for a in role_ancestors(r) if a in roles), None) for r in roles)
        missing = [r for r in REQUIRED_ROLES if r not in roles]
        if missing:
            raise FacsimileError(
                f"the rig has no bone for {', '.join(missing)}: body capture needs the hips and both upper legs; "
                "pick the bones in the panel or pass a rig map JSON"
            )
        return cls(roles, mats, head, tail, tuple(parents))

    def index(self, role: str) -> int:
        return self.roles.index(role)

    def has(self, role: str) -> bool:
        return role in self.roles

    def rest_rotation(self, role: str) -> np.ndarray:
        m = self.matrix_local[self.index(role)][:3, :3]
        u, _, vt = np.linalg.svd(m)
        return u @ vt

    def direction(self, role: str) -> np.ndarray:
        i = self.index(role)
        return _unit(self.tail[i] - self.head[i])


def _body_axes(rest: RestSkeleton) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rig's (left, up, forward) unit axes in armature space, from its rest hips, legs and spine."""
    left = rest.head[rest.index("leftUpperLeg")] - rest.head[rest.index("rightUpperLeg")]
    hips = rest.head[rest.index("hips")]
    top = next((r for r in ("neck", "head", "upperChest", "chest", "spine") if rest.has(r)), None)
    up = rest.head[rest.index(top)] - hips if top else rest.tail[rest.index("hips")] - hips
    if top is None or np.linalg.norm(up) < 1e-9:
        raise FacsimileError("the rig's rest spine is degenerate: cannot tell up from the hips and spine")
    left = _unit(left)
    up = _unit(up - np.dot(up, left) * left)
    return left, up, _cross(left, up)


# MediaPipe world frame: an actor facing the camera has left +x, up -y, forward -z (left x up, right-handed).
_MP_AXES = np.stack([[1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]], axis=1)


@dataclass(frozen=True)
class SolveOptions:
    min_visibility: float = 0.5  # a landmark below this counts as not seen
    full_visibility: float = 0.8  # at or above this the bone follows fully (linear blend in between)
    head: bool = True  # solve neck and head (off when the face capture owns the head)


# Per role: (landmarks whose visibility gates the bone).
_GATES = {
    "leftUpperArm": ("left_shoulder", "left_elbow"),
    "leftLowerArm": ("left_elbow", "left_wrist"),
    "leftHand": ("left_wrist", "left_index", "left_pinky"),
    "rightUpperArm": ("right_shoulder", "right_elbow"),
    "rightLowerArm": ("right_elbow", "right_wrist"),
    "rightHand": ("right_wrist", "right_index", "right_pinky"),
    "leftUpperLeg": ("left_hip", "left_knee"),
    "leftLowerLeg": ("left_knee", "left_ankle"),
    "leftFoot": ("left_ankle", "left_heel", "left_foot_index"),
    "rightUpperLeg": ("right_hip", "right_knee"),
    "rightLowerLeg": ("right_knee", "right_ankle"),
    "rightFoot": ("right_ankle", "right_heel", "right_foot_index"),
    "neck": ("left_ear", "right_ear", "nose"),
    "head": ("left_ear", "right_ear", "nose"),
}


class _Targets:
    """Target (primary, secondary) directions in armature space from one frame of world landmarks."""

    def __init__(self, world: np.ndarray, to_rig: np.ndarray) -> None:
        self.p = world @ to_rig.T  # (33, 3) in armature axes

    def __getitem__(self, name: str) -> np.ndarray:
        return self.p[L[name]]

    def mid(self, a: str, b: str) -> np.ndarray:
        return (self[a] + self[b]) / 2


def _bend_weight(a: np.ndarray, b: np.ndarray) -> float:
    """0 for a straight joint (bend plane undetermined) rising to 1 at ~25 degrees of bend."""
    s = float(_norm(_cross(_unit(a), _unit(b))))
    return float(np.clip((s - 0.15) / 0.27, 0.0, 1.0))


def _perp(v: np.ndarray, axis: np.ndarray) -> np.ndarray:
    a = _unit(axis)
    return v - np.dot(v, a) * a


class _Solver:
    def __init__(self, rest: RestSkeleton, options: SolveOptions) -> None:
        self.rest = rest
        self.options = options
        self.left, self.up, self.fwd = _body_axes(rest)
        rig_axes = np.stack([self.left, self.up, self.fwd], axis=1)
        self.to_rig = rig_axes @ _MP_AXES.T  # MediaPipe world -> armature space
        self.rot = {r: rest.rest_rotation(r) for r in rest.roles}
        self.roles = tuple(r for r in ROLES if r in rest.roles)

    def _limb_targets(self, t: _Targets, side: str) -> dict[str, tuple]:
        """(rest primary, rest secondary, target primary, target secondary) per limb role of one side."""
        s = side
        out: dict[str, tuple] = {}
        fwd = self.fwd
        # arms: rest fold direction of the elbow and the palm line (pinky -> index) both point forward (palms down)
        upper, lower = t[f"{s}_elbow"] - t[f"{s}_shoulder"], t[f"{s}_wrist"] - t[f"{s}_elbow"]
        palm = t[f"{s}_index"] - t[f"{s}_pinky"]
        hand_dir = t.mid(f"{s}_index", f"{s}_pinky") - t[f"{s}_wrist"]
        w = _bend_weight(upper, lower)
        fold = _unit(_perp(lower, upper))
        palm_u = _unit(_perp(palm, upper))
        arm_sec = _unit(w * fold + (1 - w) * palm_u) if _norm(w * fold + (1 - w) * palm_u) > 1e-6 else None
        side_cap = "left" if s == "left" else "right"
        out[f"{side_cap}UpperArm"] = ("dir", fwd, upper, arm_sec)
        out[f"{side_cap}LowerArm"] = ("dir", fwd, lower, _perp(palm, lower))
        out[f"{side_cap}Hand"] = ("dir", fwd, hand_dir, _perp(palm, hand_dir))
        # legs: the knee points forward at rest; target: away from the shin's fold, or along the foot when straight
        thigh, shin = t[f"{s}_knee"] - t[f"{s}_hip"], t[f"{s}_ankle"] - t[f"{s}_knee"]
        foot = t[f"{s}_foot_index"] - t[f"{s}_heel"]
        w = _bend_weight(thigh, shin)
        knee = _unit(-_perp(shin, thigh))
        foot_u = _unit(_perp(foot, thigh))
        leg_sec = w * knee + (1 - w) * foot_u
        leg_sec = leg_sec if _norm(leg_sec) > 1e-6 else None
        out[f"{side_cap}UpperLeg"] = ("dir", fwd, thigh, leg_sec)
        out[f"{side_cap}LowerLeg"] = ("dir", fwd, shin, _perp(foot, shin) if leg_sec is not None else None)
        # foot: three points on it (heel, toe tip, ankle) give its whole frame; at rest the sole (heel -> toe tip)
        # points forward and the ankle sits above the heel, whatever way the rig's foot bone points
        out[f"{side_cap}Foot"] = ("frame", (fwd, self.up), foot, t[f"{s}_ankle"] - t[f"{s}_heel"])
        return out

    def deltas(self, world: np.ndarray) -> dict[str, np.ndarray]:
        """Armature-space rotation change (3x3) of every rest role, targets fully followed (no visibility gating)."""
        t = _Targets(np.asarray(world, dtype=np.float64), self.to_rig)
        hips_mid, sh_mid = t.mid("left_hip", "right_hip"), t.mid("left_shoulder", "right_shoulder")
        up_t = sh_mid - hips_mid
        g: dict[str, np.ndarray] = {}
        # the hip and shoulder lines are measured directly (primary); the trunk's up only settles their tilt
        g_hips = _align(self.left, self.up, t["left_hip"] - t["right_hip"], up_t, np.eye(3))
        g_chest = _align(self.left, self.up, t["left_shoulder"] - t["right_shoulder"], up_t, np.eye(3))
        g["hips"] = g_hips
        chain = [r for r in SPINE_CHAIN if self.rest.has(r)]
        rel = quat_from_matrix(g_chest @ g_hips.T)
        for k, r in enumerate(chain):
            g[r] = matrix_from_quat(slerp(IDENTITY, rel, (k + 1) / len(chain))) @ g_hips
        top = g[chain[-1]] if chain else g_hips
        # head: ear line (left) and eyes-above-mouth (up); the neck takes half the turn from the chest
        ear_l = t["left_ear"] - t["right_ear"]
        head_up = t.mid("left_eye", "right_eye") - t.mid("mouth_left", "mouth_right")
        g_head = _align(self.left, self.up, ear_l, head_up, top)
        if self.rest.has("neck"):
            g["neck"] = matrix_from_quat(slerp(IDENTITY, quat_from_matrix(g_head @ top.T), 0.5)) @ top
        g["head"] = g_head
        limbs = {**self._limb_targets(t, "left"), **self._limb_targets(t, "right")}
        for r in self.roles:
            if r in g or r not in limbs:
                continue
            kind, rest_sec, tgt_p, tgt_s = limbs[r]
            parent = self._parent_delta(r, g)
            if kind == "frame":  # a body-axis frame, not the bone's own direction
                g[r] = _align(*rest_sec, tgt_p, tgt_s, parent)
                continue
            rest_p = self.rest.direction(r)
            if tgt_s is None:
                g[r] = self._swing(rest_p, tgt_p, parent)
            else:
                g[r] = _align(rest_p, _perp(rest_sec, rest_p), tgt_p, tgt_s, parent)
        return g

    @staticmethod
    def _swing(rest_p: np.ndarray, tgt_p: np.ndarray, carried: np.ndarray) -> np.ndarray:
        return _rotation_between(carried @ rest_p, _unit(tgt_p)) @ carried

    def _parent_delta(self, role: str, g: dict[str, np.ndarray]) -> np.ndarray:
        p = self.rest.parent_role[self.rest.index(role)]
        while p is not None and p not in g:
            p = self.rest.parent_role[self.rest.index(p)] if p in self.rest.roles else None
        return g[p] if p is not None else np.eye(3)

    def local(self, g: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Pose-bone local quaternions from armature-space rotation changes (missing roles: rest)."""
        out = {}
        for r in self.roles:
            gb = g.get(r)
            gp = self._parent_delta(r, g)
            gb = gp if gb is None else gb  # an unsolved role rides its parent rigidly: local rest
            rb = self.rot[r]
            out[r] = quat_from_matrix(rb.T @ gp.T @ gb @ rb)
        return out


def _check_frame(world: np.ndarray, visibility: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    world = np.asarray(world, dtype=np.float64)
    if world.shape != (33, 3):
        raise FacsimileError(f"world landmarks must be (33, 3) in MediaPipe's order, got shape {world.shape}")
    if not np.isfinite(world).all():
        raise FacsimileError("world landmarks contain NaN or infinite values")
    vis = np.ones(33) if visibility is None else np.asarray(visibility, dtype=np.float64).reshape(-1)
    if vis.shape != (33,):
        raise FacsimileError(f"visibility must hold 33 values, got {vis.shape[0]}")
    return world, np.nan_to_num(vis, nan=0.0)


def _gate(vis: np.ndarray, role: str, options: SolveOptions) -> float:
    names = _GATES.get(role)
    if not names:
        return 1.0
    v = float(min(vis[L[n]] for n in names))
    lo, hi = options.min_visibility, max(options.full_visibility, options.min_visibility + 1e-6)
    return float(np.clip((v - lo) / (hi - lo), 0.0, 1.0))


class BodyPoseSolver:
    """Per-frame or per-sequence solve for one rig; in a sequence, occluded bones hold, then ease to rest."""

    def __init__(self, rest, options: SolveOptions | None = None, hold_seconds: float = 0.5) -> None:
        self.rest = rest if isinstance(rest, RestSkeleton) else RestSkeleton.from_frames(rest)
        self.options = options or SolveOptions()
        self._solver = _Solver(self.rest, self.options)
        self.roles = self._solver.roles
        self.hold_seconds = float(hold_seconds)
        self.reset()

    def reset(self) -> None:
        self._held: dict[str, tuple[np.ndarray, float]] = {}  # role -> (last well-seen local quat, time)
        self._prev: dict[str, np.ndarray] = {}
        self._t: float | None = None

    def _skip(self, role: str) -> bool:
        return not self.options.head and role in ("neck", "head")

    def solve(self, world_landmarks: np.ndarray, visibility: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """One frame, no history: occluded bones blend to rest by their visibility."""
        world, vis = _check_frame(world_landmarks, visibility)
        local = self._solver.local(self._solver.deltas(world))
        out = {}
        for r in self.roles:
            if self._skip(r) or r not in SOLVED_ROLES:
                out[r] = IDENTITY.copy()
                continue
            out[r] = slerp(IDENTITY, local[r], _gate(vis, r, self.options))
        return out

    def step(
        self, world_landmarks: np.ndarray | None, visibility: np.ndarray | None, t: float
    ) -> dict[str, np.ndarray]:
        """One frame of a sequence at time t seconds (world None: nobody seen). A bone not seen holds its last
        well-seen rotation for hold_seconds, then eases to rest over the same time; signs stay continuous."""
        if self._t is not None and t <= self._t:
            raise FacsimileError(f"times must increase: got {t} after {self._t}")
        self._t = float(t)
        local = None
        vis = np.zeros(33)
        if world_landmarks is not None:
            world, vis = _check_frame(world_landmarks, visibility)
            local = self._solver.local(self._solver.deltas(world))
        out = {}
        for r in self.roles:
            if self._skip(r) or r not in SOLVED_ROLES:
                out[r] = IDENTITY.copy()
                continue
            w = _gate(vis, r, self.options) if local is not None else 0.0
            held = self._held.get(r)
            if w >= 1.0 or (w > 0 and held is None):
                q = local[r] if w >= 1.0 else slerp(IDENTITY, local[r], w)
                if w >= 1.0:
                    self._held[r] = (q, t)
            else:
                base = IDENTITY
                if held is not None:
                    age = t - held[1]
                    ease = np.clip((age - self.hold_seconds) / max(self.hold_seconds, 1e-6), 0.0, 1.0)
                    base = slerp(held[0], IDENTITY, float(ease))
                q = slerp(base, local[r], w) if (local is not None and w > 0) else base
            prev = self._prev.get(r)
            if prev is not None and float(np.dot(prev, q)) < 0:
                q = -q
            self._prev[r] = q
            out[r] = q
        return out

    def solve_sequence(
        self, world_landmarks: np.ndarray, visibility: np.ndarray | None, fps: float
    ) -> tuple[tuple[str, ...], np.ndarray]:
        """(T, 33, 3) world landmarks (NaN rows: nobody seen) at fps -> (roles, (T, R, 4) local quaternions)."""
        world = np.asarray(world_landmarks, dtype=np.float64)
        if world.ndim != 3 or world.shape[1:] != (33, 3):
            raise FacsimileError(f"world landmarks must be (frames, 33, 3), got shape {world.shape}")
        if not (fps > 0 and math.isfinite(fps)):
            raise FacsimileError(f"fps must be a positive number, got {fps!r}")
        vis = None if visibility is None else np.asarray(visibility, dtype=np.float64).reshape(len(world), 33)
        self.reset()
        out = np.empty((len(world), len(self.roles), 4))
        for i, frame in enumerate(world):
            seen = np.isfinite(frame).all()
            q = self.step(frame if seen else None, None if vis is None else vis[i], i / fps)
            out[i] = [q[r] for r in self.roles]
        return self.roles, out


def posed_rotations(rest: RestSkeleton, local: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Forward kinematics: armature-space rotation change G per role from local quaternions (roles in ROLES order)."""
    g: dict[str, np.ndarray] = {}
    for r in (r for r in ROLES if r in rest.roles):
        p = rest.parent_role[rest.index(r)]
        gp = g[p] if p is not None else np.eye(3)
        rb = rest.rest_rotation(r)
        g[r] = gp @ rb @ matrix_from_quat(local.get(r, IDENTITY)) @ rb.T
    return g


def posed_directions(rest: RestSkeleton, local: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each role's bone direction (head -> tail, unit, armature space) after the local rotations."""
    g = posed_rotations(rest, local)
    return {r: g[r] @ rest.direction(r) for r in g}
