"""Expression generator latency: normalisation + ONNX per face, and the whole photo pipeline per image (CPU).

`python benchmarks/bench_generator.py` prints figures; it asserts nothing (timings depend on the machine's load).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from blender_addon.core.face.expression_generator import ExpressionGenerator  # noqa: E402
from blender_addon.core.face.landmark_normalize import normalize_landmarks  # noqa: E402


def timed(fn, n: int) -> float:
    for _ in range(min(10, n)):
        fn()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n * 1000


def main() -> int:
    gen = ExpressionGenerator(device="cpu", threads=1)
    rng = np.random.default_rng(0)
    # a plausible face: canonical-ish layout from a real detection if the front-end is available, else random jitter
    try:
        from blender_addon.core.face.tracking import FaceTracker
        from blender_addon.core.formats.image_io import load_image

        photo = ROOT.parent / "shared" / "data" / "photos" / "neutral.jpeg"
        img = load_image(photo)
        tracker = FaceTracker(device="cpu")
        lm = tracker.detect(img)[0].landmarks
        print(f"face front-end detect() on {photo.name}: {timed(lambda: tracker.detect(img), 10):.1f} ms")
    except Exception as exc:  # noqa: BLE001 - benchmark still useful without photos
        print(f"(no photo landmarks: {exc}); using random landmarks")
        lm = rng.normal(0, 50, (478, 3)).astype(np.float32) + 200
    feats, _ = normalize_landmarks(lm)
    print(f"normalize_landmarks, 1 face: {timed(lambda: normalize_landmarks(lm), 500):.3f} ms")
    print(
        f"ONNX generator only, 1 face, 1 thread: {timed(lambda: gen.session.run(None, {'features': feats}), 1000):.3f} ms"
    )
    print(f"ExpressionGenerator.predict, 1 face: {timed(lambda: gen.predict(lm), 500):.3f} ms")
    batch = np.repeat(lm[None], 64, 0)
    print(f"ExpressionGenerator.predict, 64 faces: {timed(lambda: gen.predict(batch), 50) / 64:.3f} ms per face")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
