"""`facsimile keys` and the "Generate ARKit Shape Keys" operator on the bpy module: keys written in one go, existing
keys kept, the input never written, and one clear line for each kind of bad input."""

from __future__ import annotations

import hashlib
import json
import re

import bpy
import numpy as np
import pytest
from addon_fixtures import headless, unwritable_dir  # noqa: F401

from blender_addon.core.arkit import ARKIT_NAMES, INDEX
from blender_addon.core.keygen.ict_data import load_model
from blender_addon.host import cli
from blender_addon.host.blender_compat import add_shape_key


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _ict_head_scene(path, with_keys: bool = True):
    """The ICT face (metres, Z up like a Blender character) with a Basis and a custom key, a camera and a blob that
    has no face, saved to `path`; returns the landmarks (object space) a user could give with --landmarks."""
    model = load_model()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    rot = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])  # ICT's Y up / Z forward -> Blender's Z up / -Y forward
    verts = 0.01 * model.neutral @ rot.T
    mesh = bpy.data.meshes.new("Head")
    mesh.from_pydata(verts.tolist(), [], model.tris.tolist())
    obj = bpy.data.objects.new("Head", mesh)
    bpy.context.scene.collection.objects.link(obj)
    obj.location = (2.0, 0.5, 1.6)
    if with_keys:
        add_shape_key(obj, "Basis")
        custom = add_shape_key(obj, "Custom")
        co = np.empty(len(verts) * 3, np.float32)
        custom.data.foreach_get("co", co)
        custom.data.foreach_set("co", co + 0.001)
    cam = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam"))
    bpy.context.scene.collection.objects.link(cam)
    bpy.ops.mesh.primitive_uv_sphere_add(radius=0.1)
    bpy.context.active_object.name = "Blob"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return model.landmarks(verts)


@pytest.fixture
def scene(tmp_path):
    path = tmp_path / "head.blend"
    lm = _ict_head_scene(path)
    lm_file = tmp_path / "landmarks.json"
    lm_file.write_text(json.dumps({"landmarks": lm.tolist()}))
    return path, lm_file


def test_keys_command_with_a_landmark_file(headless, tmp_path, scene, capsys):  # noqa: F811
    path, lm_file = scene
    before = _digest(path)
    out, report = tmp_path / "out.blend", tmp_path / "report.json"
    argv = ["keys", "--blend", str(path), "--object", "Head", "--out", str(out), "--landmarks", str(lm_file)]
    assert cli.main(argv + ["--report", str(report)]) == 0, capsys.readouterr().err
    assert _digest(path) == before
    text = capsys.readouterr().out
    assert "wrote 52 ARKit shape keys on 'Head' (52 new, 0 replaced)" in text
    rep = json.loads(report.read_text())
    assert {c["name"]: c["ok"] for c in rep["checks"]}["jawOpen"]
    bpy.ops.wm.open_mainfile(filepath=str(out), load_ui=False)
    keys = bpy.data.objects["Head"].data.shape_keys.key_blocks
    assert [k.name for k in keys][:2] == ["Basis", "Custom"]  # kept, in place
    assert set(ARKIT_NAMES) <= set(keys.keys())
    rest = np.empty(len(keys[0].data) * 3, np.float32)
    keys["Basis"].data.foreach_get("co", rest)
    jaw = np.empty_like(rest)
    keys["jawOpen"].data.foreach_get("co", jaw)
    drop = (jaw - rest).reshape(-1, 3)
    assert 0.01 < np.linalg.norm(drop, axis=1).max() < 0.08  # metres, the jaw of a real face
    assert drop[:, 2].min() < -0.005  # ... and it goes down (object Z is up here)


@pytest.mark.parametrize(
    "change, message",
    [
        (("--object", "Nope"), "no object named 'Nope'"),
        (("--object", "Cam"), "'Cam' is a camera, not a mesh"),
        (("--object", "Blob"), "no face found on 'Blob'"),
        (("--landmarks", "CORRUPT"), "cannot read landmark file"),
        (("--landmarks", "SHORT"), "must hold 468 or 478 points"),
        (("--out", "UNWRITABLE"), "not writable|cannot create output folder"),
        (("--out", "SCENE"), "is the input file"),
    ],
)
def test_keys_command_bad_input_is_one_clear_line(headless, tmp_path, scene, capsys, change, message):  # noqa: F811
    path, lm_file = scene
    before = _digest(path)
    args = {"--blend": str(path), "--object": "Head", "--out": str(tmp_path / "out.blend"), "--landmarks": str(lm_file)}
    key, value = change
    if value == "UNWRITABLE":
        value = str(unwritable_dir(tmp_path) / "out.blend")
    elif value == "SCENE":
        value = str(path)
    elif value == "CORRUPT":
        (tmp_path / "bad.json").write_text('{"landmarks": [[0, 0')
        value = str(tmp_path / "bad.json")
    elif value == "SHORT":
        (tmp_path / "short.json").write_text(json.dumps([[0, 0, 0]] * 12))
        value = str(tmp_path / "short.json")
    args[key] = value
    if value == "Blob":
        args["--landmarks"] = "auto"
    argv = ["keys"] + [x for kv in args.items() for x in kv]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith("facsimile keys: error:") and len(err.strip().splitlines()) == 1, err
    assert re.search(message, err), err
    assert _digest(path) == before
    assert not (tmp_path / "out.blend").exists()


def test_operator_generates_keys_in_one_undo_step(tmp_path):
    """The panel's button, registered as in Blender: keys on the active mesh, reported; no face found is an error
    report, not a traceback (the no-face case is covered by the command test)."""
    from blender_addon.ui import keygen_operators

    path = tmp_path / "head.blend"
    lm = _ict_head_scene(path, with_keys=False)
    bpy.ops.wm.open_mainfile(filepath=str(path), load_ui=False)
    head = bpy.data.objects["Head"]
    lm_file = tmp_path / "lm.npy"
    np.save(lm_file, lm)
    keygen_operators.register()
    try:
        bpy.context.view_layer.objects.active = head
        assert bpy.ops.facsimile.generate_keys(landmarks=str(lm_file)) == {"FINISHED"}
        names = head.data.shape_keys.key_blocks.keys()
        assert names == ["Basis", *ARKIT_NAMES]  # a bare head gets a Basis and the 52, in ARKit order
        assert names[INDEX["jawOpen"] + 1] == "jawOpen"
        bpy.context.view_layer.objects.active = bpy.data.objects["Cam"]
        with pytest.raises(RuntimeError, match="'Cam' is a camera, not a mesh"):
            bpy.ops.facsimile.generate_keys()
    finally:
        keygen_operators.unregister()
        bpy.ops.wm.read_factory_settings(use_empty=True)


@pytest.mark.slow
def test_auto_landmarks_on_the_makehuman_head_against_the_artist_keys():
    """The whole auto path (renders, front-end, ray casts, fit, transfer) on the MakeHuman body lying in Blender as
    MakeHuman writes it: a regression floor below the measured figures (benchmarks/bench_keygen.py)."""
    from conftest import shared_path
    from keygen_fixtures import build_object, load_makehuman

    from blender_addon.core.keygen.quality import compare
    from blender_addon.scene.keygen_blender import rest_coords
    from blender_addon.usecases.keys import KeysOptions, generate_keys

    v, f, ref, _ = load_makehuman(shared_path("makehuman_arkit"))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    head = build_object("MakeHuman", v, f)
    rep = generate_keys(head, KeysOptions())
    rest = rest_coords(head)
    gen = np.zeros_like(ref)
    co = np.empty(len(v) * 3, np.float32)
    for k, name in enumerate(ARKIT_NAMES):
        head.data.shape_keys.key_blocks[name].data.foreach_get("co", co)
        gen[k] = co.reshape(-1, 3) - rest
    skin = np.zeros(len(v), bool)
    skin[np.unique(np.concatenate([np.asarray(q) for q in f]))] = True
    mask = skin & ((np.abs(ref).max(-1).max(0) > 1e-6) | (np.abs(gen).max(-1).max(0) > 1e-6))
    cos, _ = compare(gen, ref, mask)
    assert np.median(cos) >= 0.73, np.round(cos, 2)  # measured 0.739 on 2026-12-07 (0.686 when the issue was filed)
    assert cos[INDEX["jawOpen"]] >= 0.85
    brow_down = min(cos[INDEX["browDownLeft"]], cos[INDEX["browDownRight"]])
    assert brow_down >= 0.72, brow_down  # measured 0.743 (0.62 before browDown lowered the inner brow too)
    checks = {c.name: c for c in rep.checks}
    assert abs(checks["eyeBlinkLeft"].checks["gap_ratio"]) <= 0.1
    assert abs(checks["eyeBlinkRight"].checks["gap_ratio"]) <= 0.1
    assert np.abs(gen[:, v[:, 1] < 5.0]).max() == 0.0  # the body below the neck (Y up, dm; chin ~5.8) stays still
    bpy.ops.wm.read_factory_settings(use_empty=True)


def test_auto_landmarks_on_the_makehuman_head_short():
    """The short version of the slow MakeHuman test inside `make test`: the head cut off the body (5,000-odd vertices
    instead of 19,158) and three close-up views instead of seven, through the same auto path, against the artist's
    keys. Floors below this version's measured figures (benchmarks/bench_keygen.py measures the full one)."""
    from conftest import shared_path
    from keygen_fixtures import build_subset, load_makehuman

    from blender_addon.core.keygen.pipeline import generate
    from blender_addon.core.keygen.quality import compare
    from blender_addon.scene.keygen_blender import FACE_VIEWS_DEG, find_landmarks, rest_coords, triangles

    v, f, ref, _ = load_makehuman(shared_path("makehuman_arkit"))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    head_faces = [q for q in f if (v[q, 1] > 5.0).all()]  # Y up, decimetres: the chin is at about 5.8
    head, ids = build_subset("MakeHumanHead", v, head_faces)
    ref = ref[:, ids]
    hits = find_landmarks(head, views=FACE_VIEWS_DEG[:3])
    res = generate(rest_coords(head), triangles(head), hits.points[:468], hits.valid[:468])
    gen = res.deltas
    mask = (np.abs(ref).max(-1).max(0) > 1e-6) | (np.abs(gen).max(-1).max(0) > 1e-6)
    cos, _ = compare(gen, ref, mask)
    assert np.median(cos) >= 0.74, np.round(cos, 2)  # measured 0.747 (2026-12-07)
    assert cos[INDEX["jawOpen"]] >= 0.85
    assert min(cos[INDEX["browDownLeft"]], cos[INDEX["browDownRight"]]) >= 0.72  # measured 0.744
    checks = {c.name: c for c in res.checks}
    assert abs(checks["eyeBlinkLeft"].checks["gap_ratio"]) <= 0.1
    assert abs(checks["eyeBlinkRight"].checks["gap_ratio"]) <= 0.1
    bpy.ops.wm.read_factory_settings(use_empty=True)


def test_eyes_turn_and_lower_teeth_follow_the_jaw(headless, tmp_path, capsys):  # noqa: F811
    """--eyes and --teeth on ICT-FaceKit's own eyeballs and teeth (Blender Z up): eyeLookUp turns the gaze up, the
    lower teeth drop with jawOpen while the upper teeth stay."""
    from conftest import shared_path

    d = np.load(shared_path("ict_facekit", "ict_face_full_f16.npz"))
    path = tmp_path / "head.blend"
    lm = _ict_head_scene(path)
    bpy.ops.wm.open_mainfile(filepath=str(path), load_ui=False)
    rot = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])
    verts = 0.01 * d["neutral"] @ rot.T
    parts = {"EyeL": (21496, 23094), "EyeR": (23094, 24692), "Teeth": (17006, 21496)}
    ids = {}
    for name, (p0, p1) in parts.items():
        f = d["faces"][p0:p1]
        ids[name] = np.unique(f[f >= 0])
        remap = np.full(len(verts), -1)
        remap[ids[name]] = np.arange(len(ids[name]))
        mesh = bpy.data.meshes.new(name)
        mesh.from_pydata(verts[ids[name]].tolist(), [], [[int(remap[i]) for i in q if i >= 0] for q in f])
        obj = bpy.data.objects.new(name, mesh)
        obj.location = bpy.data.objects["Head"].location
        bpy.context.scene.collection.objects.link(obj)
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    lm_file = tmp_path / "lm.json"
    lm_file.write_text(json.dumps(lm.tolist()))
    out = tmp_path / "out.blend"
    argv = ["keys", "--blend", str(path), "--object", "Head", "--out", str(out), "--landmarks", str(lm_file)]
    assert cli.main(argv + ["--eyes", "EyeL", "EyeR", "--teeth", "Teeth"]) == 0, capsys.readouterr().err
    bpy.ops.wm.open_mainfile(filepath=str(out), load_ui=False)

    def delta(obj_name: str, key: str) -> np.ndarray:
        blocks = bpy.data.objects[obj_name].data.shape_keys.key_blocks
        a, b = (np.empty(len(blocks[0].data) * 3, np.float32) for _ in range(2))
        blocks["Basis"].data.foreach_get("co", a)
        blocks[key].data.foreach_get("co", b)
        return (b - a).reshape(-1, 3)

    eye = bpy.data.objects["EyeL"]
    rest = np.array([v.co[:] for v in eye.data.vertices])
    front = rest[:, 1].argmin()  # the pupil looks along -Y
    assert delta("EyeL", "eyeLookUpLeft")[front, 2] > 0.002  # turns up (Z)
    assert np.abs(delta("EyeR", "eyeLookUpLeft")).max() == 0.0  # the other eye stays
    assert delta("EyeL", "eyeLookOutLeft")[front, 0] > 0.002  # subject's left is +X here
    jaw = delta("Teeth", "jawOpen")
    moved = np.linalg.norm(jaw, axis=1) > 1e-4
    assert 0.2 < moved.mean() < 0.8  # the lower row (and only it) moves
    assert jaw[moved, 2].mean() < -0.003  # ... down
    bpy.ops.wm.read_factory_settings(use_empty=True)
