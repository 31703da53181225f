"""Real frames in the generator's training: mirror augmentation, pseudo-label trust and loss, the ARKit take prior,
the real-frame data rows and the validation-only selection rule (model_training/data, fit, train, select)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_path

from blender_addon.core.arkit import ARKIT_NAMES, INDEX
from blender_addon.core.face.landmark_normalize import normalize_landmarks

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def faces():
    from model_training.data.ict_facekit import arkit_to_ict_matrix, load_ict
    from model_training.data.landmark_embedding import LandmarkBasis, embed
    from model_training.data.synth import Synthesizer

    ict = load_ict(shared_path("ict_facekit", "ict_face_full_f16.npz"))
    shared_path("mediapipe_geometry", "face_model_with_iris.obj")
    syn = Synthesizer(LandmarkBasis.build(ict, embed(ict)), arkit_to_ict_matrix(ict.expr_names))
    return syn.sample(np.random.default_rng(3), 40)


def test_mirror_index_is_an_involution_that_swaps_eyes_and_irises():
    shared_path("mediapipe_geometry", "face_model_with_iris.obj")
    from model_training.data.mirror import landmark_mirror_index

    p = landmark_mirror_index()
    assert np.array_equal(p[p], np.arange(478))
    assert p[33] == 263 and p[133] == 362 and p[468] == 473 and p[1] == 1


def test_feature_mirror_equals_normalising_the_mirrored_landmarks(faces):
    from model_training.data.mirror import mirror_features, mirror_landmarks

    f0, _ = normalize_landmarks(faces.pixels)
    f1, _ = normalize_landmarks(mirror_landmarks(faces.pixels))
    assert np.abs(mirror_features(f0) - f1).max() < 1e-4
    assert np.abs(mirror_features(mirror_features(f0)) - f0).max() < 1e-6
    assert np.abs(f1 - f0).max() > 0.01  # a real change, not the identity


def test_mirror_half_swaps_left_and_right_channels_with_the_features():
    from model_training.data.mirror import mirror_features
    from model_training.train.config import TRAINED
    from model_training.train.loop import _mirror_half

    shared_path("mediapipe_geometry", "face_model_with_iris.obj")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 1434)).astype(np.float32)
    y = np.zeros((200, len(TRAINED)), np.float32)
    y[:, TRAINED.index(INDEX["eyeBlinkLeft"])] = 1.0
    x2, y2 = _mirror_half(np.random.default_rng(1), x, y)
    flipped = y2[:, TRAINED.index(INDEX["eyeBlinkRight"])] == 1.0
    assert 0.3 < flipped.mean() < 0.7
    assert (y2[flipped, TRAINED.index(INDEX["eyeBlinkLeft"])] == 0).all()
    assert np.allclose(x2[flipped], mirror_features(x[flipped])) and np.array_equal(x2[~flipped], x[~flipped])
    assert y[:, TRAINED.index(INDEX["eyeBlinkRight"])].max() == 0  # the caller's arrays are untouched


def test_trust_is_zero_for_flat_channels_and_one_for_good_ones():
    from model_training.fit.mediapipe_trust import TRUST_HIGH, TRUST_LOW, trust_from_pearson, trusted_channels
    from model_training.stats import pearson_per_channel

    rng = np.random.default_rng(0)
    truth = rng.random((300, 52))
    pred = truth.copy()
    pred[:, 0] = 0.01  # flat: MediaPipe never moves this channel
    pred[:, 1] = rng.random(300)  # unrelated
    p = pearson_per_channel(pred, truth)
    t = trust_from_pearson(p)
    assert p[0] == 0 and t[0] == 0 and t[1] == 0 and t[2] == 1
    assert 0 not in trusted_channels(t) and 1 not in trusted_channels(t) and 2 in trusted_channels(t)
    truth[:, 3] = 0.5  # a constant reference has no Pearson and no trust
    p = pearson_per_channel(pred, truth)
    assert np.isnan(p[3]) and trust_from_pearson(p)[3] == 0
    assert trust_from_pearson(np.array([(TRUST_LOW + TRUST_HIGH) / 2]))[0] == pytest.approx(0.5)


def test_pseudo_label_loss_ignores_untrusted_channels():
    from model_training.train.losses import pseudo_label_loss

    pred = torch.zeros(4, 3)
    target = torch.tensor([[1.0, 0.0, 0.0]] * 4)
    assert pseudo_label_loss(pred, target, torch.tensor([0.0, 1.0, 1.0])).item() == 0
    assert pseudo_label_loss(pred, target, torch.tensor([1.0, 0.0, 0.0])).item() == pytest.approx(1 / 3)


def test_real_frames_drop_rows_without_a_face_on_either_side(faces):
    from model_training.train.real_data import real_frames

    lm = faces.pixels[:5].astype(np.float32).copy()
    mp = np.random.default_rng(0).random((5, 52)).astype(np.float32)
    lm[1] = np.nan
    mp[3] = np.nan
    r = real_frames(lm, mp, np.zeros(5, int), np.arange(5), ["clip"])
    assert len(r) == 3 and r.frame.tolist() == [0, 2, 4]
    assert np.allclose(r.features, normalize_landmarks(lm[[0, 2, 4]])[0])
    from model_training.data.splits import REST_FRAMES

    assert r.rest_rows().tolist() == [f < REST_FRAMES for f in [0, 2, 4]]


def test_both_front_end_paths_are_rows_of_their_own_clips(faces, monkeypatch):
    """load_real(paths=PATHS): each frame tracked and detected alone, MediaPipe's label on both, and the photo-path rows
    in clips of their own (a rise over rest is measured within one path)."""
    from model_training.data import real_faces as rf
    from model_training.train import real_data

    n = len(faces.pixels)
    photo = faces.pixels + np.float32(0.5)  # the photo path places the landmarks a little differently
    fake = rf.RealFaceSet(
        name="train",
        clip_names=["a", "b"],
        clip=(np.arange(n) >= n // 2).astype(np.int32),
        frame=np.arange(n) % (n // 2),
        ours=faces.pixels.astype(np.float32),
        ours_photo=photo.astype(np.float32),
        ours_found=np.ones(n, bool),
        ours_confidence=np.ones(n, np.float32),
        mp_landmarks=faces.pixels.astype(np.float32),
        mp_blendshapes=faces.weights.astype(np.float32),
        mp_found=np.ones(n, bool),
        image_size=np.full((n, 2), 256, np.int32),
    )
    monkeypatch.setattr(rf, "load_set", lambda *a, **k: fake)
    video = real_data.load_real("train", log=None)
    both = real_data.load_real("train", log=None, paths=real_data.PATHS)
    assert len(video) == n and len(both) == 2 * n
    assert video.clip_names == ["a", "b"] and both.clip_names[2:] == ["a (photo path)", "b (photo path)"]
    np.testing.assert_array_equal(both.features[:n], video.features)
    np.testing.assert_allclose(both.features[n:], normalize_landmarks(photo)[0], atol=1e-5)
    np.testing.assert_array_equal(both.labels[n:], both.labels[:n])
    np.testing.assert_array_equal(both.clip[n:], video.clip + 2)
    assert both.rest_rows().sum() == 2 * video.rest_rows().sum()


def test_arkit_take_reads_in_arkit_order(tmp_path):
    from model_training.data.arkit_take import load_arkit_take

    w = load_arkit_take(shared_path("real_faces", "arkit_takes", "MySlate_166_iPhone_cal.csv"))
    assert w.shape[1] == 52 and len(w) > 1000 and 0 <= w.min() and w.max() <= 1
    head = "Timecode,BlendshapeCount," + ",".join(n[0].upper() + n[1:] for n in reversed(ARKIT_NAMES))
    vals = ",".join(str(i / 100) for i in range(52))
    (tmp_path / "t.csv").write_text(f"{head}\n00:00,52,{vals}\n")
    one = load_arkit_take(tmp_path / "t.csv")[0]
    assert one[INDEX["tongueOut"]] == pytest.approx(0.0) and one[INDEX["eyeBlinkLeft"]] == pytest.approx(0.51)
    (tmp_path / "bad.csv").write_text("Timecode,EyeBlinkLeft\n0,1\n")
    with pytest.raises(ValueError, match="no columns"):
        load_arkit_take(tmp_path / "bad.csv")


def test_real_rule_scores_and_picks_on_validation_figures():
    from model_training.select import real_rule

    rng = np.random.default_rng(0)
    mp = rng.random((100, 52)).astype(np.float32)
    trust = np.zeros(52, np.float32)
    trust[INDEX["jawOpen"]] = 1
    rest = np.arange(100) < 10
    clip = np.arange(100) // 50
    good = mp.copy()
    bad = mp.copy()
    bad[:, INDEX["noseSneerLeft"]] = 0.9  # a resting face read as a sneer
    bad[:, INDEX["jawOpen"]] = rng.random(100)
    s_good = real_rule.select_scores(good, mp, rest, clip, trust)
    s_bad = real_rule.select_scores(bad, mp, rest, clip, trust)
    assert s_good["M"] == pytest.approx(1.0) and s_good["trusted_channels"] == 1 and s_good["S"] == 0
    assert s_bad["F"] > s_good["F"] and s_bad["M"] < 0.5
    keep, scores = real_rule.pick({"good": {"R": 0.5, **s_good}, "bad": {"R": 0.6, **s_bad}})
    assert keep == "good" and scores["good"] > scores["bad"]
    # Damping wins nothing: an arm that halves every movement rests as quietly but falls short of MediaPipe's rises.
    damped = real_rule.select_scores(good * 0.5, mp, rest, clip, trust)
    assert damped["S"] > 0.2 and damped["M"] == pytest.approx(1.0)
    keep, _ = real_rule.pick({"good": {"R": 0.5, **s_good}, "damped": {"R": 0.5, **damped}})
    assert keep == "good"


def test_brow_columns_are_the_brow_landmarks_and_the_detector_model_leaves_them_alone():
    """The *_browland arms: the landmarks ICT's brow channels move include MediaPipe's eyebrow contour and none of the
    mouth or the lids' margins, and the detector model adds neither bias nor noise there, but does everywhere else."""
    from model_training.data.ict_facekit import arkit_to_ict_matrix, load_ict
    from model_training.data.landmark_embedding import LandmarkBasis, embed
    from model_training.data.synth import moved_feature_columns
    from model_training.fit.detector_model import DetectorModel
    from model_training.fit.mediapipe_trust import RENDER_BLIND

    ict = load_ict(shared_path("ict_facekit", "ict_face_full_f16.npz"))
    shared_path("mediapipe_geometry", "face_model_with_iris.obj")
    cols = moved_feature_columns(
        LandmarkBasis.build(ict, embed(ict)), arkit_to_ict_matrix(ict.expr_names), RENDER_BLIND
    )
    landmarks = set((cols // 3).tolist())
    eyebrows = {46, 52, 53, 55, 63, 65, 66, 70, 105, 107, 276, 282, 283, 285, 293, 295, 296, 300, 334, 336}
    assert eyebrows <= landmarks
    assert not landmarks & {13, 14, 61, 291, 0, 17, 159, 145, 386, 374}  # lips, lid margins
    rng = np.random.default_rng(0)
    f = 1434
    det = DetectorModel(rng.normal(size=(58, f)).astype(np.float32), rng.normal(size=(8, f)).astype(np.float32), {})
    blind = det.without_columns(cols)
    x = np.zeros((5, f), np.float32)
    w, pose = rng.random((5, 52)).astype(np.float32), np.zeros((5, 3), np.float32)
    out = blind.apply(np.random.default_rng(1), x, w, pose)
    assert np.all(out[:, cols] == 0)
    rest = np.setdiff1d(np.arange(f), cols)
    assert np.all(np.abs(out[:, rest]).mean(0) > 0)
    assert np.all(np.abs(det.apply(np.random.default_rng(1), x, w, pose)[:, cols]).mean(0) > 0)  # original untouched
    assert blind.fit_stats["columns_left_out"] == len(cols)


def test_brow_regimes_keep_real_brows_in_half_the_rows_and_render_brows_in_the_rest():
    from model_training.fit.detector_model import DetectorModel
    from model_training.train.dataset import BrowRegimes

    rng = np.random.default_rng(0)
    f, n = 30, 4000
    cols = np.arange(6)
    render = DetectorModel(np.zeros((58, f), np.float32), np.zeros((1, f), np.float32), {})
    render.coef[-1, cols] = 1.0  # the hairless renders' constant brow offset
    elsewhere = render.without_columns(cols)
    elsewhere.coef[-1, 6:] = 2.0
    x = np.zeros((n, f), np.float32)
    out = BrowRegimes(elsewhere, render, cols).apply(
        rng, x, np.zeros((n, 52), np.float32), np.zeros((n, 3), np.float32)
    )
    brow = out[:, cols]
    ideal = np.all(brow == 0, axis=1)
    assert 0.45 < ideal.mean() < 0.55  # half the rows keep the ideal brows
    assert np.all((brow[~ideal] >= 0.7 - 1e-6) & (brow[~ideal] <= 1.3 + 1e-6))  # the rest: the offset, unjittered
    assert np.all(out[:, 6:] > 1.0)  # every other column gets the detector model elsewhere


def test_expression_augmentation_moves_features_and_label_together_within_range():
    from model_training.train.loop import EXPR_AUG_FOLLOW, _add_expression

    rng = np.random.default_rng(0)
    n, f = 2000, 12
    x = rng.normal(size=(n, f)).astype(np.float32)
    y = rng.random((n, 51)).astype(np.float32)
    offsets = np.eye(3, f, dtype=np.float32)  # channel k moves feature k by 1 at weight 1
    channels = (4, 9, 20)
    x0, y0 = x.copy(), y.copy()
    x2, y2 = _add_expression(rng, x, y, offsets, channels)
    assert np.array_equal(x, x0) and np.array_equal(y, y0)  # the real frames themselves are untouched
    changed = np.flatnonzero((y2 != y).any(1))
    assert 0.4 < len(changed) / n < 0.6
    assert ((y2 >= 0) & (y2 <= 1 + 1e-6)).all()
    assert ((y2 != y).sum(1) <= 1).all()  # one channel per row
    dy = (y2 - y)[changed][:, list(channels)].sum(1)
    dx = (x2 - x)[changed][:, :3].sum(1)
    ratio = dx[dy > 1e-3] / dy[dy > 1e-3]
    assert ratio.min() >= EXPR_AUG_FOLLOW[0] - 1e-4 and ratio.max() <= EXPR_AUG_FOLLOW[1] + 1e-4
    assert np.array_equal(x2[:, 3:], x[:, 3:])


def test_training_with_real_frames_and_mirror_runs_and_learns_the_trusted_channel():
    """A tiny run: fake 'real' frames whose trusted jawOpen label is a feature the synthetic data never shows."""
    from model_training.train.config import TRAINED, TrainConfig
    from model_training.train.loop import RealTerm, train_one

    shared_path("mediapipe_geometry", "face_model_with_iris.obj")
    rng = np.random.default_rng(0)
    n = 2000
    x = rng.normal(size=(n, 1434)).astype(np.float32)
    y = np.zeros((n, 52), np.float32)
    xr = rng.normal(size=(500, 1434)).astype(np.float32)
    yr = np.zeros((500, 52), np.float32)
    yr[:, INDEX["jawOpen"]] = (xr[:, 0] > 0).astype(np.float32)  # a signal only the real frames carry
    trust = np.zeros(52, np.float32)
    trust[INDEX["jawOpen"]] = 1
    data = {
        "x_train": x,
        "y_train": y,
        "pose_train": np.zeros((n, 3), np.float32),
        "prior": y[:100],
        "mean": np.zeros(1434, np.float32),
        "std": np.ones(1434, np.float32),
        "x_val": x[:100],
        "y_val": rng.random((100, 52)).astype(np.float32),
    }
    cfg = TrainConfig(n_train=n, hidden=(32,), epochs=3, batch=100, threads=1)
    real = RealTerm(features=xr, labels=yr, trust=trust, batch=100, weight=5.0)
    model, hist = train_one(cfg, data, 0.0, lambda *_: None, None, real=real, mirror=False)
    with torch.no_grad():
        out = model(torch.from_numpy(xr)).numpy()[:, INDEX["jawOpen"]]
    assert np.corrcoef(out, yr[:, INDEX["jawOpen"]])[0, 1] > 0.5
    assert len(hist) == 3 and len(TRAINED) == 51


def test_one_sided_templates_only_when_asked_so_cached_renders_stay_valid():
    from model_training.data.synth import sample_expressions

    plain = sample_expressions(np.random.default_rng(0), 5000)
    again = sample_expressions(np.random.default_rng(0), 5000, one_sided=False)
    sided = sample_expressions(np.random.default_rng(0), 5000, one_sided=True)
    assert np.array_equal(plain, again)  # the render splits' draws do not change

    def smirks(w):
        return (np.abs(w[:, INDEX["mouthSmileLeft"]] - w[:, INDEX["mouthSmileRight"]]) > 0.5).mean()

    assert smirks(sided) > 2 * smirks(plain)


def test_make_train_stops_with_one_line_naming_the_missing_input(tmp_path):
    """No quiet fallback to another set of arms or another selection rule: a missing cache stops the train stage."""
    from model_training.train.config import TINY, TrainConfig
    from model_training.train.dataset import require_inputs

    require_inputs(TINY)  # the test config asks for no renders and no real frames
    with pytest.raises(SystemExit, match=r"train\.npz is missing: run python -m model_training\.render --split train"):
        require_inputs(TrainConfig(renders=str(tmp_path)))
    for name in ("train", "train_images"):
        (tmp_path / f"{name}.npz").write_bytes(b"")
    with pytest.raises(SystemExit, match=r"test\.npz is missing"):
        require_inputs(TrainConfig(renders=str(tmp_path)))
    with pytest.raises(SystemExit, match="real frames need the training renders"):
        require_inputs(TrainConfig(renders="", real=True))
