"""Writing ARKit weights onto a mesh's shape keys: values now, or keyframes in bulk.

Baking goes through keyframe_points.add + foreach_set (one call per curve instead of one keyframe_insert per value)
into the Key's F-curve container from blender_compat (a slotted action's channelbag on 4.4+). Only keys inside the baked frame range are replaced.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import bpy
import numpy as np

from ..core.errors import FacsimileError
from ..core.retarget import RetargetMap
from ..host.blender_compat import fcurve_container

_LINEAR = 1  # KeyframeInterpolation 'LINEAR' as stored by foreach_set


@dataclass
class WriteReport:
    written: list[str]  # shape keys that received values
    unmatched: list[str]  # ARKit channels with no target on this object
    widened: list[str] = field(default_factory=list)  # keys whose slider range grew to hold a value
    frames: int = 0


def require_shape_key_mesh(obj: bpy.types.Object | None, name: str = "") -> bpy.types.Object:
    """The object must exist, be a mesh and have shape keys beyond Basis; otherwise say which and what to do."""
    label = name or (obj.name if obj is not None else "")
    if obj is None:
        raise FacsimileError(f"object '{label}' not found; pick a mesh object with ARKit-style shape keys")
    if obj.type != "MESH":
        raise FacsimileError(
            f"object '{obj.name}' is a {obj.type.lower()}, not a mesh; pick the face mesh that has the shape keys"
        )
    keys = obj.data.shape_keys
    if keys is None or len(keys.key_blocks) < 2:
        raise FacsimileError(
            f"mesh '{obj.name}' has no shape keys to drive; add ARKit shape keys to it or pick another mesh"
        )
    return obj


def shape_key_names(obj: bpy.types.Object) -> list[str]:
    keys = obj.data.shape_keys
    if keys is None:
        return []
    ref = keys.reference_key.name
    return [kb.name for kb in keys.key_blocks if kb.name != ref]


def _widen_ranges(obj: bpy.types.Object, names: list[str], values: np.ndarray) -> list[str]:
    """Grow slider_min/max so a gained value is kept, not clipped silently by Blender (range -10..10)."""
    widened = []
    blocks = obj.data.shape_keys.key_blocks
    lo = values.min(axis=0) if values.ndim == 2 else values
    hi = values.max(axis=0) if values.ndim == 2 else values
    for j, name in enumerate(names):
        kb = blocks[name]
        changed = False
        if hi[j] > kb.slider_max:
            if hi[j] > 10.0:
                raise FacsimileError(f"value {hi[j]:.3g} for shape key '{name}' exceeds Blender's limit of 10")
            kb.slider_max = float(np.ceil(hi[j] * 100) / 100)
            changed = True
        if lo[j] < kb.slider_min:
            if lo[j] < -10.0:
                raise FacsimileError(f"value {lo[j]:.3g} for shape key '{name}' is below Blender's limit of -10")
            kb.slider_min = float(np.floor(lo[j] * 100) / 100)
            changed = True
        if changed:
            widened.append(name)
    return widened


def set_values(obj: bpy.types.Object, rmap: RetargetMap, weights: np.ndarray) -> WriteReport:
    """Set the current shape-key values from one (52,) ARKit weight vector."""
    names, values = rmap.apply(np.asarray(weights, dtype=np.float32).reshape(52))
    widened = _widen_ranges(obj, names, values)
    blocks = obj.data.shape_keys.key_blocks
    for name, v in zip(names, values):
        blocks[name].value = float(v)
    return WriteReport(written=names, unmatched=rmap.unmatched, widened=widened, frames=1)


def bake_keyframes(
    obj: bpy.types.Object,
    rmap: RetargetMap,
    weights: np.ndarray,
    frames: np.ndarray | None = None,
    start_frame: int = 1,
    action_name: str | None = None,
) -> WriteReport:
    """Key (N, 52) ARKit weights at `frames` (default start_frame, start_frame+1, ...), replacing keys only there."""
    w = np.asarray(weights, dtype=np.float32)
    if w.ndim != 2 or w.shape[1] != 52 or w.shape[0] == 0:
        raise FacsimileError(f"expected (frames, 52) weights to bake, got shape {w.shape}")
    if frames is None:
        frames = start_frame + np.arange(w.shape[0])
    frames = np.asarray(frames, dtype=np.float64)
    if frames.shape != (w.shape[0],) or np.any(np.diff(frames) <= 0):
        raise FacsimileError("bake frames must be one strictly increasing frame number per weight row")
    names, values = rmap.apply(w)
    widened = _widen_ranges(obj, names, values)
    key = obj.data.shape_keys
    bag = fcurve_container(key, "KEY", action_name or f"{obj.name}_Facsimile")
    first, last = frames[0], frames[-1]
    n = len(frames)
    for j, name in enumerate(names):
        path = f'key_blocks["{bpy.utils.escape_identifier(name)}"].value'
        fc = bag.fcurves.find(path) or bag.fcurves.new(path)
        points = fc.keyframe_points
        old = np.empty(len(points) * 2, dtype=np.float32)
        points.foreach_get("co", old)
        old = old.reshape(-1, 2)
        keep = old[(old[:, 0] < first - 1e-4) | (old[:, 0] > last + 1e-4)]
        if len(keep):
            keep_interp = np.empty(len(points), dtype=np.int32)
            points.foreach_get("interpolation", keep_interp)
            keep_interp = keep_interp[(old[:, 0] < first - 1e-4) | (old[:, 0] > last + 1e-4)]
        co = np.empty((n, 2), dtype=np.float32)
        co[:, 0] = frames
        co[:, 1] = values[:, j]
        interp = np.full(n, _LINEAR, dtype=np.int32)
        if len(keep):
            co = np.concatenate([keep, co])
            interp = np.concatenate([keep_interp, interp])
            order = np.argsort(co[:, 0], kind="stable")
            co, interp = co[order], interp[order]
        points.clear()
        points.add(len(co))
        points.foreach_set("co", co.ravel())
        points.foreach_set("interpolation", interp)
        fc.update()
    return WriteReport(written=names, unmatched=rmap.unmatched, widened=widened, frames=n)
