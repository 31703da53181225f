"""Benchmark: Facsimile's batched LBS (numpy and ONNX) against Blender's per-frame Armature-modifier evaluation.

Mesh: the Quaternius male character (CC0, ../shared/data/mocap) subdivided to >= 50,000 vertices (weights
interpolated by Blender); poses: the first N frames of the CMU forward-jumps clip retargeted onto its rig and keyed as
an Action, so Blender and Facsimile deform exactly the same poses. Blender's side is frame_set + the evaluated mesh's
coordinates read with foreach_get, per frame, the way a bake loop in Python does it.

    .venv/bin/python benchmarks/bench_lbs.py [--poses 1000] [--blender-frames 1000] [--device auto]

Prints timings, speedups, agreement with Blender, and the effective memory traffic of the numpy kernel against the
machine's measured copy bandwidth. When --blender-frames is below --poses, Blender's time is extrapolated linearly
and the output says so.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("FACSIMILE_SHARED", ROOT.parent / "shared")) / "data" / "mocap"


def copy_bandwidth(n_bytes: int = 512 * 1024 * 1024, repeats: int = 3) -> float:
    """GB/s of a large numpy copy (bytes read + bytes written per second), best of `repeats`."""
    src = np.ones(n_bytes // 4, dtype=np.float32)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t)
    return 2 * n_bytes / best / 1e9


def build_scene(poses: int):
    import bpy

    from blender_addon import body_motion as bm
    from blender_addon import rig_reader as rr

    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_scene.gltf(filepath=str(SHARED / "models" / "quaternius_human_male_m2m.glb"))
    mesh = bpy.data.objects["Mannequin"]
    for o in list(bpy.data.objects):
        if o.type == "MESH" and o is not mesh:
            bpy.data.objects.remove(o)
    bpy.context.view_layer.objects.active = mesh
    bpy.ops.object.mode_set(mode="EDIT")
    bpy.ops.mesh.select_all(action="SELECT")
    bpy.ops.mesh.subdivide(number_cuts=2)
    bpy.ops.object.mode_set(mode="OBJECT")
    rig = rr.read_rig(mesh)
    _, full, skel = bm.bvh_poses(rig, SHARED / "bvh" / "cmu_01_01_forward_jumps.bvh", None, frames=(1, poses))
    action = bm.key_pose_action(rig.armature, skel, full, "Jumps")
    bpy.context.scene.frame_start, bpy.context.scene.frame_end = 1, poses
    return mesh, action


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--poses", type=int, default=1000)
    ap.add_argument("--blender-frames", type=int, default=1000, help="frames Blender evaluates (<= poses)")
    ap.add_argument("--device", default="auto", help="ONNX device: auto, cpu, cuda")
    args = ap.parse_args()

    import bpy

    from blender_addon import rig_reader as rr
    from blender_addon.core import lbs

    t = time.perf_counter()
    mesh, action = build_scene(args.poses)
    print(f"scene: {time.perf_counter() - t:.1f} s to build")
    rig = rr.read_rig(mesh)
    v, p = rig.binding.num_vertices, args.poses
    b = rig.binding
    print(
        f"mesh: {v} vertices, {len(rig.bone_names)} deform bones, up to {b.index.shape[1]} influences, "
        f"{b.blocks.shape[0]} chunks of {b.chunk} x {b.blocks.shape[2] // 4} bones; {p} poses"
    )
    assert v >= 50_000, "the benchmark mesh must have at least 50,000 vertices"

    # Blender: frame_set + evaluated mesh read, per frame.
    scene = bpy.context.scene
    nb = min(args.blender_frames, p)
    buf = np.empty(v * 3, dtype=np.float32)
    blender_out = np.empty((nb, v, 3), dtype=np.float32)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    scene.frame_set(1)
    t = time.perf_counter()
    for i in range(nb):
        scene.frame_set(1 + i)
        mesh.evaluated_get(depsgraph).data.vertices.foreach_get("co", buf)
        blender_out[i] = buf.reshape(v, 3)
    t_blender = time.perf_counter() - t
    t_blender_all = t_blender * p / nb
    note = "" if nb == p else f" (measured on {nb} frames, extrapolated linearly to {p})"
    print(
        f"Blender per-frame evaluation: {t_blender_all:.2f} s for {p} poses{note} = {1e3 * t_blender / nb:.2f} ms/frame"
    )

    # Facsimile: pose capture (rig only), then one batched deformation.
    t = time.perf_counter()
    poses = rr.capture_frames(rig, range(1, p + 1), action=action)
    t_capture = time.perf_counter() - t
    premat, postmat = lbs.object_space_matrices(poses.arm_world, poses.mesh_world)
    mats = lbs.mesh_space_matrices(lbs.channel_matrices(poses.pose_mats, rig.rest_mats), premat, postmat)
    out = np.empty((p, v, 3), dtype=np.float32)
    lbs.skin_lbs(rig.binding, mats[:8], out=out[:8])  # warm-up
    times = []
    for _ in range(3):
        t = time.perf_counter()
        lbs.skin_lbs(rig.binding, mats, out=out)
        times.append(time.perf_counter() - t)
    t_numpy = min(times)
    diag = float(np.linalg.norm(blender_out[0].max(0) - blender_out[0].min(0)))
    err = float(np.abs(out[:nb] - blender_out).max()) / diag
    print(f"pose capture (frame_set, modifiers muted): {t_capture:.2f} s")
    print(
        f"numpy LBS: {t_numpy:.3f} s for {p} poses ({1e3 * t_numpy / p:.3f} ms/pose), max error vs Blender "
        f"{err:.2e} x diagonal; speedup {t_blender_all / t_numpy:.1f}x (skinning only), "
        f"{t_blender_all / (t_numpy + t_capture):.1f}x (with pose capture)"
    )

    runner = lbs.OnnxLBS(rig.binding, device=args.device)
    runner(mats[:8])
    times = []
    onnx_out = np.empty_like(out)
    for _ in range(3):
        t = time.perf_counter()
        runner(mats, out=onnx_out)
        times.append(time.perf_counter() - t)
    t_onnx = min(times)
    err_onnx = float(np.abs(onnx_out[:nb] - blender_out).max()) / diag
    print(
        f"ONNX LBS ({runner.info.device}{', ' + runner.info.note if runner.info.note else ''}): {t_onnx:.3f} s, "
        f"max error {err_onnx:.2e} x diagonal; speedup {t_blender_all / t_onnx:.1f}x (skinning only)"
    )

    # Preserve Volume (DQS): both sides on the first `sub` poses, extrapolated.
    sub = min(p, 50)
    mod = mesh.modifiers[rig.modifier_name]
    mod.use_deform_preserve_volume = True
    dq_ref = np.empty((sub, v, 3), dtype=np.float32)
    scene.frame_set(1)
    t = time.perf_counter()
    for i in range(sub):
        scene.frame_set(1 + i)
        mesh.evaluated_get(depsgraph).data.vertices.foreach_get("co", buf)
        dq_ref[i] = buf.reshape(v, 3)
    t_blender_dqs = (time.perf_counter() - t) * p / sub
    mod.use_deform_preserve_volume = False
    t = time.perf_counter()
    dq_out = lbs.skin_dqs(
        rig.binding,
        lbs.channel_matrices(poses.pose_mats[:sub], rig.rest_mats),
        rig.rest_mats,
        premat[:sub],
        postmat[:sub],
    )
    t_dqs = (time.perf_counter() - t) * p / sub
    err_dqs = float(np.abs(dq_out - dq_ref).max()) / diag
    print(
        f"DQS (Preserve Volume), timed on {sub} poses and extrapolated to {p}: Blender {t_blender_dqs:.2f} s, "
        f"numpy {t_dqs:.2f} s ({t_blender_dqs / t_dqs:.1f}x), max error {err_dqs:.2e} x diagonal"
    )

    # Effective memory traffic of the numpy kernel: output written once, and per pose batch the blocks read once.
    batches = -(-p // 8)
    traffic = out.nbytes + batches * (b.blocks.nbytes + b.inverse_order.nbytes)
    bw = copy_bandwidth()
    print(
        f"numpy LBS effective traffic {traffic / 1e9:.2f} GB -> {traffic / t_numpy / 1e9:.2f} GB/s; "
        f"machine copy bandwidth {bw:.2f} GB/s (numpy copy, read+write) -> {100 * traffic / t_numpy / 1e9 / bw:.0f}% "
        "of it"
    )
    print(f"threads: {os.cpu_count()} CPUs visible; load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
