"""`facsimile keys`: generate the 52 ARKit shape keys on a head that has none (or regenerate them), save a new .blend.

Parses the options, calls the use case (usecases/keys.generate_keys) and reports; the input .blend is never written
(unless --in-place) and the output is saved atomically.
"""

from __future__ import annotations

import argparse
import json


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "keys",
        help="generate the 52 ARKit shape keys on a head mesh (landmarks found automatically) and save a new .blend",
        description="Finds the face by rendering the mesh and running Facsimile's face front-end on the renders (or "
        "reads --landmarks FILE), fits ICT-FaceKit to it and transfers ICT's 52 ARKit expressions onto the mesh. "
        "Existing shape keys are kept (ARKit-named ones are replaced). IN is never modified unless --in-place.",
    )
    p.add_argument("--blend", help="input .blend (omit inside Blender to use the loaded file)")
    p.add_argument("--object", required=True, help="the head (or whole body) mesh object")
    p.add_argument("--out", required=True, help="output .blend (written atomically)")
    p.add_argument(
        "--landmarks",
        default="auto",
        help="auto (render and detect) or a file of 468/478 points x, y, z in the object's space (.json or .npy)",
    )
    p.add_argument("--eyes", nargs=2, metavar=("LEFT", "RIGHT"), help="eye mesh objects (subject's left, right)")
    p.add_argument("--teeth", metavar="OBJ", help="teeth/tongue mesh object: its lower part follows the jaw keys")
    p.add_argument("--report", metavar="JSON", help="also write the per-key quality report to this JSON file")
    p.add_argument("--in-place", action="store_true", help="allow --out to be the input file")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..core.atomic_io import check_writable_dir

    report_path = check_writable_dir(args.report) if args.report else None
    from ..usecases.keys import KeysOptions, generate_keys
    from ._options import edit_blend

    if args.landmarks != "auto":
        from ..keygen_blender import load_landmark_file

        load_landmark_file(args.landmarks)  # a bad landmark file fails before Blender loads anything
    options = KeysOptions(
        landmarks=args.landmarks,
        eyes=tuple(args.eyes) if args.eyes else None,
        teeth=args.teeth,
    )
    report, out = edit_blend(args.blend, args.object, args.out, args.in_place, lambda obj: generate_keys(obj, options))
    lines = report.lines()
    print(f"facsimile keys: {lines[0]}; saved {out}")
    for line in lines[1:]:
        print(line)
    if report_path is not None:
        from ..core.atomic_io import atomic_write_text

        atomic_write_text(report_path, json.dumps(report.as_dict(), indent=1))
    return 0
