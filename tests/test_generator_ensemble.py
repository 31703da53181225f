"""The resting-face follow-up of the expression generator: ensemble graph, mixed detector model, overshoot prior."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from blender_addon.core.face.landmark_normalize import FEATURE_SIZE  # noqa: E402
from model_training.export.onnx_export import export_onnx  # noqa: E402
from model_training.fit.detector_model import DetectorModel  # noqa: E402
from model_training.train.dataset import MixedDetector  # noqa: E402
from model_training.train.networks import Ensemble, Generator  # noqa: E402


def _gen(seed: int, mean: np.ndarray, std: np.ndarray) -> Generator:
    torch.manual_seed(seed)
    return Generator(mean, std, (16,))


def test_ensemble_is_the_weighted_average_and_exports_one_graph(tmp_path):
    from blender_addon.core.face.expression_generator import ExpressionGenerator

    rng = np.random.default_rng(0)
    mean = rng.normal(0, 1, FEATURE_SIZE).astype(np.float32)
    std = rng.uniform(0.5, 2, FEATURE_SIZE).astype(np.float32)
    a, b = _gen(1, mean, std), _gen(2, mean, std)
    ens = Ensemble([a, b], [0.7, 0.3]).eval()
    x = torch.from_numpy(mean + rng.normal(0, 1, (5, FEATURE_SIZE)).astype(np.float32) * std)
    with torch.no_grad():
        want = 0.7 * a(x) + 0.3 * b(x)
        got = ens(x)
    assert torch.allclose(got, want, atol=1e-6) and torch.all(got[:, -1] == 0)
    path = tmp_path / "ens.onnx"
    assert export_onnx(ens, path, {"facsimile.ood_threshold": "3.0"}) < 1e-5
    # the runtime finds the standardisation constants for its out-of-distribution score in the exported metadata
    gen = ExpressionGenerator(device="cpu", model_path=path)
    m, inv = gen._mean, gen._inv_std
    assert np.allclose(m, mean) and np.allclose(inv, 1 / std)


def test_ensemble_refuses_members_with_different_standardisation():
    mean = np.zeros(FEATURE_SIZE, np.float32)
    a = _gen(1, mean, np.ones(FEATURE_SIZE, np.float32))
    b = _gen(2, mean + 1, np.ones(FEATURE_SIZE, np.float32))
    with pytest.raises(ValueError, match="standardisation"):
        Ensemble([a, b], [0.5, 0.5])


def test_mixed_detector_touches_only_its_fraction_and_keeps_the_input():
    n, f = 4000, 6
    det = DetectorModel(coef=np.ones((52 + 6, f), np.float32), noise_basis=np.zeros((1, f), np.float32), fit_stats={})
    x = np.zeros((n, f), np.float32)
    before = x.copy()
    out = MixedDetector(det, 0.25).apply(np.random.default_rng(0), x, np.zeros((n, 52)), np.zeros((n, 3)))
    changed = np.abs(out).max(1) > 0
    assert 0.2 < changed.mean() < 0.3
    assert np.array_equal(x, before)  # the caller's batch is not modified


def test_channel_wise_ensemble_takes_the_brows_from_the_second_member(tmp_path):
    from blender_addon.core.arkit import INDEX
    from model_training.train.arms import BROWS, brow_mix
    from model_training.train.networks import load_arm

    rng = np.random.default_rng(0)
    mean = rng.normal(0, 1, FEATURE_SIZE).astype(np.float32)
    std = rng.uniform(0.5, 2, FEATURE_SIZE).astype(np.float32)
    a, b = _gen(1, mean, std), _gen(2, mean, std)
    ens = Ensemble([a, b], brow_mix(1.0)).eval()
    x = torch.from_numpy(mean + rng.normal(0, 1, (5, FEATURE_SIZE)).astype(np.float32) * std)
    with torch.no_grad():
        ya, yb, got = a(x), b(x), ens(x)
    brows = [INDEX[n] for n in BROWS]
    others = [i for i in range(52) if i not in brows]
    assert torch.allclose(got[:, brows], yb[:, brows], atol=1e-6)
    assert torch.allclose(got[:, others], ya[:, others], atol=1e-6)
    torch.save(ens.state_dict(), tmp_path / "arm_e.pt")  # a saved channel-wise ensemble loads back as itself
    with torch.no_grad():
        assert torch.allclose(load_arm(tmp_path / "arm_e.pt", (16,))(x), got, atol=1e-6)
    with pytest.raises(ValueError, match="one non-negative weight"):
        Ensemble([a, b], [0.5])
