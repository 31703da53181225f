"""CUDA against the CPU, as tests (the correctness half of what benchmarks/gpu_check.py used to gate with exit 1).

Bounds fixed before any GPU run (issue 11; TF32 off): the 52 weights within 5e-3, LBS vertices within 1e-4 of the
mesh diagonal of the float64 reference, outputs into page-locked memory identical to those into ordinary memory.
The CUDA tests skip with the reason when CUDA cannot run here (no GPU, or the CPU onnxruntime build); the CPU paths
of the same code (the pinned-memory fallback, the LBS runner writing into its own buffers) always run.
benchmarks/gpu_check.py keeps the timings and prints each CUDA figure beside the CPU one.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_path

from blender_addon.core.body import lbs
from blender_addon.core.body.pinned_host import PinnedHost, empty_pinned
from blender_addon.core.models.onnx_session import DeviceUnavailableError, create_session
from blender_addon.core.models.specs import LBS
from blender_addon.core.models.store import verified_model_path

WEIGHTS_BOUND = 5e-3
LBS_BOUND = 1e-4


def _cuda_reason() -> str:
    try:
        create_session(verified_model_path(LBS.file_name), "cuda")
        return ""
    except DeviceUnavailableError as exc:
        return str(exc)


_WHY = _cuda_reason()
needs_cuda = pytest.mark.skipif(bool(_WHY), reason=f"CUDA not usable here: {_WHY[:160]}")


def _rig(v: int = 3000, b: int = 12, seed: int = 0):
    rng = np.random.default_rng(seed)
    rest = rng.uniform(-1, 1, size=(v, 3)).astype(np.float32)
    k = 3
    bones = rng.integers(0, b, size=v * k)
    weights = rng.uniform(0.1, 1.0, size=v * k).astype(np.float32)
    binding = lbs.bind(rest, np.arange(v + 1) * k, bones, weights, b)
    mats = np.tile(np.eye(4), (20, b, 1, 1))
    mats[..., :3, 3] = rng.normal(scale=0.1, size=(20, b, 3))
    mats[..., :3, :3] += rng.normal(scale=0.05, size=(20, b, 3, 3))
    return binding, mats


def test_pinned_memory_falls_back_to_ordinary_arrays_without_cuda():
    arr, pinned = empty_pinned((4, 5, 3))
    assert arr.shape == (4, 5, 3) and arr.dtype == np.float32 and arr.flags.c_contiguous and arr.flags.writeable
    assert pinned == (PinnedHost.load() is not None and not _WHY)
    arr[:] = 1.0  # writable either way
    assert float(arr.sum()) == 60.0


def test_lbs_runner_output_buffer_is_reusable_on_the_cpu():
    binding, mats = _rig()
    runner = lbs.OnnxLBS(binding, device="cpu")
    out = runner.empty_output(len(mats))
    assert out.shape == (len(mats), binding.num_vertices, 3) and not runner.last_output_pinned
    ref = lbs.skin_lbs_reference(binding, mats)
    for _ in range(2):  # reused: every element written each time
        out[:] = np.nan
        runner(mats, out=out)
        np.testing.assert_allclose(out, ref, atol=2e-5)


@needs_cuda
def test_lbs_cuda_into_pinned_memory_matches_reference_and_pageable():
    binding, mats = _rig(v=20000, b=30)
    gpu = lbs.OnnxLBS(binding, device="cuda")
    assert gpu.info.device == "cuda"
    diag = float(np.linalg.norm(binding.rest.max(0) - binding.rest.min(0)))
    ref = lbs.skin_lbs_reference(binding, mats)
    pageable = gpu(mats)
    pinned = gpu.empty_output(len(mats))
    assert gpu.last_output_pinned, "the CUDA runtime did not grant page-locked memory"
    pinned[:] = np.nan
    gpu(mats, out=pinned)
    assert float(np.abs(pageable - ref).max()) / diag <= LBS_BOUND
    np.testing.assert_array_equal(pinned, pageable)


@needs_cuda
def test_every_model_agrees_on_cuda_and_cpu():
    from blender_addon.core.models.specs import SPECS

    rng = np.random.default_rng(0)
    for name, spec in SPECS.items():
        if name == LBS.file_name:
            continue  # real work above
        feeds = {}
        for t in spec.inputs:
            shape = [4 if isinstance(d, str) else d for d in t.shape]
            feeds[t.name] = rng.uniform(0.0, 1.0, size=shape).astype(np.float32)
        cpu, _ = create_session(verified_model_path(name), "cpu")
        gpu, info = create_session(verified_model_path(name), "cuda")
        assert info.device == "cuda"
        for a, b in zip(gpu.run(None, feeds), cpu.run(None, feeds)):
            scale = max(1.0, float(np.abs(b).max()))
            assert float(np.abs(a - b).max()) / scale <= WEIGHTS_BOUND, name


@needs_cuda
def test_photo_and_video_weights_agree_on_cuda_and_cpu():
    from blender_addon.core.face.pipeline import FaceSolver
    from blender_addon.core.formats.image_io import load_image

    img = load_image(shared_path("photos", "neutral.jpeg"))
    cpu, gpu = FaceSolver(device="cpu"), FaceSolver(device="cuda")
    a, b = cpu.solve_image(img), gpu.solve_image(img)
    assert len(a) == len(b) >= 1
    assert float(np.abs(a[0].weights - b[0].weights).max()) <= WEIGHTS_BOUND
    frames = [img] * 5
    wa = np.stack([f.weights for f in cpu.solve_video(frames)])
    wb = np.stack([f.weights for f in gpu.solve_video(frames)])
    assert float(np.abs(wa - wb).max()) <= WEIGHTS_BOUND
