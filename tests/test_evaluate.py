"""The test split's target computations (model_training.evaluate.metrics) on arrays whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

import model_training.evaluate as ev
from blender_addon.core.arkit import ARKIT_NAMES, INDEX
from model_training.evaluate import metrics as m

N = len(ARKIT_NAMES)


def _renders(n: int = 200, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    true = np.clip(rng.random((n, N)) ** 3, 0, 1).astype(np.float32)
    true[:, INDEX["tongueOut"]] = 0
    winks = rng.random(n) < 0.2
    left = rng.random(n) < 0.5
    true[winks & left, INDEX["eyeBlinkLeft"]], true[winks & left, INDEX["eyeBlinkRight"]] = 0.9, 0.0
    true[winks & ~left, INDEX["eyeBlinkLeft"]], true[winks & ~left, INDEX["eyeBlinkRight"]] = 0.0, 0.9
    return true


def _by_target(rows: list[dict]) -> dict[str, dict]:
    return {r["target"].split(" (")[0]: r for r in rows}


def test_render_targets_perfect_and_swapped():
    true = _renders()
    noise = np.random.default_rng(1).random(true.shape).astype(np.float32) * 0.5
    rows, det = m.render_targets("t", true.copy(), noise, true)
    r = _by_target(rows)
    assert r["renders[t] mean Pearson"]["ours"] == pytest.approx(1.0)
    assert r["renders[t] mean Pearson"]["pass"] and r["renders[t] RMSE"]["pass"]
    assert abs(r["renders[t] mean Pearson"]["mediapipe"]) < 0.2
    assert r["renders[t] winks read on the right side"]["pass"] and det["winks"] > 10
    assert det["pearson"]["ours"]["tongueOut"] is None  # constant channel: no Pearson
    # Left and right swapped: blinks follow the wrong side, every wink is missed.
    swapped = true.copy()
    swapped[:, [INDEX["eyeBlinkLeft"], INDEX["eyeBlinkRight"]]] = true[
        :, [INDEX["eyeBlinkRight"], INDEX["eyeBlinkLeft"]]
    ]
    r = _by_target(m.render_targets("t", swapped, noise, true)[0])
    assert not r["renders[t] blink L-R difference Pearson"]["pass"]
    assert r["renders[t] winks read on the right side"]["ours"] == 0.0
    # All zeros: RMSE equals the all-zeros baseline, which must be beaten.
    r = _by_target(m.render_targets("t", np.zeros_like(true), noise, true)[0])
    assert not r["renders[t] RMSE"]["pass"] and not r["renders[t] mean Pearson"]["pass"]


def test_rest_targets_margin_over_mediapipe():
    ours = np.zeros((5, N), np.float32)
    mp = np.zeros((5, N), np.float32)
    ours[:, INDEX["noseSneerLeft"]] = 0.08  # under 0.10 but more than MediaPipe's 0 + 0.05
    ours[:, INDEX["eyeLookUpLeft"]] = 0.08
    mp[:, INDEX["eyeLookUpLeft"]] = 0.05
    r = _by_target(m.rest_targets(ours, mp)[0])
    assert len(r) == 12
    assert not r["rest mean noseSneerLeft"]["pass"]
    assert r["rest mean eyeLookUpLeft"]["pass"] and r["rest mean cheekPuff"]["pass"]


def test_astronaut_allows_smile_and_squint_only():
    w = np.zeros((1, N), np.float32)
    w[0, INDEX["mouthSmileLeft"]] = w[0, INDEX["eyeSquintRight"]] = 0.9
    assert m.astronaut_targets(w, w)[0][0]["pass"]
    w[0, INDEX["eyeWideLeft"]] = 0.31
    rows, det = m.astronaut_targets(w, w)
    assert not rows[0]["pass"] and det["ours_above"] == ["eyeWideLeft"]


def test_mead_how_often():
    names = ["M1_level_1_happy_001", "M2_level_1_neutral_001", "M3_level_1_angry_001"]
    clip = np.repeat([0, 1, 2], 10)
    ours = np.zeros((30, N), np.float32)
    ours[:10, INDEX["mouthSmileLeft"]] = ours[:10, INDEX["mouthSmileRight"]] = np.linspace(0, 1, 10)
    ours[10:20, INDEX["mouthSmileLeft"]] = ours[10:20, INDEX["mouthSmileRight"]] = 0.25
    mp = np.zeros_like(ours)  # flat: never above the others' level
    rows, det = m.mead_targets(ours, mp, names, clip)
    happy = next(p for p in det["pairs"] if p["channel"] == "mouthSmile")
    assert happy["ours"]["level_others"] == pytest.approx(0.25)
    assert happy["ours"]["how_often"] == pytest.approx(0.7)  # 7 of 10 frames above 0.25
    assert happy["mediapipe"]["how_often"] == 0.0
    assert {p["channel"] for p in det["pairs"]} == {"mouthSmile", "browDown"}
    assert rows[0]["pass"]


def test_trusted_channels_and_real_clip_agreement():
    from model_training.fit.mediapipe_trust import trust_from_pearson, trusted_channels

    r = np.full(N, np.nan)
    r[INDEX["jawOpen"]], r[INDEX["eyeBlinkLeft"]], r[INDEX["cheekPuff"]] = 0.9, 0.6, 0.1
    trusted = [ARKIT_NAMES[i] for i in trusted_channels(trust_from_pearson(r))]
    assert trusted == ["eyeBlinkLeft", "jawOpen"]
    rng = np.random.default_rng(2)
    mp = rng.random((100, N)).astype(np.float32)
    ours = mp.copy()
    ours[:, INDEX["jawOpen"]] = rng.random(100)  # unrelated to MediaPipe's
    rows, det = m.real_clip_targets(ours, mp, trusted)
    assert [x["pass"] for x in rows] == [True, False]


def test_predict_shape_is_checked_and_markdown():
    with pytest.raises(ValueError, match="shape"):
        ev._predict(lambda lm: np.zeros((len(lm), 51)), np.zeros((3, 478, 3), np.float32))
    true = _renders(50)
    rows, det = m.render_targets("photo", true, true, true)
    md = ev.markdown_report({"targets": rows, "details": {"renders": {"photo": det}}, "meta": {"frontend_key": "k"}})
    assert "| renders[photo] mean Pearson | 1.000 | 1.000 |" in md and "| jawOpen | 1.000 / 1.000 |" in md


def test_heldout_draws_are_fixed_and_hold_winks():
    from model_training.render import heldout

    a, b = heldout.draw_samples(150, 100), heldout.draw_samples(150, 100)
    wa = np.array([s.weights for s in a])
    np.testing.assert_array_equal(wa, np.array([s.weights for s in b]))  # one seed: both looks draw the same faces
    d = wa[:, INDEX["eyeBlinkLeft"]] - wa[:, INDEX["eyeBlinkRight"]]
    assert (d > 0.5).sum() >= 5 and (d < -0.5).sum() >= 5  # winks of each eye
    for n in ("cheekPuff", "eyeWideLeft", "noseSneerLeft", "jawForward"):
        assert (wa[:, INDEX[n]] > 0.1).sum() >= 5, n


def test_camera_effects_composite_over_a_photo():
    pytest.importorskip("skimage", reason="the backgrounds are scikit-image's bundled photos")
    from model_training.render import heldout

    rgba = np.zeros((64, 64, 4), np.float32)
    rgba[16:48, 16:48] = (0.8, 0.6, 0.5, 1.0)  # an opaque square on a transparent film
    out = heldout.camera_effects(rgba, np.random.default_rng(0))
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    inside = out[24:40, 24:40].reshape(-1, 3).mean(0)
    assert np.abs(inside - np.array([204, 153, 128])).max() < 60  # the render shows through, under camera effects
    assert out[:8].std() > 1.0  # a photo (plus noise) behind it, not a flat colour


def _photo_renders_read_by_both_front_ends(tmp_path, monkeypatch, n: int) -> None:
    from conftest import shared_path

    shared_path("ict_facekit")
    shared_path("real_faces", "models", "face_landmarker.task")
    pytest.importorskip("bpy")
    from model_training.render import heldout

    monkeypatch.setattr(heldout, "CACHE", tmp_path)
    d = heldout.load_render_set("photo", n=n, size=192, log=None)
    assert d["weights"].shape == (n, N) and d["ours"].shape == (n, 478, 3)
    assert d["ours_found"].all() and d["mp_found"].all()
    assert sorted(p.name for p in (tmp_path / f"photo_n{n}_s192").glob("*.jpg")) == [f"{i:04d}.jpg" for i in range(n)]


def test_one_heldout_photo_render_is_read_by_both_front_ends(tmp_path, monkeypatch):
    """The short form of the check below: one Cycles photo-look render end to end."""
    pytest.importorskip("mediapipe", reason="MediaPipe (the reference front-end) is not in this test environment")
    _photo_renders_read_by_both_front_ends(tmp_path, monkeypatch, 1)


@pytest.mark.slow
def test_heldout_photo_render_is_read_by_both_front_ends(tmp_path, monkeypatch):
    """Two Cycles photo-look renders end to end (about a minute): both front-ends find the face, labels beside."""
    _photo_renders_read_by_both_front_ends(tmp_path, monkeypatch, 2)


def test_cached_renders_must_match_the_draws(tmp_path):
    from model_training.render import heldout

    draws = heldout.draw_samples(3, 100)
    w = np.array([s.weights for s in draws], np.float32)
    ids = np.array([s.ids for s in draws], np.float32)
    np.savez(tmp_path / "labels.npz", weights=w, ids=ids)
    heldout.check_draws(tmp_path, 3)
    w[1, INDEX["jawOpen"]] += 0.5
    np.savez(tmp_path / "labels.npz", weights=w, ids=ids)
    with pytest.raises(RuntimeError, match="another expression prior"):
        heldout.check_draws(tmp_path, 3)


def test_emotion_reads_count_rises_over_the_clips_own_rest():
    """A surprised clip whose brows rise 0.3 over its own (high) rest is read; a flat copy of the same clip is not."""
    names = ["M001_level_3_surprised_001", "M001_level_3_angry_001"]
    clip = np.repeat([0, 1], 50)
    mp = np.zeros((100, N), np.float32)
    mp[:, INDEX["browInnerUp"]] = 0.4  # the person's brows sit high at rest: absolute levels mean nothing
    mp[25:50, INDEX["browInnerUp"]] = 0.7
    mp[25:50, INDEX["browOuterUpLeft"]] = mp[25:50, INDEX["browOuterUpRight"]] = 0.3
    mp[75:, INDEX["browDownLeft"]] = mp[75:, INDEX["browDownRight"]] = 0.5
    flat = np.full_like(mp, 0.4)
    rows, det = m.emotion_reads(flat, mp, names, clip)
    assert det["surprised"]["mediapipe"]["clips_read"] == 1 and det["surprised"]["ours"]["clips_read"] == 0
    assert det["surprised"]["mediapipe"]["frames_read"] == pytest.approx(0.5)
    assert det["angry"]["mediapipe"]["clips_read"] == 1 and det["angry"]["ours"]["frames_read"] == 0
    assert not any(r["pass"] for r in rows)
    rows, _ = m.emotion_reads(mp, mp, names, clip)
    assert all(r["pass"] for r in rows) and len(rows) == 2
