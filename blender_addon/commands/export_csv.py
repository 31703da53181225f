"""`facsimile export-csv`: read a character's baked shape-key animation back as a Live Link Face CSV."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export-csv",
        help="write a mesh's shape-key animation (per ARKit channel) as a Live Link Face CSV",
        description="Evaluates the object's shape-key animation at every frame of the range and writes one row per "
        "frame at the scene's frame rate. A channel driving several keys exports their mean; unmapped channels are 0.",
    )
    p.add_argument("--blend", help="input .blend (omit inside Blender to use the loaded file)")
    p.add_argument("--object", required=True, help="mesh object whose shape keys are animated")
    p.add_argument("--out", required=True, help="output .csv (written atomically)")
    p.add_argument("--frames", default=None, help="A:B inclusive frame range (default: the scene's range)")
    p.add_argument("--preset", default=None, help="mapping preset or JSON map (default: the object's)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import bpy

    from ..core.output_guard import Named, check_outputs
    from ..host.blend_io import get_object, open_blend
    from ..host.headless import ensure_registered
    from ..usecases.export import ExportCsvOptions, export_csv
    from ._options import parse_frame_range

    ExportCsvOptions(out=Path(args.out), preset=args.preset).check()  # before the scene is loaded
    scene_path = args.blend or bpy.data.filepath
    check_outputs([Named("scene", scene_path) if scene_path else None], [Named("output", args.out)])
    ensure_registered()
    open_blend(args.blend)
    scene = bpy.context.scene
    frames = parse_frame_range(args.frames, (scene.frame_start, scene.frame_end))
    obj = get_object(args.object)
    result = export_csv(obj, ExportCsvOptions(out=Path(args.out), frames=frames, preset=args.preset), scene)
    print(
        f"facsimile export-csv: frames {result.first_frame}-{result.last_frame} of '{obj.name}' at {result.fps:g} fps "
        f"written to {args.out}"
    )
    return 0
