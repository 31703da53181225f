"""Peak memory and time of `facsimile solve` on images whose header declares a huge size (issue 21 finding 10),
beside the same command on a real photo from the same run (the reference: what any solve costs).

    FACSIMILE_SHARED=/work/shared nice -n 10 .venv/bin/python benchmarks/bench_hostile_inputs.py

Each file is a few hundred bytes; the target is a refusal in one line with peak memory under 1.5 GB.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests"), str(HERE.parent)]

from reliability_assets import child_env  # noqa: E402
from reliability_media import huge_bmp, huge_gif, huge_pnm, huge_tiff, huge_webp, peak_memory_run  # noqa: E402

CASES = {
    "TIFF 30000x30000": ("big.tif", lambda p: huge_tiff(p, 30000, 30000)),
    "BigTIFF 30000x30000": ("big2.tif", lambda p: huge_tiff(p, 30000, 30000, big=True)),
    "WebP 16383x16383 (VP8X)": ("big.webp", lambda p: huge_webp(p, 16383, 16383)),
    "WebP 16384x16384 (VP8L)": ("big2.webp", lambda p: huge_webp(p, 16384, 16384, "VP8L")),
    "BMP 30000x30000": ("big.bmp", lambda p: huge_bmp(p, 30000, 30000)),
    "PPM 30000x30000": ("big.ppm", lambda p: huge_pnm(p, 30000, 30000)),
    "GIF 65535x65535": ("big.gif", lambda p: huge_gif(p, 65535, 65535)),
}


def main() -> None:
    shared = Path(os.environ.get("FACSIMILE_SHARED", HERE.parent.parent / "shared"))
    reference = shared / "data" / "photos" / "happy-baby.jpeg"
    env = child_env()
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for label, (name, make) in CASES.items():
            path = make(Path(tmp) / name)
            t0 = time.perf_counter()
            done, peak = peak_memory_run(["solve", str(path)], env, Path(tmp), 300)
            rows.append((label, path.stat().st_size, done.returncode, peak, time.perf_counter() - t0))
        t0 = time.perf_counter()
        done, peak = peak_memory_run(["solve", str(reference)], env, Path(tmp), 300)
        rows.append((f"reference: real photo {reference.name}", reference.stat().st_size, done.returncode, peak,
                     time.perf_counter() - t0))  # fmt: skip
    print(f"{'input':40s} {'bytes':>8s} {'exit':>4s} {'peak MB':>8s} {'seconds':>8s}")
    for label, size, code, peak, seconds in rows:
        print(f"{label:40s} {size:8d} {code:4d} {peak:8.0f} {seconds:8.1f}")


if __name__ == "__main__":
    main()
