"""The body pose task (core/body/pose_landmarker.py) against MediaPipe's own pose pipeline, its video tracking and
its errors; `facsimile solve --body`."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from conftest import shared_path

from blender_addon.core.body.pose_landmarker import (
    NUM_POSE_LANDMARKS,
    PoseLandmarker,
    PoseLandmarkerOptions,
    RunningMode,
)
from blender_addon.core.errors import FacsimileError

PHOTOS = ("lisa2.jpg", "neutral.jpeg", "group.jpeg")


def _photo(name: str) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(shared_path("photos", name))), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def landmarker():
    with PoseLandmarker(PoseLandmarkerOptions(device="cpu")) as pl:
        yield pl


@pytest.mark.parametrize("name", PHOTOS)
def test_world_landmarks_match_mediapipe(name, landmarker):
    """The whole pipeline (detector, alignment region, landmark model, world rotation) gives MediaPipe's world
    landmarks on the same photo: measured max 4 mm over the shared photos (float summation order and the crop's
    bilinear sampling differ). Visibility matches too, and the heatmap-refined image x, y of the well-seen points
    (a point whose window peak sits at the 0.5 refinement threshold may be refined on one side only)."""
    mp = pytest.importorskip("mediapipe", reason="mediapipe (requirements-train.txt) runs the original pipeline")
    image = _photo(name)
    ours = landmarker.detect(image)
    with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1) as ref_pose:
        ref = ref_pose.process(image)
    assert ref.pose_world_landmarks is not None and ours.poses
    p = ours.poses[0]
    world = np.array([[q.x, q.y, q.z] for q in ref.pose_world_landmarks.landmark])
    vis = np.array([q.visibility for q in ref.pose_landmarks.landmark])
    img = np.array([[q.x, q.y] for q in ref.pose_landmarks.landmark])
    assert p.world_landmarks.shape == (NUM_POSE_LANDMARKS, 3)
    assert np.abs(p.world_landmarks - world).max() < 0.01
    assert np.abs(p.visibility - vis).max() < 0.02
    seen = vis > 0.8
    h, w = image.shape[:2]
    assert np.median(np.abs(p.landmarks[seen, :2] - img[seen]) * [w, h]) < 1.0  # pixels


def test_nobody_in_noise_or_blank(landmarker):
    noise = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    assert landmarker.detect(noise).poses == []
    assert landmarker.detect(np.zeros((240, 320, 3), np.uint8)).poses == []


def test_video_tracks_without_the_detector_and_smooths():
    image = _photo("lisa2.jpg")
    with PoseLandmarker(PoseLandmarkerOptions(running_mode=RunningMode.VIDEO, device="cpu")) as pl:
        outs = []
        for i in range(4):
            shifted = np.roll(image, 3 * i, axis=1)
            outs.append(pl.detect_for_video(shifted, i * 33.3))
        assert all(o.poses for o in outs)
        assert pl.detector_runs == 1  # later frames came from the previous landmarks' region
        with pytest.raises(FacsimileError, match="timestamps must increase"):
            pl.detect_for_video(image, 10.0)
        # nobody: the next person is detected afresh
        assert pl.detect_for_video(np.zeros_like(image), 200.0).poses == []
        assert pl.detect_for_video(image, 233.0).poses and pl.detector_runs >= 2


def test_bad_use_is_one_clear_error():
    with pytest.raises(FacsimileError, match="num_poses"):
        PoseLandmarkerOptions(num_poses=0)
    with pytest.raises(FacsimileError, match="min_tracking_confidence"):
        PoseLandmarkerOptions(min_tracking_confidence=1.5)
    pl = PoseLandmarker(PoseLandmarkerOptions(device="cpu"))
    with pytest.raises(FacsimileError, match="detect\\(\\)"):
        pl.detect_for_video(np.zeros((10, 10, 3), np.uint8), 0.0)
    with pytest.raises(FacsimileError, match="image"):
        pl.detect(np.zeros((10, 10, 7), np.uint8))
    pl.close()
    with pytest.raises(FacsimileError, match="closed"):
        pl.detect(np.zeros((10, 10, 3), np.uint8))


def test_solve_reports_the_body(tmp_path):
    """`facsimile solve --body` on a photo: the face's person carries 33 world landmarks in MediaPipe's order."""
    from blender_addon.usecases.solve import SolveOptions, solve

    photo = shared_path("photos", "lisa2.jpg")
    before = photo.read_bytes()
    out = tmp_path / "out.json"
    result = solve(SolveOptions(inputs=(str(photo),), json_out=out, body=True, device="cpu"), warn=lambda m: None)
    assert result.failed == 0
    entry = json.loads(out.read_text())["results"][0]
    body = entry["faces"][0]["body"]
    assert np.array(body["world_landmarks"]).shape == (33, 3) and len(body["visibility"]) == 33
    # hips at the origin (between the hips), y down: the nose is above (negative y)
    w = np.array(body["world_landmarks"])
    assert np.abs((w[23] + w[24]) / 2).max() < 0.02 and w[0, 1] < -0.3
    assert photo.read_bytes() == before
    # without --body nothing changes in the face entries
    plain = solve(SolveOptions(inputs=(str(photo),), device="cpu"), warn=lambda m: None)
    assert "body" not in plain.entries[0]["faces"][0]


def test_solve_cli_body_on_a_video_and_broken_input(tmp_path):
    """`facsimile solve --body` on a short video: one body entry per frame (None where nobody is seen), tracked on
    the frames the face tracker decodes; a broken photo is one error entry and the run goes on."""
    from blender_addon.host.cli import main

    img = _photo("lisa2.jpg")
    img = cv2.resize(img, (360, 480))
    frames = [img, img, np.zeros_like(img), img]
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (360, 480))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    js = tmp_path / "out.json"
    code = main(["solve", str(path), str(bad), "--body", "--json", str(js), "--device", "cpu"])
    assert code == 1  # the broken photo
    video, broken = json.loads(js.read_text())["results"]
    body = video["video"]["body"]
    assert len(body["frames"]) == 4 and body["frames_with_body"] == 3 and body["frames"][2] is None
    assert np.array(body["frames"][0]["world_landmarks"]).shape == (33, 3)
    assert "error" in broken and bad.read_bytes() == b"not a jpeg"


def test_track_bodies_stops_cleanly():
    """A consumer that stops early (an error in the face stage) leaves no body thread behind and loses no order."""
    import threading

    from blender_addon.core.body.pose_report import track_bodies

    image = _photo("lisa2.jpg")
    sink: list = []
    gen = track_bodies(iter([image] * 5), 30.0, sink, device="cpu")
    assert next(gen) is not None and next(gen) is not None
    gen.close()
    assert len(sink) == 1 and sink[0] is not None
    assert not [t for t in threading.enumerate() if t.name.startswith("facsimile-body")]
    # all frames through: one entry per frame, in order
    sink = []
    assert len(list(track_bodies(iter([image, np.zeros_like(image), image]), 30.0, sink, device="cpu"))) == 3
    assert [b is not None for b in sink] == [True, False, True]
