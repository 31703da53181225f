"""Rig naming conventions (core/rig): detection on real rigs' bone names, user maps, and one-line errors."""

from __future__ import annotations

import json
import re
import struct

import pytest
from conftest import shared_path

from blender_addon.core.errors import FacsimileError
from blender_addon.core.rig import ROLES, builtin_conventions, match_rig
from blender_addon.core.rig.conventions import normalize


def _glb_joint_names(path) -> list[str]:
    data = path.read_bytes()
    n = struct.unpack("<I", data[12:16])[0]
    gltf = json.loads(data[20 : 20 + n])
    return [gltf["nodes"][i]["name"] for i in gltf["skins"][0]["joints"]]


def _bvh_names(path) -> list[str]:
    return re.findall(r"(?:ROOT|JOINT)\s+(\S+)", path.read_text())


def test_every_builtin_convention_loads_and_names_known_roles():
    convs = builtin_conventions()
    assert len(convs) >= 15
    names = {c.name for c in convs}
    for expected in (
        "rigify_def",
        "rigify_controls",
        "mixamo",
        "unreal_mannequin",
        "ready_player_me",
        "vrm_humanoid",
        "makehuman_default",
        "makehuman_game_engine",
        "cc4",
    ):
        assert expected in names
    for c in convs:
        assert c.title and set(c.roles) <= set(ROLES) and "head" in c.roles, c.name


@pytest.mark.parametrize("conv", [c.name for c in builtin_conventions()])
def test_each_convention_detects_its_own_full_rig(conv):
    """A rig built from a convention's first names is recognised as that convention (or an identical twin)."""
    c = next(x for x in builtin_conventions() if x.name == conv)
    bones = [v[0] for v in c.roles.values()] + ["root_extra", "prop"]
    m = match_rig(bones)
    assert m.bones == {r: v[0] for r, v in c.roles.items()}
    twins = [x.name for x in builtin_conventions() if {r: v[0] for r, v in x.roles.items()} == m.bones]
    assert m.convention == conv or conv in twins or len(m.bones) == len(c.roles)


def test_quaternius_character_is_an_unreal_mannequin():
    names = _glb_joint_names(shared_path("mocap", "models", "quaternius_human_male_m2m.glb"))
    m = match_rig(names, rig_name="quaternius")
    assert m.convention == "unreal_mannequin"
    assert m.bones["head"] == "head" and m.bones["leftLowerArm"] == "lowerarm_l" and m.bones["rightToes"] == "ball_r"
    assert len(m.bones) == 22  # no eyes and no jaw on that rig
    with pytest.raises(FacsimileError) as e:
        m.require(["head", "leftEye", "rightEye"], "gaze")
    msg = str(e.value)
    assert "\n" not in msg and "leftEye, rightEye" in msg and "quaternius" in msg and "head," not in msg


@pytest.mark.parametrize(
    "bvh, conv",
    [
        ("cmu_subject02_walk.bvh", "cmu_bvh"),
        ("cmu_131_03_hop_3dsmax.bvh", "cmu_bvh_3dsmax"),
        ("cmu_61_10_salsa_daz_scaled.bvh", "daz_genesis"),
    ],
)
def test_cmu_bvh_namings(bvh, conv):
    m = match_rig(_bvh_names(shared_path("mocap", "bvh", bvh)))
    assert m.convention == conv and {"hips", "head", "leftUpperArm", "rightLowerLeg"} <= set(m.bones)


def test_namespaces_case_and_separators_are_ignored():
    m = match_rig(["mixamorig1:Hips", "mixamorig1:Spine", "mixamorig1:Neck", "mixamorig1:Head", "mixamorig1:LeftEye"])
    assert m.convention == "mixamo" and m.bones["leftEye"] == "mixamorig1:LeftEye"
    assert normalize("DEF-spine.006") == normalize("def_spine_006")
    m = match_rig(["CC_Base_Hip", "CC_Base_Head", "cc_base_l_eye", "CC_Base_R_Eye"])
    assert m.convention == "cc4" and m.bones["leftEye"] == "cc_base_l_eye"


def test_parents_reject_a_head_outside_the_spine_chain():
    bones = ["Hips", "Spine", "Neck", "Head", "Head.001"]
    parents = {"Hips": None, "Spine": "Hips", "Neck": "Spine", "Head": None, "Head.001": "Neck"}
    m = match_rig(bones, parents, convention={"neck": "Neck", "head": ["Head", "Head.001"]})
    assert m.bones["head"] == "Head.001"


def test_user_map_file(tmp_path):
    p = tmp_path / "my_rig.json"
    p.write_text(json.dumps({"head": "CTRL_Head", "neck": ["CTRL_Neck", "neck"], "leftEye": "EyeL"}))
    before = p.read_bytes()
    m = match_rig(["CTRL_Head", "neck", "EyeL", "other"], convention=p, rig_name="hero")
    assert m.bones == {"neck": "neck", "head": "CTRL_Head", "leftEye": "EyeL"} and m.convention == "my_rig"
    assert p.read_bytes() == before


@pytest.mark.parametrize(
    "content, needle",
    [
        (b"", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"head": 3}', "must map to a bone name"),
        (b'{"hed": "Head"}', "unknown humanoid role"),
        (b"{}", "names no roles"),
        (b'{"roles": [1]}', "'roles' must be an object"),
        (b'{"head": "Nope"}', "has no bone for head -> Nope"),
    ],
)
def test_broken_user_maps_are_one_line(tmp_path, content, needle):
    p = tmp_path / "map.json"
    p.write_bytes(content)
    with pytest.raises(FacsimileError) as e:
        match_rig(["Head", "Neck"], convention=p)
    assert needle in str(e.value) and "\n" not in str(e.value)
    assert p.read_bytes() == content
    assert sorted(x.name for x in tmp_path.iterdir()) == ["map.json"]


def test_missing_file_and_unknown_convention_name(tmp_path):
    with pytest.raises(FacsimileError, match="does not exist"):
        match_rig(["Head"], convention=tmp_path / "absent.json")
    with pytest.raises(FacsimileError, match="no rig convention named 'blender_default'"):
        match_rig(["Head"], convention="blender_default")


def test_rig_without_any_known_bone_names_every_missing_role():
    m = match_rig(["Bone", "Bone.001"], rig_name="Armature")
    assert m.bones == {}
    with pytest.raises(FacsimileError) as e:
        m.require(["neck", "head"], "the head")
    assert str(e.value).startswith("armature 'Armature' has no bone for neck, head for the head")
