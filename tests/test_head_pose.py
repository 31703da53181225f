"""Head pose fit (core/face/head_pose.py) and the head/eye rig arithmetic (core/rig/head_rig.py), without Blender."""

from __future__ import annotations

import math

import numpy as np
import pytest

from blender_addon.core.arkit import INDEX
from blender_addon.core.errors import FacsimileError
from blender_addon.core.face.head_pose import (
    FOV_Y_DEG,
    HeadPoseEstimator,
    HeadTrack,
    gaze_from_weights,
    load_head_model,
)
from blender_addon.core.rig.head_rig import (
    HeadRigOptions,
    angles_from_livelink,
    eye_rotations,
    head_rotations,
    livelink_from_angles,
    neutral_from_track,
)
from blender_addon.core.rig.rotations import matrices_from_quats, ypr_from_matrices, ypr_matrices

W, H = 640, 480


def _landmarks(ypr, shift=(0.0, 0.0), distance=60.0):
    """The canonical face turned by ypr and projected as MediaPipe reports landmarks (pixels, z in x-pixel scale)."""
    pts = load_head_model().points
    f = 0.5 * H / math.tan(math.radians(FOV_Y_DEG) / 2)
    cam = pts @ ypr_matrices(np.array([ypr]))[0].T + np.array([shift[0], shift[1], -distance])
    depth = -cam[:, 2]
    centre = depth.mean()
    return np.stack([f * cam[:, 0] / depth + W / 2, -f * cam[:, 1] / depth + H / 2, (depth - centre) * f / centre], 1)


@pytest.mark.parametrize("ypr", [(0, 0, 0), (20, -10, 5), (-25, 15, -12), (10, 20, 25)])
def test_fit_recovers_a_known_pose(ypr):
    est = HeadPoseEstimator()
    pose = est.estimate(_landmarks(ypr, shift=(4.0, -3.0)), W, H)
    assert np.abs(pose.ypr_deg - np.array(ypr)).max() < 0.5, pose.ypr_deg
    assert pose.reprojection_px < 0.5
    again = est.estimate(_landmarks(ypr), W, H, previous=pose)  # video: refined from the last frame
    assert np.abs(again.ypr_deg - np.array(ypr)).max() < 0.5


def test_convention_signs():
    """yaw > 0: the face turns to the image's right; pitch > 0: up; roll > 0: counter-clockwise on screen."""
    est = HeadPoseEstimator()
    nose = 4
    lm0 = _landmarks((0, 0, 0))
    assert _landmarks((15, 0, 0))[nose, 0] > lm0[nose, 0]
    assert _landmarks((0, 15, 0))[nose, 1] < lm0[nose, 1]
    right_eye, left_eye = _landmarks((0, 0, 15))[[33, 263]]
    assert left_eye[1] < right_eye[1]  # the subject's left eye (image right) rises: counter-clockwise
    assert est.estimate(_landmarks((0, 0, 15)), W, H).ypr_deg[2] > 14


@pytest.mark.parametrize(
    "landmarks, w, h, needle",
    [
        (np.full((478, 3), np.nan), W, H, "NaN"),
        (np.zeros((10, 3)), W, H, "shape"),
        (np.zeros((2, 478, 3)), W, H, "one face"),
        ("garbage", W, H, "shape"),
        (None, W, H, "shape"),
    ],
)
def test_broken_landmarks_are_one_line(landmarks, w, h, needle):
    with pytest.raises(FacsimileError) as e:
        HeadPoseEstimator().estimate(landmarks, w, h)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_bad_image_size():
    with pytest.raises(FacsimileError, match="image size must be positive"):
        HeadPoseEstimator().estimate(_landmarks((0, 0, 0)), 0, H)


def test_gaze_from_weights_signs_and_live_link_round_trip():
    w = np.zeros(52)
    w[INDEX["eyeLookOutLeft"]] = 1.0  # the left eye looks to the subject's left
    w[INDEX["eyeLookInRight"]] = 1.0  # and so does the right eye
    w[INDEX["eyeLookUpLeft"]] = 0.5
    g = gaze_from_weights(w)
    assert g[0, 0] == pytest.approx(40.1) and g[1, 0] == pytest.approx(40.1) and g[1, 1] == pytest.approx(15.0)
    head, eyes = livelink_from_angles(np.array([[10.0, -5.0, 3.0]]), g[None])
    # Live Link: LeftEyeYaw = -0.70 x (eyeLookOutLeft - eyeLookInLeft), as measured on the real iPhone take
    assert eyes[0, 0] == pytest.approx(-0.70, abs=0.01) and eyes[0, 1] < 0
    ypr, gaze = angles_from_livelink(head, eyes)
    np.testing.assert_allclose(ypr[0], [10.0, -5.0, 3.0])
    np.testing.assert_allclose(gaze[0], g)


def _forward_after(quat, rest=None):
    """Where a bone with rest frame `rest` sends the character's forward (-Y) after the pose quaternion."""
    rest = np.eye(3) if rest is None else rest
    r = rest @ matrices_from_quats(quat)[0] @ rest.T
    return r @ np.array([0.0, -1.0, 0.0])


def test_head_turns_the_character_the_actors_way():
    """Actor turns to their left (yaw > 0): a character facing -Y turns its face towards +X (its own left)."""
    rest = {"head": np.eye(4)}
    q = head_rotations(np.array([[30.0, 0, 0]]), rest, HeadRigOptions())["head"]
    fwd = _forward_after(q)
    assert fwd[0] > 0.49 and fwd[2] == pytest.approx(0, abs=1e-9)
    q = head_rotations(np.array([[0, 20.0, 0]]), rest, HeadRigOptions())["head"]
    assert _forward_after(q)[2] > 0.3  # chin up: the face looks up (+Z)


def test_rest_frames_are_respected():
    """A bone whose rest frame is rolled gets a local rotation that still turns the face the same way."""
    roll = ypr_matrices(np.array([[0.0, 90.0, 37.0]]))[0]  # Y along +Z-ish, rolled
    rest = np.eye(4)
    rest[:3, :3] = roll
    q = head_rotations(np.array([[30.0, 0, 0]]), {"head": rest}, HeadRigOptions())["head"]
    fwd = _forward_after(q, roll)
    assert fwd[0] == pytest.approx(0.5, abs=1e-6)


def test_neck_split_composes_to_the_whole_turn():
    opts = HeadRigOptions(neck_ratio=0.4)
    ypr = np.array([[30.0, -10.0, 8.0]])
    rots = head_rotations(ypr, {"neck": np.eye(4), "head": np.eye(4)}, opts)
    total = matrices_from_quats(rots["neck"]) @ matrices_from_quats(rots["head"])
    whole = matrices_from_quats(head_rotations(ypr, {"head": np.eye(4)}, HeadRigOptions())["head"])
    np.testing.assert_allclose(total, whole, atol=1e-9)
    neck_angle = 2 * math.degrees(math.acos(min(1.0, abs(rots["neck"][0, 0]))))
    whole_angle = 2 * math.degrees(math.acos(min(1.0, abs(quats_w(whole)))))
    assert neck_angle == pytest.approx(0.4 * whole_angle, rel=1e-6)


def quats_w(m):
    from blender_addon.core.rig.rotations import quats_from_matrices

    return quats_from_matrices(m)[0, 0]


def test_parent_delta_keeps_one_owner():
    """When the body already turned the chest by the same yaw, the head adds nothing (no double turn)."""
    ypr = np.array([[40.0, 0, 0]])
    chest = ypr_matrices(np.array([[0.0, 0.0, 40.0]]))  # +40 about Z in armature axes = the same turn
    q = head_rotations(ypr, {"head": np.eye(4)}, HeadRigOptions(), parent_delta=chest)["head"]
    np.testing.assert_allclose(q[0], [1, 0, 0, 0], atol=1e-6)


def test_gain_limits_neutral_and_mirror():
    rest = {"head": np.eye(4)}
    opts = HeadRigOptions(neutral_deg=(5.0, 0.0, 0.0), gain=(2.0, 1.0, 1.0), limits_deg=(30.0, 60.0, 50.0))
    q = head_rotations(np.array([[25.0, 0, 0]]), rest, opts)["head"]
    m = matrices_from_quats(q)[0]
    # armature Z-rotation by 30 (40 clamped to the 30 limit)
    assert math.degrees(math.atan2(m[1, 0], m[0, 0])) == pytest.approx(30.0)
    q = head_rotations(np.array([[20.0, 0, 0]]), rest, HeadRigOptions(mirror=True))["head"]
    assert _forward_after(q)[0] < -0.3
    for bad in (
        HeadRigOptions(neck_ratio=1.5),
        HeadRigOptions(gain=(1.0, float("nan"), 1.0)),
        HeadRigOptions(limits_deg=(-1.0, 10.0, 10.0)),
    ):
        with pytest.raises(FacsimileError):
            bad.check()


def test_eye_rotations_follow_gaze():
    rest = {"leftEye": np.eye(4), "rightEye": np.eye(4)}
    gaze = np.array([[[10.0, 0.0], [10.0, 5.0]]])
    rots = eye_rotations(gaze, rest, HeadRigOptions())
    assert set(rots) == {"leftEye", "rightEye"}
    assert _forward_after(rots["leftEye"])[0] > 0.15 and _forward_after(rots["leftEye"])[2] > 0.05
    clamp = eye_rotations(np.array([[[80.0, 0.0], [80.0, 0.0]]]), rest, HeadRigOptions())
    assert _forward_after(clamp["leftEye"])[0] == pytest.approx(math.sin(math.radians(35.0)))


def test_head_track_smooths_holds_and_restarts():
    track = HeadTrack(smoothing=1.0)
    for i in range(10):
        track.update(_landmarks((10.0 + (i % 2), 0, 0)), i / 30, W, H)
    assert np.abs(np.diff(np.array(track.ypr)[5:, 0])).max() < 0.6  # +-0.5 deg jitter is damped
    track.update(None, 10 / 30, W, H)  # the face is lost: the last pose holds
    ypr, gaze, found = track.arrays()
    assert not found[-1] and ypr[-1][0] == ypr[-2][0]
    assert neutral_from_track(ypr, "first", found)[0] == pytest.approx(ypr[0, 0])
    with pytest.raises(FacsimileError, match="no frame with a face"):
        neutral_from_track(ypr, "median", np.zeros(len(ypr), bool))


def test_ypr_round_trip():
    a = np.array([[12.0, -7.0, 3.0], [-30.0, 20.0, -15.0]])
    np.testing.assert_allclose(ypr_from_matrices(ypr_matrices(a)), a, atol=1e-9)
