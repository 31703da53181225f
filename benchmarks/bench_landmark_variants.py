"""The landmark model's variants (fp32, fp16, int8 QDQ) on this CPU: ms per crop at batch 1 (one intra-op thread, as
the front-end runs it), timed in turn in the same run, and each variant's error against fp32 on the shared real frames
(model_training.convert.landmark_variants.parity). Decides core.models.variants.DEFAULT_LANDMARK_VARIANT.
Needs `make models` (exported_models/variants/). Usage: python benchmarks/bench_landmark_variants.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from blender_addon.core.models import onnx_session as osn  # noqa: E402
from blender_addon.core.models.onnx_session import create_session  # noqa: E402
from blender_addon.core.models.variants import LANDMARK_VARIANTS, landmark_model_path  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--no-parity", action="store_true")
    args = ap.parse_args(argv)
    paths = {v: landmark_model_path(v) for v in LANDMARK_VARIANTS}
    sessions = {v: create_session(p, "cpu", 1)[0] for v, p in paths.items()}
    # Session options beyond core.models.onnx_session's (ORT_ENABLE_ALL, 1 thread, no spinning), on the fp32 model.
    # The CPU wheels have no XNNPACK execution provider (onnxruntime.get_available_providers() lists none).
    for name, entry in (("fp32 + denormals as zero", ("session.set_denormal_as_zero", "1")), ("fp32, no arena", None)):
        opts = osn._session_options(1)
        if entry:
            opts.add_session_config_entry(*entry)
        else:
            opts.enable_cpu_mem_arena = False
        sessions[name] = osn.ort.InferenceSession(str(paths["fp32"]), opts, providers=["CPUExecutionProvider"])
        paths[name] = paths["fp32"]
    x = np.random.default_rng(0).random((1, 256, 256, 3), dtype=np.float32)
    for s in sessions.values():
        s.run(None, {"image": x})
    times: dict[str, list[float]] = {v: [] for v in sessions}
    for _ in range(args.repeats):
        for v, s in sessions.items():
            t0 = time.perf_counter()
            for _ in range(10):
                s.run(None, {"image": x})
            times[v].append((time.perf_counter() - t0) / 10 * 1e3)
    print(f"{platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    fp32 = statistics.median(times["fp32"])
    for v, t in times.items():
        ms = statistics.median(t)
        print(f"  {v:24} {ms:7.2f} ms/crop  {ms / fp32:5.2f}x fp32  {paths[v].stat().st_size / 1e6:5.2f} MB")
    if not args.no_parity:
        from model_training.convert.landmark_variants import parity, parity_frames

        frames = parity_frames()
        for v in ("fp16", "int8"):
            got = parity(paths[v], frames)
            print(
                f"  {v} vs fp32 on {int(got['faces'])} faces (shared photos + MEAD frames): landmarks mean "
                f"{got['landmark_mean_pct_iod']:.3f}% IOD (max {got['landmark_max_pct_iod']:.3f}%), weights mean abs "
                f"{got['weights_mean_abs']:.4f} (max {got['weights_max_abs']:.3f}); bounds 0.5% and 0.02"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
