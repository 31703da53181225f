"""`facsimile skin`: pose a skinned body with Facsimile's LBS deformer and bake it to a PC2 point cache.

Poses come from an Action over a frame range or from a BVH clip retargeted through a joint-name map. The cache plays
in Blender through a Mesh Cache modifier (format PC2) on the same mesh with its Armature modifier off.
"""

from __future__ import annotations

import argparse
import sys
import time

from ._options import add_device_option, optional_path, parse_frame_range


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "skin",
        help="bake a body animation (Action or BVH) into a PC2 point cache with the LBS deformer",
        description="Deform a mesh by its armature for many poses at once (Blender's Armature-modifier maths, "
        "batched), and write the result as a PC2 point cache. The .blend is never modified.",
    )
    p.add_argument("--blend", help="input .blend (omit inside Blender to use the loaded file)")
    p.add_argument("--object", required=True, help="the skinned mesh object (with an Armature modifier)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--action", help="an Action to play on the mesh's armature")
    src.add_argument("--bvh", help="a BVH motion file to retarget onto the armature")
    p.add_argument("--frames", help="START:END inclusive (default: the action's or the BVH clip's whole range)")
    p.add_argument(
        "--map",
        default=None,
        help="BVH joint map: a preset (cmu, 3dsmax, daz; or SRC:TGT with TGT in ue, rigify, rigify_org, metarig) "
        'or a JSON file {"SourceJoint": "target_bone"}; default: detect both namings',
    )
    p.add_argument("--out", required=True, help="output .pc2 file")
    p.add_argument(
        "--dqs",
        action="store_true",
        help="dual-quaternion skinning (the modifier's Preserve Volume); default follows the modifier's setting",
    )
    add_device_option(
        p,
        "skinning device (auto = the ONNX graph on CUDA when onnxruntime can use it, else the numpy CPU kernel; "
        "cpu = numpy kernel; cuda = ONNX on CUDA, an error when CUDA is not usable)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(run=run)


class _Progress:
    """One line per stage, rewritten in place on a terminal; at most ~10 updates a second."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.last = 0.0

    def __call__(self, stage: str):
        def report(done: int, total: int) -> None:
            if self.quiet:
                return
            now = time.monotonic()
            if done < total and now - self.last < 0.1:
                return
            self.last = now
            end = "\n" if done >= total else ("\r" if sys.stderr.isatty() else "\n")
            print(f"  {stage}: {done}/{total} ({100.0 * done / max(total, 1):.0f}%)", end=end, file=sys.stderr)

        return report


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..core.errors import FacsimileError
    from ..usecases.skin import SkinOptions, skin_to_pc2

    opts = SkinOptions(
        out=Path(args.out),
        action=args.action,
        bvh=optional_path(args.bvh),
        joint_map=args.map,
        frames=parse_frame_range(args.frames, (0, 0)) if args.frames else None,
        dqs=args.dqs,
        device=args.device,
    )
    opts.check()  # before the scene is loaded

    import bpy

    from ..core.output_guard import Named, check_outputs
    from ..host.blend_io import open_blend

    scene_path = args.blend or bpy.data.filepath
    check_outputs([Named("scene", scene_path) if scene_path else None], [Named("output", args.out)])

    progress = _Progress(args.quiet)
    t0 = time.perf_counter()
    open_blend(args.blend)
    obj = bpy.data.objects.get(args.object)
    if obj is None:
        meshes = sorted(
            o.name for o in bpy.data.objects if o.type == "MESH" and any(m.type == "ARMATURE" for m in o.modifiers)
        )
        hint = (
            f" Skinned meshes here: {', '.join(meshes)}."
            if meshes
            else " This file has no mesh with an Armature modifier."
        )
        raise FacsimileError(f"no object named '{args.object}'.{hint}")
    result = skin_to_pc2(obj, opts, progress)
    poses_s = time.perf_counter() - t0 - result.skin_seconds  # opening the scene and reading the poses
    ignored = (
        f"; ignored vertex groups without a deform bone: {', '.join(result.ignored_groups)}"
        if result.ignored_groups
        else ""
    )
    print(
        f"wrote {result.path}: {result.frames} frames x {result.vertices} vertices "
        f"({'DQS' if result.dqs else 'LBS'}, {result.device}), {result.bones} deform bones{ignored}. "
        f"Poses {poses_s:.2f} s, skinning+write {result.skin_seconds:.2f} s. "
        f"Play it with a Mesh Cache modifier (PC2, start frame {result.start_frame:g}) with the Armature modifier off."
    )
    return 0
