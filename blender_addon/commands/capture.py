"""`facsimile capture`: face, head, eyes (and body) from one photo or clip onto a character, in one step."""

from __future__ import annotations

import argparse
import sys

from ._options import add_scene_options


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "capture",
        help="face + head + eyes from a photo or clip onto a mesh and its armature; save a new .blend",
        description="One decode and one face-tracking pass drive every stage: the face's shape keys, the head "
        "(and neck) and eye bones of the mesh's armature (found by naming convention: Rigify, Mixamo, Unreal, Ready "
        "Player Me, VRM, MakeHuman, CC4, or a rig map JSON), else the head object's rotation. A photo gives one pose, "
        "a clip keyframes. Each stage reports the device it ran on. IN is never modified unless --in-place.",
    )
    add_scene_options(p)
    p.add_argument("--source", required=True, help="photo, video file, image folder or glob")
    p.add_argument("--no-face", action="store_true", help="do not key shape keys (head/eyes only)")
    p.add_argument("--no-head", action="store_true", help="do not turn the head")
    p.add_argument("--body", action="store_true", help="body pose onto the armature (needs the body pose model)")
    add_head_options(p)
    p.add_argument("--key-frame", type=int, default=None, help="photo: also key the pose at this frame")
    p.add_argument("--start-frame", type=int, default=None, help="clip: scene frame of the first key")
    p.add_argument("--stride", type=int, default=1, help="clip: use every Nth source frame")
    p.add_argument("--first", type=int, default=0, help="clip: first source frame, 0-based")
    p.add_argument("--last", type=int, default=None, help="clip: last source frame, inclusive")
    p.add_argument("--smoothing", type=float, default=1.0, help="One Euro strength: 0 = off, 1 = default")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(run=run)


def add_head_options(p: argparse.ArgumentParser) -> None:
    """Where the head and eyes go and how they move (capture, and apply of a Live Link CSV)."""
    p.add_argument("--rig", default=None, help="armature object (default: the mesh's armature, else the mesh turns)")
    p.add_argument("--rig-map", default=None, help="rig convention name (mixamo, rigify_def, ...) or a JSON role map")
    p.add_argument(
        "--eyes", choices=("auto", "on", "off"), default="auto", help="eye bones (auto: where the rig has them)"
    )
    for role, flag in (("head", "head"), ("neck", "neck"), ("leftEye", "left-eye"), ("rightEye", "right-eye")):
        p.add_argument(f"--{flag}-bone", dest=f"bone_{role}", default=None, help=f"the {flag.replace('-', ' ')} bone")
    p.add_argument("--neck-ratio", type=float, default=0.0, help="share of the head turn given to the neck (0-1)")
    p.add_argument("--head-gain", default="1,1,1", help="yaw,pitch,roll gains (default 1,1,1)")
    p.add_argument("--head-limits", default="80,60,50", help="yaw,pitch,roll limits in degrees (default 80,60,50)")
    p.add_argument(
        "--head-neutral",
        default="none",
        help="the actor's resting head angle: none, first or median (of a clip), or yaw,pitch,roll degrees",
    )
    p.add_argument("--eye-gain", type=float, default=1.0, help="gaze gain (default 1)")


def head_options(args: argparse.Namespace):
    """(HeadTargetOptions, HeadRigOptions, neutral mode) from add_head_options' arguments."""
    from ..core.rig.head_rig import HeadRigOptions
    from ..scene.head_capture import HeadTargetOptions

    neutral_mode, neutral_deg = "none", (0.0, 0.0, 0.0)
    if args.head_neutral in ("none", "first", "median"):
        neutral_mode = args.head_neutral
    else:
        neutral_deg = _triple(args.head_neutral, "--head-neutral")
    bones = {r: getattr(args, f"bone_{r}") for r in ("head", "neck", "leftEye", "rightEye")}
    target = HeadTargetOptions(
        rig=args.rig,
        rig_map=args.rig_map,
        bones={r: b for r, b in bones.items() if b},
        eyes={"auto": None, "on": True, "off": False}[args.eyes],
    )
    rig = HeadRigOptions(
        neutral_deg=neutral_deg,
        gain=_triple(args.head_gain, "--head-gain"),
        limits_deg=_triple(args.head_limits, "--head-limits"),
        neck_ratio=args.neck_ratio,
        eye_gain=args.eye_gain,
    )
    return target, rig, neutral_mode


def _triple(text: str, what: str) -> tuple[float, float, float]:
    from ..core.errors import FacsimileError

    try:
        vals = tuple(float(v) for v in str(text).split(","))
    except ValueError:
        vals = ()
    if len(vals) != 3:
        raise FacsimileError(f"{what} must be three numbers yaw,pitch,roll (e.g. 1,1,1), got {text!r}")
    return vals  # type: ignore[return-value]


def options(args: argparse.Namespace):
    """The command line as the use case's CaptureOptions."""
    from ..usecases.capture import CaptureOptions

    target, rig, neutral_mode = head_options(args)
    return CaptureOptions(
        source=args.source,
        face=not args.no_face,
        head=not args.no_head,
        eyes=target.eyes,
        body=args.body,
        rig=target,
        head_rig=rig,
        neutral=neutral_mode,
        key_frame=args.key_frame,
        first=args.first,
        last=args.last,
        stride=args.stride,
        start_frame=args.start_frame,
        smoothing=args.smoothing,
        device=args.device,
        preset=args.preset,
        mirror=args.mirror,
    )


def run(args: argparse.Namespace) -> int:
    from ..host.blend_io import edit_blend  # imports bpy: only once the command runs (signals held by cli)
    from ..usecases.capture import capture

    opts = options(args)
    opts.check()  # a missing source, a bad number or no stage fails before the scene is loaded

    def progress(job) -> None:
        if not args.quiet:
            print(f"\r  {job.status}", end="", file=sys.stderr, flush=True)

    def work(obj):
        try:
            return capture(obj, opts, progress=progress)
        finally:
            if not args.quiet and not opts.is_photo():
                print(file=sys.stderr)

    result, out = edit_blend(args.blend, args.object, args.out, args.in_place, work, opts)
    for stage, text in result.stages.items():
        print(f"facsimile capture: {stage}: {text}", file=sys.stderr)
    print(f"facsimile capture: {result.summary}; saved {out}")
    return 0
