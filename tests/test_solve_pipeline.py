"""One Euro filter, video frames, FaceSolver and the `facsimile solve` CLI (photos -> JSON, video -> Live Link CSV)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from conftest import REPO_ROOT, shared_path

from blender_addon.core.arkit import ARKIT_NAMES, INDEX
from blender_addon.core.errors import FacsimileError
from blender_addon.core.face.one_euro import OneEuroFilter

MODEL = REPO_ROOT / "exported_models" / "expression_generator.onnx"
needs_model = pytest.mark.skipif(not MODEL.is_file(), reason="expression_generator.onnx not built yet (make train)")


def smooth_track(values: np.ndarray, fps: float, smoothing: float = 1.0, names=ARKIT_NAMES) -> np.ndarray:
    """A (T, C) track through the filter one frame at a time, as FaceSolver.solve_video runs it."""
    f = OneEuroFilter(values.shape[1], smoothing=smoothing, names=names)
    return np.stack([f(v, i / fps) for i, v in enumerate(values)]).astype(np.float32)


def test_one_euro_smooths_jitter_but_keeps_blinks():
    fps = 30.0
    rng = np.random.default_rng(0)
    t = 90
    track = np.full((t, 52), 0.3) + rng.normal(0, 0.03, (t, 52))
    blink = [0.0, 0.5, 1.0, 1.0, 0.5, 0.0]  # a 200 ms blink
    for ch in ("eyeBlinkLeft", "eyeBlinkRight"):
        track[:, INDEX[ch]] = 0.05
        track[40:46, INDEX[ch]] = blink
    out = smooth_track(track, fps)
    still = INDEX["jawOpen"]
    assert out[10:, still].std() < 0.6 * track[10:, still].std()  # jitter reduced
    assert out[40:46, INDEX["eyeBlinkLeft"]].max() > 0.85  # the blink still (almost) closes the eye
    # the same settings on a non-eyelid channel would flatten it: that is why eyelids get their own
    flat = smooth_track(track[:, [INDEX["eyeBlinkLeft"]]], fps, names=("jawOpen",))
    assert flat[40:46, 0].max() < out[40:46, INDEX["eyeBlinkLeft"]].max()
    assert np.allclose(smooth_track(track, fps, smoothing=0.0), track.astype(np.float32))


def test_one_euro_rejects_bad_input():
    f = OneEuroFilter(52)
    f(np.zeros(52), 0.0)
    with pytest.raises(FacsimileError, match="increase"):
        f(np.zeros(52), 0.0)
    with pytest.raises(FacsimileError, match="NaN"):
        f(np.full(52, np.nan), 1.0)
    with pytest.raises(FacsimileError, match="52 values|expected"):
        f(np.zeros(3), 2.0)
    with pytest.raises(FacsimileError, match="smoothing"):
        OneEuroFilter(52, smoothing=-1)


def _write_video(path, frames, fps=10.0):
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert vw.isOpened()
    for f in frames:
        vw.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    vw.release()


def test_video_io_files_sequences_and_errors(tmp_path):
    from blender_addon.core.formats.video_io import VideoReadError, is_video_path, open_video

    frames = [np.full((48, 64, 3), i * 20, np.uint8) for i in range(5)]
    _write_video(tmp_path / "clip.avi", frames)
    src = open_video(tmp_path / "clip.avi")
    got = list(src.frames())
    assert len(got) == 5 and got[0].shape == (48, 64, 3) and abs(src.fps - 10.0) < 0.01
    seq = tmp_path / "seq"
    seq.mkdir()
    for i in (2, 0, 1):
        cv2.imwrite(str(seq / f"f{i:03d}.png"), frames[i])
    s = open_video(seq)
    assert s.frame_count == 3 and s.fps == 30.0
    assert [int(f.mean()) for f in s.frames()] == [0, 20, 40]  # sorted by name
    assert is_video_path(seq) and is_video_path(str(seq / "*.png")) and not is_video_path("a.jpg")
    (tmp_path / "broken.mp4").write_bytes(b"\x00\x01garbage" * 100)
    with pytest.raises(VideoReadError):
        list(open_video(tmp_path / "broken.mp4").frames())
    with pytest.raises(VideoReadError, match="not found"):
        open_video(tmp_path / "missing.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(VideoReadError, match="no images"):
        open_video(tmp_path / "empty")


def test_video_reader_thread_stops_and_forwards_errors(tmp_path):
    """Frames are decoded on a reader thread: order kept, reader errors raised in the consumer, an early close (a
    cancelled bake) stops the reader and releases the decoder."""
    import threading

    from blender_addon.core.formats.video_io import VideoReadError, open_video, prefetched

    frames = [np.full((48, 64, 3), i * 10, np.uint8) for i in range(20)]
    _write_video(tmp_path / "clip.avi", frames)
    got = [int(f.mean()) for f in open_video(tmp_path / "clip.avi").frames()]
    assert len(got) == 20 and got == sorted(got)

    def readers() -> int:
        return sum(t.name == "facsimile-video-reader" for t in threading.enumerate())

    before = readers()
    closed = threading.Event()

    def endless():
        try:
            i = 0
            while True:
                yield np.full((4, 4, 3), i % 256, np.uint8)
                i += 1
        finally:
            closed.set()

    it = prefetched(endless, depth=2)
    assert [int(next(it)[0, 0, 0]) for _ in range(5)] == [0, 1, 2, 3, 4]
    it.close()
    assert closed.is_set() and readers() == before

    def failing():
        yield np.zeros((4, 4, 3), np.uint8)
        raise VideoReadError("bad frame 1")

    it = prefetched(failing)
    assert next(it).shape == (4, 4, 3)
    with pytest.raises(VideoReadError, match="bad frame 1"):
        next(it)
    assert readers() == before


@needs_model
def test_solve_cli_photos_json_with_a_failing_file(tmp_path, capsys):
    from blender_addon.host.cli import main

    photos = shared_path("photos")
    bad = tmp_path / "corrupt.jpg"
    bad.write_bytes(b"\xff\xd8\xff not really a jpeg")
    out = tmp_path / "out.json"
    code = main(
        [
            "solve",
            str(photos / "surprised.jpeg"),
            str(bad),
            str(photos / "group.jpeg"),
            "--json",
            str(out),
            "--device",
            "cpu",
        ]
    )
    assert code == 1  # one input failed, the others are still there
    data = json.loads(out.read_text())
    res = data["results"]
    assert [r["file"] for r in res] == [str(photos / "surprised.jpeg"), str(bad), str(photos / "group.jpeg")]
    assert "error" in res[1] and "faces" not in res[1]
    face = res[0]["faces"][0]
    assert list(face["weights"]) == list(ARKIT_NAMES)
    assert len(face["box"]) == 4 and 0 <= face["confidence"] <= 1
    assert all(0.0 <= v <= 1.0 for v in face["weights"].values())
    group = res[2]["faces"]
    assert len(group) >= 2
    areas = [f["box"][2] * f["box"][3] for f in group]
    assert areas == sorted(areas, reverse=True)  # largest first
    # the file is readable by apply's weights loader
    from blender_addon.core.formats.weights_file import load_weights_file

    with pytest.raises(FacsimileError, match="without a usable face"):
        load_weights_file(out)  # it names the failed entry instead of guessing


@needs_model
def test_solve_cli_video_to_livelink_csv(tmp_path):
    from blender_addon.core.formats.image_io import load_image
    from blender_addon.core.formats.livelink_csv import read_livelink_csv
    from blender_addon.host.cli import main

    img = load_image(shared_path("photos", "surprised.jpeg"))
    scale = 480 / max(img.shape[:2])
    img = cv2.resize(img, (int(img.shape[1] * scale) // 2 * 2, int(img.shape[0] * scale) // 2 * 2))
    frames = [img] * 3 + [np.zeros_like(img)] + [img] * 2  # one frame without a face
    _write_video(tmp_path / "clip.avi", frames, fps=12.0)
    csv = tmp_path / "clip.csv"
    js = tmp_path / "clip.json"
    code = main(["solve", str(tmp_path / "clip.avi"), "--csv", str(csv), "--json", str(js), "--device", "cpu"])
    assert code == 0
    take = read_livelink_csv(csv)
    assert take.weights.shape == (6, 52)
    entry = json.loads(js.read_text())["results"][0]
    assert entry["video"]["frames"] == 6 and entry["video"]["frames_with_face"] == 5
    assert np.allclose(take.weights[3], take.weights[2], atol=1e-5)  # lost face: last values held
    # a corrupt video is an error entry, and the CSV of a good run is not touched by a failing one
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"junk" * 50)
    before = csv.read_bytes()
    code = main(["solve", str(bad), "--csv", str(csv), "--json", str(js), "--device", "cpu"])
    assert code == 1
    assert "error" in json.loads(js.read_text())["results"][0]
    assert csv.read_bytes() == before


@needs_model
def test_face_solver_directions_on_photos():
    """Real photos have no ground truth; these are the direction checks the model card reports."""
    from blender_addon.core.face.pipeline import FaceSolver

    solver = FaceSolver(device="cpu")
    angry = solver.solve_file(shared_path("photos", "angry.jpg"))[0].weights
    surprised = solver.solve_file(shared_path("photos", "surprised.jpeg"))[0].weights
    neutral = solver.solve_file(shared_path("photos", "neutral.jpeg"))[0].weights
    down = [INDEX["browDownLeft"], INDEX["browDownRight"]]
    up = [INDEX[n] for n in ("browInnerUp", "browOuterUpLeft", "browOuterUpRight")]
    # The frown: issue 18 keeps angry.jpg's browDown at 0.8 or more (shipped model 0.92; neutral.jpeg 0.03).
    assert angry[down].mean() >= 0.8 and angry[down].mean() > neutral[down].mean() + 0.5
    assert angry[up].sum() < neutral[up].sum() + 0.1  # a frown raises no brow
    # The raise: in the right direction (its size is test_surprised_photo_raises_the_brows).
    assert surprised[up].sum() > neutral[up].sum() and surprised[up].sum() > angry[up].sum() + 0.2
    assert solver.solve_image(np.zeros((64, 64, 3), np.uint8)) == []
    with pytest.raises(FacsimileError):
        solver.solve_file(shared_path("photos") / "does-not-exist.jpg")


def test_solve_cli_help_lists_solve(capsys):
    from blender_addon.host.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["solve", "--help"])
    assert exc.value.code == 0
    assert "PHOTO_OR_VIDEO" in capsys.readouterr().out


@needs_model
@pytest.mark.xfail(
    strict=True,
    reason="known regression of the issue-10 model (real_pseudo_mirror_floor): surprised.jpeg's brows read 0.37 "
    "(browInnerUp + browOuterUp; neutral.jpeg 0.13, MediaPipe 1.69, the previous model ~0.96). The issue-18 run kept an "
    "arm that read 0.07 and was not shipped; the arm without the detector model reads 1.41 but lost the selection "
    "(model_training/card/notes.md). Strict: this fails the suite as soon as the brows come back, so remove the mark then.",
)
def test_surprised_photo_raises_the_brows():
    """Direction on real photos: raised brows on surprised.jpeg, well above the resting neutral.jpeg."""
    from blender_addon.core.face.pipeline import FaceSolver

    solver = FaceSolver(device="cpu")
    surprised = solver.solve_file(shared_path("photos", "surprised.jpeg"))[0].weights
    neutral = solver.solve_file(shared_path("photos", "neutral.jpeg"))[0].weights
    brows = [INDEX[n] for n in ("browInnerUp", "browOuterUpLeft", "browOuterUpRight")]
    assert surprised[brows].sum() > 0.6
    assert surprised[brows].sum() > neutral[brows].sum() + 0.3
