"""benchmarks/gpu_check.py: its CPU half runs without a GPU and says so; figures beyond a bound are flagged; a crash fails."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_path

ROOT = Path(__file__).resolve().parent.parent


def _gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _cuda_usable() -> bool:
    from blender_addon.core.models.onnx_session import DeviceUnavailableError, create_session
    from blender_addon.core.models.specs import LBS
    from blender_addon.core.models.store import verified_model_path

    try:
        create_session(verified_model_path(LBS.file_name), "cuda")
        return True
    except DeviceUnavailableError:
        return False


SMALL = ["--poses", "8", "--synthetic", "600,7", "--frames", "3", "--repeats", "1", "--batch", "2"]


def test_cpu_half_runs_and_reports(tmp_path, capsys):
    if _cuda_usable():
        pytest.skip("CUDA works here: the full check is `python benchmarks/gpu_check.py`, not this CPU-half test")
    photo = shared_path("photos", "neutral.jpeg")
    out = tmp_path / "check.json"
    code = _gpu_check().main([*SMALL, "--photos", str(photo), "--json", str(out)])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "NO GPU" in text and "CPU half only" in text
    data = json.loads(out.read_text())
    assert data["cuda"] is False and data["failures"] == []
    models = data["sections"]["models: provider really used, raw CUDA-vs-CPU difference, ms per call"]
    from blender_addon.core.models.specs import SPECS

    assert set(models) == set(SPECS) and "lbs.onnx" in models  # every shipped model, on both devices
    assert all(row["cpu_providers"] == ["CPUExecutionProvider"] for row in models.values())
    lbs = data["sections"]["LBS: numpy kernel (CPU) vs the dense ONNX graph (CPU, CUDA), ms per pose"]
    assert lbs["vertices"] == 600 and lbs["numpy_err"] < 1e-4
    photos = data["sections"]["photos: the whole solve (detector, mesh, iris, generator), ms per photo"]
    assert photos["rows"][0]["faces"] == 1


def test_figures_beyond_bound_are_flagged_and_crashes_fail(monkeypatch, capsys):
    """The timing script flags a figure beyond its bound (the gate is tests/test_gpu_correctness.py) and exits 1 only
    when a section crashes."""
    from blender_addon.core.body import lbs

    real = lbs.skin_lbs

    def off(binding, mats, **kw):
        res = real(binding, mats, **kw)
        res += np.float32(0.01)
        return res

    monkeypatch.setattr(lbs, "skin_lbs", off)
    code = _gpu_check().main([*SMALL, "--skip", "models", "photos", "video"])
    text = capsys.readouterr().out
    assert code == 0 and "BEYOND BOUND" in text and "LBS numpy kernel vs float64 reference" in text

    def broken(binding, mats, **kw):
        raise RuntimeError("kernel exploded")

    monkeypatch.setattr(lbs, "skin_lbs", broken)
    code = _gpu_check().main([*SMALL, "--skip", "models", "photos", "video"])
    text = capsys.readouterr().out
    assert code == 1 and "CRASH" in text and "kernel exploded" in text
