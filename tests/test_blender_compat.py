"""blender_compat.py: the slotted-action helpers on this Blender (4.5: slots), on fresh and existing animation."""

from __future__ import annotations

import bpy
import numpy as np
import pytest

from blender_addon.host import blender_compat as bc


@pytest.fixture
def keyed_cube():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    mesh = bpy.data.meshes.new("m")
    obj = bpy.data.objects.new("Cube", mesh)
    bpy.context.scene.collection.objects.link(obj)
    obj.shape_key_add(name="Basis")
    obj.shape_key_add(name="jawOpen")
    yield obj
    bpy.ops.wm.read_factory_settings(use_empty=True)


def test_this_blender_has_slotted_actions():
    assert bc.has_slotted_actions() == (bpy.app.version >= (4, 4, 0))


def test_container_is_created_once_and_found_again(keyed_cube):
    key = keyed_cube.data.shape_keys
    assert bc.assigned_fcurves(key) == []
    bag = bc.fcurve_container(key, "KEY", "Take")
    fc = bag.fcurves.new('key_blocks["jawOpen"].value')
    fc.keyframe_points.add(2)
    fc.keyframe_points.foreach_set("co", np.array([1, 0.0, 5, 1.0], np.float32))
    again = bc.fcurve_container(key, "KEY", "Other")
    assert key.animation_data.action.name == "Take" and len(bpy.data.actions) == 1
    assert [c.data_path for c in again.fcurves] == ['key_blocks["jawOpen"].value']
    assert [c.data_path for c in bc.assigned_fcurves(key)] == ['key_blocks["jawOpen"].value']
    assert [c.data_path for c in bc.all_fcurves(key.animation_data.action)] == ['key_blocks["jawOpen"].value']
    assert bc.assigned_fcurves(None) == [] and bc.assigned_fcurves(keyed_cube) == []


def test_slot_saved_and_restored(keyed_cube):
    key = keyed_cube.data.shape_keys
    bc.fcurve_container(key, "KEY", "Take")
    ad = key.animation_data
    slot = bc.assigned_slot(ad)
    action = ad.action
    ad.action = None
    assert bc.assigned_slot(ad) is None
    ad.action = action
    bc.restore_slot(ad, slot)
    bc.assign_first_slot(ad)
    assert bc.assigned_slot(ad) == slot
    bc.restore_slot(ad, None)  # nothing saved: nothing changes
    assert bc.assigned_slot(ad) == slot
    assert bc.assigned_slot(None) is None


def test_extension_folder_and_unknown_repository():
    assert bc.user_extensions_dir().name == "extensions"
    with pytest.raises(ValueError, match="no extension repository 'nope'"):
        bc.uninstall_extension("facsimile", repo="nope")


def test_new_shape_keys_start_at_zero(keyed_cube):
    """Blender 5.x starts a new key at 1.0 (4.x at 0.0); the helper gives 0 on both, so a new character is at rest."""
    key = bc.add_shape_key(keyed_cube, "mouthSmileLeft")
    assert key.value == 0.0 and key.name == "mouthSmileLeft"
    assert keyed_cube.data.shape_keys.key_blocks[-1] == key
