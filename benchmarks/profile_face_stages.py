"""Where a photo and a video frame spend their time, stage by stage, beside MediaPipe FaceLandmarker (+ blendshapes).

Photo mode: FaceSolver in IMAGE mode on every image of benchmarks/photo_set.py (the shared photos, the press photos and
frames cut from the MEAD clips, as JPEG files: decoding is part of the work), stages: decode, detector (upright view),
orientation search (other views and the turn-drift landmark passes), landmarks, generator, the rest (regions, NMS,
result objects). Video mode: the drifting 640x480 frames of bench_face_frontend.py and a real clip, stages: detector
(re-detections), landmarks, generator, smoothing, rest. The reference runs on the same items in the same process,
each repeat timing ours and MediaPipe in turn; figures are wall ms per item (median of --repeats passes).
Usage: python benchmarks/profile_face_stages.py [--repeats 3] [--frames 300]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_face_frontend import TASK, photos, video_frames  # noqa: E402
from photo_set import photo_files, real_clip_frames  # noqa: E402

from blender_addon.core.face.pipeline import FaceSolver, FaceSolverOptions, RunningMode  # noqa: E402
from blender_addon.core.formats.image_io import load_image  # noqa: E402


class StageClock:
    """Exclusive wall time per stage: a stage's time excludes the stages it calls (a stack of open stages)."""

    def __init__(self) -> None:
        self.total: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._stack: list[list] = []

    def wrap(self, obj, attr: str, stage) -> None:
        """Replace obj.attr by a timed call; `stage` is a name or a function of the call's arguments giving one."""
        fn = getattr(obj, attr)

        def timed(*a, **k):
            name = stage(*a, **k) if callable(stage) else stage
            self._stack.append([name, time.perf_counter(), 0.0])
            try:
                return fn(*a, **k)
            finally:
                name, t0, child = self._stack.pop()
                spent = time.perf_counter() - t0
                self.total[name] += spent - child
                self.calls[name] += 1
                if self._stack:
                    self._stack[-1][2] += spent

        setattr(obj, attr, timed)

    def reset(self) -> None:
        self.total.clear()
        self.calls.clear()


def instrument(solver: FaceSolver, clock: StageClock) -> None:
    """Time the front-end's and the generator's steps of one solver (instance attributes: nothing global changes)."""
    tracker = solver.tracker
    clock.wrap(tracker, "_candidates", lambda image, view=0.0: "detector" if view == 0.0 else "orientation search")
    clock.wrap(tracker, "_turn_drift", "orientation search")
    clock.wrap(tracker, "_landmarks", "landmarks")
    clock.wrap(solver.generator, "predict", "generator")


def reference(video: bool):
    """MediaPipe FaceLandmarker with blendshapes, one face, as a callable on RGB arrays (None when not installed)."""
    try:
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision
    except ImportError:
        return None
    if not TASK.is_file():
        return None
    options = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(TASK)),
        running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
        num_faces=1,
        output_face_blendshapes=True,
    )
    lm = vision.FaceLandmarker.create_from_options(options)
    clock = {"ms": 0}

    def run(img):
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=img)
        if video:
            clock["ms"] += 33
            return lm.detect_for_video(image, clock["ms"])
        return lm.detect(image)

    run.close = lm.close  # type: ignore[attr-defined]
    return run


def profile_photos(files: list[Path], repeats: int) -> None:
    clock = StageClock()
    solver = FaceSolver(FaceSolverOptions(device="cpu", max_faces=4, running_mode=RunningMode.IMAGE))
    instrument(solver, clock)
    ref = reference(video=False)
    ours_walls, ref_walls, stage_runs = [], [], []
    for r in range(repeats + 1):  # the first pass warms both up and is not counted
        clock.reset()
        t0 = time.perf_counter()
        decode = 0.0
        for f in files:
            d0 = time.perf_counter()
            img = load_image(f)
            decode += time.perf_counter() - d0
            solver.solve(img)
        wall = time.perf_counter() - t0
        stages = dict(clock.total)
        stages["decode"] = decode
        if r:
            ours_walls.append(wall)
            stage_runs.append(stages)
        if ref is not None:
            t0 = time.perf_counter()
            for f in files:
                ref(load_image(f))
            if r:
                ref_walls.append(time.perf_counter() - t0)
    solver.close()
    if ref is not None:
        ref.close()
    _report("photo (IMAGE mode, up to 4 faces)", len(files), ours_walls, ref_walls, stage_runs, clock.calls)


def profile_video(frames, name: str, repeats: int) -> None:
    clock = StageClock()
    solver = FaceSolver(FaceSolverOptions(device="cpu", max_faces=1, running_mode=RunningMode.VIDEO))
    instrument(solver, clock)
    clock.wrap(solver, "_smooth", "smoothing")
    ref = reference(video=True)
    ours_walls, ref_walls, stage_runs = [], [], []
    for r in range(repeats + 1):
        clock.reset()
        t0 = time.perf_counter()
        for _ in solver.solve_video(frames):
            pass
        wall = time.perf_counter() - t0
        if r:
            ours_walls.append(wall)
            stage_runs.append(dict(clock.total))
        if ref is not None:
            t0 = time.perf_counter()
            for f in frames:
                ref(f)
            if r:
                ref_walls.append(time.perf_counter() - t0)
    solver.close()
    if ref is not None:
        ref.close()
    _report(f"video: {name}", len(frames), ours_walls, ref_walls, stage_runs, clock.calls)


def _report(title, n, ours_walls, ref_walls, stage_runs, calls) -> None:
    wall = statistics.median(ours_walls) / n * 1e3
    print(f"\n{title}: {n} items")
    stages = sorted({k for s in stage_runs for k in s})
    shown = 0.0
    for k in stages:
        ms = statistics.median(s.get(k, 0.0) for s in stage_runs) / n * 1e3
        shown += ms
        print(f"  {k:22} {ms:7.2f} ms/item  ({calls.get(k, 0) / n:.2f} calls/item)")
    print(f"  {'rest':22} {max(wall - shown, 0.0):7.2f} ms/item")
    print(f"  ours total             {wall:7.2f} ms/item  {1e3 / wall:6.1f} items/s")
    if ref_walls:
        ref = statistics.median(ref_walls) / n * 1e3
        print(
            f"  MediaPipe + blendshapes {ref:6.2f} ms/item  {1e3 / ref:6.1f} items/s   ours/MediaPipe time {wall / ref:.2f}x"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--skip", nargs="*", default=[], choices=["photo", "drift", "clip"])
    args = ap.parse_args(argv)
    print(f"CPU: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        if "photo" not in args.skip:
            profile_photos(photo_files(Path(tmp)), args.repeats)
    if "drift" not in args.skip:
        profile_video(
            video_frames(photos(), args.frames), "drifting 640x480 frames (bench_face_frontend)", args.repeats
        )
    if "clip" not in args.skip:
        frames, clip = real_clip_frames(args.frames)
        profile_video(frames, f"real clip {clip}", args.repeats)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
