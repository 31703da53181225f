"""FaceSolver as a task: options checked, one running mode per solver, one result type, close(), shared models."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_path

from blender_addon.core.arkit import NUM_BLENDSHAPES
from blender_addon.core.errors import FacsimileError
from blender_addon.core.face.pipeline import (
    FaceSolver,
    FaceSolverOptions,
    FaceSolverResult,
    RunningMode,
    SolvedFace,
    VideoFrame,
)
from blender_addon.core.face.tracking import NUM_LANDMARKS, OrientationRules
from blender_addon.core.formats.image_io import load_image


@pytest.fixture(scope="module")
def photo_solver() -> FaceSolver:
    return FaceSolver(FaceSolverOptions(device="cpu", max_faces=2))


@pytest.fixture(scope="module")
def neutral() -> np.ndarray:
    return load_image(shared_path("photos", "neutral.jpeg"))


@pytest.mark.parametrize(
    "bad",
    [{"max_faces": 0}, {"min_detection": 1.5}, {"min_presence": -0.1}, {"smoothing": -1.0}, {"running_mode": "live"}],
)
def test_options_reject_bad_values(bad):
    with pytest.raises(ValueError):
        FaceSolverOptions(**bad)


def test_image_mode_result_carries_pixel_landmarks_and_weights(photo_solver, neutral):
    result = photo_solver.solve(neutral)
    assert isinstance(result, FaceSolverResult) and result.found and result.face is result.faces[0]
    face = result.face
    assert isinstance(face, SolvedFace)
    assert face.landmarks.shape == (NUM_LANDMARKS, 3)
    h, w = neutral.shape[:2]
    xy = face.landmarks[:, :2]
    assert (xy[:, 0] > 0).all() and (xy[:, 0] < w).all() and (xy[:, 1] > 0).all() and (xy[:, 1] < h).all()
    assert np.array_equal(result.weights, face.weights) and result.weights.shape == (NUM_BLENDSHAPES,)
    assert photo_solver.solve_image(neutral)[0].box == face.box  # the convenience wrapper: the same faces
    empty = photo_solver.solve(np.zeros((64, 64, 3), np.uint8))
    assert not empty.found and empty.faces == [] and not empty.weights.any()


def test_one_mode_per_solver_and_twins_share_the_models(photo_solver, neutral):
    with pytest.raises(FacsimileError, match="video mode"):
        photo_solver.solve_for_video(neutral, 0.0)
    video = photo_solver.for_mode(RunningMode.VIDEO, max_faces=1)
    assert video.running_mode is RunningMode.VIDEO
    with pytest.raises(FacsimileError, match="image mode"):
        video.solve(neutral)
    assert video.generator is photo_solver.generator
    assert video.tracker._landmark_model is photo_solver.tracker._landmark_model
    assert video.tracker is not photo_solver.tracker  # own tracking state


def test_video_mode_tracks_holds_and_checks_timestamps(photo_solver, neutral):
    video = photo_solver.for_mode("video", smoothing=0.0)
    first = video.solve_for_video(neutral, 0.0)
    assert first.found and first.index == 0 and first.time == 0.0
    np.testing.assert_allclose(first.weights, first.face.weights, atol=1e-6)  # smoothing off: the raw weights
    lost = video.solve_for_video(np.zeros_like(neutral), 0.1)
    assert not lost.found and lost.faces == [] and lost.index == 1
    np.testing.assert_array_equal(lost.weights, first.weights)  # the last good values are held
    with pytest.raises(FacsimileError, match="increase"):
        video.solve_for_video(neutral, 0.1)
    video.reset()
    again = video.solve_for_video(neutral, 0.0)  # a new clip: the clock starts again
    assert again.found and again.index == 0
    frames = list(photo_solver.solve_video([neutral, neutral], fps=10.0))  # VideoFrame is the same result type
    assert all(isinstance(f, VideoFrame) and f.found for f in frames) and frames[1].time == pytest.approx(0.1)


def test_closed_solver_refuses_work(neutral):
    solver = FaceSolver(FaceSolverOptions(device="cpu", max_faces=1))
    with solver:
        assert solver.solve(neutral).found
    with pytest.raises(FacsimileError, match="closed"):
        solver.solve(neutral)
    with pytest.raises(FacsimileError, match="closed"):
        solver.for_mode("video")
    solver.close()  # idempotent


def test_orientation_rules_are_options(neutral):
    """Turned by 90 degrees, the photo needs the orientation search; with it disabled only the upright view runs."""
    sideways = np.ascontiguousarray(np.rot90(neutral))
    calls = {}
    for enabled in (True, False):
        solver = FaceSolver(FaceSolverOptions(device="cpu", max_faces=1, orientation=OrientationRules(enabled=enabled)))
        views = []
        original = solver.tracker._candidates
        solver.tracker._candidates = lambda image, view=0.0, o=original, v=views: (v.append(view), o(image, view))[1]
        solver.solve(sideways)
        calls[enabled] = len(views)
        solver.close()
    assert calls[False] == 1 and calls[True] > 1


def test_lost_face_is_looked_for_in_the_clips_orientation_first(neutral):
    """Re-detection after a lost face costs one detector pass in the clip's own (here sideways) view; the full
    orientation search runs only on the first frame, after reset(), or when that pass finds nothing."""
    from blender_addon.core.face.tracking import FaceTracker

    tracker = FaceTracker(device="cpu", max_faces=1)
    views: list[float] = []
    original = tracker._candidates
    tracker._candidates = lambda image, view=0.0: (views.append(view), original(image, view))[1]
    sideways = np.ascontiguousarray(np.rot90(neutral))
    assert tracker.track(sideways) is not None
    first = len(views)
    assert first > 1  # the first frame of a sideways clip needs the orientation search
    blank = np.full_like(sideways, 90)
    assert tracker.track(blank) is None  # lost: the clip's view, then the full search, find nothing
    views.clear()
    again = tracker.track(sideways)
    assert again is not None and len(views) == 1 and abs(abs(views[0]) - np.pi / 2) < 1e-6
    tracker.reset()
    views.clear()
    assert tracker.track(sideways) is not None and len(views) == first


def test_tiles_only_where_small_faces_may_hide():
    """A wide portrait pays for one upright detector pass even with max_faces 4; the group photo still gets its tile
    passes and all three faces."""
    from blender_addon.core.face.tracking import FaceTracker

    tracker = FaceTracker(device="cpu", max_faces=4)
    views: list[float] = []
    original = tracker._candidates
    tracker._candidates = lambda image, view=0.0: (views.append(view), original(image, view))[1]
    portrait = load_image(shared_path("photos", "angry.jpg"))
    assert portrait.shape[1] > 1.2 * portrait.shape[0] or portrait.shape[0] > 1.2 * portrait.shape[1]
    assert len(tracker.detect(portrait)) == 1 and views.count(0.0) == 1
    views.clear()
    assert len(tracker.detect(load_image(shared_path("photos", "group.jpeg")))) == 3
    assert views.count(0.0) > 1
