"""The capture use case (face + head + eyes in one pass) and the head/eye columns of Live Link CSVs, with real bpy:
the demo character's rig, a rig without the bones asked for, and a head without any rig."""

from __future__ import annotations

import math
from dataclasses import replace

import bpy
import numpy as np
import pytest
from addon_fixtures import addon, moving_frames, photo, write_sequence  # noqa: F401
from mathutils import Quaternion, Vector

from blender_addon.core.errors import FacsimileError
from blender_addon.core.formats.livelink_csv import read_livelink_csv, write_livelink_csv
from blender_addon.host.blender_compat import assigned_fcurves
from blender_addon.scene.head_capture import HeadTargetOptions
from blender_addon.usecases.capture import CaptureOptions, capture


def _character(with_body: bool = True):
    from blender_addon.demo.character import build_demo_character

    return build_demo_character(with_body=with_body)


def _curves(obj, bone: str) -> dict[int, object]:
    return {
        fc.array_index: fc for fc in assigned_fcurves(obj) if fc.data_path.startswith(f'pose.bones["{bone}"].rotation')
    }


@pytest.mark.usefixtures("addon")
def test_photo_capture_turns_the_head_bone_and_sets_the_face():
    ch = _character()
    result = capture(ch.head, CaptureOptions(source=photo("lisa3.jpg"), key_frame=5))
    assert set(result.stages) == {"face", "head"} and "cpu" in result.stages["head"]
    assert "cpu" in result.stages["face"]
    roll = result.head_deg[0, 2]
    assert roll > 10  # lisa3 tilts her head counter-clockwise on screen
    q = Quaternion(ch.rig.pose.bones["head"].rotation_quaternion)
    assert q.angle > math.radians(8)
    # the character's face, seen from the front (-Y), tilts the same way on screen: its top goes to the image left
    rest = ch.rig.data.bones["head"].matrix_local.to_3x3()
    up = (rest @ q.to_matrix() @ rest.inverted()) @ Vector((0.0, 0.0, 1.0))
    assert up[0] < -0.1
    assert len(_curves(ch.rig, "head")) == 4  # keyed at frame 5 too
    assert any(kb.value > 0 for kb in ch.head.data.shape_keys.key_blocks[1:])


@pytest.mark.usefixtures("addon")
def test_missing_bones_are_one_line_before_any_solving():
    ch = _character()
    with pytest.raises(FacsimileError) as e:
        capture(ch.head, CaptureOptions(source=photo("lisa3.jpg"), rig=HeadTargetOptions(eyes=True), eyes=True))
    msg = str(e.value)
    assert "no bone for leftEye, rightEye" in msg and "\n" not in msg
    assert all(kb.value == 0 for kb in ch.head.data.shape_keys.key_blocks[1:]), "nothing may be written"
    data = bpy.data.armatures.new("Bare")
    bare = bpy.data.objects.new("Bare", data)
    bpy.context.scene.collection.objects.link(bare)
    bpy.context.view_layer.objects.active = bare
    bpy.ops.object.mode_set(mode="EDIT")
    data.edit_bones.new("Bone").tail = (0, 0, 1)
    bpy.ops.object.mode_set(mode="OBJECT")
    with pytest.raises(FacsimileError, match="armature 'Bare' has no bone for head"):
        capture(ch.head, CaptureOptions(source=photo("lisa3.jpg"), rig=HeadTargetOptions(rig="Bare")))
    with pytest.raises(FacsimileError, match="rig 'Nope' is no object"):
        capture(ch.head, CaptureOptions(source=photo("lisa3.jpg"), rig=HeadTargetOptions(rig="Nope")))
    with pytest.raises(FacsimileError, match="nothing to capture"):
        capture(ch.head, CaptureOptions(source=photo("lisa3.jpg"), face=False, head=False, eyes=False))


@pytest.mark.usefixtures("addon")
def test_head_object_turns_without_a_rig_and_never_accumulates():
    ch = _character(with_body=False)
    assert ch.head.parent is None
    opts = CaptureOptions(source=photo("lisa3.jpg"), face=False)
    with pytest.raises(FacsimileError, match="body capture needs an armature"):
        capture(ch.head, CaptureOptions(source=photo("lisa3.jpg"), body=True))
    capture(ch.head, opts)
    first = ch.head.matrix_basis.to_quaternion()
    assert first.angle > math.radians(8)
    capture(ch.head, opts)
    assert first.rotation_difference(ch.head.matrix_basis.to_quaternion()).angle < 1e-5


@pytest.mark.usefixtures("addon")
def test_clip_capture_keys_face_head_and_exports_the_head_columns(tmp_path):
    ch = _character()
    clip = write_sequence(tmp_path / "clip", moving_frames("lisa3.jpg", 6, size=320))
    before = sorted(p.read_bytes() for p in clip.iterdir())
    result = capture(ch.head, CaptureOptions(source=str(clip), neutral="none", start_frame=1))
    assert result.frames == 6 and "head" in result.summary
    curves = _curves(ch.rig, "head")
    assert len(curves) == 4 and all(len(fc.keyframe_points) == 6 for fc in curves.values())
    assert sorted(p.read_bytes() for p in clip.iterdir()) == before
    from blender_addon.usecases.export import ExportCsvOptions, export_csv

    export_csv(ch.head, ExportCsvOptions(out=tmp_path / "take.csv", frames=(1, 6)))
    take = read_livelink_csv(tmp_path / "take.csv")
    # HeadRoll (Live Link's sign is the opposite of ours) carries the roll the capture measured
    np.testing.assert_allclose(take.head[:, 2], -np.radians(result.head_deg[:, 2]), atol=1e-4)


@pytest.mark.usefixtures("addon")
def test_live_link_apply_keys_head_and_eyes(tmp_path):
    from blender_addon.core.rig.head_rig import HeadRigOptions
    from blender_addon.usecases.apply import ApplyOptions, apply_weights

    ch = _character()
    bpy.context.scene.render.fps = 30
    n = 30
    head = np.zeros((n, 3))
    head[:, 0] = -np.radians(np.linspace(0, 30, n))  # HeadYaw < 0: the actor turns to their left
    write_livelink_csv(tmp_path / "t.csv", np.zeros((n, 52)), 30.0, head=head)
    csv_bytes = (tmp_path / "t.csv").read_bytes()
    opts = ApplyOptions(weights=tmp_path / "t.csv", head=HeadTargetOptions(), head_rig=HeadRigOptions(), start_frame=1)
    result = apply_weights(ch.head, opts)
    assert "head on 'FacsimileRig'" in result.summary or "head on" in result.summary
    assert (tmp_path / "t.csv").read_bytes() == csv_bytes
    bpy.context.scene.frame_set(n)
    q = Quaternion(ch.rig.pose.bones["head"].rotation_quaternion)
    rest = ch.rig.data.bones["head"].matrix_local.to_3x3()
    fwd = (rest @ q.to_matrix() @ rest.inverted()) @ Vector((0.0, -1.0, 0.0))
    assert fwd[0] == pytest.approx(math.sin(math.radians(30)), abs=0.02)  # turned to its own left (+X)
    from blender_addon.usecases.apply import ApplyOptions as AO

    with pytest.raises(FacsimileError, match="no head columns"):
        (tmp_path / "w.json").write_text('{"jawOpen": 0.5}')
        apply_weights(ch.head, AO(weights=tmp_path / "w.json", head=HeadTargetOptions()))


@pytest.mark.usefixtures("addon")
def test_panel_operators_capture_in_one_undo_step(tmp_path):
    """The panel's Capture from Photo and Capture Head Neutral: registered, one operator call, errors as reports."""
    ch = _character()
    context = bpy.context
    context.scene.facsimile.target = ch.head
    context.scene.facsimile.photo_path = str(photo("lisa3.jpg"))
    assert "UNDO" in bpy.types.FACSIMILE_OT_capture_photo.bl_options
    assert bpy.ops.facsimile.capture_head_neutral() == {"FINISHED"}
    cs = context.scene.facsimile_capture
    assert cs.neutral == "CAPTURED" and cs.neutral_deg[2] > 10
    assert bpy.ops.facsimile.capture_photo() == {"FINISHED"}
    # the captured neutral is the same photo: the head comes back to its rest pose
    assert Quaternion(ch.rig.pose.bones["head"].rotation_quaternion).angle < math.radians(0.5)
    cs.head_bone = "NoSuchBone"
    with pytest.raises(RuntimeError, match="has no bone head -> NoSuchBone"):
        bpy.ops.facsimile.capture_photo()
    cs.head_bone = ""
    clip = write_sequence(
        bpy.app.tempdir and __import__("pathlib").Path(bpy.app.tempdir) / "cap_clip",
        moving_frames("lisa3.jpg", 3, size=240),
    )
    context.scene.facsimile.clip_path = str(clip)
    cs.neutral = "NONE"
    assert bpy.ops.facsimile.capture_clip(synchronous=True) == {"FINISHED"}
    assert all(len(fc.keyframe_points) == 3 for fc in _curves(ch.rig, "head").values())


@pytest.mark.usefixtures("addon")
def test_body_and_head_have_one_owner_each():
    """Face + head + body from one photo: the body poses the limbs and spine, the head stage alone turns neck/head."""
    ch = _character()
    result = capture(ch.head, CaptureOptions(source=photo("angry.jpg"), body=True))
    assert "bones on 'FacsimileRig'" in result.stages["body"] and "cpu" in result.stages["body"]
    moved = {pb.name for pb in ch.rig.pose.bones if Quaternion(pb.rotation_quaternion).angle > 1e-4}
    assert moved & {"hips", "spine", "chest"}  # a portrait: the torso is seen; unseen arms stay at rest, never flip
    only_head = capture(ch.head, CaptureOptions(source=photo("angry.jpg"), face=False, body=False))
    q_head_alone = Quaternion(ch.rig.pose.bones["head"].rotation_quaternion)
    assert only_head.stages["head"]
    # with the body on, the head bone is written relative to the body's chest, never twice
    capture(ch.head, CaptureOptions(source=photo("angry.jpg"), face=False, body=True))
    assert Quaternion(ch.rig.pose.bones["head"].rotation_quaternion).angle < q_head_alone.angle + math.radians(45)
    with pytest.raises(FacsimileError, match="no bone for hips"):
        opts = CaptureOptions(source=photo("angry.jpg"), face=False, head=False, eyes=False, body=True)
        capture(ch.head, replace(opts, rig=HeadTargetOptions(rig_map="cc4")))
