"""A character's Facsimile state, kept on its face mesh and saved with the .blend: the shape-key mapping with its
per-channel tuning, the captured neutral, the last solve; writing poses through that mapping and reading the
animation back per ARKit channel.

Every use case gets its RetargetMap from mapping_for() once per operation, so the panel, the CLI and batch honour the
same tuning and neutral.
"""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np

from ..core.arkit import NUM_BLENDSHAPES
from ..core.errors import FacsimileError
from ..core.retarget import ChannelSettings, RetargetMap, best_preset, build_retarget_map
from ..host.blender_compat import assigned_fcurves
from ..ui.properties import PRESET_ITEMS
from .shape_keys import WriteReport, bake_keyframes, require_shape_key_mesh, set_values, shape_key_names

NEUTRAL_PROP = "facsimile_neutral"
NEUTRAL_SOURCE_PROP = "facsimile_neutral_source"
LAST_SOLVE_PROP = "facsimile_last_solve"
LAST_SOLVE_FPS_PROP = "facsimile_last_solve_fps"


# ---------------------------------------------------------------- target


def check_target(obj: bpy.types.Object | None, what: str = "target") -> bpy.types.Object:
    """The object must be a mesh with shape keys; otherwise say what it is and what to pick instead."""
    if obj is None:
        raise FacsimileError(
            f"no {what} object: pick the face mesh in the Facsimile panel's Target field (or select it)"
        )
    return require_shape_key_mesh(obj)


def resolve_target(context: bpy.types.Context) -> bpy.types.Object:
    """The panel's Target, else the active object; checked."""
    settings = getattr(context.scene, "facsimile", None)
    obj = settings.target if settings is not None and settings.target is not None else context.active_object
    return check_target(obj)


def scene_fps(scene: bpy.types.Scene) -> float:
    return scene.render.fps / scene.render.fps_base


# ---------------------------------------------------------------- mapping


def _stored_preset(obj: bpy.types.Object) -> str | Path:
    st = obj.facsimile
    if st.preset == "json":
        if not st.map_file:
            raise FacsimileError("preset 'JSON file' needs a map file: set Map file in the Facsimile panel")
        return Path(bpy.path.abspath(st.map_file))
    return st.preset


def configure_mapping(obj: bpy.types.Object, preset: str | None = None, mirror: bool | None = None) -> None:
    """A command's --preset/--mirror override what the object stores (and are saved with it); a JSON map file is
    preset 'json'. Tuning of channels that keep their name survives a preset change."""
    check_target(obj)
    st = obj.facsimile
    if mirror is not None:
        st.mirror = mirror
    if preset:
        if preset.lower().endswith(".json"):
            path = Path(preset)
            if not path.is_file():
                raise FacsimileError(f"mapping file {path} does not exist")
            st.preset = "json"
            st.map_file = str(path.resolve())
        else:
            valid = [item[0] for item in PRESET_ITEMS if item[0] != "json"]
            if preset.lower() not in valid:
                raise FacsimileError(f"unknown preset {preset!r}; choose one of {', '.join(valid)} or a .json map file")
            st.preset = preset.lower()
        _rebuild_rows(obj)


def refresh_mapping(obj: bpy.types.Object) -> RetargetMap:
    """Rebuild the object's mapping rows from its preset, keeping each channel's tuned gain/offset/clamp/enabled."""
    check_target(obj)
    _rebuild_rows(obj)
    return retarget_map(obj)


def _rebuild_rows(obj: bpy.types.Object) -> None:
    st = obj.facsimile
    rmap = build_retarget_map(shape_key_names(obj), _stored_preset(obj), mirror=st.mirror)
    old = {row.arkit_name: row for row in st.mapping}
    kept = {
        name: (row.gain, row.offset, row.clamp_min, row.clamp_max, row.enabled)
        for name, row in old.items()
        if len(old) == NUM_BLENDSHAPES
    }
    st.mapping.clear()
    for b in rmap.bindings:
        row = st.mapping.add()
        row.arkit_name = b.arkit
        row.shape_key = ", ".join(b.targets)
        row.unmatched = not b.targets
        if b.arkit in kept:
            row.gain, row.offset, row.clamp_min, row.clamp_max, row.enabled = kept[b.arkit]
    st.resolved_preset = best_preset(shape_key_names(obj)) if st.preset == "auto" else st.preset


def retarget_map(obj: bpy.types.Object, *, with_neutral: bool = True) -> RetargetMap:
    """The object's mapping rows (built from the preset the first time) as a core RetargetMap, with its neutral."""
    check_target(obj)
    st = obj.facsimile
    if len(st.mapping) != NUM_BLENDSHAPES:
        _rebuild_rows(obj)
    existing = set(shape_key_names(obj))
    targets: dict[str, tuple[str, ...]] = {}
    settings: dict[str, ChannelSettings] = {}
    for row in st.mapping:
        names = tuple(t.strip() for t in row.shape_key.split(",") if t.strip())
        row.unmatched = not any(t in existing for t in names)
        targets[row.arkit_name] = names
        settings[row.arkit_name] = ChannelSettings(
            gain=row.gain,
            offset=row.offset,
            clamp_min=row.clamp_min,
            clamp_max=row.clamp_max,
            enabled=row.enabled,
        )
    neutral = get_neutral(obj) if with_neutral else None
    return build_retarget_map(shape_key_names(obj), targets, settings=settings, mirror=st.mirror, neutral=neutral)


def mapping_for(
    obj: bpy.types.Object,
    preset: str | None = None,
    mirror: bool | None = None,
    *,
    raw_preset: bool = False,
    with_neutral: bool = True,
) -> RetargetMap:
    """The one RetargetMap an operation uses, built once: the object's mapping with its tuning and neutral (after
    applying a --preset/--mirror override), or with raw_preset the preset alone (no tuning, no neutral, nothing
    stored on the object)."""
    check_target(obj)
    if raw_preset:
        st = obj.facsimile
        chosen = preset or _stored_preset(obj)
        return build_retarget_map(shape_key_names(obj), chosen, mirror=st.mirror if mirror is None else mirror)
    configure_mapping(obj, preset, mirror)
    return retarget_map(obj, with_neutral=with_neutral)


# ---------------------------------------------------------------- neutral


def store_neutral(obj: bpy.types.Object, weights: np.ndarray, source: str) -> None:
    """Keep the actor's resting weights on the object (saved with the .blend); every later solve subtracts them."""
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape[0] != NUM_BLENDSHAPES or not np.all(np.isfinite(w)):
        raise FacsimileError("the neutral capture did not produce 52 finite weights; try another photo")
    obj[NEUTRAL_PROP] = [float(v) for v in w]
    obj[NEUTRAL_SOURCE_PROP] = source


def get_neutral(obj: bpy.types.Object) -> np.ndarray | None:
    raw = obj.get(NEUTRAL_PROP)
    if raw is None:
        return None
    w = np.asarray(list(raw), dtype=np.float32)
    if w.shape != (NUM_BLENDSHAPES,):
        raise FacsimileError(
            f"'{obj.name}' holds a damaged neutral capture ({w.shape[0]} values); clear it and capture again"
        )
    return w


def clear_neutral(obj: bpy.types.Object) -> bool:
    found = NEUTRAL_PROP in obj
    for key in (NEUTRAL_PROP, NEUTRAL_SOURCE_PROP):
        if key in obj:
            del obj[key]
    return found


# ---------------------------------------------------------------- last solve


def store_last_solve(obj: bpy.types.Object, weights: np.ndarray, fps: float | None) -> None:
    """Keep the raw solved ARKit weights (before mapping) on the object, for Export Solved Weights."""
    w = np.asarray(weights, dtype=np.float64).reshape(-1, NUM_BLENDSHAPES)
    obj[LAST_SOLVE_PROP] = [float(v) for v in w.reshape(-1)]
    if fps is None:
        if LAST_SOLVE_FPS_PROP in obj:
            del obj[LAST_SOLVE_FPS_PROP]
    else:
        obj[LAST_SOLVE_FPS_PROP] = float(fps)


def last_solve(obj: bpy.types.Object) -> tuple[np.ndarray, float | None]:
    raw = obj.get(LAST_SOLVE_PROP)
    if raw is None:
        raise FacsimileError(f"'{obj.name}' has no solved weights yet: apply a photo or bake a clip first")
    w = np.asarray(list(raw), dtype=np.float32)
    if w.size == 0 or w.size % NUM_BLENDSHAPES:
        raise FacsimileError(f"'{obj.name}' holds damaged solved weights; solve again")
    fps = obj.get(LAST_SOLVE_FPS_PROP)
    return w.reshape(-1, NUM_BLENDSHAPES), None if fps is None else float(fps)


# ---------------------------------------------------------------- writing poses


def write_pose(
    obj: bpy.types.Object, rmap: RetargetMap, weights: np.ndarray, key_frame: int | None = None
) -> WriteReport:
    """(52,) ARKit weights -> shape-key values through rmap; optionally keyed at key_frame too."""
    w = np.asarray(weights, dtype=np.float32).reshape(NUM_BLENDSHAPES)
    report = set_values(obj, rmap, w)
    if key_frame is not None:
        bake_keyframes(obj, rmap, w[None, :], frames=np.array([key_frame], dtype=np.float64))
    return report


# ---------------------------------------------------------------- reading animation back


def shape_key_fcurves(obj: bpy.types.Object) -> dict[str, bpy.types.FCurve]:
    """data_path -> F-curve of the object's shape-key animation."""
    return {fc.data_path: fc for fc in assigned_fcurves(obj.data.shape_keys)}


def read_channel_animation(obj: bpy.types.Object, rmap: RetargetMap, frames: np.ndarray) -> np.ndarray:
    """(F, 52) per-ARKit-channel values as the character shows them at each frame: the mean of the channel's target
    keys (animated keys evaluated, static keys at their value); channels without a target are 0."""
    check_target(obj)
    curves = shape_key_fcurves(obj)
    if not any(p.startswith("key_blocks[") for p in curves):
        raise FacsimileError(f"'{obj.name}' has no shape-key animation to export; bake or import a take first")
    blocks = obj.data.shape_keys.key_blocks
    frames = np.asarray(frames, dtype=np.float64)
    cache: dict[str, np.ndarray] = {}

    def values_of(name: str) -> np.ndarray:
        if name not in cache:
            fc = curves.get(f'key_blocks["{bpy.utils.escape_identifier(name)}"].value')
            if fc is None:
                cache[name] = np.full(len(frames), blocks[name].value, dtype=np.float32)
            else:
                cache[name] = np.array([fc.evaluate(f) for f in frames], dtype=np.float32)
        return cache[name]

    out = np.zeros((len(frames), NUM_BLENDSHAPES), dtype=np.float32)
    for i, b in enumerate(rmap.bindings):
        targets = [t for t in b.targets if t in blocks]
        if targets:
            out[:, i] = np.mean([values_of(t) for t in targets], axis=0)
    return out
