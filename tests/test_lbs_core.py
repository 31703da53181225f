"""LBS core without Blender: block kernel vs a plain reference, ONNX graph, dual quaternions, PC2, joint maps."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pc2_samples import write_pc2

from blender_addon.core.body import bvh_retarget as br
from blender_addon.core.body import lbs
from blender_addon.core.errors import FacsimileError
from blender_addon.core.formats import pc2
from blender_addon.core.models.specs import LBS


def _random_rig(seed: int = 0, v: int = 900, b: int = 12, kmax: int = 5):
    rng = np.random.default_rng(seed)
    rest = rng.normal(size=(v, 3)).astype(np.float32)
    counts = rng.integers(0, kmax + 1, size=v)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    bones = rng.integers(0, b, size=offsets[-1])
    weights = rng.uniform(0.0, 1.0, size=offsets[-1]).astype(np.float32)
    weights[rng.random(offsets[-1]) < 0.1] = 0.0  # explicit zero weights are skipped
    weights[offsets[5] : offsets[6]] = 1e-5  # below Blender's contrib threshold: stays at rest
    return rest, offsets, bones, weights, b


def _random_mats(rng, p: int, b: int, scale: bool = True) -> np.ndarray:
    from numpy.linalg import qr

    q, _ = qr(rng.normal(size=(p * b, 3, 3)))
    q *= np.sign(np.linalg.det(q))[:, None, None]
    m = np.tile(np.eye(4), (p * b, 1, 1))
    m[:, :3, :3] = q * (rng.uniform(0.7, 1.3, size=(p * b, 1, 3)) if scale else 1.0)
    m[:, :3, 3] = rng.normal(size=(p * b, 3))
    return m.reshape(p, b, 4, 4)


def test_block_lbs_matches_reference():
    rest, offsets, bones, weights, b = _random_rig()
    aw = np.random.default_rng(1).uniform(0, 1, size=rest.shape[0]).astype(np.float32)
    binding = lbs.bind(rest, offsets, bones, weights, b, armature_weight=aw, chunk=64)
    mats = _random_mats(np.random.default_rng(2), 7, b)
    ref = lbs.skin_lbs_reference(binding, mats)
    out = lbs.skin_lbs(binding, mats, pose_batch=3)
    assert out.shape == (7, rest.shape[0], 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, ref, atol=2e-5)
    static = ~binding.deforming
    assert static.any()
    np.testing.assert_array_equal(out[:, static], np.broadcast_to(rest[static], out[:, static].shape))


def test_threaded_batches_match_and_report_progress():
    rest, offsets, bones, weights, b = _random_rig(13, v=400)
    binding = lbs.bind(rest, offsets, bones, weights, b, chunk=32)
    mats = _random_mats(np.random.default_rng(14), 37, b)
    seen: list[tuple[int, int]] = []
    one = lbs.skin_lbs(binding, mats, pose_batch=4, threads=1)
    two = lbs.skin_lbs(binding, mats, pose_batch=4, threads=2, progress=lambda d, t: seen.append((d, t)))
    np.testing.assert_array_equal(one, two)
    assert seen[-1] == (37, 37) and all(a[0] <= c[0] for a, c in zip(seen, seen[1:]))


def test_weights_are_normalised_by_their_sum():
    rest = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]], dtype=np.float32)
    offsets = np.array([0, 2, 3])
    bones = np.array([0, 1, 1])
    weights = np.array([0.2, 0.2, 0.3], dtype=np.float32)  # sums 0.4 and 0.3: both behave as if they summed to 1
    binding = lbs.bind(rest, offsets, bones, weights, 2)
    mats = np.tile(np.eye(4), (1, 2, 1, 1))
    mats[0, 0, :3, 3] = [0.0, 0.0, 2.0]
    mats[0, 1, :3, 3] = [0.0, 0.0, 4.0]
    out = lbs.skin_lbs(binding, mats)
    np.testing.assert_allclose(out[0], [[0, 0, 3], [1, 0, 4]], atol=1e-6)


def test_onnx_graph_matches_numpy():
    rest, offsets, bones, weights, b = _random_rig(3, v=700)
    aw = np.random.default_rng(5).uniform(0, 1, size=rest.shape[0]).astype(np.float32)
    binding = lbs.bind(rest, offsets, bones, weights, b, armature_weight=aw, chunk=32)
    mats = _random_mats(np.random.default_rng(4), 5, b)
    runner = lbs.OnnxLBS(binding, device="cpu")
    assert runner.info.device == "cpu"
    ref = lbs.skin_lbs_reference(binding, mats)
    np.testing.assert_allclose(runner(mats, pose_batch=2), ref, atol=2e-5)
    out = np.full((5, rest.shape[0], 3), np.nan, dtype=np.float32)  # every element must be written
    runner(mats, out=out)
    np.testing.assert_allclose(out, ref, atol=2e-5)
    static = ~binding.deforming
    np.testing.assert_array_equal(out[:, static], np.broadcast_to(rest[static], out[:, static].shape))


def test_weighted_rest_is_the_dense_form_of_the_weights():
    """weighted_rest @ stacked bone matrices is LBS: the dense graph's maths, checked in float64 without onnxruntime."""
    rest, offsets, bones, weights, b = _random_rig(11, v=500, b=40, kmax=20)
    aw = np.random.default_rng(12).uniform(0, 1, size=rest.shape[0]).astype(np.float32)
    binding = lbs.bind(rest, offsets, bones, weights, b, armature_weight=aw)
    dense = lbs.weighted_rest(binding)
    assert dense.shape == (rest.shape[0], 4 * (b + 1)) and dense.dtype == np.float32
    mats = _random_mats(np.random.default_rng(13), 3, b)
    table = lbs.bone_table(mats, b).astype(np.float64)  # (P, B+1, 3, 4)
    t = table.transpose(1, 3, 0, 2).reshape(4 * (b + 1), -1)
    out = (dense.astype(np.float64) @ t).reshape(rest.shape[0], 3, 3).transpose(1, 0, 2)
    np.testing.assert_allclose(out, lbs.skin_lbs_reference(binding, mats), atol=2e-5)


def test_auto_runner_keeps_small_work_on_the_numpy_kernel():
    from blender_addon.core.models.onnx_session import AUTO_CUDA_MIN_BATCH

    rest, offsets, bones, weights, b = _random_rig(3, v=200)
    binding = lbs.bind(rest, offsets, bones, weights, b)
    assert lbs.auto_runner(binding, num_poses=AUTO_CUDA_MIN_BATCH[LBS.file_name] - 1) is None
    runner = lbs.auto_runner(binding, num_poses=AUTO_CUDA_MIN_BATCH[LBS.file_name])
    assert runner is None or runner.info.device == "cuda"  # CUDA where it works, else the numpy kernel
    with pytest.raises(ValueError, match="auto_runner"):
        lbs.OnnxLBS(binding, device="auto")


def test_shipped_lbs_graph_is_current():
    """exported_models/lbs.onnx is what build_lbs_onnx makes now (else: python -m model_training.convert.lbs_onnx)."""
    pytest.importorskip("onnx")
    from blender_addon.core.models.store import verified_model_path
    from model_training.convert.lbs_onnx import build_lbs_onnx

    shipped = verified_model_path(LBS.file_name).read_bytes()
    assert shipped == build_lbs_onnx(metadata=LBS.metadata())


def test_dqs_rigid_and_identity():
    rest, offsets, bones, weights, b = _random_rig(5, v=300)
    binding = lbs.bind(rest, offsets, bones, weights, b)
    rest_mats = _random_mats(np.random.default_rng(6), 1, b, scale=False)[0]
    eye = np.eye(4)
    ident = np.tile(np.eye(4), (1, b, 1, 1))
    np.testing.assert_allclose(lbs.skin_dqs(binding, ident, rest_mats, eye, eye)[0], rest, atol=1e-5)
    # every bone moved by the same rigid transform: DQS is that transform exactly
    rigid = _random_mats(np.random.default_rng(7), 1, 1, scale=False)[0, 0]
    chan = np.tile(rigid, (2, b, 1, 1))
    out = lbs.skin_dqs(binding, chan, rest_mats, eye, eye)
    moved = rest @ rigid[:3, :3].T + rigid[:3, 3]
    dec = binding.deforming
    np.testing.assert_allclose(out[0, dec], moved[dec], atol=1e-4)
    np.testing.assert_allclose(out[1, ~dec], rest[~dec], atol=1e-6)


def test_matrix_to_quat_round_trip():
    rng = np.random.default_rng(8)
    m = _random_mats(rng, 50, 1, scale=False)[:, 0, :3, :3]
    q = lbs.matrix_to_quat(m)
    assert np.all(q[:, 0] >= 0)
    np.testing.assert_allclose(lbs.quat_to_matrix(q), m, atol=1e-9)


@pytest.mark.parametrize(
    "case, message",
    [
        ("nan_weight", "NaN"),
        ("negative", "negative"),
        ("all_zero", "zero total weight"),
        ("no_bones", "no deform bone"),
        ("bad_offsets", "offsets"),
    ],
)
def test_bind_rejects_bad_weights(case, message):
    rest, offsets, bones, weights, b = _random_rig(9, v=50)
    if case == "nan_weight":
        weights[3] = np.nan
    elif case == "negative":
        weights[3] = -0.5
    elif case == "all_zero":
        weights[:] = 0.0
    elif case == "no_bones":
        b = 0
    elif case == "bad_offsets":
        offsets = offsets[:-1]
    with pytest.raises(FacsimileError, match=message):
        lbs.bind(rest, offsets, bones, weights, b)


def test_nan_and_singular_pose_matrices_are_rejected():
    rest_mats = np.tile(np.eye(4), (3, 1, 1))
    pose = np.tile(np.eye(4), (2, 3, 1, 1))
    bad = pose.copy()
    bad[1, 2, 0, 0] = np.nan
    with pytest.raises(FacsimileError, match="NaN"):
        lbs.channel_matrices(bad, rest_mats)
    singular = pose.copy()
    singular[1, 1, :3, :3] = 0.0
    with pytest.raises(FacsimileError, match="pose 1 has a singular matrix for bone 1"):
        lbs.channel_matrices(singular, rest_mats)
    flat = rest_mats.copy()
    flat[0, 2, 2] = 0.0
    with pytest.raises(FacsimileError, match="singular"):
        lbs.channel_matrices(pose, flat)
    with pytest.raises(FacsimileError, match="singular"):
        lbs.object_space_matrices(np.eye(4), np.diag([1.0, 0.0, 1.0, 1.0]))


def test_pc2_round_trip_and_header(tmp_path):
    data = np.random.default_rng(10).normal(size=(4, 11, 3)).astype(np.float32)
    path = write_pc2(tmp_path / "a.pc2", data, start_frame=5.0)
    raw = path.read_bytes()
    assert raw[:12] == b"POINTCACHE2\0"
    assert np.frombuffer(raw[12:20], "<i4").tolist() == [1, 11]
    assert np.frombuffer(raw[20:28], "<f4").tolist() == [5.0, 1.0]
    assert np.frombuffer(raw[28:32], "<i4").tolist() == [4]
    assert len(raw) == 32 + data.nbytes
    header, back = pc2.read_pc2(path)
    assert (header.num_points, header.num_samples, header.start_frame) == (11, 4, 5.0)
    np.testing.assert_array_equal(back, data)


def test_pc2_rejects_broken_files_and_keeps_old_output(tmp_path):
    good = write_pc2(tmp_path / "keep.pc2", np.zeros((2, 3, 3), np.float32))
    before = good.read_bytes()
    with pytest.raises(FacsimileError, match="NaN"):
        write_pc2(good, np.full((2, 3, 3), np.nan, np.float32))
    assert good.read_bytes() == before  # the failed write left the old file alone
    assert [p.name for p in tmp_path.iterdir()] == ["keep.pc2"]  # and no temporary file behind
    (tmp_path / "short.pc2").write_bytes(before[:-4])
    with pytest.raises(FacsimileError, match="truncated"):
        pc2.read_pc2(tmp_path / "short.pc2")
    (tmp_path / "bad.pc2").write_bytes(b"NOTACACHE..." + before[12:])
    with pytest.raises(FacsimileError, match="signature"):
        pc2.read_pc2(tmp_path / "bad.pc2")


CMU = ["Hips", "LHipJoint", "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase", "RightUpLeg", "RightLeg", "RightFoot",
       "LowerBack", "Spine", "Spine1", "Neck", "Head", "LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand"]  # fmt: skip
MAX = ["Hips", "LeftHip", "LeftKnee", "LeftAnkle", "LeftToe", "RightHip", "RightKnee", "lowerback", "Chest", "Head"]
DAZ = ["hip", "abdomen", "chest", "neck", "head", "lThigh", "lShin", "lFoot", "rThigh", "rShin", "lShldr"]
UE = ["root", "pelvis", "spine_01", "spine_02", "spine_03", "neck_01", "head", "thigh_l", "calf_l", "foot_l", "ball_l",
      "thigh_r", "calf_r", "foot_r", "upperarm_l", "lowerarm_l", "hand_l", "clavicle_l"]  # fmt: skip
RIGIFY = ["DEF-spine", "DEF-spine.001", "DEF-thigh.L", "DEF-shin.L", "DEF-foot.L", "DEF-thigh.R", "DEF-upper_arm.L"]
METARIG = ["spine", "spine.001", "spine.003", "thigh.L", "shin.L", "foot.L", "thigh.R", "upper_arm.L", "forearm.L"]


@pytest.mark.parametrize(
    "source, target, expect",
    [
        (CMU, UE, {"Hips": "pelvis", "LeftUpLeg": "thigh_l", "LeftToeBase": "ball_l", "LeftForeArm": "lowerarm_l"}),
        (MAX, UE, {"LeftHip": "thigh_l", "LeftKnee": "calf_l", "Chest": "spine_02"}),
        (DAZ, UE, {"hip": "pelvis", "lThigh": "thigh_l", "lShldr": "upperarm_l"}),
        (CMU, RIGIFY, {"Hips": "DEF-spine", "LeftLeg": "DEF-shin.L", "LeftArm": "DEF-upper_arm.L"}),
        (MAX, METARIG, {"Hips": "spine", "LeftKnee": "shin.L"}),
    ],
)
def test_joint_map_presets(source, target, expect):
    found = br.build_joint_map(source, target)
    for s, t in expect.items():
        assert found[s] == t


def test_joint_map_user_json_and_errors(tmp_path):
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"Hips": "pelvis", "LeftUpLeg": "thigh_l", "LeftLeg": "calf_l", "Head": "head"}))
    assert br.build_joint_map(CMU, UE, str(path))["LeftLeg"] == "calf_l"
    with pytest.raises(FacsimileError, match="do not match the rig"):
        br.build_joint_map(["Bip01", "Bip01_Pelvis", "Bip01_L_Thigh"], UE, "cmu")
    with pytest.raises(FacsimileError, match="cannot tell the naming"):
        br.build_joint_map(["joint1", "joint2", "joint3", "joint4"], UE)
    with pytest.raises(FacsimileError, match="unknown joint map preset"):
        br.build_joint_map(CMU, UE, "nonsense")
    # presets are rig conventions (core/rig/conventions): a convention name works as a preset too
    assert br.build_joint_map(CMU, UE, "cmu_bvh:unreal_mannequin")["LeftUpLeg"] == "thigh_l"
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(FacsimileError, match="JSON object"):
        br.build_joint_map(CMU, UE, str(tmp_path / "bad.json"))
