"""The cheaper landmark models (fp16, int8 QDQ) against fp32 on shared real frames none was calibrated on: landmarks
within 0.5% of the inter-ocular distance and the generator's weights within 0.02 mean absolute (issue 20).

Uses exported_models/variants/ when `make models` built them; otherwise builds both into a temporary folder (the int8
one calibrated on 16 crops of the training clips instead of 160: the same recipe, smaller)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO_ROOT, shared_path

pytest.importorskip("onnx", reason="the converter needs onnx (absent from the Python 3.13 environment)")

from blender_addon.core.errors import FacsimileError  # noqa: E402
from blender_addon.core.models.variants import LANDMARK_VARIANTS, VARIANTS_DIR, landmark_model_path  # noqa: E402
from model_training.convert import landmark_variants as lv  # noqa: E402

BUILT = REPO_ROOT / "exported_models" / VARIANTS_DIR
LANDMARK_BOUND_PCT_IOD = 0.5
WEIGHTS_BOUND = 0.02


@pytest.fixture(scope="module")
def variants(tmp_path_factory) -> dict[str, Path]:
    shared_path("real_faces", "video", "train")
    shared_path("real_faces", "video", "eval_mead")
    if all((BUILT / LANDMARK_VARIANTS[v]).is_file() for v in ("fp16", "int8")):
        return {v: BUILT / LANDMARK_VARIANTS[v] for v in ("fp16", "int8")}
    out = tmp_path_factory.mktemp("variants")
    src = REPO_ROOT / "exported_models" / LANDMARK_VARIANTS["fp32"]
    lv.convert_fp16(src, out / LANDMARK_VARIANTS["fp16"])
    lv.quantize_int8(src, out / LANDMARK_VARIANTS["int8"], lv.calibration_crops(16))
    return {v: out / LANDMARK_VARIANTS[v] for v in ("fp16", "int8")}


@pytest.fixture(scope="module")
def frames():
    shared_path("real_faces", "video", "train")
    shared_path("real_faces", "video", "eval_mead")
    return lv.parity_frames(per_clip=2)


INT8_MISS = pytest.mark.xfail(
    strict=True,
    reason="measured: the int8 QDQ model (every conv and add, per-channel, MinMax on 160 training crops) is 18.6% of "
    "the inter-ocular distance and 0.127 mean abs weights from fp32 on these frames, and 2.0x slower: not used on any "
    "platform. Strict: remove the mark when a calibration meets the bounds.",
)


@pytest.mark.parametrize("variant", ["fp16", pytest.param("int8", marks=INT8_MISS)])
def test_variant_within_bounds_of_fp32(variants, frames, variant):
    got = lv.parity(variants[variant], frames)
    assert got["faces"] >= 20, got
    assert got["landmark_mean_pct_iod"] <= LANDMARK_BOUND_PCT_IOD, got
    assert got["weights_mean_abs"] <= WEIGHTS_BOUND, got


def test_parity_can_fail(frames, tmp_path):
    """A model that is not the same network (every convolution's weights off by 5% noise) is beyond the bounds."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(REPO_ROOT / "exported_models" / LANDMARK_VARIANTS["fp32"]))
    rng = np.random.default_rng(0)
    for init in model.graph.initializer:
        arr = numpy_helper.to_array(init)
        if arr.dtype == np.float32 and arr.ndim == 4:
            noisy = arr * (1 + 0.05 * rng.standard_normal(arr.shape)).astype(np.float32)
            init.CopyFrom(numpy_helper.from_array(noisy, init.name))
    bad = tmp_path / "bad.onnx"
    onnx.save(model, str(bad))
    got = lv.parity(bad, frames[:8])
    assert got["landmark_mean_pct_iod"] > LANDMARK_BOUND_PCT_IOD or got["weights_mean_abs"] > WEIGHTS_BOUND


def test_unknown_or_missing_variant_is_one_clear_error(tmp_path):
    with pytest.raises(FacsimileError, match="unknown"):
        landmark_model_path("int4")
    (tmp_path / "manifest.json").write_text('{"models": {}}')
    with pytest.raises(FacsimileError, match="not built"):
        landmark_model_path("int8", folder=tmp_path)
    assert landmark_model_path(None).name == LANDMARK_VARIANTS["fp32"]  # no measured platform defaults to a variant
