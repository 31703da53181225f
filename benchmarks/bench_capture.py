"""Capture speed end to end (decode + face tracking + weights + head fit + body + keyframes) on the demo character,
beside today's face-only bake on the same clip in the same run.

Pipelines, each on the same 640x480 mp4 (frames made from the shared photos as in bench_video_bake.py, so both sides
see identical pixels): face-only bake (face_session.BakeJob, what `facsimile bake` runs), capture face + head + eyes,
and capture face + head + eyes + body (usecases/capture.py: one decode, the pose landmarker in video mode on the same
frames, bones keyed on the demo rig). Figures: frames/s by wall clock and CPU ms/frame, median of --repeats passes,
with the machine's load average printed (the 2-core machine is shared).
Usage: python benchmarks/bench_capture.py [--frames 200] [--repeats 2]
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

from bench_face_frontend import photos, video_frames  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args(argv)

    import bpy

    from blender_addon.demo.character import build_demo_character
    from blender_addon.host import headless
    from blender_addon.usecases import face_session
    from blender_addon.usecases.capture import CaptureOptions, capture

    frames = video_frames(photos(), args.frames)
    h, w = frames[0].shape[:2]
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "bench.mp4"
        writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (w, h))
        for f in frames:
            writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
        writer.release()
        print(f"{len(frames)} frames {w}x{h}; CPU: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}")
        bpy.ops.wm.read_factory_settings(use_empty=True)
        headless.ensure_registered()
        ch = build_demo_character(with_body=True)
        scene = bpy.context.scene
        scene.render.fps, scene.render.fps_base = 30, 1.0
        face_session.solver_for("cpu")
        last: dict[str, str] = {}

        def face_only() -> None:
            job = face_session.BakeJob(ch.head, clip, device="cpu", start_frame=1, scene=scene)
            try:
                while not job.step(16):
                    pass
                last["face only"] = job.finish().summary
            finally:
                job.close()

        def run_capture(body: bool, name: str):
            def go() -> None:
                r = capture(ch.head, CaptureOptions(source=str(clip), body=body, start_frame=1, device="cpu"))
                last[name] = r.summary

            return go

        pipelines = {
            "face only (today's bake)": face_only,
            "capture face + head + eyes": run_capture(False, "head"),
            "capture face + head + eyes + body": run_capture(True, "body"),
        }
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in pipelines}
        for _ in range(args.repeats):
            for name, fn in pipelines.items():
                w0, c0 = time.perf_counter(), time.process_time()
                fn()
                times[name].append((time.perf_counter() - w0, time.process_time() - c0))
        headless.release_properties()
        n = len(frames)
        print(f"{'pipeline':<36}{'frames/s':>10}{'CPU ms/frame':>14}")
        for name, t in times.items():
            wall = statistics.median(x for x, _ in t)
            cpu = statistics.median(c for _, c in t)
            print(f"{name:<36}{n / wall:>10.1f}{1000 * cpu / n:>14.1f}")
        for k, v in last.items():
            print(f"last {k}: {v}")
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
