"""Video bake speed end to end on the demo character, beside MediaPipe's FaceLandmarker alone on the same frames.

Ours: BakeJob on an .mp4 file, i.e. video decoding + face tracking (detector when lost, one 478-point landmark pass)
+ the expression generator + One Euro smoothing + writing every keyframe of the demo head's 52 shape keys (what the
add-on's bake and `facsimile bake` run). MediaPipe: FaceLandmarker from the shared face_landmarker.task in VIDEO mode
(one face, landmarks only; and with its blendshape head, its own landmarks -> weights step) on the already decoded
frames, so it is not charged for decoding, smoothing or keyframes. Each repeat runs every pipeline once, in turn.
Frames: a few hundred 640x480 frames made from the shared photos with drifting shift/rotation/zoom (as in
bench_face_frontend.py), written to a temporary mp4 and decoded back, so both sides see identical pixels.
Figures: frames/s by wall clock and CPU ms/frame (all threads), median of --repeats passes.
Usage: python benchmarks/bench_video_bake.py [--frames 300] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_face_frontend import TASK, photos, video_frames  # noqa: E402


def _timed(fn, repeats: int) -> tuple[float, float]:
    """Median (wall s, cpu s) of `repeats` calls."""
    walls, cpus = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args(argv)

    import bpy

    from blender_addon.demo.character import build_demo_character
    from blender_addon.host import headless
    from blender_addon.scene import character
    from blender_addon.usecases import face_session

    frames = video_frames(photos(), args.frames)
    h, w = frames[0].shape[:2]
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "bench.mp4"
        writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (w, h))
        for f in frames:
            writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
        writer.release()
        cap = cv2.VideoCapture(str(clip))
        decoded = []
        while True:
            ok, f = cap.read()
            if not ok:
                break
            decoded.append(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
        cap.release()
        n = len(decoded)
        print(
            f"{n} frames {w}x{h} (mp4v, 30 fps) from {len(photos())} photos; CPU: {os.cpu_count()} cores; "
            f"load average {os.getloadavg()[0]:.2f}"
        )

        bpy.ops.wm.read_factory_settings(use_empty=True)
        headless.ensure_registered()
        head = build_demo_character(with_body=False).head
        scene = bpy.context.scene
        scene.render.fps, scene.render.fps_base = 30, 1.0
        t0 = time.perf_counter()
        solver = face_session.solver_for("cpu")
        load_s = time.perf_counter() - t0
        result = {}

        def bake() -> None:
            job = face_session.BakeJob(head, clip, device="cpu", start_frame=1, smoothing=1.0, scene=scene)
            try:
                while not job.step(16):
                    pass
                t = time.perf_counter()
                result["r"] = job.finish()
                result["write_s"] = time.perf_counter() - t
            finally:
                job.close()

        pipelines = {"ours: decode + track + solve + smooth + keyframes": bake}
        try:
            import mediapipe as mp
            from mediapipe.tasks.python import BaseOptions, vision
        except ImportError:
            mp = None
            print("mediapipe not installed: only our figures")
        if mp is not None and not TASK.is_file():
            mp = None
            print(f"{TASK} missing: only our figures")
        landmarkers = []
        if mp is not None:
            for blendshapes in (False, True):
                options = vision.FaceLandmarkerOptions(
                    base_options=BaseOptions(model_asset_path=str(TASK)),
                    running_mode=vision.RunningMode.VIDEO,
                    num_faces=1,
                    output_face_blendshapes=blendshapes,
                )
                lm = vision.FaceLandmarker.create_from_options(options)
                landmarkers.append(lm)
                clock = {"ms": 0}

                def landmarks_only(lm=lm, clock=clock) -> None:
                    for f in decoded:
                        clock["ms"] += 33  # VIDEO mode needs increasing timestamps
                        lm.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=f), clock["ms"])

                name = "MediaPipe FaceLandmarker alone" + (" + blendshapes" if blendshapes else " (landmarks)")
                pipelines[name] = landmarks_only
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in pipelines}
        for _ in range(args.repeats):
            for name, fn in pipelines.items():
                times[name].append(_timed(fn, 1))
        for lm in landmarkers:
            lm.close()
        counts = {len(fc.keyframe_points) for fc in character.shape_key_fcurves(head).values()}
        r = result["r"]
        print(f"models loaded in {load_s:.2f} s on {face_session.device_used(solver)}; last bake: {r.summary}")
        print(f"keyframes per shape key: {sorted(counts)}; writing them took {1000 * result['write_s']:.1f} ms")
        headless.release_properties()
        rows = [
            (name, statistics.median(w for w, _ in t), statistics.median(c for _, c in t)) for name, t in times.items()
        ]

    print(f"\n{'pipeline':56} {'frames/s':>9} {'wall ms/frame':>14} {'CPU ms/frame':>13}")
    for name, wall, cpu in rows:
        print(f"{name:56} {n / wall:9.1f} {1000 * wall / n:14.2f} {1000 * cpu / n:13.2f}")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
