"""face_session.py: the cached solver, a solved photo's face choice and preview, BakeJob's argument checks."""

from __future__ import annotations

import bpy
import numpy as np
import pytest
from addon_fixtures import addon, demo_head, moving_frames, photo, write_sequence  # noqa: F401

from blender_addon.core.errors import FacsimileError
from blender_addon.usecases import face_session


def test_solver_is_cached_per_device(addon):  # noqa: F811
    assert face_session.solver_for("cpu") is face_session.solver_for("cpu")
    face_session.forget_solvers()
    assert face_session.device_used(face_session.solver_for("cpu")) == "face cpu, generator cpu"  # each stage


def test_photo_face_choice_and_preview(addon):  # noqa: F811
    solved = face_session.solve_photo(photo("neutral.jpeg"), "cpu")
    assert len(solved.faces) == 1 and solved.device == "face cpu, generator cpu"
    with pytest.raises(FacsimileError, match=r"face 2 asked for, but neutral.jpeg shows 1 face\(s\)"):
        face_session.pick_face(solved, 2, photo("neutral.jpeg"))
    pixels = face_session.preview_pixels(solved, 0)
    assert pixels.shape == solved.image.shape and not np.array_equal(pixels, solved.image)
    img = face_session.show_preview(pixels)
    assert tuple(img.size) == (pixels.shape[1], pixels.shape[0])
    half = pixels[::2, ::2].copy()
    smaller = face_session.show_preview(half)  # a new size replaces the image, not a second one
    assert tuple(smaller.size) == (half.shape[1], half.shape[0])
    assert [i.name for i in bpy.data.images].count(face_session.PREVIEW_IMAGE_NAME) == 1


def test_a_photo_without_a_face_names_the_file(addon, tmp_path):  # noqa: F811
    import cv2

    blank = tmp_path / "wall.png"
    cv2.imwrite(str(blank), np.full((240, 320, 3), 128, np.uint8))
    with pytest.raises(FacsimileError, match="no face found in wall.png"):
        face_session.solve_photo(blank, "cpu")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"stride": 0}, "stride must be 1 or more"),
        ({"first": 3, "last": 1}, "source frame range 3:1 is empty"),
        ({"smoothing": -0.5}, "smoothing must be >= 0"),
        ({"first": 50}, "the range starting at 50 is empty"),
    ],
)
def test_bake_job_rejects_bad_ranges_before_solving(addon, tmp_path, kwargs, message):  # noqa: F811
    head = demo_head(addon)
    clip = write_sequence(tmp_path / "clip", moving_frames("neutral.jpeg", 3))
    with pytest.raises(FacsimileError, match=message):
        face_session.BakeJob(head, clip, device="cpu", **kwargs)
    assert head.data.shape_keys.animation_data is None


def test_finish_before_solving_is_refused_and_close_writes_nothing(addon, tmp_path):  # noqa: F811
    head = demo_head(addon)
    clip = write_sequence(tmp_path / "clip", moving_frames("neutral.jpeg", 3))
    job = face_session.BakeJob(head, clip, device="cpu")
    with pytest.raises(FacsimileError, match="has not finished solving"):
        job.finish()
    job.step(1)
    job.close()
    assert head.data.shape_keys.animation_data is None
