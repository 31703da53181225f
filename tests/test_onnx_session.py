"""The session factory: the device really used is reported; "auto" follows the measured policy; CUDA asked for and
missing is a clear error, not a fallback; CUDA runs see fixed batch shapes."""

import contextlib
import io

import numpy as np
import onnxruntime as ort
import pytest
from tiny_onnx import model_bytes

from blender_addon.core.models import onnx_session as osn
from blender_addon.core.models.onnx_session import (
    AUTO_CPU_NOTE,
    DeviceUnavailableError,
    SessionInfo,
    create_session,
    cuda_worth_it,
    describe_stages,
    fixed_batch,
    run_fixed,
)


def _tiny_model() -> bytes:
    return model_bytes("relu_dynamic")


def _cuda_works() -> bool:
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return False
    ort.set_default_logger_severity(4)
    try:
        s = ort.InferenceSession(_tiny_model(), providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
    finally:
        ort.set_default_logger_severity(2)
    return s.get_providers()[0] == "CUDAExecutionProvider"


def test_cpu_session_runs_and_reports_cpu():
    session, info = create_session(_tiny_model(), "cpu")
    out = session.run(None, {"x": np.array([[-1, 0, 2]], dtype=np.float32)})[0]
    assert out.tolist() == [[0, 0, 2]]
    assert info.device == "cpu" and info.note == "" and str(info) == "cpu"


def test_auto_keeps_small_models_on_the_cpu(tmp_path):
    """A model the policy does not list (the per-frame front-end, the generator) runs on the CPU under auto."""
    path = tmp_path / "face_landmarks.onnx"
    path.write_bytes(_tiny_model())
    assert not cuda_worth_it("face_landmarks.onnx", 10_000)
    session, info = create_session(path, "auto", batch=10_000)
    assert info.device == "cpu" and session.get_providers() == ["CPUExecutionProvider"]
    assert info.note in (AUTO_CPU_NOTE, "onnxruntime has no CUDAExecutionProvider in this install")


def test_auto_uses_cuda_only_for_large_work_where_it_works(tmp_path):
    path = tmp_path / "lbs.onnx"
    path.write_bytes(_tiny_model())
    need = osn.AUTO_CUDA_MIN_BATCH["lbs.onnx"]
    _, small = create_session(path, "auto", batch=need - 1)
    assert small.device == "cpu"
    session, big = create_session(path, "auto", batch=need)
    assert big.device == ("cuda" if _cuda_works() else "cpu")
    assert big.providers == tuple(session.get_providers())
    if big.device == "cpu":
        assert "CUDA" in big.note  # the fallback is reported, never silent
    else:
        opts = session.get_provider_options()["CUDAExecutionProvider"]
        assert opts["use_tf32"] == "0" and opts["cudnn_conv_algo_search"] == "HEURISTIC"


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


def test_preload_is_quiet_and_idempotent(monkeypatch):
    monkeypatch.setattr(osn, "_preloaded", False)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        osn.preload_cuda_libraries()
        osn.preload_cuda_libraries()
    assert buf.getvalue() == ""


def test_fixed_batch_sizes():
    assert [fixed_batch(n, (1, 4, 16)) for n in (1, 2, 4, 5, 16, 17)] == [1, 4, 4, 16, 16, 16]
    assert [fixed_batch(n) for n in (1, 3, 4, 9)] == [4, 4, 4, 4]  # one shape per CUDA session by default
    with pytest.raises(ValueError):
        fixed_batch(0)


class _ShapeRecorder:
    """A CPU session that records the batch sizes it was run with."""

    def __init__(self, session):
        self.session, self.batches = session, []

    def run(self, names, feeds):
        self.batches.append(len(next(iter(feeds.values()))))
        return self.session.run(names, feeds)


def test_run_fixed_pads_cuda_batches_to_fixed_shapes():
    session, _ = create_session(_tiny_model(), "cpu")
    rec = _ShapeRecorder(session)
    x = np.random.default_rng(0).normal(size=(23, 3)).astype(np.float32)
    cuda = SessionInfo(device="cuda", providers=("CUDAExecutionProvider",), note="")
    (y,) = run_fixed(rec, cuda, {"x": x}, sizes=(1, 4, 16))
    np.testing.assert_array_equal(y, np.maximum(x, 0))
    assert rec.batches == [16, 16]  # 16 rows, then 7 rows padded to 16: two shapes ever, not one per call
    (y,) = run_fixed(rec, cuda, {"x": x[:3]}, sizes=(1, 4, 16))
    assert y.shape == (3, 3) and rec.batches[-1] == 4
    rec.batches.clear()
    run_fixed(rec, SessionInfo("cpu", ("CPUExecutionProvider",), ""), {"x": x[:3]})
    assert rec.batches == [3]  # the CPU runs the real batch: padding would only cost time there
    with pytest.raises(ValueError, match="same batch"):
        run_fixed(rec, cuda, {"x": x, "z": x[:2]})


def test_describe_stages_names_each_device_and_the_reasons():
    cpu = SessionInfo("cpu", ("CPUExecutionProvider",), AUTO_CPU_NOTE)
    gpu = SessionInfo("cuda", ("CUDAExecutionProvider", "CPUExecutionProvider"), "")
    line = describe_stages({"face": cpu, "generator": cpu, "lbs": gpu})
    assert line == f"face cpu, generator cpu, lbs cuda ({AUTO_CPU_NOTE})"
    assert line.split(" (", 1)[0] == "face cpu, generator cpu, lbs cuda"  # what the panel shows


def test_no_telemetry_files_in_home_or_tmp(tmp_path):
    """Importing the session factory, creating a session and running it writes nothing to a fresh HOME or TMPDIR
    (onnxruntime's import alone writes ~/.cache/Microsoft/DeveloperTools/.onnxruntime/ and $TMPDIR/.ses otherwise)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    code = (
        "import numpy as np\n"
        "from tiny_onnx import model_bytes\n"
        "from blender_addon.core.models.onnx_session import create_session\n"
        "s, info = create_session(model_bytes('relu_dynamic'), 'cpu')\n"
        "name = s.get_inputs()[0].name\n"
        "shape = [d if isinstance(d, int) else 2 for d in s.get_inputs()[0].shape]\n"
        "s.run(None, {name: np.ones(shape, np.float32)})\n"
        "print('ran', info.device)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    env.update(HOME=str(home), TMPDIR=str(tmp), PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), os.getcwd()]))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "ran cpu" in out.stdout
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p not in (home, tmp))
    assert written == [], f"onnxruntime wrote outside the outputs: {written}"
