"""Face front-end speed: our ONNX pipeline (FaceTracker) vs MediaPipe's FaceLandmarker on the same images, same run.

Both run the same two models (short-range face detector, FaceLandmarker's 478-point landmark model); MediaPipe runs
the TFLite originals with XNNPACK, we run the ONNX conversions with onnxruntime. FaceLandmarker is created from the
shared face_landmarker.task with its defaults (no blendshapes, no transformation matrices) and num_faces=1.
Photo mode: every shared photo, detector + landmarks each time (FaceLandmarker running_mode=IMAGE).
Video mode: a few hundred 640x480 frames made from the photos with drifting shifts/rotations/zoom (cuts between
photos force re-detection), tracked frame to frame (FaceLandmarker running_mode=VIDEO, which also smooths).
Figures are per image: CPU time of the whole process (all threads; what a busy Blender pays) and wall time, the
median of --repeats passes. Usage: python benchmarks/bench_face_frontend.py [--frames 300] [--threads 1 2]
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

SHARED_DATA = Path(os.environ.get("FACSIMILE_SHARED", REPO.parent / "shared")) / "data"
SHARED = SHARED_DATA / "photos"
TASK = SHARED_DATA / "real_faces" / "models" / "face_landmarker.task"


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


def timed_round_robin(jobs: dict[str, tuple], repeats: int) -> dict[str, tuple[float, float]]:
    """{name: (fn, items)} -> {name: median (cpu ms, wall ms) per item}. Each repeat times every job once, in turn,
    so a change in the shared machine's load hits all pipelines alike (after one warm-up call each)."""
    for fn, items in jobs.values():
        for it in items[:3]:
            fn(it)
    cpu: dict[str, list[float]] = {k: [] for k in jobs}
    wall: dict[str, list[float]] = {k: [] for k in jobs}
    for _ in range(repeats):
        for name, (fn, items) in jobs.items():
            c0, w0 = time.process_time(), time.perf_counter()
            for it in items:
                fn(it)
            cpu[name].append((time.process_time() - c0) / len(items) * 1e3)
            wall[name].append((time.perf_counter() - w0) / len(items) * 1e3)
    return {k: (statistics.median(cpu[k]), statistics.median(wall[k])) for k in jobs}


class Landmarker:
    """MediaPipe FaceLandmarker (one face) in image or video mode, as a callable on RGB arrays -> (478, 2) or None."""

    def __init__(self, mp, video: bool) -> None:
        from mediapipe.tasks.python import BaseOptions, vision

        self.mp, self.video, self.t = mp, video, 0
        mode = vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(TASK)), running_mode=mode, num_faces=1
        )
        self.lm = vision.FaceLandmarker.create_from_options(options)

    def __call__(self, img: np.ndarray):
        image = self.mp.Image(image_format=self.mp.ImageFormat.SRGB, data=img)
        if self.video:
            self.t += 33  # FaceLandmarker needs increasing timestamps (ms)
            return self.lm.detect_for_video(image, self.t)
        return self.lm.detect(image)

    def points(self, img: np.ndarray) -> np.ndarray | None:
        found = self(img).face_landmarks
        if not found:
            return None
        return np.array([[p.x * img.shape[1], p.y * img.shape[0]] for p in found[0]])

    def close(self) -> None:
        self.lm.close()


def agreement(mp, images: list[np.ndarray], frames: list[np.ndarray], threads: int) -> str:
    """Mean landmark distance ours vs FaceLandmarker (478 points, % of inter-ocular distance), photo and video."""
    out = []
    for mode, items, video in (("photo", images, False), ("video", frames, True)):
        ft = FaceTracker(device="cpu", max_faces=1, threads=threads)
        ref = Landmarker(mp, video)
        errs, missed = [], 0
        for img in items:
            ours = ft.track(img) if video else next(iter(ft.detect(img)), None)
            r = ref.points(img)
            if ours is None or r is None:
                missed += ours is not None or r is not None
                continue
            iod = np.linalg.norm(r[33] - r[263])
            errs.append(float(np.linalg.norm(ours.landmarks[:, :2] - r, axis=1).mean() / iod * 100))
        ref.close()
        e = np.array(errs)
        out.append(
            f"{mode}: ours vs FaceLandmarker, 478 points, % of inter-ocular distance: median {np.median(e):.3f}, "
            f"mean {e.mean():.3f}, {np.mean(e < 1) * 100:.0f}% of {e.size} images under 1%"
            + (" (video: FaceLandmarker smooths its landmarks, we do not)" if video else "")
            + f"; {missed} images where only one of the two returned a face"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="onnxruntime intra-op threads to try")
    args = ap.parse_args(argv)

    images = photos()
    frames = video_frames(images, args.frames)
    print(
        f"{len(images)} photos, {len(frames)} video frames (640x480); CPU: {os.cpu_count()} cores; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    try:
        import mediapipe as mp
    except ImportError:
        print("mediapipe not installed: only our figures")
        mp = None
    if mp is not None and not TASK.is_file():
        print(f"{TASK} missing: only our figures")
        mp = None

    def video(track, reset=None):
        """One pass over all frames, as a job of one item (timed per frame below)."""

        def run(_):
            if reset is not None:
                reset()
            for f in frames:
                track(f)

        return run, [0]

    jobs: dict[tuple[str, str], tuple] = {}
    for threads in args.threads:
        name = f"ours ONNX, {threads} thread{'s' if threads > 1 else ''}"
        ft = FaceTracker(device="cpu", max_faces=1, threads=threads)
        jobs["photo", name] = (ft.detect, images)
        jobs["video", name] = video(ft.track, ft.reset)
    ft4 = FaceTracker(device="cpu", max_faces=4, threads=args.threads[0])
    jobs["photo", "ours ONNX, up to 4 faces + tiles"] = (ft4.detect, images)
    refs = []
    if mp is not None:
        refs = [Landmarker(mp, video=False), Landmarker(mp, video=True)]
        jobs["photo", "MediaPipe FaceLandmarker"] = (refs[0], images)
        jobs["video", "MediaPipe FaceLandmarker"] = video(refs[1])
    results = timed_round_robin(jobs, args.repeats)
    for ref in refs:
        ref.close()
    rows: list[tuple[str, str, float, float, str]] = []
    for (mode, name), (cpu, wall) in results.items():
        per = len(frames) if mode == "video" else 1
        rows.append((mode, name, cpu / per, wall / per, "cpu (XNNPACK)" if "MediaPipe" in name else "cpu"))

    if mp is not None:
        print("\n" + agreement(mp, images, frames, args.threads[0]))
    print(f"\n{'mode':6} {'pipeline':34} {'CPU ms/img':>10} {'wall ms/img':>11} {'frames/s':>9}  device")
    for mode in ("photo", "video"):
        ref = next((r for r in rows if r[0] == mode and r[1].startswith("MediaPipe")), None)
        for m, name, cpu, wall, dev in rows:
            if m == mode:
                ratio = f"  {cpu / ref[2]:.2f}x MediaPipe's CPU, {wall / ref[3]:.2f}x its wall" if ref else ""
                print(f"{m:6} {name:34} {cpu:10.2f} {wall:11.2f} {1000 / wall:9.1f}  {dev}{ratio}")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
