"""The committed tiny test graphs (tests/data/tiny_onnx/) are exactly what tests/tiny_onnx.py builds with onnx."""

import numpy as np
import onnxruntime as ort
import pytest
import tiny_onnx


@pytest.mark.parametrize("name", sorted(tiny_onnx.GRAPHS))
def test_tiny_onnx_files_match_their_builder(name: str) -> None:
    pytest.importorskip("onnx", reason="the 3.13 environment has no onnx package; the 3.11 one checks the files")
    committed = (tiny_onnx.FOLDER / f"{name}.onnx").read_bytes()
    assert committed == tiny_onnx.build(name), "regenerate with: .venv/bin/python tests/tiny_onnx.py"


@pytest.mark.parametrize("name", sorted(tiny_onnx.GRAPHS))
def test_tiny_onnx_files_run(name: str) -> None:
    s = ort.InferenceSession((tiny_onnx.FOLDER / f"{name}.onnx").read_bytes(), providers=["CPUExecutionProvider"])
    x = np.array([[-1.0, 0.0, 2.0]] if name == "relu_dynamic" else [[-1.0, 0.0, 2.0, 3.0]], np.float32)
    y = s.run(None, {"x": x})[0]
    want = np.maximum(x, 0) if tiny_onnx.GRAPHS[name][0] == "Relu" else 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(y, want, rtol=1e-6)
