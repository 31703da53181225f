"""Which file of the 478-point landmark model a platform loads: fp32, fp16 or int8 (QDQ), one spec for all three.

The three files share the FACE_LANDMARKS contract (same inputs and outputs, float32 in and out); the cheaper ones are
made by model_training/convert/landmark_variants.py (`make models`) into <models>/variants/ with their own manifest,
and bounded against fp32 by tests/test_landmark_variants.py (landmarks within 0.5% of the inter-ocular distance,
weights within 0.02 mean absolute, on shared real frames). The default per platform is the measured choice of
benchmarks/bench_landmark_variants.py (README "Speed"): on the only CPU measured so far (x86-64 AVX2) neither fp16
nor int8 was faster than fp32, so no platform defaults to them and the zips do not carry them.
"""

from __future__ import annotations

import platform
from pathlib import Path

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


VARIANTS_DIR = "variants"  # under the model folder, with its own manifest.json


def landmark_model_path(variant: str | None, device: str = "cpu", folder: Path | None = None) -> Path:
    """The verified model file of a variant name (None: the platform default); an unknown name, or a variant not
    built, is one clear error."""
    from .store import models_dir, verified_model_path

    name = default_landmark_variant(device) if variant is None else str(variant).strip().lower()
    if name not in LANDMARK_VARIANTS:
        raise FacsimileError(
            f"landmark model variant {variant!r} is unknown; choose one of {', '.join(LANDMARK_VARIANTS)}"
        )
    folder = folder or models_dir()
    if name == "fp32":
        return verified_model_path(LANDMARK_VARIANTS[name], folder)
    sub = folder / VARIANTS_DIR
    if not (sub / LANDMARK_VARIANTS[name]).is_file():
        raise FacsimileError(
            f"the {name} landmark model is not built ({sub / LANDMARK_VARIANTS[name]}); in a checkout run "
            "`make models`, or use the default variant"
        )
    return verified_model_path(LANDMARK_VARIANTS[name], sub)
