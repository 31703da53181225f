"""The session factory reports the device really used; CUDA asked for and missing is a clear error, not a fallback."""

import numpy as np
import onnxruntime as ort
import pytest
from tiny_onnx import model_bytes

from blender_addon.core.models.onnx_session import DeviceUnavailableError, create_session


def _tiny_model() -> bytes:
    return model_bytes("relu_dynamic")


def _cuda_works() -> bool:
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return False
    s = ort.InferenceSession(_tiny_model(), providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
    return s.get_providers()[0] == "CUDAExecutionProvider"


def test_cpu_session_runs_and_reports_cpu():
    session, info = create_session(_tiny_model(), "cpu")
    out = session.run(None, {"x": np.array([[-1, 0, 2]], dtype=np.float32)})[0]
    assert out.tolist() == [[0, 0, 2]]
    assert info.device == "cpu" and info.note == ""


def test_auto_reports_the_device_it_really_got():
    session, info = create_session(_tiny_model(), "auto")
    assert info.device == ("cuda" if _cuda_works() else "cpu")
    assert info.providers == tuple(session.get_providers())
    if info.device == "cpu":
        assert "CUDA" in info.note  # the fallback is reported, never silent


def test_cuda_requested_but_unusable_is_a_clear_error():
    if _cuda_works():
        pytest.skip("CUDA works on this machine; the error path cannot be reached")
    with pytest.raises(DeviceUnavailableError, match="CUDA was requested but is not usable.*auto' or 'cpu'"):
        create_session(_tiny_model(), "cuda")


def test_unknown_device_and_broken_model():
    with pytest.raises(ValueError, match="device must be one of"):
        create_session(_tiny_model(), "tpu")
    with pytest.raises(Exception, match="(?i)protobuf|invalid|parse"):
        create_session(b"not an onnx model", "cpu")
