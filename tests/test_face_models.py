"""The converted MediaPipe face models: ONNX vs the TFLite originals on identical input tensors, contract, manifest.

The TFLite side runs inside MediaPipe's own graph runtime (model_training/tflite_reference.py); its input tensor is
read back and fed unchanged to onnxruntime, so any difference is the conversion's, not the preprocessing's.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import REPO_ROOT, shared_path

from blender_addon.core.models.onnx_session import create_session
from blender_addon.core.models.specs import FACE_DETECTOR, FACE_LANDMARKS, IRIS_LANDMARKS, check_session
from blender_addon.core.models.store import sha256_of, verified_model_path

onnx = pytest.importorskip("onnx", reason="the onnx package (requirements-train.txt) reads the converted graphs")
mp = pytest.importorskip("mediapipe", reason="mediapipe (requirements-train.txt) runs the TFLite originals")

from model_training.convert import mediapipe_face as conv  # noqa: E402
from model_training.convert.tflite_reader import read_tflite  # noqa: E402
from model_training.convert.tflite_reference import run_tflite  # noqa: E402

MP_DIR = Path(mp.__file__).resolve().parent
# (tflite, spec, input value range, tolerance on max |diff| relative to the output's max |value|)
CASES = [
    ("modules/face_detection/face_detection_short_range.tflite", FACE_DETECTOR, (-1.0, 1.0)),
    ("modules/face_landmark/face_landmark.tflite", FACE_LANDMARKS, (0.0, 1.0)),
    ("modules/iris_landmark/iris_landmark.tflite", IRIS_LANDMARKS, (0.0, 1.0)),
]
# Both sides compute in float32 from the same float16 weights; only summation order differs.
REL_TOL = 1e-5


def _inputs(size: int) -> list[np.ndarray]:
    """A real face photo, its eye region, a mirrored copy and noise, all resized to the model's input."""
    photo = cv2.cvtColor(cv2.imread(str(shared_path("photos", "neutral.jpeg"))), cv2.COLOR_BGR2RGB)
    h, w = photo.shape[:2]
    eye = photo[int(h * 0.38) : int(h * 0.48), int(w * 0.3) : int(w * 0.5)]
    noise = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    imgs = [photo, eye, photo[:, ::-1]]
    return [cv2.resize(np.ascontiguousarray(i), (size, size), interpolation=cv2.INTER_AREA) for i in imgs] + [noise]


@pytest.mark.parametrize("rel,spec,value_range", CASES, ids=[c[1].file_name for c in CASES])
def test_onnx_matches_tflite(rel, spec, value_range, record_property):
    session, _ = create_session(verified_model_path(spec.file_name), "cpu", threads=1)
    check_session(session, spec)
    size = spec.inputs[0].shape[1]
    # Our outputs are a subset of the TFLite outputs (the iris model drops its eye-contour head): match them by name.
    graph = read_tflite(MP_DIR / rel)
    tflite_names = [graph.tensors[i].name for i in graph.outputs]
    renamed = next(names for r, _, names in conv.MODELS if r == rel)
    picks = [tflite_names.index(next(k for k, v in renamed.items() if v == o.name)) for o in spec.outputs]
    worst = 0.0
    for img in _inputs(size):
        tensor, all_refs = run_tflite(MP_DIR / rel, img, value_range, n_outputs=len(tflite_names))
        ref_outputs = [all_refs[i] for i in picks]
        expected = img.astype(np.float32) * ((value_range[1] - value_range[0]) / 255.0) + value_range[0]
        assert np.abs(tensor - expected).max() < 1e-6, "MediaPipe's input tensor is not the plain scaled image"
        ours = session.run(None, {spec.inputs[0].name: tensor})
        assert len(ours) == len(spec.outputs)
        for o, ref, ospec in zip(ours, ref_outputs, spec.outputs):
            assert o.shape == (1, *ospec.shape[1:])
            diff = float(np.abs(o.ravel() - ref).max())
            scale = float(np.abs(ref).max())
            worst = max(worst, diff / scale)
            print(f"{spec.file_name}:{ospec.name} max|diff| {diff:.3g} (max|value| {scale:.3g})")
            assert diff <= REL_TOL * scale + 1e-5, f"{ospec.name}: max abs diff {diff} vs TFLite"
    record_property("max_rel_diff", worst)


def test_batch_dimension_is_free():
    """Both eyes (or several faces) run in one call and give the same numbers as one at a time."""
    session, _ = create_session(verified_model_path(IRIS_LANDMARKS.file_name), "cpu", threads=1)
    x = np.random.default_rng(1).random((3, 64, 64, 3), dtype=np.float32)
    batched = session.run(None, {"image": x})
    for i in range(3):
        single = session.run(None, {"image": x[i : i + 1]})
        for b, s in zip(batched, single):
            np.testing.assert_allclose(b[i : i + 1], s, atol=1e-4)


@pytest.mark.parametrize("spec", [FACE_DETECTOR, FACE_LANDMARKS, IRIS_LANDMARKS], ids=lambda s: s.file_name)
def test_metadata_manifest_and_notice(spec):
    folder = REPO_ROOT / "exported_models"
    model = onnx.load(str(folder / spec.file_name))
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta == spec.metadata()
    assert model.opset_import[0].version >= 17
    assert all(t.data_type == onnx.TensorProto.FLOAT for t in model.graph.initializer if t.dims and len(t.dims) == 4)
    entry = json.loads((folder / "manifest.json").read_text())["models"][spec.file_name]
    assert entry["sha256"] == sha256_of(folder / spec.file_name)
    assert entry["license"] == "Apache-2.0"
    notice = (folder / "NOTICE").read_text()
    assert "Apache License, Version 2.0" in notice and spec.file_name in notice


def test_conversion_is_reproducible(tmp_path):
    """`make models` rebuilds byte-identical files: the committed models are what the converter writes."""
    conv.main(["--out", str(tmp_path)])
    for spec in (FACE_DETECTOR, FACE_LANDMARKS, IRIS_LANDMARKS):
        assert sha256_of(tmp_path / spec.file_name) == sha256_of(REPO_ROOT / "exported_models" / spec.file_name)
    assert "MediaPipe" in (tmp_path / "NOTICE").read_text()
    # Re-running keeps one MediaPipe section and other engineers' sections.
    with open(tmp_path / "NOTICE", "a", encoding="utf-8") as f:
        f.write("\n== Someone else's model ==\nkept\n")
    conv.write_notice(tmp_path)
    text = (tmp_path / "NOTICE").read_text()
    assert text.count(conv.NOTICE_MARK) == 1 and "Someone else's model" in text


def test_converter_rejects_bad_input(tmp_path):
    bad = tmp_path / "broken.tflite"
    bad.write_bytes(b"this is not a flatbuffer")
    with pytest.raises(ValueError, match="not a TFLite flatbuffer"):
        read_tflite(bad)
    # An op the converter does not know is refused by name, never silently dropped.
    graph = read_tflite(MP_DIR / CASES[0][0])
    graph.operators[5].op = "SOFTMAX"
    with pytest.raises(conv.UnsupportedGraphError, match="SOFTMAX"):
        conv._Builder(graph, {"regressors": "regressors", "classificators": "classificators"}).build(FACE_DETECTOR)
    # Nothing was written next to the committed models.
    assert not (REPO_ROOT / "exported_models" / "broken.onnx").exists()
