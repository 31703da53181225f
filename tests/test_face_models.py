"""The converted MediaPipe face models: ONNX vs the TFLite originals on identical input tensors, contract, manifest.

The TFLite side runs inside MediaPipe's own graph runtime (model_training/tflite_reference.py); its input tensor is
read back and fed unchanged to onnxruntime, so any difference is the conversion's, not the preprocessing's. The
landmark model is FaceLandmarker's, read from ../shared/data/real_faces/models/face_landmarker.task.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from conftest import REPO_ROOT, shared_path

from blender_addon.core.models.onnx_session import create_session
from blender_addon.core.models.specs import FACE_DETECTOR, FACE_LANDMARKS, check_session
from blender_addon.core.models.store import sha256_of, verified_model_path

mp = pytest.importorskip("mediapipe", reason="mediapipe (requirements-train.txt) runs the TFLite originals")

from model_training.convert import mediapipe_face as conv  # noqa: E402
from model_training.convert.tflite_reader import read_tflite  # noqa: E402
from model_training.convert.tflite_reference import run_tflite  # noqa: E402

MP_DIR = Path(mp.__file__).resolve().parent
# (converter source, spec, input value range)
CASES = [
    ("modules/face_detection/face_detection_short_range.tflite", FACE_DETECTOR, (-1.0, 1.0)),
    (conv.TASK_PREFIX + "face_landmarks_detector.tflite", FACE_LANDMARKS, (0.0, 1.0)),
]
# Both sides compute in float32 from the same float16 weights; only summation order differs.
REL_TOL = 1e-5


def _task() -> Path:
    return shared_path(*conv.TASK_REL.split("/"))


def _tflite_file(source: str, tmp_path: Path) -> Path:
    """A .tflite path MediaPipe's runtime can load: the wheel's file, or the task member written to tmp_path."""
    if not source.startswith(conv.TASK_PREFIX):
        return MP_DIR / source
    _task()  # skip (or fail under CI) with a clear reason when the shared data is missing
    path = tmp_path / source.removeprefix(conv.TASK_PREFIX)
    path.write_bytes(conv.source_bytes(source))
    return path


def _inputs(size: int) -> list[np.ndarray]:
    """A real face photo, its eye region, a mirrored copy and noise, all resized to the model's input."""
    photo = cv2.cvtColor(cv2.imread(str(shared_path("photos", "neutral.jpeg"))), cv2.COLOR_BGR2RGB)
    h, w = photo.shape[:2]
    eye = photo[int(h * 0.38) : int(h * 0.48), int(w * 0.3) : int(w * 0.5)]
    noise = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    imgs = [photo, eye, photo[:, ::-1]]
    return [cv2.resize(np.ascontiguousarray(i), (size, size), interpolation=cv2.INTER_AREA) for i in imgs] + [noise]


@pytest.mark.parametrize("source,spec,value_range", CASES, ids=[c[1].file_name for c in CASES])
def test_onnx_matches_tflite(source, spec, value_range, record_property, tmp_path):
    session, _ = create_session(verified_model_path(spec.file_name), "cpu", threads=1)
    check_session(session, spec)
    size = spec.inputs[0].shape[1]
    tflite = _tflite_file(source, tmp_path)
    # Our outputs are a subset of the TFLite outputs (the landmark model drops its tongue score): match by name.
    graph = read_tflite(tflite)
    tflite_names = [graph.tensors[i].name for i in graph.outputs]
    renamed = next(names for r, _, names in conv.MODELS if r == source)
    picks = [tflite_names.index(next(k for k, v in renamed.items() if v == o.name)) for o in spec.outputs]
    worst = 0.0
    for img in _inputs(size):
        tensor, all_refs = run_tflite(tflite, img, value_range, n_outputs=len(tflite_names))
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
    """Several faces run in one call and give the same numbers as one at a time."""
    session, _ = create_session(verified_model_path(FACE_LANDMARKS.file_name), "cpu", threads=1)
    x = np.random.default_rng(1).random((3, 256, 256, 3), dtype=np.float32)
    batched = session.run(None, {"image": x})
    for i in range(3):
        single = session.run(None, {"image": x[i : i + 1]})
        for b, s in zip(batched, single):
            np.testing.assert_allclose(b[i : i + 1], s, atol=1e-4)


@pytest.mark.parametrize("spec", [FACE_DETECTOR, FACE_LANDMARKS], ids=lambda s: s.file_name)
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


def test_legacy_models_are_gone():
    """One landmark pass replaced the legacy mesh + iris pair: no stale file or manifest entry is shipped."""
    folder = REPO_ROOT / "exported_models"
    assert not (folder / "iris_landmarks.onnx").exists()
    models = json.loads((folder / "manifest.json").read_text())["models"]
    assert "iris_landmarks.onnx" not in models
    assert "face_landmarker.task" in models[FACE_LANDMARKS.file_name]["source"]


def test_task_detector_is_the_converted_one():
    """The task's face_detector.tflite has the wheel's short-range detector's operators and weights (only the
    flatbuffer metadata differs), so converting the wheel's file gives FaceLandmarker's detector."""
    with zipfile.ZipFile(_task()) as z:
        task = read_tflite(z.read("face_detector.tflite"))
    wheel = read_tflite(MP_DIR / CASES[0][0])
    assert [(o.op, o.inputs, o.outputs, o.options) for o in task.operators] == [
        (o.op, o.inputs, o.outputs, o.options) for o in wheel.operators
    ]
    assert len(task.tensors) == len(wheel.tensors)
    for a, b in zip(task.tensors, wheel.tensors):
        assert a.shape == b.shape and (a.data is None) == (b.data is None)
        if a.data is not None:
            assert np.array_equal(a.data, b.data), a.name


def test_conversion_is_reproducible(tmp_path):
    """`make models` rebuilds byte-identical files: the committed models are what the converter writes."""
    _task()
    conv.main(["--out", str(tmp_path)])
    for spec in (FACE_DETECTOR, FACE_LANDMARKS):
        assert sha256_of(tmp_path / spec.file_name) == sha256_of(REPO_ROOT / "exported_models" / spec.file_name)
    assert "MediaPipe" in (tmp_path / "NOTICE").read_text()
    # Re-running keeps one MediaPipe section and other engineers' sections.
    with open(tmp_path / "NOTICE", "a", encoding="utf-8") as f:
        f.write("\n== Someone else's model ==\nkept\n")
    conv.write_notice(tmp_path)
    text = (tmp_path / "NOTICE").read_text()
    assert text.count(conv.NOTICE_MARK) == 1 and "Someone else's model" in text


def test_converter_rejects_bad_input(tmp_path, monkeypatch):
    bad = tmp_path / "broken.tflite"
    bad.write_bytes(b"this is not a flatbuffer")
    with pytest.raises(ValueError, match="not a TFLite flatbuffer"):
        read_tflite(bad)
    with pytest.raises(ValueError, match="not a TFLite flatbuffer"):
        read_tflite(b"PK\x03\x04 a zip, not a model")
    # An op the converter does not know is refused by name, never silently dropped.
    graph = read_tflite(MP_DIR / CASES[0][0])
    graph.operators[5].op = "SOFTMAX"
    with pytest.raises(conv.UnsupportedGraphError, match="SOFTMAX"):
        conv._Builder(graph, {"regressors": "regressors", "classificators": "classificators"}).build(FACE_DETECTOR)
    # A reshape that mixes the batch into other dimensions is refused, not silently converted wrong.
    graph = read_tflite(MP_DIR / CASES[0][0])
    reshape = next(o for o in graph.operators if o.op == "RESHAPE")
    reshape.options["new_shape"] = (-1, 16)
    with pytest.raises(conv.UnsupportedGraphError, match="batch-leading"):
        conv._Builder(graph, {"regressors": "regressors", "classificators": "classificators"}).build(FACE_DETECTOR)
    # A missing .task names the file and the variable to set.
    monkeypatch.setenv("FACSIMILE_SHARED", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="face_landmarker.task.*FACSIMILE_SHARED"):
        conv.source_bytes(CASES[1][0])
    # Nothing was written next to the committed models.
    assert not (REPO_ROOT / "exported_models" / "broken.onnx").exists()
