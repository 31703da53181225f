"""Cheaper versions of the 478-point landmark model (`make models`): fp16 weights and int8 QDQ, beside the fp32 original.

int8: onnxruntime's static QDQ quantisation (per-channel int8 weights, uint8 activations, MinMax calibration) of every
convolution and addition, on face crops cut exactly as the front-end cuts them (FaceTracker with the fp32 model) from frames
of the real training clips of ../shared/data/real_faces/video/train (never from the MEAD evaluation clips or the
photos, which `parity` uses). fp16: weights and activations in float16 with float32 inputs and outputs (onnxruntime.transformers'
converter), mostly for GPUs and ARM CPUs with fp16 arithmetic.

Which variant a platform loads by default is core.models.variants.DEFAULT_LANDMARK_VARIANT, chosen by
benchmarks/bench_landmark_variants.py; tests/test_landmark_variants.py bounds each variant's error against fp32 on the
shared real frames (landmarks within 0.5% of the inter-ocular distance, weights within 0.02 mean absolute).

Written to <out>/variants/ with their own manifest.json (not shipped in the zips, not committed).
Usage: python -m model_training.convert.landmark_variants [--out exported_models] [--crops 160]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2
import numpy as np

from blender_addon.core.models.variants import LANDMARK_VARIANTS, VARIANTS_DIR
from model_training.paths import shared_data_dir

CALIBRATION_CLIPS = "real_faces/video/train"  # under the shared data folder; training clips only
CALIBRATION_SEED = 0


def calibration_crops(n: int, seed: int = CALIBRATION_SEED) -> np.ndarray:
    """(n, 256, 256, 3) float32 [0, 1] face crops cut as the tracker cuts them (the fp32 front-end's region of the
    largest face), from frames spread at random over every training clip."""
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
        count = max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 1)
        for k in np.sort(rng.choice(count, size=min(per_clip, count), replace=False)):
            cap.set(cv2.CAP_PROP_POS_FRAMES, int(k))
            ok, frame = cap.read()
            if not ok:
                continue
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            faces = tracker.detect(rgb)
            if faces:
                crops.append(_to_unit_float(_warp(rgb, faces[0].roi, LANDMARK_SIZE, LANDMARK_BORDER)[None])[0])
        cap.release()
    rng.shuffle(crops)
    return np.stack(crops[:n])


def parity_frames(per_clip: int = 3) -> list[np.ndarray]:
    """The frames the variants are judged on, none used for calibration: the shared photos and `per_clip` frames of
    each MEAD evaluation clip (real_faces/video/eval_mead)."""
    from blender_addon.core.formats.image_io import load_image

    data = shared_data_dir()
    frames = [load_image(p) for p in sorted((data / "photos").glob("*.jp*g"))]
    for clip in sorted((data / "real_faces" / "video" / "eval_mead").glob("*.mp4")):
        cap = cv2.VideoCapture(str(clip))
        count = max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 1)
        for k in np.linspace(0, count - 1, per_clip).round().astype(int):
            cap.set(cv2.CAP_PROP_POS_FRAMES, int(k))
            ok, frame = cap.read()
            if ok:
                frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        cap.release()
    return frames


def parity(variant: Path, frames: list[np.ndarray]) -> dict[str, float]:
    """A variant against fp32 on the same crops (the fp32 front-end's regions of every face found): landmark error
    (mean over the 478 points, in % of the fp32 inter-ocular distance 33-263; mean and max over faces) and the
    expression generator's weights from each (mean and max absolute difference over faces and the 52 weights)."""
    from blender_addon.core.face.expression_generator import ExpressionGenerator
    from blender_addon.core.face.tracking import FaceTracker
    from blender_addon.core.models.onnx_session import create_session

    ref = FaceTracker(device="cpu", max_faces=4, threads=1, landmark_variant="fp32")
    other = ref.sharing()
    other._landmark_model, _ = create_session(variant, "cpu", 1)
    gen = ExpressionGenerator(device="cpu")
    errs, dw = [], []
    for img in frames:
        faces = ref.detect(img)
        if not faces:
            continue
        rois = [f.roi for f in faces]
        a, _ = ref._landmarks(img, rois)
        b, _ = other._landmarks(img, rois)
        iod = np.linalg.norm(a[:, 33, :2] - a[:, 263, :2], axis=1)
        errs += list(np.linalg.norm(a[..., :2] - b[..., :2], axis=2).mean(1) / iod * 100)
        dw.append(np.abs(gen.predict(a).weights - gen.predict(b).weights))
    w = np.concatenate(dw) if dw else np.zeros((0, 52))
    e = np.array(errs)
    return {
        "faces": float(len(e)),
        "landmark_mean_pct_iod": float(e.mean()),
        "landmark_max_pct_iod": float(e.max()),
        "weights_mean_abs": float(w.mean()),
        "weights_max_abs": float(w.max()),
    }


def depthwise_convs(model) -> list[str]:
    """Names of the grouped (depthwise) convolutions: left in float (quantising them made the model slower)."""
    return [
        n.name
        for n in model.graph.node
        if n.op_type == "Conv" and any(a.name == "group" and a.i > 1 for a in n.attribute)
    ]


def quantize_int8(src: Path, dst: Path, crops: np.ndarray) -> None:
    """Static QDQ quantisation of every convolution and addition, calibrated on crops (NHWC float32 [0, 1]).

    Measured on the 2-core x86-64 (AVX2, no VNNI) machine at batch 1: 2.2x slower than fp32 (per tensor 1.9x). An
    attempt to quantise only the dense convolutions (excluding the depthwise ones by node name) quantised nothing:
    the converted graph's nodes have no names, so the exclusion list matched every node; that file was fp32 again."""
    import tempfile

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
        )
    import onnx

    if not any(n.op_type == "QuantizeLinear" for n in onnx.load(str(dst)).graph.node):
        raise SystemExit(f"{dst}: the quantiser left the graph in float; nothing was quantised")


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
    ap.add_argument("--crops", type=int, default=160, help="calibration crops from the training clips")
    ap.add_argument("--only", choices=["fp16", "int8"], nargs="*", default=["fp16", "int8"])
    args = ap.parse_args(argv)
    src = Path(args.out) / LANDMARK_VARIANTS["fp32"]
    out = Path(args.out) / VARIANTS_DIR  # not shipped (no platform defaults to them): their own manifest, gitignored
    out.mkdir(exist_ok=True)
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
