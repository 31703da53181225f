"""`facsimile demo --out DIR`: the whole pipeline on the demo character, with nothing to download.

By default a real face photo (NASA's public-domain `astronaut` portrait that the scikit-image wheel bundles, or the
user's own with --photo) goes through face detection, the 478 landmarks and the expression generator onto the demo
character: DIR/demo.blend (the expression set and keyed at frame 1) and DIR/demo_photo.png (the photo with its
landmarks beside the rendered character). With --sequence it plays the project's sample ARKit sequence instead and
writes DIR/demo_contact_sheet.png (one rendered frame per expression). DIR/shape_grid.png shows each of the 52 keys
at 1 unless --no-shape-grid. Every file is written to a temporary file in DIR and renamed into place, so a failure
leaves no half-written output.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ._options import add_device_option

BLEND_NAME = "demo.blend"
SHEET_NAME = "demo_contact_sheet.png"
PHOTO_NAME = "demo_photo.png"
DEFAULT_PHOTO = "astronaut"
GRID_NAME = "shape_grid.png"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="solve a face photo onto the demo character (or play a sample sequence); save DIR/demo.blend and previews",
        description="Builds a stylised head with the 52 ARKit shape keys on a skinned, rigged body, then either solves "
        "a face photo onto it (default: the astronaut portrait bundled with scikit-image) or, with --sequence, keys "
        "the project's sample expression sequence, and renders previews (Workbench by default). It starts from an "
        "empty Blender scene, so run inside Blender it replaces the loaded file (which it never saves over).",
    )
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument(
        "--photo",
        default=DEFAULT_PHOTO,
        help="face photo to solve onto the character (default: 'astronaut', bundled with the scikit-image wheel)",
    )
    p.add_argument("--face", type=int, default=0, help="which face in the photo (0 = the largest)")
    add_device_option(p)
    p.add_argument("--sequence", action="store_true", help="play the sample ARKit sequence instead of a photo")
    p.add_argument("--frames", type=int, default=120, help="--sequence: length in frames (default 120)")
    p.add_argument("--fps", type=float, default=30.0, help="--sequence: frame rate (default 30)")
    p.add_argument("--engine", choices=("workbench", "cycles"), default="workbench", help="preview renderer")
    p.add_argument("--samples", type=int, default=16, help="Cycles samples per pixel (with --engine cycles)")
    p.add_argument("--resolution", type=int, default=320, help="side of each contact-sheet tile in pixels")
    p.add_argument(
        "--no-shape-grid",
        dest="shape_grid",
        action="store_false",
        help=f"skip DIR/{GRID_NAME} (every ARKit key at 1, one labelled tile each; a few seconds)",
    )
    p.add_argument("--no-render", action="store_true", help="only build and save the .blend (no PNGs)")
    p.set_defaults(run=run)


def _check_out_dir(out: Path) -> Path:
    from ..core.atomic_io import check_writable_dir
    from ..core.errors import FacsimileError

    if out.exists() and not out.is_dir():
        raise FacsimileError(f"--out {out} is a file; give a folder to write {BLEND_NAME} and the previews into")
    check_writable_dir(out / BLEND_NAME)  # creates the folder, or says why it cannot
    return out


def bundled_photo_path() -> Path:
    """NASA's astronaut portrait (public domain) from the installed scikit-image wheel, found without importing it."""
    import importlib.util

    from ..core.errors import FacsimileError

    spec = importlib.util.find_spec("skimage")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "data" / "astronaut.png"
        if path.is_file():
            return path
    raise FacsimileError(
        "the default demo photo comes from the scikit-image package, which is not installed here; "
        "run `make demo` (it installs it) or pass --photo YOUR_PHOTO.jpg"
    )


def run(args: argparse.Namespace) -> int:
    from ..core.errors import FacsimileError
    from ..demo.sample_sequence import sample_sequence

    if not 8 <= args.resolution <= 4096:
        raise FacsimileError(f"--resolution {args.resolution} is out of range (8..4096)")
    from ..core import validate

    validate.whole(args.samples, "--samples", 1, 4096)
    validate.whole(args.face, "--face", 0, 999)
    if args.sequence:
        validate.whole(args.frames, "--frames", 1, 100000)
        validate.fps(args.fps, "--fps")
    seq = None
    photo = None
    if args.sequence:
        try:
            seq = sample_sequence(args.frames, args.fps)
        except ValueError as exc:
            raise FacsimileError(str(exc)) from exc
    else:
        photo = bundled_photo_path() if args.photo == DEFAULT_PHOTO else Path(args.photo)
        if not photo.is_file():
            raise FacsimileError(f"photo {photo} does not exist")
    out = _check_out_dir(Path(args.out))
    from ..core.output_guard import Named, check_outputs, named

    names = (BLEND_NAME, PHOTO_NAME, SHEET_NAME, GRID_NAME)
    check_outputs([named("photo", photo)], [Named(f"--out {n}", out / n) for n in names])

    import tempfile

    import bpy
    import cv2

    from ..core.formats.image_io import write_png
    from ..core.retarget import build_retarget_map
    from ..demo.character import animate_demo_body, build_demo_character
    from ..demo.contact_sheet import make_contact_sheet
    from ..demo.render_preview import (
        body_camera,
        configure_render,
        face_camera,
        render_frames,
        render_png,
        render_shape_grid,
    )
    from ..host.blend_io import save_blend_atomic
    from ..scene.shape_keys import bake_keyframes, shape_key_names

    t0 = time.perf_counter()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    character = build_demo_character()
    head = character.head
    scene = bpy.context.scene
    fps = float(args.fps)
    scene.render.fps = max(1, round(fps))
    scene.render.fps_base = scene.render.fps / fps
    scene.frame_start, scene.frame_end = 1, args.frames if seq is not None else 1
    t_build = time.perf_counter()

    grid_tmp = None
    sheet = None
    summary = ""
    with tempfile.TemporaryDirectory(prefix="facsimile_demo_") as tmp:
        if not args.no_render:
            configure_render(args.engine, (args.resolution, args.resolution), args.samples)
            if args.shape_grid:  # rendered before posing so the keys are free to set
                face_camera(head, distance=0.6)
                grid_tmp = render_shape_grid(head, Path(tmp) / GRID_NAME, tile=max(8, args.resolution * 3 // 4))
        t_grid = time.perf_counter()
        if seq is not None:
            rmap = build_retarget_map(shape_key_names(head), "arkit")
            bake_keyframes(head, rmap, seq.weights, start_frame=1, action_name="FacsimileDemoFace")
            if character.rig is not None:
                animate_demo_body(character.rig, seq.labels, seq.key_frames, end_frame=args.frames)
        else:
            from ..host.headless import ensure_registered
            from ..usecases.face_session import weights_summary
            from ..usecases.photo import PhotoOptions, apply_photo

            ensure_registered()
            opts = PhotoOptions(photo, face=args.face, key_frame=1, device=args.device, preset="arkit", mirror=False)
            applied = apply_photo(head, opts)
            solved, face = applied.solved, applied.face
            summary = f"; {photo.name} on {solved.device}: {weights_summary(face.weights, 5)}"
        scene.frame_set(1)
        t_bake = time.perf_counter()
        if not args.no_render and seq is not None:
            frames = [int(f) + 1 for f in seq.key_frames]
            labels = [f"{label} (f{f})" for label, f in zip(seq.labels, frames)]
            images = []
            if character.body is not None:  # one full-body tile: the rig waves while the face smiles
                body_camera([character.body, head])
                wave = frames[seq.labels.index("smile")] if "smile" in seq.labels else frames[0]
                scene.frame_set(wave)
                images.append(render_png(Path(tmp) / "body.png"))
                labels.insert(0, f"body (f{wave})")
            face_camera(head, distance=0.85)
            images += render_frames(frames, tmp)
            sheet = make_contact_sheet(images, labels, cols=(len(images) + 1) // 2)
        elif not args.no_render:
            face_camera(head, distance=0.85)
            rendered = render_png(Path(tmp) / "character.png")
            from ..usecases.face_session import preview_pixels

            preview = cv2.cvtColor(preview_pixels(solved, args.face), cv2.COLOR_RGB2BGR)
            x, y, w, h = (int(round(v)) for v in face.box)
            pad = int(0.35 * max(w, h))
            ih, iw = preview.shape[:2]
            crop = preview[max(0, y - pad) : min(ih, y + h + pad), max(0, x - pad) : min(iw, x + w + pad)]
            sheet = make_contact_sheet(
                [crop, rendered],
                [f"{photo.name}: face {args.face} + landmarks", "demo character"],
                cols=2,
                tile=(args.resolution, args.resolution),
            )
        t_render = time.perf_counter()
        blend = save_blend_atomic(out / BLEND_NAME)
        written = [blend]
        try:
            if sheet is not None:
                written.append(write_png(out / (SHEET_NAME if seq is not None else PHOTO_NAME), sheet))
            if grid_tmp is not None:
                written.append(write_png(out / GRID_NAME, cv2.imread(str(grid_tmp))))
        except (FacsimileError, OSError) as exc:
            raise FacsimileError(f"saved {blend} but could not write the previews: {exc}") from exc
    t_end = time.perf_counter()
    what = f"{args.frames} frames keyed" if seq is not None else "photo expression set and keyed at frame 1"
    print(
        f"facsimile demo: {head.name} with {len(shape_key_names(head))} ARKit keys, {what}{summary}\n"
        f"  build {t_build - t0:.2f}s, shape grid {t_grid - t_build:.2f}s, pose {t_bake - t_grid:.2f}s, "
        f"render {t_render - t_bake:.2f}s, save {t_end - t_render:.2f}s"
    )
    for path in written:
        print(f"  wrote {path}")
    return 0
