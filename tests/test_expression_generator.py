"""Expression generator: ICT loader, landmark embedding, normalisation, tiny end-to-end training -> ONNX -> runtime,
and the shipped model's behaviour on held-out synthetic faces and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import REPO_ROOT, shared_path

from blender_addon.core.arkit import ARKIT_NAMES, INDEX
from blender_addon.core.errors import FacsimileError
from blender_addon.core.face.landmark_normalize import FEATURE_SIZE, normalize_landmarks


@pytest.fixture(scope="module")
def ict():
    from model_training.data.ict_facekit import load_ict

    return load_ict(shared_path("ict_facekit", "ict_face_full_f16.npz"))


@pytest.fixture(scope="module")
def synth(ict):
    from model_training.data.ict_facekit import arkit_to_ict_matrix
    from model_training.data.landmark_embedding import LandmarkBasis, embed
    from model_training.data.synth import Synthesizer

    emb = embed(ict)
    return emb, Synthesizer(LandmarkBasis.build(ict, emb), arkit_to_ict_matrix(ict.expr_names), id_sigma=0.8)


def test_obj_folder_loader_matches_npz(ict):
    from model_training.data.ict_facekit import load_obj_folder

    folder = shared_path("ict_facekit", "FaceXModel_sample")
    obj = load_obj_folder(folder, require_complete=False)
    assert np.abs(obj.neutral - ict.neutral).max() < 1e-4
    assert np.array_equal(obj.faces, ict.faces)
    assert obj.expr_names == ict.expr_names
    for name in ("jawOpen", "eyeBlink_L", "mouthSmile_R"):
        j = ict.expr_names.index(name)
        assert np.abs(obj.expr_deltas[j] - ict.expr_deltas[j]).max() < 2e-3, name
    assert obj.id_deltas.shape[0] == 1
    assert np.abs(obj.id_deltas[0] - ict.id_deltas[0]).max() < 2e-3
    # a missing expression is zero only when allowed; the strict loader refuses an incomplete folder
    assert np.all(obj.expr_deltas[ict.expr_names.index("browDown_L")] == 0)
    with pytest.raises(FacsimileError, match="missing expression"):
        load_obj_folder(folder)


def test_obj_loader_rejects_non_model_folder(tmp_path):
    from model_training.data.ict_facekit import load_ict

    with pytest.raises(FacsimileError, match="generic_neutral_mesh"):
        load_ict(tmp_path)
    (tmp_path / "x.npz").write_bytes(b"not a zip")
    with pytest.raises(Exception):  # noqa: B017 - numpy's own error for a broken zip
        load_ict(tmp_path / "x.npz")


def test_arkit_mapping_ties_split_shapes(ict):
    from model_training.data.ict_facekit import arkit_to_ict_matrix

    m = arkit_to_ict_matrix(ict.expr_names)
    assert m.shape == (52, 53)
    assert m[INDEX["tongueOut"]].sum() == 0
    both = [ict.expr_names.index("browInnerUp_L"), ict.expr_names.index("browInnerUp_R")]
    assert m[INDEX["browInnerUp"], both].tolist() == [1.0, 1.0]
    assert m[INDEX["eyeBlinkLeft"], ict.expr_names.index("eyeBlink_L")] == 1.0
    assert (m.sum(0) == 1).all()  # every ICT shape is driven by exactly one ARKit channel


def test_embedding_lies_on_the_ict_surface(synth):
    emb, _ = synth
    s = emb.stats
    # The canonical mesh, fitted rigidly + smoothly, lands within millimetres of the ICT surface, and the 51
    # correspondences (brows, nose, eyes, lips) end up within ~1 mm of ICT's own landmark vertices on average.
    assert s["surface_distance_cm_mean"] < 0.3
    assert s["corr_residual_projected_cm_mean"] < 0.1
    assert s["corr_residual_projected_cm_max"] < 0.4
    assert 0.4 < s["iris_radius_cm"][0] < 0.8
    assert np.allclose(emb.bary.sum(1), 1.0, atol=1e-6) and (emb.bary >= -1e-9).all()


def test_synthetic_landmarks_follow_expressions(synth):
    """jawOpen lowers the chin landmark, a blink closes the eye, and gaze moves the iris, in pixels."""
    _, syn = synth
    from model_training.data.synth import gaze_angles, project

    n = 3
    w = np.zeros((n, 52), np.float32)
    w[1, INDEX["jawOpen"]] = 1.0
    w[2, INDEX["eyeBlinkLeft"]] = 1.0
    w[2, INDEX["eyeLookOutLeft"]] = 1.0
    w[2, INDEX["eyeLookInRight"]] = 1.0
    ids = np.zeros((n, syn.basis.id_lm.shape[0]), np.float32)
    lm = syn.basis.landmarks(ids, w @ syn.a2i, gaze_angles(w))
    assert lm[1, 152, 1] < lm[0, 152, 1] - 1.0  # chin drops > 1 cm
    lid_gap = lambda p, up, lo: p[up, 1] - p[lo, 1]  # noqa: E731
    assert lid_gap(lm[2], 386, 374) < 0.3 * lid_gap(lm[0], 386, 374)  # left eye (subject's) closes
    assert lid_gap(lm[2], 159, 145) > 0.8 * lid_gap(lm[0], 159, 145)  # right eye stays open
    assert lm[2, 473, 0] > lm[0, 473, 0] + 0.3 and lm[2, 468, 0] > lm[0, 468, 0] + 0.3  # both irises look left
    px, _ = project(np.random.default_rng(0), lm, None, pose_deg=np.zeros((n, 3)))
    assert px[0, 263, 0] > px[0, 33, 0]  # subject's left eye on the image's right
    assert px[0, 10, 1] < px[0, 152, 1]  # forehead above chin (y down)


def test_normalisation_removes_pose_and_scale(synth):
    _, syn = synth
    rng = np.random.default_rng(3)
    b = syn.sample(rng, 64, noise=None)
    feats, pose = normalize_landmarks(b.pixels)
    assert feats.shape == (64, FEATURE_SIZE) and feats.dtype == np.float32
    # A similarity transform of the pixels (2D rotation + scale + shift, z scaled alike) leaves features unchanged.
    a = np.radians(25)
    rot = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    moved = (b.pixels @ rot.T) * 1.7 + np.array([40.0, -12.0, 5.0])
    feats2, pose2 = normalize_landmarks(moved)
    assert np.abs(feats2 - feats).max() < 1e-4
    assert np.allclose(pose2.roll, pose.roll - 25, atol=0.5) or np.allclose(pose2.roll, pose.roll + 25, atol=0.5)
    # The estimated pose follows the true one (perspective and expressions add a few degrees).
    assert np.corrcoef(pose.yaw, b.pose[:, 0])[0, 1] > 0.9
    assert np.median(np.abs(pose.roll - b.pose[:, 2])) < 5
    # 468-point input (no iris) works and has the same size
    f468, _ = normalize_landmarks(b.pixels[:, :468])
    assert f468.shape == feats.shape
    assert np.abs(f468[:, : 468 * 3] - feats[:, : 468 * 3]).max() < 1e-5


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((478, 2)), "shape"),
        (np.zeros((2, 100, 3)), "shape"),
        (np.full((478, 3), np.nan), "NaN"),
        (np.zeros((478, 3)), "degenerate"),
        (np.array([["a"] * 3] * 478), "numbers"),
    ],
)
def test_normalisation_rejects_bad_landmarks(bad, match):
    with pytest.raises(FacsimileError, match=match):
        normalize_landmarks(bad)


def test_tiny_training_end_to_end(tmp_path, synth):
    """data -> training (both ablation arms) -> ONNX (parity) -> runtime, with the test-size config."""
    pytest.importorskip("torch", reason="training needs torch (requirements-train.txt; not in the Python 3.13 env)")
    pytest.importorskip("onnx", reason="the ONNX export needs the onnx package (requirements-train.txt)")
    from blender_addon.core.face.expression_generator import ExpressionGenerator
    from model_training.train.config import TINY
    from model_training.train.pipeline import run

    onnx_path = tmp_path / "expression_generator.onnx"
    report = run(TINY, tmp_path / "run", onnx_path, record=False)
    assert report["onnx_parity_max_abs"] < 1e-5
    assert set(report["arms"]) == {"geometric_noise_only", "geometric_noise_plus_critic"}
    assert (tmp_path / "run" / "metrics.json").is_file()
    gen = ExpressionGenerator(device="cpu", model_path=onnx_path)
    assert gen.metadata["facsimile.training_data_sha256"] == report["data_hash"]
    assert json.loads(gen.metadata["facsimile.arkit_order"]) == list(ARKIT_NAMES)
    _, syn = synth
    b = syn.sample(np.random.default_rng(11), 8)
    res = gen.predict(b.pixels)
    assert res.weights.shape == (8, 52) and res.weights.dtype == np.float32
    assert (res.weights >= 0).all() and (res.weights <= 1).all()
    assert (res.weights[:, INDEX["tongueOut"]] == 0).all()
    one = gen.predict(b.pixels[0])
    assert one.weights.shape == (1, 52)


@pytest.fixture(scope="module")
def shipped():
    from blender_addon.core.face.expression_generator import ExpressionGenerator

    path = REPO_ROOT / "exported_models" / "expression_generator.onnx"
    if not path.is_file():
        pytest.skip("exported_models/expression_generator.onnx not built yet (make train)")
    return ExpressionGenerator(device="cpu")


# Floors of the strict test below, set from the shipped model's figures measured on the same 60 renders ("check"
# renders, seed 9303, a split no training or selection used; 2026-12-07: RMSE 0.170 against all-zeros 0.227, i.e.
# 25.2% below it; region mean Pearson brows 0.613, eyes 0.410, mouth 0.400), a margin under each.
CHECK_RMSE_BELOW_ZERO = 0.20  # RMSE at most (1 - this) x the all-zeros RMSE
CHECK_REGION_PEARSON = {"brows": 0.50, "eyes": 0.33, "mouth": 0.32}


def test_shipped_model_on_fresh_renders(shipped, tmp_path):
    """End to end on pixels: 60 ICT renders with identities of their own (seed used by no training or selection)
    -> ONNX face front-end -> shipped generator. Strict: an all-zeros or a flat model fails every line."""
    from model_training.render.render_ict import render_split
    from model_training.stats import nanmean, pearson_per_channel

    ict_path = shared_path("ict_facekit", "ict_face_full_f16.npz")  # skips (fails under CI) when it is missing
    path = render_split("check", 60, tmp_path, size=384, ict_path=str(ict_path), log=lambda *_: None)
    d = np.load(path)
    ok = np.isfinite(d["detected"]).all(axis=(1, 2))
    assert ok.mean() > 0.9
    res = shipped.predict(d["detected"][ok])
    w = d["weights"][ok]
    rmse, rmse_zero = np.sqrt(((res.weights - w) ** 2).mean()), np.sqrt((w**2).mean())
    assert rmse <= (1 - CHECK_RMSE_BELOW_ZERO) * rmse_zero, (rmse, rmse_zero)
    pear = pearson_per_channel(res.weights, w)
    for region, floor in CHECK_REGION_PEARSON.items():
        names = [n for n in ARKIT_NAMES if n.startswith(REGION_PREFIXES[region])]
        got = nanmean(pear[[INDEX[n] for n in names]])
        assert got >= floor, (region, got)
    assert min(pear[INDEX["jawOpen"]], pear[INDEX["mouthSmileLeft"]]) > 0.5
    assert res.in_range.mean() > 0.9
    meta = shipped.metadata
    assert len(meta["facsimile.training_data_sha256"]) == 64
    assert "pearson_mean" in meta["facsimile.metrics"]


REGION_PREFIXES = {"brows": ("brow",), "eyes": ("eyeBlink", "eyeSquint", "eyeWide"), "mouth": ("jaw", "mouth")}


def test_shipped_model_flags_out_of_range_and_rejects_nan(shipped, synth):
    _, syn = synth
    from model_training.data.synth import gaze_angles, project

    w = np.zeros((2, 52), np.float32)
    ids = np.zeros((2, syn.basis.id_lm.shape[0]), np.float32)
    lm = syn.basis.landmarks(ids, w @ syn.a2i, gaze_angles(w))
    px, _ = project(np.random.default_rng(0), lm, None, pose_deg=np.array([[0.0, 0, 0], [80.0, 0, 0]]))
    res = shipped.predict(px)
    assert res.in_range.tolist() == [True, False]
    assert "yaw" in res.reasons[1] and res.reasons[0] == ""
    # a scrambled face (landmarks shuffled) is out of distribution
    scrambled = px[:1, np.random.default_rng(1).permutation(478)]
    try:
        res2 = shipped.predict(scrambled)
        assert not res2.in_range[0]
    except FacsimileError:
        pass  # a degenerate frame is an error, equally acceptable
    bad = px.copy()
    bad[1, 5, 0] = np.nan
    with pytest.raises(FacsimileError, match="NaN"):
        shipped.predict(bad)
    with pytest.raises(FacsimileError, match="shape"):
        shipped.predict(px[:, :, :2])


def test_generator_refuses_a_missing_or_foreign_model(tmp_path):
    from blender_addon.core.face.expression_generator import ExpressionGenerator

    with pytest.raises(FacsimileError, match="not found"):
        ExpressionGenerator(device="cpu", model_path=tmp_path / "nope.onnx")
    face_model = REPO_ROOT / "exported_models" / "face_detector.onnx"
    if face_model.is_file():
        with pytest.raises(FacsimileError, match="contract|input"):
            ExpressionGenerator(device="cpu", model_path=face_model)


def test_detector_model_recovers_an_expression_dependent_bias(tmp_path, synth):
    """A fake detector that under-reports jaw opening: the fitted model must predict that residual."""
    from model_training.fit.detector_model import fit

    _, syn = synth
    b = syn.sample(np.random.default_rng(5), 300, noise=None)
    ideal = b.pixels
    det = ideal.copy()
    jaw = b.weights[:, INDEX["jawOpen"]]
    scale = np.linalg.norm(ideal[:, 263, :2] - ideal[:, 33, :2], axis=1)
    det[:, 152, 1] -= 0.2 * jaw * scale  # chin reported higher when the mouth is open
    np.savez(tmp_path / "train.npz", weights=b.weights, pose=b.pose, ideal=ideal, detected=det)
    model = fit(tmp_path / "train.npz")
    assert model.fit_stats["bias_explained_fraction"] > 0.8
    rng = np.random.default_rng(0)
    f_ideal, _ = normalize_landmarks(ideal[:50])
    f_det, _ = normalize_landmarks(det[:50])
    out = model.apply(rng, f_ideal, b.weights[:50], b.pose[:50])
    chin_y = 152 * 3 + 1
    want, got = f_det[:, chin_y] - f_ideal[:, chin_y], out[:, chin_y] - f_ideal[:, chin_y]
    assert np.corrcoef(want, got)[0, 1] > 0.9
    assert 0.7 < got.std() / want.std() < 1.4


def test_shipped_model_loads_without_the_onnx_package():
    """The installed extension has onnxruntime but no `onnx`: loading and the out-of-distribution score need only
    onnxruntime (the standardisation travels in the model's metadata)."""
    code = (
        "import sys; sys.modules['onnx'] = None\n"
        "import numpy as np\n"
        "from blender_addon.core.face.expression_generator import ExpressionGenerator\n"
        "g = ExpressionGenerator(device='cpu')\n"
        "assert g._mean is not None and g._mean.shape == (1434,) and np.isfinite(g._inv_std).all()\n"
        "print('ok')\n"
    )
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


@pytest.mark.parametrize("raw", ["not json", '{"mean": "AAAA"}', '{"mean": "AACAfw==", "inv_std": "AACAfw=="}'])
def test_malformed_standardisation_metadata_is_a_clear_error(raw):
    from blender_addon.core.face.expression_generator import ExpressionGenerator
    from blender_addon.core.models.specs import STANDARDISATION_KEY, ModelContractError

    with pytest.raises(ModelContractError, match="re-export"):
        ExpressionGenerator._standardisation({STANDARDISATION_KEY: raw})
