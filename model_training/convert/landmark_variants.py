"""Cheaper versions of the 478-point landmark model (`make models`): fp16 weights and int8 QDQ, beside the fp32 original.

int8: onnxruntime's static QDQ quantisation (per-channel int8 weights, uint8 activations, MinMax calibration) on
face crops cut exactly as the tracker cuts them (FaceTracker with the fp32 model, video mode) from the real training
clips of ../shared/data/real_faces/video/train (never from the MEAD evaluation clips or the photos, which the parity
test uses). fp16: weights and activations in float16 with float32 inputs and outputs (onnxruntime.transformers'
converter), mostly for GPUs and ARM CPUs with fp16 arithmetic.

Which variant a platform loads by default is core.models.variants.DEFAULT_LANDMARK_VARIANT, chosen by
benchmarks/bench_landmark_variants.py; tests/test_landmark_variants.py bounds each variant's error against fp32 on the
shared real frames (landmarks within 0.5% of the inter-ocular distance, weights within 0.02 mean absolute).

Usage: python -m model_training.convert.landmark_variants [--out exported_models] [--crops 240]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

from blender_addon.core.models.variants import LANDMARK_VARIANTS
from model_training.paths import shared_data_dir

CALIBRATION_CLIPS = "real_faces/video/train"  # under the shared data folder; training clips only
CALIBRATION_SEED = 0


def calibration_crops(n: int, seed: int = CALIBRATION_SEED) -> np.ndarray:
    """(n, 256, 256, 3) float32 [0, 1] crops of tracked faces, spread evenly over every training clip's frames."""
    from blender_addon.core.face.tracking import LANDMARK_BORDER, LANDMARK_SIZE, FaceTracker, _to_unit_float, _warp

    clips = sorted((shared_data_dir() / CALIBRATION_CLIPS).glob("*.mp4"))
    if not clips:
        raise SystemExit(f"no training clips in {shared_data_dir() / CALIBRATION_CLIPS}: the int8 model needs them")
    tracker = FaceTracker(device="cpu", max_faces=1, threads=1, landmark_variant="fp32")
    per_clip = max(1, -(-n // len(clips)))
    rng = np.random.default_rng(seed)
    crops = []
    for clip in clips:
        cap = cv2.VideoCapture(str(clip))
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        wanted = set(np.sort(rng.choice(max(count, 1), size=min(per_clip, max(count, 1)), replace=False)).tolist())
        tracker.reset()
        i = 0
        while wanted:
            ok, frame = cap.read()
            if not ok:
                break
            face = tracker.track(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))  # every frame: the ROI follows the face
            if i in wanted:
                wanted.discard(i)
                if face is not None:
                    crop = _warp(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), face.roi, LANDMARK_SIZE, LANDMARK_BORDER)
                    crops.append(_to_unit_float(crop[None])[0])
            i += 1
        cap.release()
    rng.shuffle(crops)
    return np.stack(crops[:n])


def quantize_int8(src: Path, dst: Path, crops: np.ndarray) -> None:
    """Static QDQ quantisation of src calibrated on crops (NHWC float32 [0, 1], the model's input)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(crops[i : i + 1] for i in range(len(crops)))

        def get_next(self):
            x = next(self._it, None)
            return None if x is None else {"image": x}

    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        quantize_static(
            str(pre),
            str(dst),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            weight_type=QuantType.QInt8,
            activation_type=QuantType.QUInt8,
            extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
        )


def convert_fp16(src: Path, dst: Path) -> None:
    """float16 weights and activations, float32 inputs and outputs (the model spec is unchanged)."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(src))
    half = convert_float_to_float16(model, keep_io_types=True, disable_shape_infer=False)
    onnx.save(half, str(dst))


def _copy_metadata(src: Path, dst: Path, variant: str, extra: dict[str, str]) -> None:
    """The fp32 model's metadata (its spec) plus the variant's, so check_session and the store accept it."""
    import onnx

    a, b = onnx.load(str(src)), onnx.load(str(dst))
    meta = {p.key: p.value for p in a.metadata_props}
    meta.update({"facsimile.variant": variant, **extra})
    del b.metadata_props[:]
    for k, v in meta.items():
        b.metadata_props.add(key=k, value=v)
    tmp = dst.with_suffix(".onnx.tmp")
    onnx.save(b, str(tmp))
    os.replace(tmp, dst)


def main(argv: list[str] | None = None) -> int:
    from blender_addon.core.models.store import record_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="exported_models")
    ap.add_argument("--crops", type=int, default=240, help="calibration crops from the training clips")
    ap.add_argument("--only", choices=["fp16", "int8"], nargs="*", default=["fp16", "int8"])
    args = ap.parse_args(argv)
    out = Path(args.out)
    src = out / LANDMARK_VARIANTS["fp32"]
    if not src.is_file():
        raise SystemExit(f"{src} missing: run `python -m model_training.convert.mediapipe_face` first")
    source = f"{src.name} (model_training/convert/landmark_variants.py)"
    if "fp16" in args.only:
        dst = out / LANDMARK_VARIANTS["fp16"]
        convert_fp16(src, dst)
        _copy_metadata(src, dst, "fp16", {})
        record_model(dst, source=source, license="Apache-2.0", variant="fp16")
        print(f"wrote {dst} ({dst.stat().st_size / 1e6:.2f} MB)")
    if "int8" in args.only:
        crops = calibration_crops(args.crops)
        dst = out / LANDMARK_VARIANTS["int8"]
        tmp = dst.with_suffix(".tmp.onnx")
        quantize_int8(src, tmp, crops)
        os.replace(tmp, dst)
        calib = f"{len(crops)} tracked face crops from {CALIBRATION_CLIPS} (seed {CALIBRATION_SEED})"
        _copy_metadata(src, dst, "int8", {"facsimile.calibration": calib})
        record_model(dst, source=source, license="Apache-2.0", variant="int8 QDQ", calibration=calib)
        print(f"wrote {dst} ({dst.stat().st_size / 1e6:.2f} MB) calibrated on {calib}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
