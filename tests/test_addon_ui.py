"""The add-on's registration, properties, mapping list and file operators with the real bpy module (no models needed)."""

from __future__ import annotations

import json

import bpy
import numpy as np
import pytest
from addon_fixtures import addon, demo_head, headless, key_counts, unwritable_dir  # noqa: F401

import blender_addon
from blender_addon.core.arkit import INDEX, NUM_BLENDSHAPES
from blender_addon.core.errors import FacsimileError
from blender_addon.core.formats.livelink_csv import read_livelink_csv, write_livelink_csv
from blender_addon.scene import character
from blender_addon.ui import operators, panel, preferences, properties
from blender_addon.ui.properties import is_shape_key_mesh


def _ours_registered() -> dict[str, bool]:
    return {
        "scene": hasattr(bpy.types.Scene, "facsimile"),
        "object": hasattr(bpy.types.Object, "facsimile"),
        "panel": hasattr(bpy.types, "VIEW3D_PT_facsimile"),
        "list": hasattr(bpy.types, "FACSIMILE_UL_mapping"),
        "ops": any(hasattr(bpy.types, cls.__name__) for cls in operators.CLASSES),
        "prefs": preferences.FacsimilePreferences.is_registered,
        "classes": any(c.is_registered for c in (*operators.CLASSES, *panel.CLASSES, *properties._CLASSES)),
    }


def test_register_unregister_twice_leaves_nothing(headless):  # noqa: F811
    for _ in range(2):
        blender_addon.register()
        try:
            state = _ours_registered()
            assert all(state.values()), state
            assert all(c.is_registered for c in (*operators.CLASSES, *panel.CLASSES, *properties._CLASSES))
            assert {"apply_photo", "bake_clip", "import_livelink", "export_livelink"} <= set(dir(bpy.ops.facsimile))
        finally:
            blender_addon.unregister()
        state = _ours_registered()
        assert not any(state.values()), state
        assert not blender_addon._loaded


def test_enable_disable_through_blenders_addon_machinery(headless, monkeypatch):  # noqa: F811
    """What Preferences > Add-ons does: the preferences (device) exist only while enabled, and nothing stays."""
    import addon_utils

    monkeypatch.delenv("FACSIMILE_DEVICE")  # $FACSIMILE_DEVICE would win over the preference

    from blender_addon.ui.preferences import ADDON_ID, requested_device

    for _ in range(2):
        assert addon_utils.enable(ADDON_ID, default_set=True, handle_error=lambda e: pytest.fail(str(e)))
        try:
            prefs = bpy.context.preferences.addons[ADDON_ID].preferences
            assert prefs.device == "auto"
            prefs.device = "cpu"
            assert requested_device() == "cpu"
        finally:
            addon_utils.disable(ADDON_ID, default_set=True)
        assert bpy.context.preferences.addons.get(ADDON_ID) is None
        assert not any(_ours_registered().values())


def test_target_poll_takes_only_meshes_with_shape_keys(addon):  # noqa: F811
    head = demo_head(addon)
    bare = bpy.data.objects.new("Bare", bpy.data.meshes.new("Bare"))
    arm = bpy.data.objects.new("Rig", bpy.data.armatures.new("Rig"))
    assert is_shape_key_mesh(head)
    assert not is_shape_key_mesh(bare)
    assert not is_shape_key_mesh(arm)
    assert not is_shape_key_mesh(None)


def _rename_key(obj, old: str, new: str) -> None:
    obj.data.shape_keys.key_blocks[old].name = new


def test_refresh_mapping_flags_unmatched_and_keeps_tuning(addon):  # noqa: F811
    head = demo_head(addon)
    assert bpy.ops.facsimile.refresh_mapping() == {"FINISHED"}
    rows = {r.arkit_name: r for r in head.facsimile.mapping}
    assert len(rows) == NUM_BLENDSHAPES and not any(r.unmatched for r in rows.values())
    assert head.facsimile.resolved_preset == "arkit"
    rows["jawOpen"].gain = 0.5
    _rename_key(head, "tongueOut", "MyTongue")
    bpy.ops.facsimile.refresh_mapping()
    rows = {r.arkit_name: r for r in head.facsimile.mapping}
    assert rows["tongueOut"].unmatched and rows["tongueOut"].shape_key == ""
    assert rows["jawOpen"].gain == pytest.approx(0.5)  # tuning survives a refresh
    assert sum(r.unmatched for r in rows.values()) == 1


def test_mapping_rows_drive_the_written_values(addon):  # noqa: F811
    head = demo_head(addon)
    character.refresh_mapping(head)
    rows = {r.arkit_name: r for r in head.facsimile.mapping}
    rows["jawOpen"].gain = 0.5
    rows["jawOpen"].offset = 0.1
    rows["mouthSmileLeft"].enabled = False
    rows["eyeBlinkLeft"].shape_key = "eyeBlinkLeft, eyeBlinkRight"  # one channel may drive several keys
    rows["eyeBlinkRight"].enabled = False
    w = np.zeros(NUM_BLENDSHAPES, np.float32)
    w[INDEX["jawOpen"]] = 0.8
    w[INDEX["mouthSmileLeft"]] = 0.9
    w[INDEX["eyeBlinkLeft"]] = 0.7
    kb = head.data.shape_keys.key_blocks
    kb["mouthSmileLeft"].value = 0.25
    character.write_pose(head, character.mapping_for(head), w)
    assert kb["jawOpen"].value == pytest.approx(0.8 * 0.5 + 0.1)
    assert kb["mouthSmileLeft"].value == pytest.approx(0.25)  # disabled: left alone
    assert kb["eyeBlinkLeft"].value == pytest.approx(0.7)
    assert kb["eyeBlinkRight"].value == pytest.approx(0.7)
    head.facsimile.mirror = True
    character.write_pose(head, character.mapping_for(head), w)  # mirrored: the left smile now arrives on the right key
    assert kb["mouthSmileRight"].value == pytest.approx(0.9)


@pytest.mark.parametrize(
    "setup, message",
    [
        ("none", "no target object"),
        ("armature", "armature, not a mesh"),
        ("bare_mesh", "has no shape keys"),
    ],
)
@pytest.mark.parametrize(
    "op", ["refresh_mapping", "apply_photo", "capture_neutral", "bake_clip", "export_livelink", "import_livelink"]
)
def test_operators_refuse_a_bad_target_clearly(addon, tmp_path, setup, message, op):  # noqa: F811
    head = demo_head(addon)
    before = [kb.value for kb in head.data.shape_keys.key_blocks]
    scene = addon.scene
    scene.facsimile.target = None
    if setup == "none":
        addon.view_layer.objects.active = None
    else:
        data = bpy.data.armatures.new("Rig") if setup == "armature" else bpy.data.meshes.new("Plain")
        obj = bpy.data.objects.new("Other", data)
        scene.collection.objects.link(obj)
        addon.view_layer.objects.active = obj
    kwargs = {"filepath": str(tmp_path / "x.csv")} if "livelink" in op else {}
    if op in ("apply_photo", "capture_neutral"):
        kwargs = {"filepath": str(tmp_path / "photo.png")}
    if op == "bake_clip":
        kwargs = {"filepath": str(tmp_path / "clip.mp4")}
    with pytest.raises(RuntimeError, match=message):
        getattr(bpy.ops.facsimile, op)(**kwargs)
    assert [kb.value for kb in head.data.shape_keys.key_blocks] == before
    assert head.data.shape_keys.animation_data is None


def test_live_link_import_then_export_round_trips(addon, tmp_path):  # noqa: F811
    head = demo_head(addon)
    scene = addon.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    rng = np.random.default_rng(0)
    w = rng.uniform(0, 1, (45, NUM_BLENDSHAPES)).astype(np.float32)  # past a second: the rate is known
    src = write_livelink_csv(tmp_path / "take.csv", w, 30.0)
    assert bpy.ops.facsimile.import_livelink(filepath=str(src), start_frame=10) == {"FINISHED"}
    counts = key_counts(head)
    assert len(counts) == NUM_BLENDSHAPES and set(counts.values()) == {45}
    out = tmp_path / "back.csv"
    assert bpy.ops.facsimile.export_livelink(filepath=str(out), frame_first=10, frame_last=54) == {"FINISHED"}
    back = read_livelink_csv(out)
    np.testing.assert_allclose(back.weights, w, atol=1e-4)


def test_live_link_import_of_a_broken_file_changes_nothing(addon, tmp_path):  # noqa: F811
    head = demo_head(addon)
    bad = tmp_path / "bad.csv"
    bad.write_text("Timecode,EyeBlinkLeft\n00:00:00:00.000,not-a-number\n")
    with pytest.raises(RuntimeError, match="bad.csv"):
        bpy.ops.facsimile.import_livelink(filepath=str(bad))
    assert head.data.shape_keys.animation_data is None


def test_export_needs_something_to_export_and_a_writable_folder(addon, tmp_path):  # noqa: F811
    head = demo_head(addon)
    with pytest.raises(RuntimeError, match="no solved weights yet"):
        bpy.ops.facsimile.export_weights_json(filepath=str(tmp_path / "w.json"))
    with pytest.raises(RuntimeError, match="no shape-key animation"):
        bpy.ops.facsimile.export_livelink(filepath=str(tmp_path / "t.csv"))
    w = np.linspace(0, 1, NUM_BLENDSHAPES, dtype=np.float32)
    character.store_last_solve(head, w[None], None)
    locked = unwritable_dir(tmp_path)
    with pytest.raises(RuntimeError, match="output folder|cannot create"):
        bpy.ops.facsimile.export_weights_json(filepath=str(locked / "w.json"))
    assert not (locked / "w.json").exists()
    out = tmp_path / "w.json"
    assert bpy.ops.facsimile.export_weights_json(filepath=str(out)) == {"FINISHED"}
    data = json.loads(out.read_text())
    assert data["jawOpen"] == pytest.approx(float(w[INDEX["jawOpen"]]))


def test_neutral_store_is_validated(addon):  # noqa: F811
    head = demo_head(addon)
    with pytest.raises(FacsimileError, match="52 finite"):
        character.store_neutral(head, np.full(NUM_BLENDSHAPES, np.nan), "x")
    character.store_neutral(head, np.full(NUM_BLENDSHAPES, 0.2), "rest.jpg")
    assert character.get_neutral(head) == pytest.approx(np.full(NUM_BLENDSHAPES, 0.2))
    assert bpy.ops.facsimile.clear_neutral() == {"FINISHED"}
    assert character.get_neutral(head) is None


def test_body_panel_appears_only_with_lbs_operators(addon):  # noqa: F811
    assert not panel.VIEW3D_PT_facsimile_body.poll(addon) or panel.lbs_operator_ids()

    class FACSIMILE_OT_lbs_probe(bpy.types.Operator):
        bl_idname = "facsimile.lbs_probe"
        bl_label = "Probe"

        def execute(self, context):
            return {"FINISHED"}

    bpy.utils.register_class(FACSIMILE_OT_lbs_probe)
    try:
        assert "facsimile.lbs_probe" in panel.lbs_operator_ids()
        assert panel.VIEW3D_PT_facsimile_body.poll(addon)
    finally:
        bpy.utils.unregister_class(FACSIMILE_OT_lbs_probe)
    assert "facsimile.lbs_probe" not in panel.lbs_operator_ids()


class _CheckingLayout:
    """Stands in for UILayout in background mode: every prop must exist on its data, every operator be registered."""

    def __init__(self, seen: list[str]):
        self.seen = seen
        self.alert = False

    def row(self, **_kw):
        return _CheckingLayout(self.seen)

    column = row

    def label(self, text: str = "", **_kw) -> None:
        self.seen.append(f"label:{text}")

    def prop(self, data, name: str, **_kw) -> None:
        assert name in data.bl_rna.properties, f"{type(data).__name__} has no property {name!r}"
        self.seen.append(f"prop:{name}")

    def operator(self, idname: str, **_kw):
        module, name = idname.split(".")
        assert name in dir(getattr(bpy.ops, module)), f"operator {idname} is not registered"
        self.seen.append(f"op:{idname}")
        return type("OpProps", (), {})()

    def template_list(self, list_id, _list_name, data, prop, active_data, active_prop, **_kw) -> None:
        assert hasattr(bpy.types, list_id)
        assert prop in data.bl_rna.properties and active_prop in active_data.bl_rna.properties
        self.seen.append(f"list:{prop}")


def test_panels_draw_with_real_properties_and_operators(addon):  # noqa: F811
    seen: list[str] = []
    ctx = addon
    for with_target in (False, True):
        if with_target:
            head = demo_head(ctx)
            character.refresh_mapping(head)
            head.facsimile.preset = "json"
            ctx.scene.facsimile.smoothing = True
        for cls in panel.CLASSES[1:]:
            if hasattr(cls, "poll") and not cls.poll(ctx):
                continue
            cls.draw(type("P", (), {"layout": _CheckingLayout(seen)})(), ctx)
    for item in ("prop:target", "op:facsimile.apply_photo", "op:facsimile.bake_clip", "list:mapping", "prop:map_file"):
        assert item in seen, item
    assert "label:Pick a mesh with shape keys" in seen
    ost = head.facsimile
    panel.FACSIMILE_UL_mapping.draw_item(None, ctx, _CheckingLayout(seen), ost, ost.mapping[0], 0, ost, "mapping_index")
    assert "prop:gain" in seen and "prop:shape_key" in seen
    fake = type("L", (), {"filter_name": "smile", "bitflag_filter_item": 1 << 30})()
    flags, order = panel.FACSIMILE_UL_mapping.filter_items(fake, ctx, ost, "mapping")
    shown = [row.arkit_name for row, f in zip(ost.mapping, flags) if f]
    assert shown == ["mouthSmileLeft", "mouthSmileRight"] and order == []
