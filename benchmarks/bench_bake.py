"""Bake 10,000 frames x 52 shape keys: Facsimile's foreach_set path against a naive keyframe_insert loop.

Both run in the same process on the same data and the same mesh; the ratio is what matters (target: >= 20x, and the
bulk path under 1 s). The naive loop sets each value and calls keyframe_insert, as most add-ons do.

    .venv/bin/python benchmarks/bench_bake.py [--frames 10000] [--naive-frames N]

--naive-frames times the naive loop on the first N frames only and scales it linearly (keyframe_insert's cost per
key is constant once curves exist; the printed line says when this is done).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bpy  # noqa: E402
import numpy as np  # noqa: E402

from blender_addon.core.arkit import ARKIT_NAMES  # noqa: E402
from blender_addon.core.retarget import build_retarget_map  # noqa: E402
from blender_addon.host.blender_compat import add_shape_key  # noqa: E402
from blender_addon.scene.shape_keys import bake_keyframes, shape_key_names  # noqa: E402


def _character(name: str) -> bpy.types.Object:
    bpy.ops.mesh.primitive_uv_sphere_add(segments=32, ring_count=16)
    obj = bpy.context.object
    obj.name = name
    add_shape_key(obj, "Basis")
    for n in ARKIT_NAMES:
        add_shape_key(obj, n)
    return obj


def naive_bake(obj: bpy.types.Object, weights: np.ndarray, start: int = 1) -> None:
    blocks = obj.data.shape_keys.key_blocks
    targets = [blocks[n] for n in ARKIT_NAMES]
    for f, row in enumerate(weights):
        for kb, v in zip(targets, row):
            kb.value = float(v)
            kb.keyframe_insert("value", frame=start + f)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=10_000)
    ap.add_argument("--naive-frames", type=int, default=None)
    args = ap.parse_args()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    rng = np.random.default_rng(0)
    weights = rng.random((args.frames, 52), dtype=np.float32)

    fast_obj = _character("Fast")
    rmap = build_retarget_map(shape_key_names(fast_obj), "arkit")
    t0 = time.perf_counter()
    bake_keyframes(fast_obj, rmap, weights, start_frame=1)
    fast = time.perf_counter() - t0

    naive_obj = _character("Naive")
    n = min(args.naive_frames or args.frames, args.frames)
    t0 = time.perf_counter()
    naive_bake(naive_obj, weights[:n])
    naive = (time.perf_counter() - t0) * (args.frames / n)

    # Same result: both objects evaluate to the same values.
    bpy.context.scene.frame_set(min(n, 1 + n // 2))
    a = [fast_obj.data.shape_keys.key_blocks[k].value for k in ARKIT_NAMES]
    b = [naive_obj.data.shape_keys.key_blocks[k].value for k in ARKIT_NAMES]
    assert np.allclose(a, b, atol=1e-6), "fast and naive bakes disagree"

    keys = args.frames * 52
    scaled = "" if n == args.frames else f" (timed on {n} frames, scaled x{args.frames / n:.0f})"
    print(f"bake {args.frames} frames x 52 shape keys = {keys:,} keyframes, Blender {bpy.app.version_string}")
    print(f"  foreach_set path : {fast:8.3f} s  ({keys / fast:12,.0f} keys/s)")
    print(f"  keyframe_insert  : {naive:8.3f} s  ({keys / naive:12,.0f} keys/s){scaled}")
    print(f"  speed-up         : {naive / fast:8.1f} x   (target >= 20 x, bulk path < 1 s)")


if __name__ == "__main__":
    main()
