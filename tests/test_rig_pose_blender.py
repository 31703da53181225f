"""rig_pose (bpy): role maps on real armatures, rest frames, pose and bulk bake of per-role rotations."""

from __future__ import annotations

import math

import bpy
import numpy as np
import pytest
from mathutils import Euler, Quaternion

from blender_addon.core.errors import FacsimileError
from blender_addon.host.blender_compat import assigned_fcurves
from blender_addon.scene import rig_pose

BONES = [  # (name, parent, head, tail)
    ("mixamorig:Hips", None, (0, 0, 1.0), (0, 0, 1.1)),
    ("mixamorig:Spine", "mixamorig:Hips", (0, 0, 1.1), (0, 0, 1.3)),
    ("mixamorig:Neck", "mixamorig:Spine", (0, 0, 1.5), (0, 0.02, 1.6)),
    ("mixamorig:Head", "mixamorig:Neck", (0, 0.02, 1.6), (0, 0.02, 1.8)),
    ("mixamorig:LeftEye", "mixamorig:Head", (0.03, -0.08, 1.7), (0.03, -0.12, 1.7)),
    ("mixamorig:RightEye", "mixamorig:Head", (-0.03, -0.08, 1.7), (-0.03, -0.12, 1.7)),
    ("mixamorig:LeftArm", "mixamorig:Spine", (0.2, 0, 1.45), (0.45, 0, 1.45)),
]


def _armature(name: str = "Rig") -> bpy.types.Object:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    data = bpy.data.armatures.new(name)
    arm = bpy.data.objects.new(name, data)
    bpy.context.scene.collection.objects.link(arm)
    bpy.context.view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode="EDIT")
    for bname, parent, head, tail in BONES:
        b = data.edit_bones.new(bname)
        b.head, b.tail = head, tail
        if parent:
            b.parent = data.edit_bones[parent]
    bpy.ops.object.mode_set(mode="OBJECT")
    arm.pose.bones["mixamorig:Head"].rotation_mode = "XYZ"  # a user's Euler bone stays Euler
    return arm


def test_role_map_and_rest_frames():
    arm = _armature()
    m = rig_pose.role_map_for(arm)
    assert m.convention == "mixamo" and m.bones["head"] == "mixamorig:Head" and m.bones["leftUpperArm"]
    rest = rig_pose.rest_frames(arm, m, ("head", "neck", "leftEye"))
    assert rest.roles == ("neck", "head", "leftEye") and rest.parent_role == ("spine", "neck", "head")
    np.testing.assert_allclose(rest.head[1], (0, 0.02, 1.6), atol=1e-6)
    np.testing.assert_allclose(rest.matrix_local[1], np.array(arm.data.bones["mixamorig:Head"].matrix_local), atol=1e-6)
    with pytest.raises(FacsimileError, match="no bone for jaw"):
        rig_pose.rest_frames(arm, m, ("head", "jaw"))


def test_picked_bones_override_and_bad_picks():
    arm = _armature()
    m = rig_pose.role_map_for(arm, overrides={"head": "mixamorig:Neck", "neck": ""})
    assert m.bones["head"] == "mixamorig:Neck"
    with pytest.raises(FacsimileError, match="has no bone head -> Skull"):
        rig_pose.role_map_for(arm, overrides={"head": "Skull"})
    with pytest.raises(FacsimileError, match="needs an armature"):
        rig_pose.require_armature(None)


def test_write_pose_keeps_each_bones_rotation_mode():
    arm = _armature()
    m = rig_pose.role_map_for(arm)
    q = Quaternion((0, 0, 1), math.radians(20))
    written = rig_pose.write_pose(arm, m, {"head": tuple(q), "leftEye": tuple(q), "neck": (2, 0, 0, 0)})
    assert written == ["mixamorig:Neck", "mixamorig:Head", "mixamorig:LeftEye"]
    head = arm.pose.bones["mixamorig:Head"]
    assert head.rotation_mode == "XYZ"
    assert Euler(head.rotation_euler).to_quaternion().rotation_difference(q).angle < 1e-5
    assert arm.pose.bones["mixamorig:LeftEye"].rotation_quaternion.rotation_difference(q).angle < 1e-5
    assert tuple(arm.pose.bones["mixamorig:Neck"].rotation_quaternion) == pytest.approx((1, 0, 0, 0))
    with pytest.raises(FacsimileError, match="finite unit quaternions"):
        rig_pose.write_pose(arm, m, {"head": (1, 0, float("nan"), 0)})
    with pytest.raises(FacsimileError, match="no bone for jaw"):
        rig_pose.write_pose(arm, m, {"jaw": (1, 0, 0, 0)})


def test_bake_rotations_bulk_keys_replace_only_the_range():
    arm = _armature()
    m = rig_pose.role_map_for(arm)
    n = 30
    angles = np.radians(np.linspace(-170, 170, n))  # crosses the hemisphere: keys must stay continuous
    quats = np.stack([np.cos(angles / 2), 0 * angles, 0 * angles, np.sin(angles / 2)], 1)
    count = rig_pose.bake_rotations(arm, m, np.arange(1, n + 1), {"neck": quats, "head": quats})
    assert count == 4 + 3
    curves = {(fc.data_path, fc.array_index): fc for fc in assigned_fcurves(arm)}
    qw = curves[('pose.bones["mixamorig:Neck"].rotation_quaternion', 0)]
    assert len(qw.keyframe_points) == n
    vals = np.array([k.co[1] for k in qw.keyframe_points])
    zs = np.array([k.co[1] for k in curves[('pose.bones["mixamorig:Neck"].rotation_quaternion', 3)].keyframe_points])
    assert np.all(np.abs(np.diff(vals)) < 0.2) and np.all(np.abs(np.diff(zs)) < 0.2)
    ez = np.array([k.co[1] for k in curves[('pose.bones["mixamorig:Head"].rotation_euler', 2)].keyframe_points])
    assert np.all(np.abs(np.diff(ez)) < 0.3), "Euler keys must be continuous"
    bpy.context.scene.frame_set(10)
    q = arm.pose.bones["mixamorig:Neck"].rotation_quaternion
    assert Quaternion(q).rotation_difference(Quaternion(quats[9])).angle < 1e-4
    # a second, shorter bake replaces keys only inside its range
    rig_pose.bake_rotations(arm, m, np.arange(5, 8), {"neck": quats[:3]})
    assert len(qw.keyframe_points) == n
    with pytest.raises(FacsimileError, match="strictly increasing"):
        rig_pose.bake_rotations(arm, m, np.array([1, 1]), {"neck": quats[:2]})
    with pytest.raises(FacsimileError, match=r"shape \(3, 4\)"):
        rig_pose.bake_rotations(arm, m, np.arange(3), {"neck": quats[:2]})
