"""Every difference between the Blender versions Facsimile supports, in one place.

Callers ask for what they need ("the F-curves animating this Key", "install this extension zip") and never test for
attributes themselves, so supporting a new Blender release means editing this module only.

Covered today:
- Slotted actions (Blender 4.4+): an Action holds layers -> strips -> one channelbag per slot, and F-curves live in
  the channelbag. Blender 4.2/4.3 keep them on ``Action.fcurves``, which Blender 5.0 removed.
- The extension API (Blender 4.2+): installing a zip into a repository (``bpy.ops.extensions.package_install_files``),
  removing it, and the folder extensions live in.
- New shape keys: Blender 5.x gives a new key the value 1.0 (4.x: 0.0), so a freshly built character would show
  every key at once; add_shape_key() makes them start at 0 everywhere.
- Python: Blender 4.2-5.0 embed CPython 3.11, 5.1-5.3 CPython 3.13 (the zips carry wheels for both; numpy 1.26 on 4.x,
  numpy 2.x on 5.x). Nothing in the add-on branches on the Python or numpy version.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import bpy

# ---------------------------------------------------------------- slotted actions


def has_slotted_actions(action: bpy.types.Action | None = None) -> bool:
    """True on Blender 4.4+ (an Action has slots and layers)."""
    if action is not None:
        return hasattr(action, "slots")
    return hasattr(bpy.types.Action, "bl_rna") and "slots" in bpy.types.Action.bl_rna.properties


def assigned_fcurves(id_block: bpy.types.ID | None) -> list[bpy.types.FCurve]:
    """The F-curves that animate `id_block` through its assigned action (and slot); [] when it has none."""
    ad = getattr(id_block, "animation_data", None) if id_block is not None else None
    action = ad.action if ad is not None else None
    if action is None:
        return []
    if has_slotted_actions(action):
        slot = ad.action_slot
        if slot is None:
            return []
        from bpy_extras.anim_utils import action_get_channelbag_for_slot

        bag = action_get_channelbag_for_slot(action, slot)
        return list(bag.fcurves) if bag is not None else []
    return list(action.fcurves)


def all_fcurves(action: bpy.types.Action) -> Iterator[bpy.types.FCurve]:
    """Every F-curve of an action, whatever slot it belongs to."""
    if has_slotted_actions(action) and len(action.layers):
        for layer in action.layers:
            for strip in layer.strips:
                for bag in strip.channelbags:
                    yield from bag.fcurves
    elif hasattr(action, "fcurves"):
        yield from action.fcurves


def fcurve_container(id_block: bpy.types.ID, id_type: str, action_name: str):
    """Where new F-curves for `id_block` go, created as needed: the channelbag of its slot in its action (4.4+), or
    the action itself before slots existed. Both expose ``.fcurves.find/new``. id_type is the slot's ID type
    ("KEY", "OBJECT", ...)."""
    ad = id_block.animation_data or id_block.animation_data_create()
    action = ad.action
    if action is None:
        action = bpy.data.actions.new(action_name)
        ad.action = action
    if not has_slotted_actions(action):
        return action
    slot = ad.action_slot
    if slot is None:
        slot = next((s for s in action.slots if s.target_id_type == id_type), None)
        if slot is None:
            slot = action.slots.new(id_type=id_type, name=id_block.name)
        ad.action_slot = slot
    layer = action.layers[0] if len(action.layers) else action.layers.new("Layer")
    strip = layer.strips[0] if len(layer.strips) else layer.strips.new(type="KEYFRAME")
    return strip.channelbag(slot, ensure=True)


def assign_first_slot(anim_data: bpy.types.AnimData) -> None:
    """After assigning an action: pick its first slot when Blender left none assigned (4.4+; no-op before)."""
    action = anim_data.action
    if action is None or not has_slotted_actions(action):
        return
    if anim_data.action_slot is None and len(action.slots) > 0:
        anim_data.action_slot = action.slots[0]


def assigned_slot(anim_data: bpy.types.AnimData | None):
    """The action slot in use (4.4+), or None (no animation data, or a Blender without slots)."""
    return getattr(anim_data, "action_slot", None) if anim_data is not None else None


def restore_slot(anim_data: bpy.types.AnimData, slot) -> None:
    """Put back a slot saved with assigned_slot(); ignored where the restored action no longer offers it."""
    if slot is None or not hasattr(anim_data, "action_slot") or anim_data.action_slot == slot:
        return
    try:
        anim_data.action_slot = slot
    except (TypeError, RuntimeError):
        pass


# ---------------------------------------------------------------- shape keys


def add_shape_key(obj: bpy.types.Object, name: str, from_mix: bool = False) -> bpy.types.ShapeKey:
    """A new shape key on `obj` at value 0 on every Blender (5.x starts new keys at 1.0, 4.x at 0.0)."""
    key = obj.shape_key_add(name=name, from_mix=from_mix)
    key.value = 0.0
    return key


# ---------------------------------------------------------------- extensions


def uses_nodes(id_block: bpy.types.Material | bpy.types.World) -> bool:
    """Whether a material or world shades with its node tree: always from Blender 5.0 (where use_nodes is deprecated,
    to be removed in 6.0), as use_nodes says before."""
    if bpy.app.version >= (5, 0, 0):
        return id_block.node_tree is not None
    return bool(id_block.use_nodes)


def material_node_tree(mat: bpy.types.Material) -> bpy.types.NodeTree:
    """The material's node tree, switched on where Blender still has the switch (before 5.0 a new material has no
    nodes until use_nodes is set)."""
    if not uses_nodes(mat):
        mat.use_nodes = True
    return mat.node_tree


def user_extensions_dir() -> Path:
    """The folder user extension repositories live in (BLENDER_USER_RESOURCES moves it)."""
    return Path(bpy.utils.user_resource("EXTENSIONS"))


def install_extension(zip_path: str | Path, repo: str = "user_default", enable: bool = True) -> set[str]:
    """Install an extension zip into a local repository the way Install from Disk does; the operator's result."""
    return set(bpy.ops.extensions.package_install_files(filepath=str(zip_path), repo=repo, enable_on_install=enable))


def uninstall_extension(pkg_id: str, repo: str = "user_default") -> set[str]:
    """Remove an installed extension (its files and its enabled state); the operator's result."""
    repos = [r.module for r in bpy.context.preferences.extensions.repos]
    if repo not in repos:
        raise ValueError(f"no extension repository {repo!r} (known: {', '.join(repos)})")
    return set(bpy.ops.extensions.package_uninstall(repo_index=repos.index(repo), pkg_id=pkg_id))
