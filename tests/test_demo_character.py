"""The demo character: 52 ARKit keys that move the right region the right way, a skinned rig, and `facsimile demo`.

Directions use Blender's frame: +Z up, the face looks down -Y, the character's left is +X (ARKit "Left").
"""

from __future__ import annotations

import os
from pathlib import Path

import bpy
import cv2
import numpy as np
import pytest

from blender_addon.core.arkit import ARKIT_NAMES, MIRROR_PAIRS
from blender_addon.core.errors import FacsimileError
from blender_addon.demo.body import BONE_NAMES, DEFORM_BONES, HEAD_CENTRE, build_body
from blender_addon.demo.contact_sheet import make_contact_sheet
from blender_addon.demo.head import JAW_PIVOT, PART, build_head
from blender_addon.demo.sample_sequence import EXPRESSIONS, sample_sequence

EXPECTED_BONES = {
    "root",
    "hips",
    "spine",
    "chest",
    "neck",
    "head",
    *(f"{b}.{s}" for b in ("shoulder", "upper_arm", "forearm", "hand", "thigh", "shin", "foot") for s in "LR"),
}


@pytest.fixture(scope="module")
def character():
    from blender_addon.demo.character import build_demo_character

    bpy.ops.wm.read_factory_settings(use_empty=True)
    c = build_demo_character()
    yield c
    bpy.ops.wm.read_factory_settings(use_empty=True)


@pytest.fixture(scope="module")
def key_deltas(character) -> dict[str, np.ndarray]:
    """Each shape key's offset from Basis, read back from Blender (so the bpy writing is under test too)."""
    blocks = character.head.data.shape_keys.key_blocks
    n = len(character.head.data.vertices)

    def co(kb) -> np.ndarray:
        buf = np.empty(n * 3, dtype=np.float32)
        kb.data.foreach_get("co", buf)
        return buf.reshape(n, 3)

    basis = co(blocks["Basis"])
    return {"Basis": basis} | {name: co(blocks[name]) - basis for name in ARKIT_NAMES}


# ------------------------------------------------------------------------------------------------------------------
# The head's keys


def test_head_has_exactly_the_52_arkit_keys(character):
    head = bpy.data.objects["FacsimileHead"]
    assert head is character.head and head.type == "MESH"
    names = [kb.name for kb in head.data.shape_keys.key_blocks]
    assert names == ["Basis", *ARKIT_NAMES]
    assert head.data.shape_keys.reference_key.name == "Basis"
    others = [o.name for o in bpy.data.objects if o.type == "MESH" and o.data.shape_keys and o is not head]
    assert others == []  # one object carries the face, so a user maps a single mesh


def test_every_key_moves_something(key_deltas):
    for name in ARKIT_NAMES:
        assert np.abs(key_deltas[name]).max() > 0.004, f"{name} barely moves"


L = "L"
R = "R"


def _d(key_deltas, character, shape: str, landmark: str) -> np.ndarray:
    return key_deltas[shape][character.head_geometry.landmarks[landmark]]


# (shape, landmark, axis, sign, minimum metres); axis 0=x (char. left), 1=y (back), 2=z (up)
MOVES = [
    ("jawOpen", "chin", 2, -1, 0.02),
    ("jawOpen", "lower_lip", 2, -1, 0.02),
    ("jawForward", "chin", 1, -1, 0.008),
    ("jawLeft", "chin", 0, +1, 0.008),
    ("jawRight", "chin", 0, -1, 0.008),
    ("mouthClose", "lower_lip", 2, +1, 0.01),
    ("mouthClose", "upper_lip", 2, -1, 0.004),
    ("mouthFunnel", "upper_lip", 2, +1, 0.003),
    ("mouthFunnel", "lower_lip", 2, -1, 0.003),
    ("mouthFunnel", "upper_lip", 1, -1, 0.005),
    ("mouthPucker", "mouth_corner_L", 0, -1, 0.008),
    ("mouthPucker", "mouth_corner_R", 0, +1, 0.008),
    ("mouthPucker", "upper_lip", 1, -1, 0.008),
    ("mouthLeft", "mouth_corner_L", 0, +1, 0.008),
    ("mouthLeft", "mouth_corner_R", 0, +1, 0.008),
    ("mouthRight", "mouth_corner_L", 0, -1, 0.008),
    ("mouthSmileLeft", "mouth_corner_L", 2, +1, 0.008),
    ("mouthSmileRight", "mouth_corner_R", 2, +1, 0.008),
    ("mouthFrownLeft", "mouth_corner_L", 2, -1, 0.008),
    ("mouthFrownRight", "mouth_corner_R", 2, -1, 0.008),
    ("mouthDimpleLeft", "mouth_corner_L", 1, +1, 0.005),
    ("mouthDimpleLeft", "mouth_corner_L", 0, +1, 0.004),
    ("mouthDimpleRight", "mouth_corner_R", 0, -1, 0.004),
    ("mouthStretchLeft", "mouth_corner_L", 0, +1, 0.008),
    ("mouthStretchLeft", "mouth_corner_L", 2, -1, 0.003),
    ("mouthStretchRight", "mouth_corner_R", 0, -1, 0.008),
    ("mouthRollLower", "lower_lip", 1, +1, 0.005),
    ("mouthRollUpper", "upper_lip", 1, +1, 0.005),
    ("mouthShrugLower", "lower_lip", 2, +1, 0.004),
    ("mouthShrugLower", "chin", 2, +1, 0.002),
    ("mouthShrugUpper", "upper_lip", 2, +1, 0.004),
    ("mouthPressLeft", "upper_lip_L", 1, +1, 0.003),
    ("mouthPressLeft", "upper_lip_L", 2, -1, 0.001),
    ("mouthPressLeft", "lower_lip_L", 2, +1, 0.001),
    ("mouthPressRight", "upper_lip_R", 1, +1, 0.003),
    ("mouthLowerDownLeft", "lower_lip_L", 2, -1, 0.006),
    ("mouthLowerDownRight", "lower_lip_R", 2, -1, 0.006),
    ("mouthUpperUpLeft", "upper_lip_L", 2, +1, 0.006),
    ("mouthUpperUpRight", "upper_lip_R", 2, +1, 0.006),
    ("browDownLeft", "brow_inner_L", 2, -1, 0.005),
    ("browDownRight", "brow_inner_R", 2, -1, 0.005),
    ("browInnerUp", "brow_inner_L", 2, +1, 0.007),
    ("browInnerUp", "brow_inner_R", 2, +1, 0.007),
    ("browOuterUpLeft", "brow_outer_L", 2, +1, 0.007),
    ("browOuterUpRight", "brow_outer_R", 2, +1, 0.007),
    ("cheekPuff", "cheek_L", 0, +1, 0.004),
    ("cheekPuff", "cheek_R", 0, -1, 0.004),
    ("cheekPuff", "cheek_L", 1, -1, 0.004),
    ("cheekSquintLeft", "under_eye_L", 2, +1, 0.004),
    ("cheekSquintRight", "under_eye_R", 2, +1, 0.004),
    ("noseSneerLeft", "nose_wing_L", 2, +1, 0.004),
    ("noseSneerRight", "nose_wing_R", 2, +1, 0.004),
    ("eyeBlinkLeft", "upper_lid_L", 2, -1, 0.008),
    ("eyeBlinkRight", "upper_lid_R", 2, -1, 0.008),
    ("eyeSquintLeft", "lower_lid_L", 2, +1, 0.003),
    ("eyeSquintRight", "lower_lid_R", 2, +1, 0.003),
    ("eyeWideLeft", "upper_lid_L", 2, +1, 0.003),
    ("eyeWideRight", "upper_lid_R", 2, +1, 0.003),
    ("eyeLookUpLeft", "pupil_L", 2, +1, 0.006),
    ("eyeLookUpRight", "pupil_R", 2, +1, 0.006),
    ("eyeLookDownLeft", "pupil_L", 2, -1, 0.006),
    ("eyeLookDownRight", "pupil_R", 2, -1, 0.006),
    ("eyeLookOutLeft", "pupil_L", 0, +1, 0.006),  # away from the nose: the character's left
    ("eyeLookInLeft", "pupil_L", 0, -1, 0.006),
    ("eyeLookOutRight", "pupil_R", 0, -1, 0.006),
    ("eyeLookInRight", "pupil_R", 0, +1, 0.006),
    ("tongueOut", "tongue_tip", 1, -1, 0.03),
]

# (shape, landmark that must not move at all): one side's key leaves the other side alone.
STILL = [
    ("jawOpen", "upper_lip"),
    ("eyeBlinkLeft", "upper_lid_R"),
    ("eyeBlinkRight", "upper_lid_L"),
    ("eyeLookUpLeft", "pupil_R"),
    ("eyeLookOutRight", "pupil_L"),
    ("mouthSmileLeft", "mouth_corner_R"),
    ("mouthSmileRight", "mouth_corner_L"),
    ("mouthFrownLeft", "mouth_corner_R"),
    ("mouthLowerDownLeft", "lower_lip_R"),
    ("mouthUpperUpRight", "upper_lip_L"),
    ("browOuterUpRight", "brow_outer_L"),
    ("browDownLeft", "brow_inner_R"),
    ("cheekSquintLeft", "under_eye_R"),
    ("noseSneerLeft", "nose_wing_R"),
    ("eyeBlinkLeft", "pupil_L"),  # lids close over the eye, the eyeball stays
]


def test_every_shape_has_a_direction_check():
    assert {m[0] for m in MOVES} == set(ARKIT_NAMES)


@pytest.mark.parametrize("shape,landmark,axis,sign,minimum", MOVES, ids=[f"{m[0]}-{m[1]}-{'xyz'[m[2]]}" for m in MOVES])
def test_key_moves_region_in_named_direction(key_deltas, character, shape, landmark, axis, sign, minimum):
    d = _d(key_deltas, character, shape, landmark)
    assert sign * d[axis] > minimum, f"{shape} moves {landmark} by {d} (want {'-+'[sign > 0]}{'xyz'[axis]})"


@pytest.mark.parametrize("shape,landmark", STILL, ids=[f"{s}-{lm}" for s, lm in STILL])
def test_key_leaves_other_regions_still(key_deltas, character, shape, landmark):
    assert np.abs(_d(key_deltas, character, shape, landmark)).max() < 1e-6


def test_jaw_open_is_a_hinge_not_a_slide(key_deltas, character):
    """Lower-teeth vertices keep their distance to the jaw pivot while moving different ways: a rotation."""
    part = character.head_geometry.part
    m = part == PART["teeth_lower"]
    p = key_deltas["Basis"][m].astype(np.float64)
    d = key_deltas["jawOpen"][m].astype(np.float64)
    r0 = np.linalg.norm(p - JAW_PIVOT, axis=1)
    r1 = np.linalg.norm(p + d - JAW_PIVOT, axis=1)
    assert np.abs(r1 - r0).max() < 1e-5
    assert np.abs(d).max() > 0.02
    assert np.linalg.norm(d - d.mean(axis=0), axis=1).max() > 0.002  # not one translation
    angle = np.degrees(np.arccos(np.clip(((p - JAW_PIVOT) * (p + d - JAW_PIVOT)).sum(1) / (r0 * r1), -1, 1)))
    assert 12 < angle.mean() < 30


def test_eyes_turn_without_deforming(key_deltas, character):
    part = character.head_geometry.part
    c = character.head_geometry.eye_centres["L"]
    m = part == PART["eye_L"]
    p = key_deltas["Basis"][m]
    for name in ("eyeLookUpLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft"):
        r = np.linalg.norm(p + key_deltas[name][m] - c, axis=1)
        assert np.ptp(r) < 1e-5, name


def test_left_and_right_keys_mirror_each_other():
    """Every Left key is the mirror image (x -> -x) of its Right key: same shape, other side of the face."""
    geo = build_head()
    keys = [tuple(k) for k in np.round(geo.vertices.astype(np.float64) * 1e5).astype(np.int64)]
    count: dict[tuple, int] = {}
    for k in keys:
        count[k] = count.get(k, 0) + 1
    lookup = {k: i for i, k in enumerate(keys)}
    # Vertices sharing a position (the closed mouth slit's two lips) are ambiguous; compare the rest.
    mirror = np.array([lookup.get((-k[0], k[1], k[2]), -1) if count[k] == 1 else -1 for k in keys])
    ok = mirror >= 0
    ok[ok] &= np.array([count[keys[m]] == 1 for m in mirror[ok]])
    assert ok.mean() > 0.98  # the head is symmetric
    flip = np.array([-1.0, 1.0, 1.0])
    for left, right in MIRROR_PAIRS:
        dl = geo.delta(left)[ok]
        dr = geo.delta(right)[mirror[ok]] * flip
        assert np.abs(dl - dr).max() < 1e-5, f"{left} is not the mirror of {right}"


# ------------------------------------------------------------------------------------------------------------------
# Body and rig


def test_armature_has_the_listed_bones(character):
    rig = bpy.data.objects["FacsimileRig"]
    assert rig is character.rig and rig.type == "ARMATURE"
    assert set(rig.data.bones.keys()) == EXPECTED_BONES == set(BONE_NAMES)
    assert rig.data.bones["upper_arm.L"].parent.name == "shoulder.L"
    assert rig.data.bones["head"].parent.name == "neck"
    assert rig.data.bones["upper_arm.L"].head_local.x > 0  # ".L" is the character's left (+X)
    assert not rig.data.bones["root"].use_deform


def test_body_is_fully_weighted_with_an_armature_modifier(character):
    body = bpy.data.objects["FacsimileBody"]
    mods = [m for m in body.modifiers if m.type == "ARMATURE"]
    assert len(mods) == 1 and mods[0].object == character.rig and mods[0].use_vertex_groups
    group_names = {g.index: g.name for g in body.vertex_groups}
    assert set(group_names.values()) == set(DEFORM_BONES)
    sums = np.zeros(len(body.data.vertices))
    blended = 0
    for v in body.data.vertices:
        ws = [g.weight for g in v.groups if g.weight > 0]
        sums[v.index] = sum(ws)
        blended += len(ws) > 1
    assert sums.min() > 0.99 and sums.max() < 1.01  # every vertex weighted, normalised
    assert blended > 0.1 * len(sums)  # smooth falloff across joints, not rigid segments
    geo = build_body()
    assert np.allclose(geo.weights.sum(axis=1), 1.0, atol=1e-5)
    # Blender's vertex groups hold exactly demo.body's weights (what an LBS deformer is compared against).
    from_blender = np.zeros_like(geo.weights)
    col = {name: geo.bone_names.index(name) for name in geo.bone_names}
    for v in body.data.vertices:
        for g in v.groups:
            from_blender[v.index, col[group_names[g.group]]] = g.weight
    assert np.array_equal(from_blender, geo.weights)


def test_head_rides_on_the_head_bone(character):
    head, rig = character.head, character.rig
    assert head.parent == rig and head.parent_type == "BONE" and head.parent_bone == "head"
    bpy.context.view_layer.update()
    assert np.allclose(head.matrix_world.translation, HEAD_CENTRE, atol=1e-5)
    pb = rig.pose.bones["neck"]
    try:
        pb.rotation_mode = "XYZ"
        pb.rotation_euler = (0.0, 0.0, np.radians(30))
        bpy.context.view_layer.update()
        turned = np.array(head.matrix_world.to_3x3())
        assert np.abs(turned - np.eye(3)).max() > 0.3  # the head follows the neck's 30 degree turn
    finally:
        pb.rotation_euler = (0.0, 0.0, 0.0)
        bpy.context.view_layer.update()


def test_posing_an_arm_bone_moves_only_that_arm(character):
    body, rig = character.body, character.rig
    pb = rig.pose.bones["upper_arm.L"]
    rest = np.array([v.co[:] for v in body.data.vertices])
    try:
        pb.rotation_mode = "XYZ"
        pb.rotation_euler = (0.0, 0.0, np.radians(-40))
        bpy.context.view_layer.update()
        dg = bpy.context.evaluated_depsgraph_get()
        ev = body.evaluated_get(dg)
        posed = np.array([v.co[:] for v in ev.to_mesh().vertices])
        ev.to_mesh_clear()
    finally:
        pb.rotation_euler = (0.0, 0.0, 0.0)
        bpy.context.view_layer.update()
    moved = np.linalg.norm(posed - rest, axis=1)
    left_hand = rest[:, 0] > 0.6
    right_side = rest[:, 0] < -0.2
    assert moved[left_hand].min() > 0.05
    assert moved[right_side].max() < 1e-6


# ------------------------------------------------------------------------------------------------------------------
# Sample sequence and contact sheet (no Blender)


def test_sample_sequence_is_smooth_and_shows_each_expression():
    seq = sample_sequence(120, 30.0)
    w = seq.weights
    assert w.shape == (120, 52) and w.dtype == np.float32
    assert w.min() >= 0 and w.max() <= 1
    assert np.abs(w[0]).max() == 0 and np.abs(w[-1]).max() < 1e-6  # starts and ends neutral
    assert np.abs(np.diff(w, axis=0)).max() < 0.35  # eased, no jumps
    for (label, pose), f in zip(EXPRESSIONS, seq.key_frames):
        for name, value in pose.items():
            assert w[f, ARKIT_NAMES.index(name)] == pytest.approx(value, abs=1e-6), (label, name)
    with pytest.raises(ValueError, match="at least"):
        sample_sequence(5)


def test_contact_sheet_tiles_and_labels():
    imgs = [np.full((40, 60, 3), v, np.uint8) for v in (50, 120, 200)]
    sheet = make_contact_sheet(imgs, ["a", "b", "c"], cols=2, pad=4, label_height=20)
    assert sheet.shape == (2 * (40 + 20 + 4) + 4, 2 * (60 + 4) + 4, 3)
    assert sheet[4 + 10, 4 + 64 + 10].tolist() == [120, 120, 120]
    with pytest.raises(FacsimileError, match="labels"):
        make_contact_sheet(imgs, ["only one"])
    with pytest.raises(FacsimileError, match="no images"):
        make_contact_sheet([])


# ------------------------------------------------------------------------------------------------------------------
# Rendering and the command


def _rgb(path) -> np.ndarray:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert img is not None, f"could not read {path}"
    return img[:, :, ::-1]


def test_workbench_render_shows_the_jaw_opening(character, tmp_path):
    from blender_addon.demo.render_preview import configure_render, face_camera, render_png

    configure_render("workbench", (96, 96))
    face_camera(character.head, distance=0.6)
    blocks = character.head.data.shape_keys.key_blocks
    neutral = _rgb(render_png(tmp_path / "n.png")).astype(np.int32)
    blocks["jawOpen"].value = 1.0
    try:
        opened = _rgb(render_png(tmp_path / "o.png")).astype(np.int32)
    finally:
        blocks["jawOpen"].value = 0.0
    assert neutral.shape == (96, 96, 3) and neutral.std() > 10
    diff = np.abs(opened - neutral).sum(axis=2) > 40
    rows = np.nonzero(diff.any(axis=1))[0]
    assert diff.sum() > 30
    assert rows.mean() > 48  # the change is in the lower half of the face


def test_shape_grid_renders_all_keys(character, tmp_path):
    from blender_addon.demo.render_preview import configure_render, face_camera, render_shape_grid

    configure_render("workbench", (32, 32))
    face_camera(character.head, distance=0.6)
    out = render_shape_grid(character.head, tmp_path / "grid.png", tile=32, cols=8)
    img = cv2.imread(str(Path(out)))
    assert img is not None
    rows = int(np.ceil(53 / 8))
    assert img.shape[0] == rows * (32 + 22 + 4) + 4
    assert all(kb.value == 0.0 for kb in character.head.data.shape_keys.key_blocks[1:])  # restored


def _run_cli(argv: list[str]) -> int:
    from blender_addon.host.cli import main

    return main(argv)


def test_demo_command_writes_blend_and_contact_sheet(tmp_path):
    out = tmp_path / "out"
    assert _run_cli(["demo", "--sequence", "--out", str(out), "--frames", "40", "--resolution", "64"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["demo.blend", "demo_contact_sheet.png", "shape_grid.png"]
    grid = cv2.imread(str(out / "shape_grid.png"))
    assert grid is not None and grid.shape[0] > 7 * 48  # 53 tiles (neutral + 52) in rows of 8
    sheet = cv2.imread(str(out / "demo_contact_sheet.png"))
    assert sheet is not None and sheet.shape[0] > 64 and sheet.std() > 10
    bpy.ops.wm.open_mainfile(filepath=str(out / "demo.blend"), load_ui=False)
    try:
        head = bpy.data.objects["FacsimileHead"]
        keys = head.data.shape_keys
        assert [kb.name for kb in keys.key_blocks][1:] == list(ARKIT_NAMES)
        action = keys.animation_data.action
        assert action is not None
        scene = bpy.context.scene
        assert (scene.frame_start, scene.frame_end) == (1, 40)
        # The sequence plays: the blink pose's frame closes both eyes.
        seq = sample_sequence(40)
        blink = int(seq.key_frames[seq.labels.index("blink")]) + 1
        scene.frame_set(blink)
        assert keys.key_blocks["eyeBlinkLeft"].value == pytest.approx(1.0, abs=1e-4)
        scene.frame_set(1)
        assert keys.key_blocks["eyeBlinkLeft"].value == pytest.approx(0.0, abs=1e-4)
        # The body plays along: the rig waves its left arm at the smile.
        rig = bpy.data.objects["FacsimileRig"]
        smile = int(seq.key_frames[seq.labels.index("smile")]) + 1
        scene.frame_set(1)
        rest_hand = (rig.matrix_world @ rig.pose.bones["hand.L"].tail).z
        scene.frame_set(smile)
        assert (rig.matrix_world @ rig.pose.bones["hand.L"].tail).z > rest_hand + 0.3
    finally:
        bpy.ops.wm.read_factory_settings(use_empty=True)


def test_demo_command_unwritable_output_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("keep me")
    assert _run_cli(["demo", "--out", str(blocker)]) == 1
    assert "is a file" in capsys.readouterr().err
    assert blocker.read_text() == "keep me"
    assert _run_cli(["demo", "--out", str(blocker / "sub")]) == 1
    assert "cannot create output folder" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["not_a_folder"]
    assert _run_cli(["demo", "--sequence", "--out", str(tmp_path / "x"), "--frames", "3"]) == 1
    assert "at least" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # bad arguments are refused before anything is created


def test_demo_command_failure_midway_leaves_nothing(tmp_path, monkeypatch, capsys):
    import blender_addon.demo.render_preview as rp

    out = tmp_path / "out"
    out.mkdir()
    (out / "demo.blend").write_bytes(b"previous result")

    def broken(path):
        raise FacsimileError("renderer failed (simulated)")

    monkeypatch.setattr(rp, "render_png", broken)
    try:
        assert (
            _run_cli(
                ["demo", "--sequence", "--out", str(out), "--frames", "40", "--resolution", "32", "--no-shape-grid"]
            )
            == 1
        )
    finally:
        bpy.ops.wm.read_factory_settings(use_empty=True)
    assert "simulated" in capsys.readouterr().err
    assert sorted(os.listdir(out)) == ["demo.blend"]  # no temporary or partial files
    assert (out / "demo.blend").read_bytes() == b"previous result"  # the old output is untouched


def test_render_engine_name_is_checked():
    from blender_addon.demo.render_preview import configure_render

    with pytest.raises(FacsimileError, match="unknown render engine"):
        configure_render("eevee-next")


def test_demo_command_cycles_and_no_render(tmp_path):
    cyc = tmp_path / "cycles"
    argv = [
        "demo",
        "--sequence",
        "--out",
        str(cyc),
        "--engine",
        "cycles",
        "--samples",
        "1",
        "--resolution",
        "24",
        "--frames",
        "20",
    ]
    try:
        assert _run_cli([*argv, "--no-shape-grid"]) == 0
        sheet = cv2.imread(str(cyc / "demo_contact_sheet.png"))
        assert sheet is not None and sheet.std() > 5
        bare = tmp_path / "bare"
        assert _run_cli(["demo", "--sequence", "--out", str(bare), "--frames", "20", "--no-render"]) == 0
        assert sorted(p.name for p in bare.iterdir()) == ["demo.blend"]
    finally:
        bpy.ops.wm.read_factory_settings(use_empty=True)


def test_demo_default_solves_the_bundled_photo_onto_the_character(tmp_path):
    from blender_addon.host.headless import release_properties

    out = tmp_path / "photo_demo"
    try:
        assert _run_cli(["demo", "--out", str(out), "--resolution", "96", "--no-shape-grid"]) == 0
        assert sorted(p.name for p in out.iterdir()) == ["demo.blend", "demo_photo.png"]
        side_by_side = cv2.imread(str(out / "demo_photo.png"))
        assert side_by_side is not None and side_by_side.shape[1] >= 2 * 96 and side_by_side.std() > 10
        bpy.ops.wm.open_mainfile(filepath=str(out / "demo.blend"), load_ui=False)
        keys = bpy.data.objects["FacsimileHead"].data.shape_keys.key_blocks
        # The astronaut portrait smiles with closed lips: the smile must come through, the jaw stays nearly shut.
        smile = (keys["mouthSmileLeft"].value + keys["mouthSmileRight"].value) / 2
        assert smile > 0.3 and smile > keys["jawOpen"].value
    finally:
        bpy.ops.wm.read_factory_settings(use_empty=True)
        release_properties()


@pytest.mark.parametrize("kind, message", [("missing", "does not exist"), ("corrupt", "photo"), ("blank", "no face")])
def test_demo_bad_photo_is_a_clear_error_and_writes_nothing(tmp_path, capsys, kind, message):
    from blender_addon.host.headless import release_properties

    photo = tmp_path / "p.png"
    if kind == "corrupt":
        photo.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    elif kind == "blank":
        cv2.imwrite(str(photo), np.full((240, 320, 3), 128, np.uint8))
    out = tmp_path / "out"
    try:
        assert _run_cli(["demo", "--out", str(out), "--photo", str(photo), "--no-shape-grid"]) == 1
    finally:
        bpy.ops.wm.read_factory_settings(use_empty=True)
        release_properties()
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists() or list(out.iterdir()) == []
