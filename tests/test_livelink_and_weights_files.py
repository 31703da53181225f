"""Live Link Face CSV and weights JSON: round trips, timing, and broken files."""

import json

import numpy as np
import pytest

from blender_addon.core.arkit import ARKIT_NAMES, INDEX
from blender_addon.core.errors import FacsimileError
from blender_addon.core.formats.livelink_csv import HEADER, read_livelink_csv, write_livelink_csv
from blender_addon.core.formats.weights_file import load_weights_file, scene_frames, write_weights_json


@pytest.mark.parametrize("fps", [30.0, 60.0])
def test_csv_round_trip_and_fps_inference(tmp_path, fps):
    rng = np.random.default_rng(0)
    w = rng.random((90, 52), dtype=np.float32)
    head = rng.random((90, 3))
    path = write_livelink_csv(tmp_path / "take.csv", w, fps, start_seconds=11 * 3600 + 0.25, head=head)
    assert path.read_text().splitlines()[0].split(",") == list(HEADER)
    take = read_livelink_csv(path)
    assert take.source_fps == fps
    assert np.allclose(take.weights, w, atol=1e-5) and np.allclose(take.head, head, atol=1e-5)
    assert np.allclose(np.diff(take.seconds), 1 / fps)


def test_csv_columns_follow_live_link_order_not_arkit_order(tmp_path):
    w = np.zeros((2, 52), dtype=np.float32)
    w[:, INDEX["jawLeft"]] = 0.7
    path = write_livelink_csv(tmp_path / "t.csv", w, 60)
    header = path.read_text().splitlines()[0].split(",")
    assert header.index("JawRight") < header.index("JawLeft")
    row = path.read_text().splitlines()[1].split(",")
    assert float(row[header.index("JawLeft")]) == pytest.approx(0.7)


def test_timecodes_resample_to_scene_frames(tmp_path):
    w = np.zeros((61, 52), dtype=np.float32)
    w[:, 0] = np.linspace(0, 1, 61)
    seq = load_weights_file(write_livelink_csv(tmp_path / "t.csv", w, 60))
    frames, out = scene_frames(seq, 24.0, start_frame=10)
    assert frames[0] == 10 and len(frames) == 25
    assert out[-1, 0] == pytest.approx(1.0) and out[12, 0] == pytest.approx(0.5)


def _header_and_row(value: str = "0.5") -> str:
    cols = list(HEADER)
    return ",".join(cols) + "\n" + ",".join(["00:00:01:00.000", "61"] + [value] * (len(cols) - 2)) + "\n"


def test_broken_csvs_are_clear_errors(tmp_path):
    missing = tmp_path / "missing.csv"
    text = _header_and_row().replace("JawOpen,", "", 1)
    missing.write_text(text)
    with pytest.raises(FacsimileError, match="missing Live Link Face column.*JawOpen"):
        read_livelink_csv(missing)
    nan = tmp_path / "nan.csv"
    nan.write_text(_header_and_row("nan"))
    with pytest.raises(FacsimileError, match="line 2.*NaN"):
        read_livelink_csv(nan)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(FacsimileError, match="empty"):
        read_livelink_csv(empty)
    badtc = tmp_path / "badtc.csv"
    badtc.write_text(_header_and_row().replace("00:00:01:00.000", "yesterday"))
    with pytest.raises(FacsimileError, match="bad timecode"):
        read_livelink_csv(badtc)
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81" * 20)
    with pytest.raises(FacsimileError):
        read_livelink_csv(binary)


def test_json_forms(tmp_path):
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"JAWOPEN": 0.5}))
    seq = load_weights_file(one)
    assert seq.weights.shape == (1, 52) and seq.fps is None and seq.weights[0, INDEX["jawOpen"]] == 0.5
    many = write_weights_json(tmp_path / "seq.json", np.full((3, 52), 0.25), fps=30)
    seq = load_weights_file(many)
    assert seq.weights.shape == (3, 52) and seq.fps == 30
    solve = tmp_path / "solve.json"
    solve.write_text(
        json.dumps({"results": [{"file": "a.jpg", "faces": [{"box": [0, 0, 1, 1], "weights": {"mouthSmileLeft": 1}}]}]})
    )
    assert load_weights_file(solve).weights[0, INDEX["mouthSmileLeft"]] == 1


def test_broken_json_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"jawOpen": 0.5, "smileLeft": 1, "blink": 0}))
    with pytest.raises(FacsimileError, match="blink, smileLeft"):
        load_weights_file(bad)
    bad.write_text("[1, 2")
    with pytest.raises(FacsimileError, match="not valid JSON"):
        load_weights_file(bad)
    bad.write_text(json.dumps({"fps": 30, "frames": []}))
    with pytest.raises(FacsimileError, match="non-empty"):
        load_weights_file(bad)
    bad.write_text(json.dumps({"results": [{"file": "x.jpg", "error": "cannot read image"}]}))
    with pytest.raises(FacsimileError, match="x.jpg.*cannot read image"):
        load_weights_file(bad)
    with pytest.raises(FacsimileError, match="does not exist"):
        load_weights_file(tmp_path / "nope.json")
    txt = tmp_path / "w.txt"
    txt.write_text("{}")
    with pytest.raises(FacsimileError, match=r"\.json or"):
        load_weights_file(txt)
    assert len(ARKIT_NAMES) == 52
