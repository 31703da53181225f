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

    from blender_addon.scene import body_motion as bm
    from blender_addon.scene import rig_reader as rr

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
    ap.add_argument("--device", default="auto", help="ONNX device: auto (CUDA where the policy sends it), cpu, cuda")
    ap.add_argument("--save-rig", help="also write the rig, its poses and some of Blender's frames here (.npz), for "
                    "benchmarks/gpu_check.py --rig")  # fmt: skip
    args = ap.parse_args()

    import bpy

    from blender_addon.core.body import lbs
    from blender_addon.scene import rig_reader as rr

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

    # Blender: frame_set + evaluated mesh read, per frame, into one reused buffer; every `keep`-th frame is kept
    # for the agreement check (a full P x V x 3 array would add first-touch page faults to Blender's time).
    scene = bpy.context.scene
    nb = min(args.blender_frames, p)
    keep = 10
    buf = np.empty(v * 3, dtype=np.float32)
    kept = list(range(0, nb, keep))
    blender_out = np.empty((len(kept), v, 3), dtype=np.float32)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    scene.frame_set(1)
    t = time.perf_counter()
    c = time.process_time()
    for i in range(nb):
        scene.frame_set(1 + i)
        mesh.evaluated_get(depsgraph).data.vertices.foreach_get("co", buf)
        if i % keep == 0:
            blender_out[i // keep] = buf.reshape(v, 3)
    t_blender = time.perf_counter() - t
    cpu_blender = (time.process_time() - c) * p / nb
    t_blender_all = t_blender * p / nb
    note = "" if nb == p else f" (measured on {nb} frames, extrapolated linearly to {p})"
    print(
        f"Blender per-frame evaluation: {t_blender_all:.2f} s for {p} poses{note} = {1e3 * t_blender / nb:.2f} ms/frame"
    )
    diag = float(np.linalg.norm(blender_out[0].max(0) - blender_out[0].min(0)))

    # Facsimile: pose capture (rig only), then batched deformation.
    t = time.perf_counter()
    poses = rr.capture_frames(rig, range(1, p + 1), action=action)
    t_capture = time.perf_counter() - t
    print(f"pose capture for our path (frame_set with the mesh's modifiers muted): {t_capture:.2f} s")
    premat, postmat = lbs.object_space_matrices(poses.arm_world, poses.mesh_world)
    mats = lbs.mesh_space_matrices(lbs.channel_matrices(poses.pose_mats, rig.rest_mats), premat, postmat)

    def timed(fn, repeats: int = 3) -> float:
        """Median of `repeats` runs (the machine is shared: the median is less flattering than the best)."""
        runs = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - t0)
        return float(np.median(runs))

    block = 256  # body_motion.bake_to_pc2's block
    stream = np.empty((block, v, 3), dtype=np.float32)
    check = np.empty((len(kept), v, 3), dtype=np.float32)

    def numpy_streamed() -> None:  # what the PC2 bake does: blocks of poses through one reused buffer
        for p0 in range(0, p, block):
            p1 = min(p, p0 + block)
            lbs.skin_lbs(rig.binding, mats[p0:p1], out=stream[: p1 - p0])
            for j, f in enumerate(kept):
                if p0 <= f < p1:
                    check[j] = stream[f - p0]

    c = time.process_time()
    t_numpy = timed(numpy_streamed)
    cpu_numpy = (time.process_time() - c) / 3
    err = float(np.abs(check - blender_out).max()) / diag
    print(
        f"numpy LBS ({block}-pose blocks, reused buffer, as the bake runs): {t_numpy:.3f} s for {p} poses "
        f"({1e3 * t_numpy / p:.3f} ms/pose); max error vs Blender {err:.2e} x diagonal; "
        f"speedup {t_blender_all / t_numpy:.1f}x (skinning only), {t_blender_all / (t_numpy + t_capture):.1f}x "
        "(including our pose capture)"
    )
    print(
        f"CPU time (all threads; steadier than wall-clock on a shared machine): Blender {cpu_blender:.2f} s, "
        f"numpy LBS {cpu_numpy:.3f} s -> {cpu_blender / cpu_numpy:.1f}x"
    )
    t0 = time.perf_counter()
    full = lbs.skin_lbs(rig.binding, mats)
    t_fresh = time.perf_counter() - t0
    t_warm = timed(lambda: lbs.skin_lbs(rig.binding, mats, out=full))
    print(
        f"numpy LBS into one {full.nbytes / 1e9:.2f} GB array: {t_fresh:.3f} s freshly allocated (first-touch page "
        f"faults included), {t_warm:.3f} s re-using it ({t_blender_all / t_warm:.1f}x)"
    )
    out = full

    if args.save_rig:
        n_keep = min(5, len(kept))
        np.savez_compressed(
            args.save_rig, rest=b.rest, index=b.index, weight=b.weight, armature_weight=b.armature_weight,
            num_bones=b.num_bones, mesh_mats=mats.astype(np.float32), blender_frames=np.array(kept[:n_keep]),
            blender_vertices=blender_out[:n_keep],
        )  # fmt: skip
        print(f"saved the rig, {p} poses and Blender's frames {kept[:n_keep]} to {args.save_rig}")
    runner = lbs.auto_runner(rig.binding, p) if args.device == "auto" else None
    runner = runner or lbs.OnnxLBS(rig.binding, device="cuda" if args.device == "cuda" else "cpu")
    runner(mats[:8])
    t_onnx = timed(lambda: runner(mats, out=out))
    err_onnx = float(np.abs(out[kept] - blender_out).max()) / diag
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

    # Effective memory traffic of the numpy kernel: the output written once, plus per 8-pose batch the bucketed
    # blocks and the vertex order read once (the bytes the algorithm must move; its scratch matrix is not counted).
    batches = -(-p // 8)
    block_bytes = sum(blk.nbytes for _, _, blk, _ in b.buckets)
    traffic = p * v * 12 + batches * (block_bytes + b.inverse_order.nbytes)
    bw = copy_bandwidth()
    print(
        f"numpy LBS effective traffic {traffic / 1e9:.2f} GB -> {traffic / t_numpy / 1e9:.2f} GB/s (streamed); "
        f"machine copy bandwidth {bw:.2f} GB/s (numpy copy, read+write) -> {100 * traffic / t_numpy / 1e9 / bw:.0f}% "
        "of it"
    )
    print(f"threads: {os.cpu_count()} CPUs visible; load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
