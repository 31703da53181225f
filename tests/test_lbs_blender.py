"""The LBS deformer against Blender's own Armature modifier (evaluated mesh from the depsgraph), with real bpy.

Agreement bound everywhere: max vertex error <= 1e-4 x the mesh's bounding-box diagonal.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import bpy
import numpy as np
import pytest
from conftest import shared_path
from pc2_samples import write_pc2

from blender_addon.core.body import lbs
from blender_addon.core.errors import FacsimileError
from blender_addon.core.formats import pc2
from blender_addon.scene import body_motion as bm
from blender_addon.scene import rig_reader as rr

TOL = 1e-4


def _reset() -> None:
    bpy.ops.wm.read_factory_settings(use_empty=True)


def _diag(co: np.ndarray) -> float:
    return float(np.linalg.norm(co.max(0) - co.min(0)))


def _capture_current(rig: rr.Rig, label: str = "current") -> rr.PoseSet:
    """The rig's pose as Blender has evaluated it now."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    arm_eval = rig.armature.evaluated_get(depsgraph)
    mesh_eval = rig.mesh.evaluated_get(depsgraph)
    pm = rr.matrices(arm_eval.pose.bones)[rr.pose_bone_indices(rig)]
    return rr.PoseSet(pm[None], rr.object_matrix(arm_eval)[None], rr.object_matrix(mesh_eval)[None], [label])


def _assert_matches_blender(rig: rr.Rig, frames: list[int], dqs: bool | None = None) -> float:
    """Capture the frames, deform them in one batch, and compare each with Blender's evaluated mesh."""
    poses = rr.capture_frames(rig, frames)
    ours, _ = rr.deform(rig, poses, dqs=dqs)
    worst = 0.0
    scene = bpy.context.scene
    for i, f in enumerate(frames):
        scene.frame_set(f)
        ref = rr.evaluated_coords(rig.mesh)
        err = float(np.abs(ours[i] - ref).max()) / _diag(ref)
        moved = float(np.abs(ref - rig.binding.rest).max())
        assert moved > 1e-3 * _diag(ref), "the pose did not move the mesh: the comparison would prove nothing"
        worst = max(worst, err)
    assert worst <= TOL, f"max error {worst:.3g} x diagonal"
    return worst


def _build_small_rig(n_bones: int = 4):
    """A chain of bones (rolled, offset, not connected) skinning a subdivided cylinder with messy weights."""
    _reset()
    arm_data = bpy.data.armatures.new("Rig")
    arm = bpy.data.objects.new("Rig", arm_data)
    bpy.context.scene.collection.objects.link(arm)
    bpy.context.view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode="EDIT")
    prev = None
    for i in range(n_bones):
        b = arm_data.edit_bones.new(f"bone{i}")
        b.head = (0.02 * i, 0.0, float(i))
        b.tail = (0.0, 0.1, float(i + 1))
        b.roll = 0.4 * i
        b.parent = prev
        prev = b
    bpy.ops.object.mode_set(mode="OBJECT")
    bpy.ops.mesh.primitive_cylinder_add(vertices=24, depth=n_bones, location=(0, 0, n_bones / 2))
    mesh = bpy.context.object
    mesh.name = "Body"
    bpy.ops.object.mode_set(mode="EDIT")
    bpy.ops.mesh.subdivide(number_cuts=12)
    bpy.ops.object.mode_set(mode="OBJECT")
    co = np.array([v.co for v in mesh.data.vertices])
    z = co[:, 2] + n_bones / 2
    rng = np.random.default_rng(0)
    for i in range(n_bones):
        g = mesh.vertex_groups.new(name=f"bone{i}")
        w = np.clip(1.2 - abs(z - (i + 0.5)), 0, 1) * rng.uniform(0.2, 1.0, len(z))  # sums are not 1
        for vi in np.nonzero(w)[0]:
            g.add([int(vi)], float(w[vi]), "REPLACE")
    mod = mesh.modifiers.new("Armature", "ARMATURE")
    mod.object = arm
    return arm, mesh, mod


def _animate(arm: bpy.types.Object, frames: int = 4, scale: bool = False) -> None:
    for f in range(1, frames + 1):
        for i, pb in enumerate(arm.pose.bones):
            pb.rotation_mode = "XYZ"
            pb.rotation_euler = (0.3 * f * (i + 1) / frames, -0.2 * f / frames, 0.5 * math.sin(f + i))
            pb.location = (0.05 * f / frames, 0.0, 0.02 * i)
            pb.keyframe_insert("rotation_euler", frame=f)
            pb.keyframe_insert("location", frame=f)
            if scale:
                pb.scale = (1.0 + 0.1 * f * (i % 2), 1.0 - 0.05 * f / frames, 1.0 + 0.05 * i)
                pb.keyframe_insert("scale", frame=f)


@pytest.mark.parametrize("dqs", [False, True], ids=["lbs", "preserve_volume"])
def test_small_rig_with_transformed_objects_matches_modifier(dqs):
    arm, mesh, mod = _build_small_rig()
    # parented, rotated, non-uniformly scaled objects on both sides
    holder = bpy.data.objects.new("Holder", None)
    bpy.context.scene.collection.objects.link(holder)
    holder.location = (1.0, -2.0, 0.5)
    holder.rotation_euler = (0.3, -0.2, 0.8)
    holder.scale = (1.3, 1.3, 1.3)
    arm.parent = holder
    arm.rotation_euler = (0.1, 0.4, -0.3)
    arm.scale = (0.8, 1.1, 0.9)
    mesh.location = (0.5, 0.2, -0.1)
    mesh.rotation_euler = (-0.2, 0.1, 0.25)
    mesh.scale = (1.1, 0.9, 1.2)
    # a deform-off bone with a vertex group, a vertex group without a bone, and an unweighted island
    arm.data.bones["bone2"].use_deform = False
    orphan = mesh.vertex_groups.new(name="not_a_bone")
    orphan.add(list(range(0, len(mesh.data.vertices), 2)), 0.9, "REPLACE")
    mesh.vertex_groups["bone0"].add(list(range(5)), 0.0, "REPLACE")
    mod.use_deform_preserve_volume = dqs
    _animate(arm, scale=dqs)
    rig = rr.read_rig(mesh)
    assert "bone2" not in rig.bone_names and "not_a_bone" in rig.ignored_groups
    assert rig.preserve_volume is dqs
    _assert_matches_blender(rig, [1, 2, 3, 4])


def test_modifier_vertex_group_mask_and_threshold():
    arm, mesh, mod = _build_small_rig(3)
    mask = mesh.vertex_groups.new(name="mask")
    n = len(mesh.data.vertices)
    for vi in range(0, n, 3):
        mask.add([vi], (vi % 7) / 7.0, "REPLACE")
    mod.vertex_group = "mask"
    # weights at and just above Blender's 0.0001 contrib threshold
    for g in mesh.vertex_groups[:3]:
        g.remove(list(range(10)))
    mesh.vertex_groups["bone1"].add(list(range(5)), 0.0001, "REPLACE")
    mesh.vertex_groups["bone1"].add(list(range(5, 10)), 0.00012, "REPLACE")
    _animate(arm, frames=2)
    rig = rr.read_rig(mesh)
    _assert_matches_blender(rig, [1, 2])
    mod.invert_vertex_group = True
    _assert_matches_blender(rr.read_rig(mesh), [2])


def _metarig_with_body() -> tuple[bpy.types.Object, bpy.types.Object]:
    """Rigify's human metarig and a crude body (a capsule per limb/spine bone) parented with automatic weights."""
    import addon_utils

    _reset()
    addon_utils.enable("rigify", default_set=True)
    bpy.ops.object.armature_human_metarig_add()
    arm = bpy.context.object
    parts = []
    for bone in arm.data.bones:
        if bone.length < 0.08 or not any(k in bone.name for k in ("spine", "thigh", "shin", "upper_arm", "forearm")):
            continue
        head, tail = bone.head_local, bone.tail_local
        bpy.ops.mesh.primitive_cylinder_add(vertices=12, radius=0.05, depth=bone.length, location=(head + tail) / 2)
        cyl = bpy.context.object
        cyl.rotation_mode = "QUATERNION"
        cyl.rotation_quaternion = (tail - head).to_track_quat("Z", "Y")
        parts.append(cyl)
    bpy.ops.object.select_all(action="DESELECT")
    for p in parts:
        p.select_set(True)
    bpy.context.view_layer.objects.active = parts[0]
    bpy.ops.object.join()
    body = bpy.context.object
    bpy.ops.object.transform_apply(location=True, rotation=True, scale=True)
    bpy.ops.object.mode_set(mode="EDIT")
    bpy.ops.mesh.subdivide(number_cuts=2)
    bpy.ops.object.mode_set(mode="OBJECT")
    body.select_set(True)
    arm.select_set(True)
    bpy.context.view_layer.objects.active = arm
    bpy.ops.object.parent_set(type="ARMATURE_AUTO")
    assert len(body.vertex_groups) > 20
    return arm, body


def test_rigify_metarig_with_automatic_weights():
    arm, body = _metarig_with_body()
    arm.location = (0.2, 0.1, 0.0)
    arm.rotation_euler = (0.0, 0.0, 0.4)
    rng = np.random.default_rng(3)
    for f in (1, 2):
        for pb in arm.pose.bones:
            pb.rotation_mode = "XYZ"
            pb.rotation_euler = rng.normal(scale=0.25, size=3)
            pb.keyframe_insert("rotation_euler", frame=f)
    rig = rr.read_rig(body)
    assert len(rig.bone_names) > 20
    _assert_matches_blender(rig, [1, 2])


def test_bvh_on_rigify_metarig():
    """A 3ds Max-named clip onto the metarig's names (detected), checked against the modifier."""
    arm, body = _metarig_with_body()
    rig = rr.read_rig(body)
    poses, full, skel = bm.bvh_poses(rig, shared_path("mocap", "bvh", "cmu_131_03_hop_3dsmax.bvh"), None, (200, 230))
    ours, _ = rr.deform(rig, poses)
    for i in (0, 30):
        bm.apply_pose(rig.armature, skel, full[i])
        ref = rr.evaluated_coords(body)
        assert np.abs(ours[i] - ref).max() <= TOL * _diag(ref)
        assert np.abs(ref - rig.binding.rest).max() > 0.02 * _diag(ref)


def test_retargeted_action_replays_in_blender():
    """key_pose_action writes the retargeted motion as an Action; Blender's evaluation gives the same pose."""
    mesh = _import_character("quaternius_human_male_m2m.glb")
    rig = rr.read_rig(mesh)
    poses, full, skel = bm.bvh_poses(rig, shared_path("mocap", "bvh", "cmu_subject02_walk.bvh"), None, (100, 109))
    action = bm.key_pose_action(rig.armature, skel, full, "Walk", start=1)
    assert action.frame_range[1] == 10
    replay = rr.capture_frames(rig, range(1, 11), action=action)
    np.testing.assert_allclose(replay.pose_mats, poses.pose_mats, atol=2e-4)


def test_demo_character_body():
    from blender_addon.demo.character import build_demo_character

    _reset()
    ch = build_demo_character(with_body=True)
    rig_obj = ch.rig
    rng = np.random.default_rng(4)
    for f in (1, 2):
        for pb in rig_obj.pose.bones:
            pb.rotation_mode = "XYZ"
            pb.rotation_euler = rng.normal(scale=0.3, size=3)
            pb.keyframe_insert("rotation_euler", frame=f)
    rig = rr.read_rig(ch.body)
    _assert_matches_blender(rig, [1, 2])


def _import_character(name: str) -> bpy.types.Object:
    _reset()
    bpy.ops.import_scene.gltf(filepath=str(shared_path("mocap", "models", name)))
    meshes = [o for o in bpy.data.objects if o.type == "MESH" and any(m.type == "ARMATURE" for m in o.modifiers)]
    assert meshes, f"{name} imported without a skinned mesh"
    return meshes[0]


@pytest.mark.parametrize(
    "character, clip, joint_map",
    [
        ("quaternius_human_male_m2m.glb", "cmu_subject02_walk.bvh", None),
        ("CesiumMan.glb", "cmu_subject02_walk.bvh", "cesiumman"),
        ("quaternius_human_female_m2m.glb", "cmu_131_03_hop_3dsmax.bvh", "3dsmax"),
    ],
)
def test_bvh_driven_poses_match_modifier(character, clip, joint_map):
    from conftest import REPO_ROOT

    if joint_map == "cesiumman":
        joint_map = str(REPO_ROOT / "tests" / "data" / "cesiumman_cmu_map.json")
    mesh = _import_character(character)
    rig = rr.read_rig(mesh)
    poses, full, skel = bm.bvh_poses(rig, shared_path("mocap", "bvh", clip), joint_map, frames=(40, 100))
    assert len(poses) == 61
    ours, _ = rr.deform(rig, poses)
    for i in (0, 30, 60):
        bm.apply_pose(rig.armature, skel, full[i])
        ref = rr.evaluated_coords(mesh)
        # the pose Blender evaluates is the one we retargeted, and the deformation agrees
        blender_pose = _capture_current(rig)
        np.testing.assert_allclose(blender_pose.pose_mats[0], poses.pose_mats[i], atol=1e-4)
        err = np.abs(ours[i] - ref).max() / _diag(ref)
        assert err <= TOL, f"{character} frame {i}: {err:.3g}"
        assert np.abs(ref - rig.binding.rest).max() > 0.01 * _diag(ref)


def test_walk_looks_like_a_walk():
    """Quaternius walking the CMU clip: feet swing in anti-phase, the body moves forward (-Y), feet stay near the floor."""
    mesh = _import_character("quaternius_human_male_m2m.glb")
    rig = rr.read_rig(mesh)
    poses, full, skel = bm.bvh_poses(rig, shared_path("mocap", "bvh", "cmu_subject02_walk.bvh"), None)
    names = list(skel.names)
    foot_l = full[:, names.index("foot_l"), :3, 3]
    foot_r = full[:, names.index("foot_r"), :3, 3]
    pelvis = full[:, names.index("pelvis"), :3, 3]
    walk = slice(60, None)  # after the T-pose start
    rel_l = (foot_l - pelvis)[walk, 1]
    rel_r = (foot_r - pelvis)[walk, 1]
    assert np.corrcoef(rel_l, rel_r)[0, 1] < -0.5, "left and right feet should swing in anti-phase"
    assert np.ptp(rel_l) > 0.25, "the stride is too short for a walk"
    travelled = pelvis[-1] - pelvis[60]
    assert travelled[1] < -1.0 and abs(travelled[0]) < abs(travelled[1]), "the character should walk forward (-Y)"
    lowest = np.minimum(foot_l[walk, 2], foot_r[walk, 2])
    assert lowest.max() < 0.2 and lowest.min() > -0.05, "one foot should stay near the floor"
    # the head is held like the performer's: same tilt from vertical (world) as the BVH's head bone
    bvh = bm.import_bvh(shared_path("mocap", "bvh", "cmu_subject02_walk.bvh"))
    src = bm.skeleton(bvh)
    frames = [1, 150, 250]
    head = bm.sample_armature(bvh, frames, ("Head",))[:, 0, :3, 1]
    bm.remove_object(bvh)

    def tilt(v: np.ndarray) -> np.ndarray:
        return np.degrees(np.arccos(v[:, 2] / np.linalg.norm(v, axis=1)))

    ours = full[[f - 1 for f in frames], names.index("head"), :3, 1]
    np.testing.assert_allclose(tilt(ours), tilt(head @ np.array(src.world)[:3, :3].T), atol=2.0)


def test_pc2_bake_plays_in_mesh_cache(tmp_path):
    arm, mesh, mod = _build_small_rig(3)
    _animate(arm, frames=5)
    rig = rr.read_rig(mesh)
    poses = rr.capture_frames(rig, range(1, 6))
    path, used = bm.bake_to_pc2(rig, poses, tmp_path / "body.pc2", start_frame=1, block=2)  # 3 streamed blocks
    assert used == "numpy"
    header, data = pc2.read_pc2(path)
    assert (header.num_points, header.num_samples) == (len(mesh.data.vertices), 5)
    # Blender's own modifier result for each frame, before the cache replaces it
    scene = bpy.context.scene
    refs = []
    for f in range(1, 6):
        scene.frame_set(f)
        refs.append(rr.evaluated_coords(mesh))
    bm.attach_cache(mesh, path, start_frame=1)
    assert not mod.show_viewport
    for f in range(1, 6):
        scene.frame_set(f)
        played = rr.evaluated_coords(mesh)
        np.testing.assert_allclose(played, data[f - 1], atol=1e-6)
        assert np.abs(played - refs[f - 1]).max() <= TOL * _diag(refs[f - 1])
    assert bm.clear_preview(mesh) and mod.show_viewport
    # a cache baked for another mesh is refused before any modifier changes, instead of playing as nothing
    other = write_pc2(tmp_path / "other.pc2", np.zeros((2, len(mesh.data.vertices) + 1, 3), np.float32))
    with pytest.raises(FacsimileError, match="baked for another mesh"):
        bm.attach_cache(mesh, other)
    assert mod.show_viewport and bm.PREVIEW_MODIFIER not in mesh.modifiers
    truncated = tmp_path / "truncated.pc2"
    truncated.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(FacsimileError, match="truncated"):
        bm.attach_cache(mesh, truncated)


def test_shape_keys_and_pose_library(tmp_path):
    arm, mesh, mod = _build_small_rig(3)
    actions = []
    for k in range(2):
        for i, pb in enumerate(arm.pose.bones):
            pb.rotation_mode = "XYZ"
            pb.rotation_euler = (0.4 * (k + 1), 0.1 * i, 0.0)
            pb.keyframe_insert("rotation_euler", frame=1)
        action = arm.animation_data.action
        action.name = f"pose{k}"
        action.asset_mark()
        actions.append(action)
        arm.animation_data.action = None
    poses = bm.pose_library_poses(rr.read_rig(mesh))
    assert poses.labels == ["pose0", "pose1"]
    rig = rr.read_rig(mesh)
    verts, _ = rr.deform(rig, poses)
    names = bm.add_shape_keys(mesh, verts, poses.labels)
    keys = mesh.data.shape_keys.key_blocks
    assert names == ["pose pose0", "pose pose1"]
    co = np.empty(len(mesh.data.vertices) * 3, np.float32)
    keys["pose pose1"].data.foreach_get("co", co)
    np.testing.assert_allclose(co.reshape(-1, 3), verts[1], atol=1e-6)
    # the key reproduces Blender's posed mesh for that pose
    arm.animation_data.action = actions[1]
    bpy.context.scene.frame_set(1)
    ref = rr.evaluated_coords(mesh)
    assert np.abs(verts[1] - ref).max() <= TOL * _diag(ref)


# ---------------------------------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------------------------------


def test_mesh_without_armature():
    _reset()
    bpy.ops.mesh.primitive_cube_add()
    with pytest.raises(FacsimileError, match="no Armature modifier"):
        rr.read_rig(bpy.context.object)


def test_no_matching_vertex_groups():
    arm, mesh, mod = _build_small_rig(2)
    for g in list(mesh.vertex_groups):
        g.name = "x_" + g.name
    with pytest.raises(FacsimileError, match="no vertex group of 'Body' matches a deform bone"):
        rr.read_rig(mesh)


def test_all_zero_weights():
    arm, mesh, mod = _build_small_rig(2)
    for g in mesh.vertex_groups:
        g.add(list(range(len(mesh.data.vertices))), 0.0, "REPLACE")
    with pytest.raises(FacsimileError, match="zero total weight"):
        rr.read_rig(mesh)


def test_nan_and_singular_pose():
    arm, mesh, mod = _build_small_rig(2)
    rig = rr.read_rig(mesh)
    arm.pose.bones["bone1"].scale = (0.0, 1.0, 1.0)
    bpy.context.view_layer.update()
    with pytest.raises(FacsimileError, match="singular"):
        rr.deform(rig, _capture_current(rig))
    arm.pose.bones["bone1"].scale = (1.0, 1.0, 1.0)
    bpy.context.view_layer.update()
    poses = _capture_current(rig)
    poses.pose_mats[0, 0, 1, 1] = np.nan
    with pytest.raises(FacsimileError, match="NaN"):
        rr.deform(rig, poses)


def test_bvh_not_matching_the_rig(tmp_path):
    mesh = _import_character("quaternius_human_male_m2m.glb")
    bvh = tmp_path / "odd.bvh"
    bvh.write_text(
        "HIERARCHY\nROOT Bip01\n{\n OFFSET 0 0 0\n CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation "
        "Yrotation\n JOINT Bip01_Spine\n {\n  OFFSET 0 1 0\n  CHANNELS 3 Zrotation Xrotation Yrotation\n  End Site\n"
        "  {\n   OFFSET 0 1 0\n  }\n }\n}\nMOTION\nFrames: 2\nFrame Time: 0.0333\n0 0 0 0 0 0 0 0 0\n"
        "0 0 0 10 0 0 5 0 0\n"
    )
    rig = rr.read_rig(mesh)
    n_objects = len(bpy.data.objects)
    with pytest.raises(FacsimileError, match="cannot tell the naming of the motion's joints: source joints Bip01"):
        bm.bvh_poses(rig, bvh, None)
    with pytest.raises(FacsimileError, match="do not match the rig.*Missing in the motion"):
        bm.bvh_poses(rig, bvh, "cmu")
    assert len(bpy.data.objects) == n_objects, "the temporary BVH armature must be removed"
    # a real CMU clip on a rig whose bones follow no known naming
    arm, small, mod = _build_small_rig(2)
    with pytest.raises(FacsimileError, match="cannot tell the naming of the rig's bones"):
        bm.bvh_poses(rr.read_rig(small), shared_path("mocap", "bvh", "cmu_subject02_walk.bvh"), None)
    not_bvh = tmp_path / "x.bvh"
    not_bvh.write_text("hello")
    with pytest.raises(FacsimileError, match="not a BVH"):
        bm.bvh_poses(rig, not_bvh, None)


def test_bbone_and_envelopes_are_refused():
    arm, mesh, mod = _build_small_rig(2)
    arm.data.bones["bone1"].bbone_segments = 4
    with pytest.raises(FacsimileError, match="B-Bone"):
        rr.read_rig(mesh)
    arm.data.bones["bone1"].bbone_segments = 1
    mod.use_bone_envelopes = True
    with pytest.raises(FacsimileError, match="envelopes"):
        rr.read_rig(mesh)


# ---------------------------------------------------------------------------------------------------------------------
# CLI and operators
# ---------------------------------------------------------------------------------------------------------------------


def _save_walk_blend(tmp_path) -> str:
    arm, mesh, mod = _build_small_rig(3)
    _animate(arm, frames=6)
    arm.animation_data.action.name = "Walk"
    path = tmp_path / "in.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    return str(path)


def test_cli_skin_action(tmp_path, capsys):
    from blender_addon.host import cli

    blend = _save_walk_blend(tmp_path)
    out = tmp_path / "body.pc2"
    code = cli.main(
        ["skin", "--blend", blend, "--object", "Body", "--action", "Walk", "--frames", "2:5", "--out", str(out)]
    )
    assert code == 0
    header, data = pc2.read_pc2(out)
    assert (header.num_samples, header.start_frame) == (4, 2.0)
    mesh = bpy.data.objects["Body"]
    bpy.context.scene.frame_set(4)
    ref = rr.evaluated_coords(mesh)
    assert np.abs(data[2] - ref).max() <= TOL * _diag(ref)
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--object", "Nope", "--action", "Walk"], "no object named 'Nope'"),
        (["--object", "Body", "--action", "Run"], "no Action named 'Run'"),
        (["--object", "Body", "--action", "Walk", "--frames", "5-2"], "--frames must look like"),
        (["--object", "Body", "--bvh", "missing.bvh"], "does not exist"),
    ],
)
def test_cli_skin_bad_input(tmp_path, capsys, args, message):
    from blender_addon.host import cli

    blend = _save_walk_blend(tmp_path)
    before = (tmp_path / "in.blend").read_bytes()
    out = tmp_path / "body.pc2"
    code = cli.main(["skin", "--blend", blend, "--out", str(out), *args])
    assert code == 1
    assert message in capsys.readouterr().err
    assert not out.exists()
    assert (tmp_path / "in.blend").read_bytes() == before


def test_cli_bad_output_suffix(tmp_path, capsys):
    from blender_addon.host import cli

    code = cli.main(["skin", "--object", "Body", "--action", "Walk", "--out", str(tmp_path / "body.abc")])
    assert code == 1 and "must end in .pc2" in capsys.readouterr().err


@pytest.fixture
def lbs_ops():
    """The LBS operators registered for a test (left alone if the add-on already registered them)."""
    from blender_addon.ui import lbs_operators

    already = hasattr(bpy.types, "FACSIMILE_OT_lbs_bake_pc2")
    if not already:
        lbs_operators.register()
    yield
    if not already:
        lbs_operators.unregister()


def test_operators_bake_preview_and_errors(tmp_path, lbs_ops):
    arm, mesh, mod = _build_small_rig(3)
    _animate(arm, frames=4)
    bpy.context.view_layer.objects.active = mesh
    out = tmp_path / "op.pc2"
    assert bpy.ops.facsimile.lbs_bake_pc2(filepath=str(out), source="ACTION") == {"FINISHED"}
    assert pc2.read_pc2(out)[0].num_samples == 4
    assert mesh.modifiers.get(bm.PREVIEW_MODIFIER) is not None
    assert bpy.ops.facsimile.lbs_clear_preview() == {"FINISHED"}
    # pose-library poses to shape keys
    for i, pb in enumerate(arm.pose.bones):
        pb.rotation_euler = (0.3, 0.1 * i, 0.0)
    pose_action = bpy.data.actions.new("Reach")
    arm.animation_data.action = pose_action
    for pb in arm.pose.bones:
        pb.keyframe_insert("rotation_euler", frame=1)
    pose_action.asset_mark()
    walk = [a for a in bpy.data.actions if a != pose_action][0]
    arm.animation_data.action = walk
    assert bpy.ops.facsimile.lbs_pose_shape_keys() == {"FINISHED"}
    assert "pose Reach" in mesh.data.shape_keys.key_blocks
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, 3
    # An unsaved file: the preview asks for a save (its cache goes beside the .blend, never to the temp folder).
    temp_before = set(Path(tempfile.gettempdir()).glob("*_facsimile_lbs.pc2"))
    with pytest.raises(RuntimeError, match="save the file first"):
        bpy.ops.facsimile.lbs_preview()
    assert set(Path(tempfile.gettempdir()).glob("*_facsimile_lbs.pc2")) == temp_before
    assert mesh.modifiers.get(bm.PREVIEW_MODIFIER) is None
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "scene.blend"))
    assert bpy.ops.facsimile.lbs_preview() == {"FINISHED"}
    assert mesh.modifiers[bm.PREVIEW_MODIFIER].cache_format == "PC2"
    assert (tmp_path / f"{mesh.name}_facsimile_lbs.pc2").is_file()
    bpy.ops.facsimile.lbs_clear_preview()
    # broken input: an error report, no exception, nothing written
    bpy.ops.mesh.primitive_cube_add()
    with pytest.raises(RuntimeError, match="no Armature modifier"):
        bpy.ops.facsimile.lbs_bake_pc2(filepath=str(tmp_path / "cube.pc2"))
    assert not (tmp_path / "cube.pc2").exists()


def test_dqs_on_non_uniform_scale_is_not_lbs():
    """Sanity: with scale and twist, DQS and LBS differ, so the Preserve Volume comparison is meaningful."""
    arm, mesh, mod = _build_small_rig(3)
    _animate(arm, frames=3, scale=True)
    rig = rr.read_rig(mesh)
    poses = rr.capture_frames(rig, [3])
    a, _ = rr.deform(rig, poses, dqs=False)
    b, _ = rr.deform(rig, poses, dqs=True)
    assert np.abs(a - b).max() > 1e-3
    # and the ONNX path gives the numpy LBS result
    c, dev = rr.deform(rig, poses, dqs=False, device="onnx-cpu")
    assert dev == "onnx-cpu"
    np.testing.assert_allclose(c, a, atol=1e-5)
    d, dev = rr.deform(rig, poses, dqs=False, device="auto")
    assert dev in ("numpy", "cuda")
    np.testing.assert_allclose(d, a, atol=1e-5)
    if dev == "numpy":  # no usable CUDA here: asking for it explicitly is a clear error
        with pytest.raises(FacsimileError, match="CUDA was requested"):
            rr.deform(rig, poses, dqs=False, device="cuda")
    assert lbs.CONTRIB_THRESHOLD == np.float32(0.0001)


# ---------------------------------------------------------------------------------------------------------------------
# Slow: whole clips and the rendered strip (default-run equivalents above use a few frames)
# ---------------------------------------------------------------------------------------------------------------------


def _walk_clip_error(dqs: bool, frames: tuple[int, int] | None, step: int) -> float:
    """The CMU walk on Quaternius through our LBS/DQS and Blender's modifier; the worst error over every `step`-th
    pose, as a fraction of the mesh's diagonal."""
    mesh = _import_character("quaternius_human_male_m2m.glb")
    mesh.modifiers[0].use_deform_preserve_volume = dqs
    rig = rr.read_rig(mesh)
    poses, full, skel = bm.bvh_poses(rig, shared_path("mocap", "bvh", "cmu_subject02_walk.bvh"), None, frames)
    ours, _ = rr.deform(rig, poses)
    worst = 0.0
    for i in range(0, len(poses), step):
        bm.apply_pose(rig.armature, skel, full[i])
        ref = rr.evaluated_coords(mesh)
        worst = max(worst, float(np.abs(ours[i] - ref).max()) / _diag(ref))
    return worst


@pytest.mark.parametrize("dqs", [False, True], ids=["lbs", "preserve_volume"])
def test_walk_clip_stretch_matches_modifier(dqs):
    """The short form of the whole-clip check below: twelve poses of mid-stride."""
    worst = _walk_clip_error(dqs, (100, 111), 1 if not dqs else 3)
    assert worst <= TOL, worst


@pytest.mark.slow
@pytest.mark.parametrize("dqs", [False, True], ids=["lbs", "preserve_volume"])
def test_whole_walk_clip_matches_modifier_every_frame(dqs):
    worst = _walk_clip_error(dqs, None, 1 if not dqs else 7)
    assert worst <= TOL, worst


def _walk_strip(tmp_path, frames: int, size: tuple[int, int]) -> np.ndarray:
    """Bake the CMU walk on Quaternius to PC2, play it through Mesh Cache, render `frames` Workbench tiles side by
    side; checks the character is in every tile and its pose changes along the walk."""
    import cv2

    mesh = _import_character("quaternius_human_male_m2m.glb")
    rig = rr.read_rig(mesh)
    poses, _, _ = bm.bvh_poses(rig, shared_path("mocap", "bvh", "cmu_subject02_walk.bvh"), None)
    path, _ = bm.bake_to_pc2(rig, poses, tmp_path / "walk.pc2", start_frame=1)
    bm.attach_cache(mesh, path, start_frame=1)
    scene = bpy.context.scene
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.render.resolution_x, scene.render.resolution_y = size
    cam = bpy.data.objects.new("StripCam", bpy.data.cameras.new("StripCam"))
    scene.collection.objects.link(cam)
    scene.camera = cam
    cam.data.type = "ORTHO"
    cam.data.ortho_scale = 2.6
    picked = np.linspace(60, len(poses) - 1, frames).astype(int)
    tiles = []
    world = np.array(mesh.matrix_world)
    for f in picked:
        scene.frame_set(int(f) + 1)
        co = rr.evaluated_coords(mesh) @ world[:3, :3].T + world[:3, 3]
        c = (co.max(0) + co.min(0)) / 2
        cam.location = (c[0] + 7.0, c[1] - 7.0, c[2])
        cam.rotation_euler = (math.pi / 2, 0.0, math.pi / 4)
        scene.render.filepath = str(tmp_path / f"f{f}.png")
        bpy.ops.render.render(write_still=True)
        tiles.append(cv2.imread(scene.render.filepath))
    masks = [(t.max(axis=2) > 40) for t in tiles]
    assert all(m.mean() > 0.02 for m in masks), "the character must be in every frame"
    assert max(np.mean(masks[0] != m) for m in masks[1:]) > 0.01, "the pose must change along the walk"
    return np.concatenate(tiles, axis=1)


def test_walk_strip_render_two_frames(tmp_path):
    """The short form of the strip below: two small tiles, nothing written outside tmp_path."""
    assert _walk_strip(tmp_path, 2, (80, 128)).shape == (128, 160, 3)


@pytest.mark.slow
def test_walk_strip_render(tmp_path):
    """Eight tiles, the strip saved to out/lbs_walk_strip.png for a look."""
    import cv2
    from conftest import REPO_ROOT

    strip = _walk_strip(tmp_path, 8, (200, 320))
    out_dir = REPO_ROOT / "out"
    out_dir.mkdir(exist_ok=True)
    cv2.imwrite(str(out_dir / "lbs_walk_strip.png"), strip)


def test_cli_skin_bvh(tmp_path, capsys):
    from blender_addon.host import cli

    mesh = _import_character("quaternius_human_male_m2m.glb")
    name, n_verts = mesh.name, len(mesh.data.vertices)
    blend = tmp_path / "q.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    out = tmp_path / "walk.pc2"
    bvh = str(shared_path("mocap", "bvh", "cmu_subject02_walk.bvh"))
    args = ["skin", "--blend", str(blend), "--object", name, "--bvh", bvh, "--frames", "50:69", "--out", str(out)]
    assert cli.main([*args, "--map", "cmu:ue"]) == 0
    header, data = pc2.read_pc2(out)
    assert (header.num_points, header.num_samples, header.start_frame) == (n_verts, 20, 50.0)
    assert np.ptp(data[:, :, 1].mean(axis=1)) > 0.05, "the body should travel along the walk"
    assert "wrote" in capsys.readouterr().out
    out.unlink()
    assert cli.main([*args, "--map", "daz"]) == 1
    assert "do not match the rig" in capsys.readouterr().err
    assert not out.exists()


def poses_verts(rig: rr.Rig, poses: rr.PoseSet) -> np.ndarray:
    return rr.deform(rig, poses)[0][0]


def test_shape_key_mix_and_modifier_order(tmp_path):
    """The armature deforms the shape-key mix; a modifier before the Armature modifier is refused; the cache is
    played at the Armature modifier's place, under a modifier (Smooth) that comes after it."""
    arm, mesh, mod = _build_small_rig(3)
    mesh.shape_key_add(name="Basis")
    key = mesh.shape_key_add(name="Bulge")
    co = np.empty(len(mesh.data.vertices) * 3, np.float32)
    key.data.foreach_get("co", co)
    key.data.foreach_set("co", co * 1.2)
    key.value = 0.7
    _animate(arm, frames=2)
    rig = rr.read_rig(mesh)
    _assert_matches_blender(rig, [1, 2])
    smooth = mesh.modifiers.new("Smooth", "SMOOTH")
    smooth.factor = 0.8
    poses = rr.capture_frames(rig, [2])
    path, _ = bm.bake_to_pc2(rig, poses, tmp_path / "b.pc2", start_frame=2)
    bpy.context.scene.frame_set(2)
    ref = rr.evaluated_coords(mesh)
    cache = bm.attach_cache(mesh, path, start_frame=2)
    assert [m.name for m in mesh.modifiers].index(cache.name) < [m.name for m in mesh.modifiers].index("Smooth")
    bpy.context.scene.frame_set(2)
    played = rr.evaluated_coords(mesh)
    assert played.shape == ref.shape and np.abs(played - ref).max() <= TOL * _diag(ref)
    assert np.abs(played - poses_verts(rig, poses)).max() > 1e-4, "the Smooth modifier must act on the cache"
    bm.clear_preview(mesh)
    mesh.modifiers.move(len(mesh.modifiers) - 1, 0)  # smoothing before the armature: refused
    with pytest.raises(FacsimileError, match="comes before the Armature modifier"):
        rr.read_rig(mesh)


def test_operator_bake_bvh(tmp_path, lbs_ops):
    mesh = _import_character("quaternius_human_male_m2m.glb")
    bpy.context.view_layer.objects.active = mesh
    out = tmp_path / "walk.pc2"
    bvh = str(shared_path("mocap", "bvh", "cmu_subject02_walk.bvh"))
    res = bpy.ops.facsimile.lbs_bake_pc2(
        filepath=str(out), source="BVH", bvh_path=bvh, frame_start=10, frame_end=19, attach=False
    )
    assert res == {"FINISHED"}
    assert pc2.read_pc2(out)[0].num_samples == 10
    with pytest.raises(RuntimeError, match="do not match the rig"):
        bpy.ops.facsimile.lbs_bake_pc2(filepath=str(tmp_path / "x.pc2"), source="BVH", bvh_path=bvh, joint_map="daz")
    assert not (tmp_path / "x.pc2").exists()
