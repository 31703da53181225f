"""The converted MediaPipe pose models: ONNX vs the TFLite originals on identical input tensors, contract, manifest.

As tests/test_face_models.py: the TFLite side runs inside MediaPipe's own graph runtime (tflite_reference.run_tflite),
whose input tensor is read back and fed unchanged to onnxruntime, so a difference is the conversion's alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import REPO_ROOT, shared_path

from blender_addon.core.models.onnx_session import create_session
from blender_addon.core.models.specs import POSE_DETECTOR, POSE_LANDMARKS, check_session
from blender_addon.core.models.store import sha256_of, verified_model_path

onnx = pytest.importorskip("onnx", reason="the onnx package (requirements-train.txt) reads the converted graphs")
mp = pytest.importorskip("mediapipe", reason="mediapipe (requirements-train.txt) runs the TFLite originals")

from model_training.convert import mediapipe_face as face_conv  # noqa: E402
from model_training.convert import mediapipe_pose as conv  # noqa: E402
from model_training.convert.tflite_reader import read_tflite  # noqa: E402
from model_training.convert.tflite_reference import run_tflite  # noqa: E402

MP_DIR = Path(mp.__file__).resolve().parent
CASES = conv.MODELS
# Float32 on both sides from the same weights; summation order differs (measured worst: 2.3e-6 of max |value|).
REL_TOL = 1e-5


def _inputs(size: int) -> list[np.ndarray]:
    """A real photo, a mirrored copy, a crop and noise, resized to the model's input."""
    photo = cv2.cvtColor(cv2.imread(str(shared_path("photos", "lisa2.jpg"))), cv2.COLOR_BGR2RGB)
    h = photo.shape[0]
    noise = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    imgs = [photo, photo[:, ::-1], photo[h // 3 :]]
    return [cv2.resize(np.ascontiguousarray(i), (size, size), interpolation=cv2.INTER_AREA) for i in imgs] + [noise]


@pytest.mark.parametrize("source,spec,names,value_range", CASES, ids=[c[1].file_name for c in CASES])
def test_onnx_matches_tflite(source, spec, names, value_range, record_property):
    session, _ = create_session(verified_model_path(spec.file_name), "cpu", threads=1)
    check_session(session, spec)
    size = spec.inputs[0].shape[1]
    tflite = MP_DIR / source
    graph = read_tflite(tflite)
    tflite_names = [graph.tensors[i].name for i in graph.outputs]
    picks = [tflite_names.index(next(k for k, v in names.items() if v == o.name)) for o in spec.outputs]
    worst = 0.0
    for img in _inputs(size):
        tensor, all_refs = run_tflite(tflite, img, value_range, n_outputs=len(tflite_names))
        expected = img.astype(np.float32) * ((value_range[1] - value_range[0]) / 255.0) + value_range[0]
        assert np.abs(tensor - expected).max() < 1e-6, "MediaPipe's input tensor is not the plain scaled image"
        ours = session.run(None, {spec.inputs[0].name: tensor})
        for o, ref, ospec in zip(ours, [all_refs[i] for i in picks], spec.outputs):
            assert o.shape == (1, *ospec.shape[1:])
            diff = float(np.abs(o.ravel() - ref).max())
            scale = float(np.abs(ref).max())
            worst = max(worst, diff / scale)
            print(f"{spec.file_name}:{ospec.name} max|diff| {diff:.3g} (max|value| {scale:.3g})")
            assert diff <= REL_TOL * scale + 1e-5, f"{ospec.name}: max abs diff {diff} vs TFLite"
    record_property("max_rel_diff", worst)


def test_sparse_weights_are_densified():
    """The detector stores its 1x1 convolution weights sparse (CSR in the last dimension): the reader's dense
    weights have the declared shape and hold every stored value (none lost, none duplicated)."""
    graph = read_tflite(MP_DIR / CASES[0][0])
    densify = [o for o in graph.operators if o.op == "DENSIFY"]
    assert len(densify) > 10
    for o in densify:
        t = graph.tensors[o.inputs[0]]
        assert t.data is not None and t.data.shape == t.shape
        assert np.count_nonzero(t.data) > 0


@pytest.mark.parametrize("spec", [POSE_DETECTOR, POSE_LANDMARKS], ids=lambda s: s.file_name)
def test_metadata_manifest_and_notice(spec):
    folder = REPO_ROOT / "exported_models"
    model = onnx.load(str(folder / spec.file_name))
    assert {p.key: p.value for p in model.metadata_props} == spec.metadata()
    assert model.opset_import[0].version >= 17
    entry = json.loads((folder / "manifest.json").read_text())["models"][spec.file_name]
    assert entry["sha256"] == sha256_of(folder / spec.file_name)
    assert entry["license"] == "Apache-2.0"
    notice = (folder / "NOTICE").read_text()
    assert "Apache License, Version 2.0" in notice and spec.file_name in notice
    # the landmark model's unused heads are not in the graph
    assert [o.name for o in model.graph.output] == [o.name for o in spec.outputs]


def test_conversion_is_reproducible_and_keeps_the_face_models(tmp_path):
    """`make models` rebuilds byte-identical pose files, and the face converter still writes its own."""
    conv.main(["--out", str(tmp_path)])
    for spec in (POSE_DETECTOR, POSE_LANDMARKS):
        assert sha256_of(tmp_path / spec.file_name) == sha256_of(REPO_ROOT / "exported_models" / spec.file_name)
    notice = (tmp_path / "NOTICE").read_text()
    assert notice.count(conv.NOTICE_MARK) == 1
    with open(tmp_path / "NOTICE", "a", encoding="utf-8") as f:
        f.write("\n== Someone else's model ==\nkept\n")
    conv.write_notice(tmp_path)
    text = (tmp_path / "NOTICE").read_text()
    assert text.count(conv.NOTICE_MARK) == 1 and "Someone else's model" in text
    # the face detector (same builder) converts as before
    face = face_conv.convert(MP_DIR / face_conv.MODELS[0][0], *face_conv.MODELS[0][1:])
    committed = onnx.load(str(REPO_ROOT / "exported_models" / "face_detector.onnx"))
    assert face.SerializeToString() == committed.SerializeToString()


def test_converter_rejects_bad_input(tmp_path):
    bad = tmp_path / "broken.tflite"
    bad.write_bytes(b"not a flatbuffer at all")
    with pytest.raises(ValueError, match="not a TFLite flatbuffer"):
        read_tflite(bad)
    graph = read_tflite(MP_DIR / CASES[1][0])
    graph.operators[3].op = "builtin:999"
    with pytest.raises(face_conv.UnsupportedGraphError, match="builtin:999"):
        conv._PoseBuilder(graph, CASES[1][2]).build(POSE_LANDMARKS)
    # an output the graph does not have is named
    graph = read_tflite(MP_DIR / CASES[1][0])
    with pytest.raises(face_conv.UnsupportedGraphError, match="no output"):
        conv._PoseBuilder(graph, {"Identity_9": "landmarks"}).build(POSE_LANDMARKS)
    assert not list(tmp_path.glob("*.onnx"))
