"""Photos -> 52 weights through the CLI, per image with start-up cancelled out, beside MediaPipe FaceLandmarker with
blendshapes on the same files in the same run (issue 20's photo target: ours <= 0.8x MediaPipe's time).

Ours: `python -m blender_addon.host.cli solve FILES... --json OUT --device cpu` (default --max-faces 4), a new process per
run. Reference: a new Python process that creates FaceLandmarker (IMAGE mode, num_faces 1 and 4, blendshapes on) and
runs it on every file, decoding each with cv2 as our CLI does. Per image = (time for all N files - time for the first
file alone) / (N - 1), so model loading and interpreter start-up cancel; each repeat runs every command in turn.
Files: benchmarks/photo_set.py (shared photos, press photos, MEAD frames). Usage: bench_photo_cli.py [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_face_frontend import TASK  # noqa: E402
from photo_set import photo_files  # noqa: E402

REFERENCE = """
import sys, cv2, mediapipe as mp
from mediapipe.tasks.python import BaseOptions, vision
opts = vision.FaceLandmarkerOptions(base_options=BaseOptions(model_asset_path=sys.argv[1]),
    running_mode=vision.RunningMode.IMAGE, num_faces=int(sys.argv[2]), output_face_blendshapes=True)
lm = vision.FaceLandmarker.create_from_options(opts)
for f in sys.argv[3:]:
    rgb = cv2.cvtColor(cv2.imread(f), cv2.COLOR_BGR2RGB)
    lm.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
lm.close()
"""


def _run(cmd: list[str], env: dict) -> tuple[float, float]:
    """(wall s, peak resident MiB) of one process."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        code = os.waitstatus_to_exitcode(status)
        proc.returncode = code
        if code not in (0, 1):  # 1: some file had no face (said in the JSON), still a full run
            err.seek(0)
            raise SystemExit(f"{cmd[:4]} failed: {err.read()[-1500:].decode(errors='replace')}")
    return wall, usage.ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args(argv)
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        files = [str(f) for f in photo_files(Path(tmp))]
        out = str(Path(tmp) / "out.json")
        ours = [sys.executable, "-m", "blender_addon.host.cli", "solve", "--device", "cpu", "--json", out]
        jobs = {"ours: facsimile solve (up to 4 faces)": lambda fs: ours + fs}
        jobs["ours: facsimile solve --max-faces 1"] = lambda fs: ours + ["--max-faces", "1"] + fs
        if TASK.is_file():
            for k in (1, 4):
                jobs[f"MediaPipe + blendshapes, num_faces {k}"] = lambda fs, k=k: [
                    sys.executable, "-c", REFERENCE, str(TASK), str(k), *fs
                ]  # fmt: skip
        else:
            print(f"{TASK} missing: only our figures")
        per: dict[str, list[float]] = {k: [] for k in jobs}
        start: dict[str, list[float]] = {k: [] for k in jobs}
        peak: dict[str, list[float]] = {k: [] for k in jobs}
        print(f"{len(files)} images; CPU: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}")
        for _ in range(args.repeats):
            for name, make in jobs.items():
                one, one_peak = _run(make(files[:1]), env)
                all_, all_peak = _run(make(files), env)
                per[name].append((all_ - one) / (len(files) - 1) * 1e3)
                start[name].append(one)
                peak[name].append(one_peak)
    ref = statistics.median(per["MediaPipe + blendshapes, num_faces 1"]) if TASK.is_file() else None
    for name, ms in per.items():
        m = statistics.median(ms)
        ratio = f"  {m / ref:.2f}x MediaPipe (num_faces 1)" if ref else ""
        print(f"  {name:42} {m:8.2f} ms/image (runs: {', '.join(f'{x:.1f}' for x in ms)}){ratio}")
        print(f"  {'':42} one photo, whole process: {statistics.median(start[name]):.2f} s, "
              f"peak {statistics.median(peak[name]):.0f} MiB")  # fmt: skip
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
