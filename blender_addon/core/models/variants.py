"""Which file of the 478-point landmark model a platform loads: fp32, fp16 or int8 (QDQ), one spec for all three.

The three files share the FACE_LANDMARKS contract (same inputs and outputs, float32 in and out); the cheaper ones are
made by model_training/convert/landmark_variants.py and bounded against fp32 by tests/test_landmark_variants.py
(landmarks within 0.5% of the inter-ocular distance, weights within 0.02 mean absolute, on shared real frames).
The default per platform is the measured choice of benchmarks/bench_landmark_variants.py (README "Speed"); a variant
that is not faster somewhere is not the default there.
"""

from __future__ import annotations

import platform

from ..errors import FacsimileError

LANDMARK_VARIANTS: dict[str, str] = {
    "fp32": "face_landmarks.onnx",
    "fp16": "face_landmarks_fp16.onnx",
    "int8": "face_landmarks_int8.onnx",
}

# (device, CPU architecture) -> variant, from benchmarks/bench_landmark_variants.py. Not listed: fp32.
DEFAULT_LANDMARK_VARIANT: dict[tuple[str, str], str] = {}


def _arch() -> str:
    m = platform.machine().lower()
    return {"amd64": "x86_64", "aarch64": "arm64"}.get(m, m)


def default_landmark_variant(device: str = "cpu") -> str:
    """The measured default for this device ("cpu" also stands for "auto", which keeps the face on the CPU)."""
    dev = "cuda" if device == "cuda" else "cpu"
    return DEFAULT_LANDMARK_VARIANT.get((dev, _arch()), "fp32")


def landmark_model_file(variant: str | None, device: str = "cpu") -> str:
    """The model file of a variant name (None: the platform default); an unknown name is one clear error."""
    name = default_landmark_variant(device) if variant is None else str(variant).strip().lower()
    if name not in LANDMARK_VARIANTS:
        raise FacsimileError(
            f"landmark model variant {variant!r} is unknown; choose one of {', '.join(LANDMARK_VARIANTS)}"
        )
    return LANDMARK_VARIANTS[name]
