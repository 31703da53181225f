"""`facsimile photo`: solve the face in a photo and set a character's shape keys in a .blend."""

from __future__ import annotations

import argparse

from ._options import add_scene_options


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


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..blend_io import check_output, get_object, open_blend, save_blend_atomic
    from ..core.atomic_io import check_writable_dir
    from ..core.errors import FacsimileError
    from ..runtime import (
        configure_mapping,
        ensure_registered,
        pick_face,
        preview_pixels,
        set_pose,
        solve_photo,
        store_last_solve,
        weights_summary,
    )

    # Check what costs nothing first, so bad input never waits for a model or a scene.
    if not Path(args.image).is_file():
        raise FacsimileError(f"photo {args.image} does not exist")
    if args.preview:
        check_writable_dir(args.preview)
    if args.json_out:
        check_writable_dir(args.json_out)
    ensure_registered()
    source = open_blend(args.blend)
    out = check_output(args.out, source, args.in_place)
    obj = get_object(args.object)
    configure_mapping(obj, args.preset, args.mirror)
    solved = solve_photo(Path(args.image), args.device)
    face = pick_face(solved, args.face, args.image)
    report = set_pose(obj, face.weights, key_frame=args.key_frame)
    store_last_solve(obj, face.weights[None, :], None)
    if args.preview:
        write_png(args.preview, preview_pixels(solved, args.face))
    if args.json_out:
        from ..core.formats.weights_file import write_weights_json

        write_weights_json(args.json_out, face.weights)
    save_blend_atomic(out)
    print(
        f"facsimile photo: face {args.face + 1} of {len(solved.faces)} in {Path(args.image).name} on {solved.device}; "
        f"set {len(report.written)} shape keys of '{obj.name}' ({weights_summary(face.weights)}); saved {out}"
    )
    if not face.in_range:
        print(f"  warning: the face is outside the model's training range ({face.reason}); check the result")
    if report.unmatched:
        print(f"  no shape key for {len(report.unmatched)} ARKit channel(s): {', '.join(report.unmatched)}")
    return 0


def write_png(path, rgb) -> None:
    """RGB uint8 -> PNG, atomically."""
    import cv2

    from ..core.atomic_io import atomic_output
    from ..core.errors import FacsimileError

    with atomic_output(path, suffix=".png") as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
            raise FacsimileError(f"could not encode the preview PNG {path}")
