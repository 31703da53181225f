"""Face front-end speed: our ONNX pipeline (FaceTracker) vs MediaPipe's FaceMesh on the same images, same run.

Photo mode: every shared photo, detector + mesh each time (MediaPipe static_image_mode=True).
Video mode: a few hundred 640x480 frames made from the photos with drifting shifts/rotations/zoom (cuts between
photos force re-detection), tracked frame to frame (MediaPipe static_image_mode=False).
Figures are per image: CPU time of the whole process (all threads; what a busy Blender pays) and wall time, the
median of --repeats passes. Usage: python benchmarks/bench_face_frontend.py [--frames 300] [--threads 1 2]
[--parallel-iris] (adds rows with the two eyes' iris passes on two cores, FaceTracker(parallel=True)).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from blender_addon.core.face.tracking import FaceTracker  # noqa: E402
from blender_addon.core.formats.image_io import load_image  # noqa: E402

SHARED = Path(os.environ.get("FACSIMILE_SHARED", REPO.parent / "shared")) / "data" / "photos"


def photos() -> list[np.ndarray]:
    files = sorted(p for p in SHARED.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not files:
        raise SystemExit(f"no photos in {SHARED} (set FACSIMILE_SHARED)")
    return [load_image(p) for p in files]


def video_frames(images: list[np.ndarray], n: int, seed: int = 0) -> list[np.ndarray]:
    """n 640x480 frames: each photo fitted to the frame, then a smooth random walk of shift, rotation and zoom."""
    rng = np.random.default_rng(seed)
    per = max(1, n // len(images))
    frames = []
    for img in images:
        h, w = img.shape[:2]
        s = min(640 / w, 480 / h)
        base = np.array([[s, 0, (640 - w * s) / 2], [0, s, (480 - h * s) / 2], [0, 0, 1]])
        t = np.zeros(4)
        for _ in range(per):
            t = 0.85 * t + rng.normal(0, [5, 5, 1.5, 0.01])
            rot = np.vstack([cv2.getRotationMatrix2D((320, 240), t[2], 1 + t[3]), [0, 0, 1]])
            rot[:2, 2] += t[:2]
            m = (rot @ base)[:2]
            frames.append(cv2.warpAffine(img, m, (640, 480), borderMode=cv2.BORDER_REFLECT))
            if len(frames) == n:
                return frames
    return frames


def timed(fn, items, repeats: int) -> tuple[float, float]:
    """Median (cpu ms, wall ms) per item over `repeats` passes (after one warm-up pass)."""
    for it in items[:3]:
        fn(it)
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        for it in items:
            fn(it)
        cpu.append((time.process_time() - c0) / len(items) * 1e3)
        wall.append((time.perf_counter() - w0) / len(items) * 1e3)
    return statistics.median(cpu), statistics.median(wall)


def agreement(mp, images: list[np.ndarray], frames: list[np.ndarray], threads: int) -> str:
    """Mean landmark distance ours vs MediaPipe (468 mesh points, % of inter-ocular distance), photo and video."""

    def err(ours, ref, w, h) -> float | None:
        if ours is None or not ref:
            return None
        r = np.array([[p.x * w, p.y * h] for p in ref[0].landmark[:468]])
        iod = np.linalg.norm(r[33] - r[263])
        return float(np.linalg.norm(ours.landmarks[:468, :2] - r, axis=1).mean() / iod * 100)

    out = []
    for mode, items, static in (("photo", images, True), ("video", frames, False)):
        ft = FaceTracker(device="cpu", max_faces=1, iris=False, threads=threads)
        errs, missed = [], 0
        with mp.solutions.face_mesh.FaceMesh(static_image_mode=static, max_num_faces=1) as m:
            for img in items:
                ours = ft.detect(img) if static else ft.track(img)
                ours = (ours[0] if ours else None) if static else ours
                e = err(ours, m.process(img).multi_face_landmarks, img.shape[1], img.shape[0])
                if e is None:
                    missed += 1
                else:
                    errs.append(e)
        e = np.array(errs)
        out.append(
            f"{mode}: ours vs MediaPipe, 468 points, % of inter-ocular distance: median {np.median(e):.3f}, "
            f"mean {e.mean():.3f}, {np.mean(e < 1) * 100:.0f}% of {e.size} images under 1% "
            f"(the rest: a different person of group.jpeg tracked, or tracking started one frame apart); "
            f"{missed} images where only one of the two returned a face"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="onnxruntime intra-op threads to try")
    ap.add_argument("--parallel-iris", action="store_true", help="also time the eyes on two cores (parallel=True)")
    args = ap.parse_args(argv)

    images = photos()
    frames = video_frames(images, args.frames)
    print(
        f"{len(images)} photos, {len(frames)} video frames (640x480); CPU: {os.cpu_count()} cores; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    rows: list[tuple[str, str, float, float, str]] = []

    variants = [(t, iris, False) for t in args.threads for iris in (False, True)]
    if args.parallel_iris:
        variants.append((1, True, True))
    for threads, iris, parallel in variants:
        name = f"ours ONNX, {threads} thread{'s' if threads > 1 else ''}, {'with' if iris else 'no'} iris"
        name += ", eyes on 2 cores" if parallel else ""
        ft = FaceTracker(device="cpu", max_faces=1, iris=iris, threads=threads, parallel=parallel)
        rows.append(("photo", name, *timed(ft.detect, images, args.repeats), ft.device_info.device))

        def video_pass(_, ft=ft):
            ft.reset()
            for f in frames:
                ft.track(f)

        cpu, wall = timed(video_pass, [0], args.repeats)
        rows.append(("video", name, cpu / len(frames), wall / len(frames), ft.device_info.device))
    ft4 = FaceTracker(device="cpu", max_faces=4, threads=args.threads[0])
    rows.append(("photo", "ours ONNX, up to 4 faces + tiles, iris", *timed(ft4.detect, images, args.repeats), "cpu"))

    try:
        import mediapipe as mp
    except ImportError:
        print("mediapipe not installed: only our figures")
        mp = None
    if mp is not None:
        for refine in (False, True):
            name = f"MediaPipe FaceMesh, refine_landmarks={refine}"
            with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=refine) as m:
                rows.append(("photo", name, *timed(m.process, images, args.repeats), "cpu (XNNPACK)"))
            with mp.solutions.face_mesh.FaceMesh(
                static_image_mode=False, max_num_faces=1, refine_landmarks=refine
            ) as m:

                def video_pass_mp(_, m=m):
                    for f in frames:
                        m.process(f)

                cpu, wall = timed(video_pass_mp, [0], args.repeats)
                rows.append(("video", name, cpu / len(frames), wall / len(frames), "cpu (XNNPACK)"))

    if mp is not None:
        print("\n" + agreement(mp, images, frames, args.threads[0]))
    print(f"\n{'mode':6} {'pipeline':48} {'CPU ms/img':>10} {'wall ms/img':>11} {'frames/s':>9}  device")
    for mode in ("photo", "video"):
        for m, name, cpu, wall, dev in rows:
            if m == mode:
                print(f"{m:6} {name:48} {cpu:10.2f} {wall:11.2f} {1000 / wall:9.1f}  {dev}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
