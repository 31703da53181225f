"""usecases.solve: the options check before any model loads, where CSVs go, and the per-file error entries."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from blender_addon.core.errors import FacsimileError
from blender_addon.usecases.solve import NO_FACE_IN_PHOTO, SolveOptions, solve


def test_check_refuses_bad_options_before_any_model(tmp_path: Path):
    photo = tmp_path / "p.png"
    cv2.imwrite(str(photo), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(FacsimileError, match="no input"):
        SolveOptions(inputs=()).check()
    with pytest.raises(FacsimileError, match="--csv is for videos"):
        SolveOptions(inputs=(str(photo),), csv_out=str(tmp_path / "w.csv")).check()
    with pytest.raises(FacsimileError, match="max-faces"):
        SolveOptions(inputs=(str(photo),), max_faces=0).check()
    with pytest.raises(FacsimileError, match="input"):
        SolveOptions(inputs=(str(photo),), json_out=photo).check()


def test_csv_paths_one_video_and_same_named_videos(tmp_path: Path):
    one = SolveOptions(inputs=("a/clip.mp4",), csv_out=str(tmp_path / "w.csv"))
    assert one.csv_paths() == {"a/clip.mp4": tmp_path / "w.csv"}
    two = SolveOptions(inputs=("a/clip.mp4", "b/clip.mp4", "p.jpg"), csv_out=str(tmp_path / "out") + "/")
    paths = two.csv_paths()
    assert set(paths) == {"a/clip.mp4", "b/clip.mp4"} and len(set(paths.values())) == 2


def test_a_photo_without_a_face_is_an_error_entry_and_the_json_is_written(tmp_path: Path):
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((64, 64, 3), 128, np.uint8))
    before = blank.read_bytes()
    out = tmp_path / "w.json"
    notes: list[str] = []
    result = solve(SolveOptions(inputs=(str(blank),), json_out=out, device="cpu"), warn=notes.append)
    assert result.failed == 1 and result.entries[0]["error"] == NO_FACE_IN_PHOTO
    assert json.loads(out.read_text())["results"] == result.entries
    assert any(NO_FACE_IN_PHOTO in n for n in notes) and any(n.startswith("running on") for n in notes)
    assert blank.read_bytes() == before
