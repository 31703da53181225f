"""Photo and video operators end to end with the real models on the demo head, and their bad-input paths."""

from __future__ import annotations

import shutil

import bpy
import cv2
import numpy as np
import pytest
from addon_fixtures import (  # noqa: F401
    addon,
    demo_head,
    key_counts,
    moving_frames,
    photo,
    write_sequence,
    write_video,
)

import blender_addon
from blender_addon.core.models.store import models_dir
from blender_addon.scene import character
from blender_addon.usecases import face_session

SMILE = ("mouthSmileLeft", "mouthSmileRight")


def _values(obj) -> dict[str, float]:
    return {kb.name: kb.value for kb in obj.data.shape_keys.key_blocks}


def _untouched(obj, before: dict[str, float]) -> bool:
    return _values(obj) == before and obj.data.shape_keys.animation_data is None


def test_smiling_photo_raises_the_smile_keys(addon):  # noqa: F811
    head = demo_head(addon)
    assert bpy.ops.facsimile.apply_photo(filepath=str(photo("neutral.jpeg"))) == {"FINISHED"}
    neutral = _values(head)
    assert bpy.ops.facsimile.apply_photo(filepath=str(photo("happy-baby.jpeg"))) == {"FINISHED"}
    happy = _values(head)
    assert sum(happy[k] for k in SMILE) > sum(neutral[k] for k in SMILE)
    st = addon.scene.facsimile
    assert st.faces_found == 1 and st.last_device == "face cpu, generator cpu"  # each stage's device
    preview = bpy.data.images[face_session.PREVIEW_IMAGE_NAME]
    h, w = cv2.imread(str(photo("happy-baby.jpeg"))).shape[:2]
    assert tuple(preview.size) == (w, h)
    assert head.data.shape_keys.animation_data is None  # "key current frame" was off


def test_key_current_frame_and_several_faces(addon):  # noqa: F811
    head = demo_head(addon)
    addon.scene.frame_set(7)
    group = str(photo("group.jpeg"))
    assert bpy.ops.facsimile.apply_photo(filepath=group, face=1, key_frame="YES") == {"FINISHED"}
    st = addon.scene.facsimile
    assert st.faces_found > 1
    counts = key_counts(head)
    assert counts and set(counts.values()) == {1}
    before = _values(head)
    with pytest.raises(RuntimeError, match=f"shows {st.faces_found} face"):
        bpy.ops.facsimile.apply_photo(filepath=group, face=st.faces_found)
    assert _values(head) == before


def test_capture_neutral_lowers_a_neutral_photos_output(addon):  # noqa: F811
    head = demo_head(addon)
    rest = str(photo("neutral.jpeg"))
    bpy.ops.facsimile.apply_photo(filepath=rest)
    raw = np.array(list(_values(head).values())[1:])
    assert bpy.ops.facsimile.capture_neutral(filepath=rest) == {"FINISHED"}
    assert character.get_neutral(head) is not None
    bpy.ops.facsimile.apply_photo(filepath=rest)
    calibrated = np.array(list(_values(head).values())[1:])
    assert raw.sum() > 0.05
    assert calibrated.sum() < 0.5 * raw.sum()
    assert np.all(calibrated <= raw + 1e-6)


def test_photo_without_a_face_is_a_clear_error(addon, tmp_path):  # noqa: F811
    head = demo_head(addon)
    before = _values(head)
    blank = tmp_path / "wall.png"
    rng = np.random.default_rng(1)
    cv2.imwrite(str(blank), cv2.GaussianBlur(rng.integers(90, 160, (360, 480, 3), dtype=np.uint8), (0, 0), 5))
    with pytest.raises(RuntimeError, match="no face found in wall.png"):
        bpy.ops.facsimile.apply_photo(filepath=str(blank))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(RuntimeError, match="broken.jpg"):
        bpy.ops.facsimile.apply_photo(filepath=str(broken))
    with pytest.raises(RuntimeError, match="does not exist"):
        bpy.ops.facsimile.apply_photo(filepath=str(tmp_path / "missing.jpg"))
    assert _untouched(head, before)


@pytest.mark.parametrize("damage", ["missing", "tampered"])
def test_missing_or_tampered_model_is_a_clear_error(addon, tmp_path, monkeypatch, damage):  # noqa: F811
    head = demo_head(addon)
    before = _values(head)
    copy = tmp_path / "models"
    shutil.copytree(models_dir(), copy)
    victim = copy / "face_landmarks.onnx"
    if damage == "missing":
        victim.unlink()
    else:
        data = bytearray(victim.read_bytes())
        data[len(data) // 2] ^= 0xFF
        victim.write_bytes(bytes(data))
    monkeypatch.setenv("FACSIMILE_MODELS_DIR", str(copy))
    message = "is missing" if damage == "missing" else "does not match its manifest checksum"
    with pytest.raises(RuntimeError, match=message):
        bpy.ops.facsimile.apply_photo(filepath=str(photo("neutral.jpeg")))
    assert _untouched(head, before)


def _cuda_works() -> bool:
    from blender_addon.core.models.onnx_session import DeviceUnavailableError, create_session
    from blender_addon.core.models.store import verified_model_path

    try:
        create_session(verified_model_path("face_detector.onnx"), "cuda")
    except DeviceUnavailableError:
        return False
    return True


@pytest.mark.parametrize("via", ["preferences", "environment"])
def test_cuda_asked_for_but_unavailable_says_so(addon, monkeypatch, via):  # noqa: F811
    """Preferences > Device = CUDA (or $FACSIMILE_DEVICE=cuda headless) on a machine where CUDA cannot run."""
    import addon_utils

    from blender_addon.ui.preferences import ADDON_ID

    if _cuda_works():
        pytest.skip("CUDA works on this machine")
    head = demo_head(addon)
    before = _values(head)
    face_session.forget_solvers()
    if via == "environment":
        monkeypatch.setenv("FACSIMILE_DEVICE", "cuda")
    else:
        monkeypatch.delenv("FACSIMILE_DEVICE")  # the environment wins over the preference
        blender_addon.unregister()  # the fixture's registration; enabling registers again
        addon_utils.enable(ADDON_ID, default_set=True)
    try:
        if via == "preferences":
            bpy.context.preferences.addons[ADDON_ID].preferences.device = "cuda"
            addon.scene.facsimile.target = head
        with pytest.raises(RuntimeError, match="CUDA was requested but is not usable"):
            bpy.ops.facsimile.apply_photo(filepath=str(photo("neutral.jpeg")))
    finally:
        if via == "preferences":
            addon_utils.disable(ADDON_ID, default_set=True)
            blender_addon.register()
    assert _untouched(head, before)


def test_image_sequence_bakes_one_key_per_image(addon, tmp_path):  # noqa: F811
    head = demo_head(addon)
    seq = write_sequence(tmp_path / "seq", moving_frames("happy-baby.jpeg", 7))
    st = addon.scene.facsimile
    st.start_frame = 20
    assert bpy.ops.facsimile.bake_clip(filepath=str(seq)) == {"FINISHED"}
    counts = key_counts(head)
    assert len(counts) == 52 and set(counts.values()) == {7}
    fc = character.shape_key_fcurves(head)['key_blocks["jawOpen"].value']
    assert [round(k.co[0]) for k in fc.keyframe_points] == list(range(20, 27))
    weights, fps = character.last_solve(head)
    assert weights.shape == (7, 52) and fps == pytest.approx(character.scene_fps(addon.scene))
    # Stride 3 over the same 7 images: frames 0, 3, 6 keep their timing.
    st.stride = 3
    st.start_frame = 100
    bpy.ops.facsimile.bake_clip(filepath=str(seq))
    fc = character.shape_key_fcurves(head)['key_blocks["jawOpen"].value']
    assert [round(k.co[0]) for k in fc.keyframe_points][-3:] == [100, 103, 106]


def test_video_bake_keeps_the_clip_timing(addon, tmp_path):  # noqa: F811
    head = demo_head(addon)
    scene = addon.scene
    scene.render.fps, scene.render.fps_base = 15, 1.0
    clip = write_video(tmp_path / "clip.mp4", moving_frames("neutral.jpeg", 10), fps=30.0)
    st = scene.facsimile
    st.start_frame = 1
    st.smoothing = False
    assert bpy.ops.facsimile.bake_clip(filepath=str(clip)) == {"FINISHED"}
    assert set(key_counts(head).values()) == {5}  # 10 frames at 30 fps = 5 frames at 15 fps


def test_cancelled_bake_leaves_the_object_as_it_was(addon, tmp_path):  # noqa: F811
    head = demo_head(addon)
    head.data.shape_keys.key_blocks["jawOpen"].value = 0.3
    before = _values(head)
    seq = write_sequence(tmp_path / "seq", moving_frames("happy-baby.jpeg", 6))
    job = face_session.BakeJob(head, seq, device="cpu", start_frame=1)
    assert job.step(2) is False and len(job.weights) == 2 and 0 < job.fraction < 1
    job.close()  # what Esc does: no finish()
    assert _untouched(head, before)
    assert character.LAST_SOLVE_PROP not in head


def test_corrupt_video_is_a_clear_error_and_changes_nothing(addon, tmp_path):  # noqa: F811
    head = demo_head(addon)
    before = _values(head)
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(np.random.default_rng(2).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    with pytest.raises(RuntimeError, match="clip.mp4"):
        bpy.ops.facsimile.bake_clip(filepath=str(bad))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RuntimeError, match="no images"):
        bpy.ops.facsimile.bake_clip(filepath=str(empty))
    assert _untouched(head, before)


def test_bake_of_a_clip_without_faces_keys_nothing(addon, tmp_path):  # noqa: F811
    head = demo_head(addon)
    before = _values(head)
    frames = [np.full((240, 320, 3), 40 + 10 * i, np.uint8) for i in range(4)]
    seq = write_sequence(tmp_path / "walls", frames)
    with pytest.raises(RuntimeError, match="no face found in any of the 4 frames"):
        bpy.ops.facsimile.bake_clip(filepath=str(seq))
    assert _untouched(head, before)
