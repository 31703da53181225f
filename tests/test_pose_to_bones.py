"""World landmarks -> per-role local rotations (core/body/pose_to_bones.py), on a synthetic humanoid with known poses.

The truth: random local rotations on a T-posed rig (Z up, facing -Y, bones with arbitrary rolls), posed by forward
kinematics; MediaPipe-style world landmarks are read off the posed joints; the solve must give the bones back.
"""

from __future__ import annotations

import numpy as np
import pytest

from blender_addon.core.body import pose_to_bones as pb
from blender_addon.core.errors import FacsimileError

JOINTS = {  # role: (head, tail) in metres, Blender armature space (Z up, the character facing -Y)
    "hips": ((0, 0, 1.0), (0, 0, 1.1)),
    "spine": ((0, 0, 1.1), (0, 0, 1.25)),
    "chest": ((0, 0, 1.25), (0, 0, 1.4)),
    "upperChest": ((0, 0, 1.4), (0, 0, 1.5)),
    "neck": ((0, 0, 1.5), (0, 0, 1.6)),
    "head": ((0, 0, 1.6), (0, 0, 1.8)),
    "leftShoulder": ((0.02, 0, 1.45), (0.18, 0, 1.45)),
    "leftUpperArm": ((0.18, 0, 1.45), (0.45, 0, 1.45)),
    "leftLowerArm": ((0.45, 0, 1.45), (0.7, 0, 1.45)),
    "leftHand": ((0.7, 0, 1.45), (0.8, 0, 1.45)),
    "leftUpperLeg": ((0.1, 0, 1.0), (0.1, 0, 0.55)),
    "leftLowerLeg": ((0.1, 0, 0.55), (0.1, 0, 0.1)),
    "leftFoot": ((0.1, 0, 0.1), (0.1, -0.15, 0.02)),
    "leftToes": ((0.1, -0.15, 0.02), (0.1, -0.22, 0.02)),
}
for _r, (_h, _t) in list(JOINTS.items()):
    if _r.startswith("left"):
        JOINTS["right" + _r[4:]] = ((-_h[0], *_h[1:]), (-_t[0], *_t[1:]))
ROLES = tuple(r for r in pb.ROLES if r in JOINTS)
LIMBS = ("leftUpperArm", "leftLowerArm", "rightUpperArm", "rightLowerArm")
LIMBS += ("leftUpperLeg", "leftLowerLeg", "rightUpperLeg", "rightLowerLeg")


def _solve_pose(world, rest, visibility=None, options=None):
    """One frame through the solver the capture use case builds once per rig."""
    return pb.BodyPoseSolver(rest, options=options).solve(world, visibility)


def _matrix(head, tail, roll: float) -> np.ndarray:
    y = pb._unit(np.subtract(tail, head).astype(float))
    ref = np.array([0.0, 0.0, 1.0]) if abs(y[2]) < 0.9 else np.array([0.0, -1.0, 0.0])
    z = pb._unit(ref - np.dot(ref, y) * y)
    z = pb.matrix_from_quat([np.cos(roll / 2), *(np.sin(roll / 2) * y)]) @ z
    m = np.eye(4)
    m[:3, :3] = np.stack([np.cross(y, z), y, z], axis=1)
    m[:3, 3] = head
    return m


def rig(seed: int = 0) -> pb.RestSkeleton:
    rng = np.random.default_rng(seed)
    mats = np.stack([_matrix(*JOINTS[r], rng.uniform(-np.pi, np.pi)) for r in ROLES])
    return pb.RestSkeleton.from_frames(
        {
            "roles": ROLES,
            "matrix_local": mats,
            "head": [JOINTS[r][0] for r in ROLES],
            "tail": [JOINTS[r][1] for r in ROLES],
        }
    )


def landmarks(rest: pb.RestSkeleton, local: dict) -> np.ndarray:
    """MediaPipe-order world landmarks (x right, y down, z away; origin between the hips) of the posed rig."""
    g = pb.posed_rotations(rest, local)
    pos: dict[str, np.ndarray] = {}
    for r in rest.roles:
        p = rest.parent_role[rest.index(r)]
        h = rest.head[rest.index(r)]
        pos[r] = h if p is None else pos[p] + g[p] @ (h - rest.head[rest.index(p)])

    def at(role: str, offset) -> np.ndarray:  # a point fixed to the bone, rest offset from its head
        return pos[role] + g[role] @ np.asarray(offset, float)

    pts = {}
    for s, sign in (("left", 1), ("right", -1)):
        pts[f"{s}_shoulder"] = pos[f"{s}UpperArm"]
        pts[f"{s}_elbow"] = pos[f"{s}LowerArm"]
        pts[f"{s}_wrist"] = pos[f"{s}Hand"]
        pts[f"{s}_index"] = at(f"{s}Hand", (sign * 0.12, -0.03, 0))
        pts[f"{s}_pinky"] = at(f"{s}Hand", (sign * 0.11, 0.03, 0))
        pts[f"{s}_thumb"] = at(f"{s}Hand", (sign * 0.05, -0.05, 0))
        pts[f"{s}_hip"] = pos[f"{s}UpperLeg"]
        pts[f"{s}_knee"] = pos[f"{s}LowerLeg"]
        pts[f"{s}_ankle"] = pos[f"{s}Foot"]
        pts[f"{s}_heel"] = at(f"{s}Foot", (0, 0.05, -0.08))
        pts[f"{s}_foot_index"] = at(f"{s}Foot", (0, -0.2, -0.08))
        pts[f"{s}_ear"] = at("head", (sign * 0.08, 0, 0.1))
        pts[f"{s}_eye"] = at("head", (sign * 0.03, -0.09, 0.12))
        pts[f"{s}_eye_inner"] = at("head", (sign * 0.015, -0.09, 0.12))
        pts[f"{s}_eye_outer"] = at("head", (sign * 0.045, -0.085, 0.12))
    pts["mouth_left"] = at("head", (0.025, -0.09, 0.04))
    pts["mouth_right"] = at("head", (-0.025, -0.09, 0.04))
    pts["nose"] = at("head", (0, -0.11, 0.08))
    arr = np.array([pts[n] for n in pb.L])
    arr -= (pts["left_hip"] + pts["right_hip"]) / 2
    # Blender (x = actor's left seen from the front = image right, z up, -y towards the camera) -> MediaPipe
    return np.stack([arr[:, 0], -arr[:, 2], arr[:, 1]], axis=1)


def _angle(a, b) -> float:
    return float(np.degrees(np.arccos(np.clip(np.dot(pb._unit(a), pb._unit(b)), -1, 1))))


def random_pose(rng, scale: float = 0.6) -> dict:
    out = {}
    for r in pb.SOLVED_ROLES:
        axis = pb._unit(rng.normal(size=3))
        a = rng.uniform(0, scale)
        out[r] = np.array([np.cos(a / 2), *(np.sin(a / 2) * axis)])
    return out


def test_rest_landmarks_give_rest_rotations():
    rest = rig(1)
    q = _solve_pose(landmarks(rest, {}), rest)
    for r, v in q.items():
        assert abs(abs(v[0]) - 1) < 1e-6, (r, v)


@pytest.mark.parametrize("seed", range(5))
def test_limb_directions_follow_the_landmarks(seed):
    rng = np.random.default_rng(seed)
    rest = rig(seed)
    truth = random_pose(rng)
    got = _solve_pose(landmarks(rest, truth), rest)
    want_dirs = pb.posed_directions(rest, truth)
    got_dirs = pb.posed_directions(rest, got)
    errs = {r: _angle(want_dirs[r], got_dirs[r]) for r in LIMBS + ("leftHand", "rightHand", "leftFoot", "rightFoot")}
    assert max(errs.values()) < 1e-3, errs
    # the whole rotation (twist included) of the trunk, the head and the bent limbs comes back
    g_true, g_got = pb.posed_rotations(rest, truth), pb.posed_rotations(rest, got)
    for r in ("hips", "upperChest", "head"):
        assert _angle(g_true[r] @ [1, 0, 0], g_got[r] @ [1, 0, 0]) < 1.0, r


def test_twist_from_the_bend_plane():
    """A bent elbow and knee fix the upper limb's twist: the full rotation matches, not only the direction."""
    rest = rig(3)
    rng = np.random.default_rng(3)
    truth = random_pose(rng, scale=0.3)
    bend = np.radians(70)
    # elbows fold the forearm forward (about the up axis), knees fold the shin backward (about the left axis)
    folds = {
        "leftLowerArm": (0, 0, -1),
        "rightLowerArm": (0, 0, 1),
        "leftLowerLeg": (1, 0, 0),
        "rightLowerLeg": (1, 0, 0),
    }
    for r, fold in folds.items():
        axis = rest.rest_rotation(r).T @ np.array(fold, dtype=float)
        truth[r] = np.array([np.cos(bend / 2), *(np.sin(bend / 2) * axis)])
    got = _solve_pose(landmarks(rest, truth), rest)
    g_true, g_got = pb.posed_rotations(rest, truth), pb.posed_rotations(rest, got)
    for r in ("leftUpperArm", "rightUpperArm", "leftUpperLeg", "rightUpperLeg"):
        e = pb.quat_from_matrix(g_true[r] @ g_got[r].T)
        assert np.degrees(2 * np.arccos(min(1.0, abs(e[0])))) < 2.0, r


def test_occluded_limb_blends_to_rest_and_holds_in_a_sequence():
    rest = rig(0)
    rng = np.random.default_rng(0)
    truth = random_pose(rng)
    world = landmarks(rest, truth)
    vis = np.ones(33)
    vis[pb.L["left_wrist"]] = 0.1
    q = _solve_pose(world, rest, vis)
    for r in ("leftLowerArm", "leftHand"):
        assert np.allclose(q[r], pb.IDENTITY), r
    assert not np.allclose(q["rightLowerArm"], pb.IDENTITY)
    # in a sequence the last well-seen rotation is held, then eases to rest; signs stay continuous
    solver = pb.BodyPoseSolver(rest, hold_seconds=0.5)
    seen = solver.step(world, np.ones(33), 0.0)
    held = solver.step(world, vis, 0.2)
    assert np.allclose(held["leftLowerArm"], seen["leftLowerArm"])
    gone = solver.step(None, None, 2.0)
    assert np.allclose(np.abs(gone["leftLowerArm"]), pb.IDENTITY, atol=1e-9)
    roles, seq = pb.BodyPoseSolver(rest).solve_sequence(np.stack([world, world * 1.01, world]), None, fps=30)
    assert seq.shape == (3, len(roles), 4)
    assert (np.einsum("trk,trk->tr", seq[1:], seq[:-1]) > 0).all()


def test_head_off_leaves_neck_and_head_to_the_face():
    rest = rig(0)
    truth = random_pose(np.random.default_rng(4))
    q = _solve_pose(landmarks(rest, truth), rest, options=pb.SolveOptions(head=False))
    assert np.allclose(q["head"], pb.IDENTITY) and np.allclose(q["neck"], pb.IDENTITY)


def test_bad_input_is_one_clear_error():
    rest = rig(0)
    with pytest.raises(FacsimileError, match=r"\(33, 3\)"):
        _solve_pose(np.zeros((17, 3)), rest)
    bad = landmarks(rest, {})
    bad[3, 1] = np.nan
    with pytest.raises(FacsimileError, match="NaN"):
        _solve_pose(bad, rest)
    with pytest.raises(FacsimileError, match="leftUpperLeg"):
        pb.RestSkeleton.from_frames(
            {"roles": ("hips", "spine"), "matrix_local": np.tile(np.eye(4), (2, 1, 1)), "head": np.zeros((2, 3)),
             "tail": np.ones((2, 3))}
        )  # fmt: skip
    with pytest.raises(FacsimileError, match="times must increase"):
        s = pb.BodyPoseSolver(rest)
        s.step(None, None, 1.0)
        s.step(None, None, 1.0)
