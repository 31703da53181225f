"""Real-face cache (model_training.data.real_faces): both front-ends on the same frames, ARKit order, cache reuse."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_path

from blender_addon.core.arkit import ARKIT_NAMES, INDEX

pytest.importorskip("mediapipe", reason="mediapipe (requirements-train.txt) runs the reference FaceLandmarker")
import model_training.data.real_faces as rf  # noqa: E402
from model_training.data import splits  # noqa: E402


def test_mediapipe_names_map_to_arkit_order():
    # MediaPipe's own order differs from ARKit's; _neutral is extra and tongueOut is missing (filled with 0)
    mp_names = ["_neutral", *sorted(n for n in ARKIT_NAMES if n != "tongueOut")]
    idx = rf.mediapipe_to_arkit_index(mp_names)
    scores = np.arange(len(mp_names), dtype=np.float32) + 1
    out = rf.mediapipe_scores_to_arkit(scores, idx)
    assert out[INDEX["tongueOut"]] == 0
    assert all(mp_names[int(out[INDEX[n]]) - 1] == n for n in ARKIT_NAMES if n != "tongueOut")
    with pytest.raises(ValueError, match="eyeBlinkLeft"):
        rf.mediapipe_to_arkit_index([n for n in mp_names if n != "eyeBlinkLeft"])


def test_split_is_by_clip_and_person_and_fixed():
    shared_path("real_faces", "video", "train")
    train, select, test = ({p.stem for p in rf.set_sources(s)} for s in ("train", "select", "test"))
    assert select == set(splits.SELECT_CLIPS) and test == set(splits.TEST_CLIPS)  # every listed clip exists
    assert not train & select and not train & test and not select & test
    assert len(train) + len(select) + len(test) == 28
    for group in splits.IDENTITY_GROUPS:  # one person's clips share a split
        assert len({splits.clip_split(c) for c in group}) == 1


def test_a_person_split_across_splits_is_refused(monkeypatch):
    monkeypatch.setattr(splits, "IDENTITY_GROUPS", (("liveportrait_d0", "liveportrait_d3"),))
    with pytest.raises(ValueError, match="one person"):
        splits.check_identity_groups(["liveportrait_d0", "liveportrait_d3"])


def test_the_train_stage_never_computes_a_missing_cache(tmp_path, monkeypatch):
    """`make train` reads the real-face cache only: a missing clip is one line naming the file and the command."""
    monkeypatch.setattr(
        rf, "set_sources", lambda name: [shared_path("real_faces", "video", "train", "liveportrait_d0.mp4")]
    )
    monkeypatch.setattr(rf, "process_clip", lambda *a, **k: pytest.fail("computed a clip in cached-only mode"))
    with pytest.raises(FileNotFoundError, match="make real-faces"):
        rf.load_set("train", cache_root=tmp_path, log=None, cached_only=True)


def test_clip_frames_cached(tmp_path, monkeypatch):
    """Three frames of one clip: our landmarks and MediaPipe's on the same frames, then read back from the cache."""
    shared_path("real_faces", "models", "face_landmarker.task")
    monkeypatch.setattr(
        rf, "set_sources", lambda name: [shared_path("real_faces", "video", "train", "liveportrait_d0.mp4")]
    )
    s = rf.load_set("train", stride=2, max_frames=3, cache_root=tmp_path, log=None)
    assert s.ours.shape == (3, 478, 3) and s.ours.dtype == np.float32
    assert s.mp_blendshapes.shape == (3, 52) and s.mp_landmarks.shape == (3, 478, 3)
    assert list(s.frame) == [0, 1, 2]  # the first REST_FRAMES are kept whatever the stride
    assert s.both_found.all() and s.is_rest_frame().all()
    # Same face, same frames: the two landmark sets agree to a few percent of the face width.
    width = np.ptp(s.ours[:, :468, 0], axis=1)
    err = np.linalg.norm(s.ours[:, :468, :2] - s.mp_landmarks[:, :468, :2], axis=2).mean(1) / width
    assert (err < 0.05).all(), err
    # Our photo path on the same frames (detection alone): the same face, placed by another region of interest.
    assert s.ours_photo.shape == s.ours.shape and np.isfinite(s.ours_photo).all()
    gap = np.linalg.norm(s.ours_photo[:, :468, :2] - s.ours[:, :468, :2], axis=2).mean(1) / width
    assert (gap < 0.05).all(), gap
    assert ((s.mp_blendshapes >= 0) & (s.mp_blendshapes <= 1)).all()
    assert s.mp_blendshapes[:, INDEX["tongueOut"]].max() < 0.5
    files = list((tmp_path / s.key / "video_train").glob("*.npz"))
    assert len(files) == 1
    monkeypatch.setattr(rf, "process_clip", lambda *a, **k: pytest.fail("recomputed a cached clip"))
    again = rf.load_set("train", stride=2, max_frames=3, cache_root=tmp_path, log=None)
    np.testing.assert_array_equal(again.ours, s.ours)


def test_photo_set_astronaut(tmp_path):
    shared_path("real_faces", "models", "face_landmarker.task")
    pytest.importorskip("skimage", reason="the astronaut portrait ships with scikit-image")
    s = rf.load_set("astronaut", cache_root=tmp_path, log=None)
    assert len(s) == 1 and s.both_found.all() and s.clip_names == ["astronaut.png"]
    smile = s.mp_blendshapes[0, [INDEX["mouthSmileLeft"], INDEX["mouthSmileRight"]]]
    assert smile.min() > 0.3  # she smiles: MediaPipe's values arrive in the right (ARKit) slots
