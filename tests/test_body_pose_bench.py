"""A small version of benchmarks/bench_body_pose.py: one character, two CMU walk frames rendered with bpy, solved by
our ONNX body pipeline and by MediaPipe, limb bone directions compared with the posed armature."""

from __future__ import annotations

import sys

import pytest
from conftest import REPO_ROOT, shared_path

pytest.importorskip("bpy", reason="bpy renders the character")
pytest.importorskip("mediapipe", reason="mediapipe (requirements-train.txt) runs the original pipeline")
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

import bench_body_pose as bench  # noqa: E402


def test_small_body_benchmark(tmp_path):
    shared_path("mocap", "models", bench.CHARACTERS["male"])
    shared_path("mocap", "bvh", "cmu_subject02_walk.bvh")
    rest, samples = bench.render_samples("male", ("cmu_subject02_walk.bvh",), 2, (480, 360), tmp_path)
    assert len(samples) == 2 and all(s.image.shape == (360, 480, 3) for s in samples)
    report = bench.evaluate(rest, samples, "cpu")
    ours, ref = report["ours"], report["mediapipe"]
    assert ours["images_without_pose"] == 0 and ref["images_without_pose"] == 0
    # our port matches the original pipeline (world landmarks within a centimetre, limb errors within a degree) ...
    assert report["world_landmark_parity_max_m"]["worst"] < 0.01
    assert abs(ours["limb_error_deg_mean"] - ref["limb_error_deg_mean"]) < 1.0
    # ... the solve puts the character's limbs along the landmark segments (adds nothing measurable) ...
    assert abs(ours["solve_adds_deg"]) < 0.5
    # ... and the limbs point the right way (a left/right or front/back mix-up measures 60+ degrees)
    assert ours["limb_error_deg_mean"] < 30.0
