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
    from ..core.output_guard import named
    from ..host.blend_io import edit_blend
    from ..usecases.keys import KeysOptions, generate_keys

    if args.landmarks != "auto":
        from ..core.output_plan import check_input
        from ..scene.keygen_blender import load_landmark_file

        check_input("landmark file", args.landmarks)  # a named pipe would block the read below
        load_landmark_file(args.landmarks)  # a bad landmark file fails before Blender loads anything
    options = KeysOptions(
        landmarks=args.landmarks,
        eyes=tuple(args.eyes) if args.eyes else None,
        teeth=args.teeth,
    )
    landmarks = named("landmark file", args.landmarks) if args.landmarks != "auto" else None
    report, out = edit_blend(
        args.blend,
        args.object,
        args.out,
        args.in_place,
        lambda obj: generate_keys(obj, options),
        _KeysPaths(landmarks),
        extra_outputs=(named("--report", args.report),),
    )
    lines = report.lines()
    print(f"facsimile keys: {lines[0]}; saved {out}")
    for line in lines[1:]:
        print(line)
    if args.report:
        from ..core.atomic_io import atomic_write_text

        atomic_write_text(args.report, json.dumps(report.as_dict(), indent=1))
    return 0


class _KeysPaths:
    """The paths of a keys run beside the scene and --out, for edit_blend's one check (core.output_guard)."""

    def __init__(self, landmarks) -> None:
        self._landmarks = landmarks

    def inputs(self) -> list:
        return [self._landmarks]

    def outputs(self) -> list:
        return []
