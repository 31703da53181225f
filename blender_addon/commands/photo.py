"""`facsimile photo`: solve the face in a photo and set a character's shape keys in a .blend."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._options import add_scene_options, optional_path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "photo",
        help="solve a face photo and set a mesh's shape keys; save a new .blend",
        description="Finds the faces in PHOTO (largest first), solves the chosen one to ARKit-52 weights and sets the "
        "object's shape keys through its mapping (and neutral capture, if any). IN is never modified unless "
        "--in-place.",
    )
    add_scene_options(p)
    p.add_argument("--image", required=True, help="the photo (JPEG, PNG, TIFF, BMP, WebP)")
    p.add_argument("--face", type=int, default=0, help="which face when there are several (0 = the largest)")
    p.add_argument("--key-frame", type=int, default=None, help="also insert keyframes at this frame")
    p.add_argument("--preview", default=None, help="write the photo with its landmarks to this PNG")
    p.set_defaults(run=run)


def options(args: argparse.Namespace):
    """The command line as the use case's PhotoOptions."""
    from ..usecases.photo import PhotoOptions

    return PhotoOptions(
        photo=Path(args.image),
        face=args.face,
        key_frame=args.key_frame,
        device=args.device,
        preset=args.preset,
        mirror=args.mirror,
        preview_png=optional_path(args.preview),
        json_out=optional_path(args.json_out),
    )


def run(args: argparse.Namespace) -> int:
    from ..host.blend_io import edit_blend  # imports bpy: only once the command runs (signals held by cli)
    from ..usecases.face_session import weights_summary
    from ..usecases.photo import apply_photo

    opts = options(args)
    opts.check()  # what costs nothing first, so bad input never waits for a model or a scene
    (name, result), out = edit_blend(
        args.blend, args.object, args.out, args.in_place, lambda obj: (obj.name, apply_photo(obj, opts)), opts
    )
    face, report = result.face, result.report
    print(
        f"facsimile photo: face {opts.face + 1} of {len(result.solved.faces)} in {opts.photo.name} on "
        f"{result.solved.device}; set {len(report.written)} shape keys of '{name}' ({weights_summary(face.weights)}); "
        f"saved {out}"
    )
    if not face.in_range:
        print(f"  warning: the face is outside the model's training range ({face.reason}); check the result")
    if report.unmatched:
        print(f"  no shape key for {len(report.unmatched)} ARKit channel(s): {', '.join(report.unmatched)}")
    return 0
