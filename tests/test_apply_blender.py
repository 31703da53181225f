"""`facsimile apply` and the shape-key writer with the real bpy module, on two real characters in every preset style."""

from __future__ import annotations

import hashlib
import json

import bpy
import numpy as np
import pytest
from characters import build_character

from blender_addon.core.arkit import ARKIT_NAMES, INDEX
from blender_addon.core.formats.livelink_csv import write_livelink_csv
from blender_addon.core.retarget import PRESETS, ChannelSettings, build_retarget_map, preset_targets
from blender_addon.host import cli
from blender_addon.scene.shape_keys import bake_keyframes, set_values, shape_key_names


def _fresh() -> None:
    bpy.ops.wm.read_factory_settings(use_empty=True)


def _save(path) -> None:
    bpy.ops.wm.save_as_mainfile(filepath=str(path), copy=True)


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fcurve_keys(obj, name: str) -> np.ndarray:
    action = obj.data.shape_keys.animation_data.action
    slot = obj.data.shape_keys.animation_data.action_slot
    bag = action.layers[0].strips[0].channelbag(slot)
    fc = bag.fcurves.find(f'key_blocks["{name}"].value')
    co = np.empty(len(fc.keyframe_points) * 2, dtype=np.float32)
    fc.keyframe_points.foreach_get("co", co)
    return co.reshape(-1, 2)


@pytest.mark.parametrize("source", ["ict", "makehuman"])
@pytest.mark.parametrize("style", PRESETS)
def test_apply_round_trip_every_preset(tmp_path, source, style):
    _fresh()
    build_character(source, style)
    src = tmp_path / "in.blend"
    _save(src)
    before = _digest(src)
    rng = np.random.default_rng(1)
    w = rng.random(52).round(3)
    weights = tmp_path / "w.json"
    weights.write_text(json.dumps(dict(zip(ARKIT_NAMES, w.tolist()))))
    out = tmp_path / "out.blend"
    code = cli.main(["apply", "--blend", str(src), "--object", "Face", "--weights", str(weights), "--out", str(out)])
    assert code == 0 and out.is_file() and _digest(src) == before
    bpy.ops.wm.open_mainfile(filepath=str(out))
    blocks = bpy.data.objects["Face"].data.shape_keys.key_blocks
    for arkit in ARKIT_NAMES:
        for target in preset_targets(style)[arkit]:
            assert blocks[target].value == pytest.approx(w[INDEX[arkit]], abs=1e-6), (arkit, target)


def test_bake_sequence_on_slotted_action_keeps_other_animation(tmp_path):
    _fresh()
    obj = build_character("makehuman", "arkit")
    obj.location = (0, 0, 0)
    obj.keyframe_insert("location", frame=1)
    obj.keyframe_insert("location", frame=500)
    rmap = build_retarget_map(shape_key_names(obj), "arkit")
    early = np.full((20, 52), 0.9, dtype=np.float32)
    bake_keyframes(obj, rmap, early, start_frame=1)  # keys 1..20 that the CSV bake must partly keep
    take = np.zeros((61, 52), dtype=np.float32)
    take[:, INDEX["jawOpen"]] = np.linspace(0, 1, 61)
    csv = write_livelink_csv(tmp_path / "take.csv", take, 60)
    src = tmp_path / "in.blend"
    bpy.context.scene.render.fps = 30
    _save(src)
    out = tmp_path / "out.blend"
    args = ["apply", "--blend", str(src), "--object", "Face", "--weights", str(csv), "--out", str(out)]
    assert cli.main(args + ["--start-frame", "11"]) == 0
    bpy.ops.wm.open_mainfile(filepath=str(out))
    obj = bpy.data.objects["Face"]
    assert obj.data.shape_keys.animation_data.action_slot is not None
    jaw = _fcurve_keys(obj, "jawOpen")
    assert jaw[:, 0].tolist() == list(range(1, 11)) + list(range(11, 42))  # 1 s at 30 fps from frame 11
    assert np.allclose(jaw[:10, 1], 0.9) and jaw[-1, 1] == pytest.approx(1.0) and jaw[10, 1] == pytest.approx(0.0)
    assert len(obj.animation_data.action.layers[0].strips[0].channelbags[0].fcurves) == 3  # location untouched
    bpy.context.scene.frame_set(26)
    assert obj.data.shape_keys.key_blocks["jawOpen"].value == pytest.approx(0.5, abs=1e-3)


def test_gain_past_slider_range_widens_it_instead_of_clipping():
    _fresh()
    obj = build_character("makehuman", "arkit")
    rmap = build_retarget_map(shape_key_names(obj), "arkit", settings={"jawOpen": ChannelSettings(gain=1.5)})
    w = np.zeros(52, dtype=np.float32)
    w[INDEX["jawOpen"]] = 1.0
    report = set_values(obj, rmap, w)
    kb = obj.data.shape_keys.key_blocks["jawOpen"]
    assert report.widened == ["jawOpen"] and kb.slider_max >= 1.5 and kb.value == pytest.approx(1.5)


@pytest.fixture
def scene_file(tmp_path):
    _fresh()
    build_character("makehuman", "arkit")
    bpy.ops.object.camera_add()
    bpy.context.object.name = "Cam"
    plain = bpy.data.meshes.new("Plain")
    plain.from_pydata([(0, 0, 0), (1, 0, 0), (0, 1, 0)], [], [(0, 1, 2)])
    bpy.context.scene.collection.objects.link(bpy.data.objects.new("Plain", plain))
    path = tmp_path / "scene.blend"
    _save(path)
    good = tmp_path / "w.json"
    good.write_text(json.dumps({"jawOpen": 0.5}))
    return path, good


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing object", "no object named 'Nobody'"),
        ("camera", "is a camera, not a mesh"),
        ("no shape keys", "has no shape keys"),
        ("unknown names", "unknown ARKit blendshape name"),
        ("nan csv", "NaN"),
        ("missing columns", "missing Live Link Face column"),
        ("unwritable", "cannot create output folder"),
        ("same as input", "is the input file"),
        ("not a blend", "not a .blend file"),
    ],
)
def test_apply_bad_input_is_clear_and_writes_nothing(tmp_path, scene_file, capsys, case, message):
    src, weights = scene_file
    before = _digest(src)
    obj, out = "Face", tmp_path / "out" / "result.blend"
    if case == "missing object":
        obj = "Nobody"
    elif case == "camera":
        obj = "Cam"
    elif case == "no shape keys":
        obj = "Plain"
    elif case == "unknown names":
        weights.write_text(json.dumps({"jawOpen": 1, "jawOpenn": 1}))
    elif case in ("nan csv", "missing columns"):
        data = np.zeros((3, 52))
        weights = write_livelink_csv(tmp_path / "t.csv", data, 60)
        text = weights.read_text()
        lines = text.splitlines()
        if case == "nan csv":
            lines[2] = lines[2].rsplit(",", 1)[0] + ",nan"
        else:
            lines = [
                line.split(",", 3)[0] + "," + line.split(",", 3)[1] + "," + line.split(",", 3)[3] for line in lines
            ]
        weights.write_text("\n".join(lines) + "\n")
    elif case == "unwritable":
        blocker = tmp_path / "blocker"  # a file where the output folder should be (chmod does not stop root)
        blocker.write_text("x")
        out = blocker / "sub" / "result.blend"
    elif case == "same as input":
        out = src
    elif case == "not a blend":
        src = tmp_path / "fake.blend"
        src.write_text("hello")
        before = _digest(src)
    code = cli.main(["apply", "--blend", str(src), "--object", obj, "--weights", str(weights), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and message in err and "Traceback" not in err
    assert not out.exists() or out == src
    assert _digest(src) == before
    leftovers = [p for p in (out.parent.glob("*.blend*") if out.parent.is_dir() else []) if p != src]
    assert leftovers == []


def test_in_place_is_allowed_when_asked(scene_file):
    src, weights = scene_file
    before = _digest(src)
    args = ["apply", "--blend", str(src), "--object", "Face", "--weights", str(weights), "--out", str(src)]
    assert cli.main(args + ["--in-place"]) == 0
    assert _digest(src) != before
    bpy.ops.wm.open_mainfile(filepath=str(src))
    assert bpy.data.objects["Face"].data.shape_keys.key_blocks["jawOpen"].value == pytest.approx(0.5)
