"""The release zip, installed the way Blender does into a fresh venv that holds only bpy (and what bpy itself needs):
Blender 4.5 on Python 3.11 and Blender 5.3 on Python 3.13, from the same default (CPU) linux zip; the -cuda zip
installs on Python 3.13 too (photo only: the same code path).

No onnx, torch, mediapipe, scikit-image, scipy, onnxruntime or OpenCV is installed there, so every module the add-on
uses must come from Blender, the extension or the wheels it bundles (the development venv hid an `import onnx` this
way once). Enable, apply a photo, bake a short video, skin a pose, disable, remove.

    make test-install        # CI runs it after make test (minutes: two bpy installs, a 0.5 GB zip)

The venvs are built with pip from the registry (pins from requirements.txt / requirements-py313.txt) into
build/fresh-venvs/ and reused while their pins are unchanged; the pinned wheels are downloaded once into build/wheels/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from conftest import IN_CI, shared_path  # noqa: E402
from test_packaging import _real_models, install_in_fresh_bpy  # noqa: E402

import build_addon  # noqa: E402

pytestmark = pytest.mark.install

VENVS = REPO / "build" / "fresh-venvs"
# Modules the add-on must never need; none may be importable in the fresh venv.
NOT_IN_BLENDER = ("onnx", "torch", "mediapipe", "skimage", "scipy", "onnxruntime", "cv2")
ENVIRONMENTS = {
    # name: (interpreter env var, interpreter name, pyenv version, requirements file, Blender, Python)
    "blender4.5-py3.11": ("PYTHON311", "python3.11", "3.11", REPO / "requirements.txt", (4, 5), (3, 11)),
    "blender5.3-py3.13": ("PYTHON313", "python3.13", "3.13.0", REPO / "requirements-py313.txt", (5, 3), (3, 13)),
}
VIDEO_FRAMES = 8


def _skip_or_fail(reason: str):
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


def _interpreter(var: str, name: str, pyenv_version: str) -> str:
    found = os.environ.get(var) or ""
    if not found and shutil.which("pyenv"):
        env = dict(os.environ, PYENV_VERSION=pyenv_version)
        proc = subprocess.run(["pyenv", "which", name], capture_output=True, text=True, env=env, check=False)
        found = proc.stdout.strip() if proc.returncode == 0 else ""
    found = found or shutil.which(name) or ""
    if not found:
        _skip_or_fail(f"{name} not found (set {var})")
    return found


def _fresh_venv(name: str, interpreter: str, requirements: Path) -> Path:
    """A venv with bpy and numpy at the pinned versions and nothing else but their own dependencies."""
    pins = build_addon.read_pins(requirements)
    wanted = [f"bpy=={pins['bpy']}", f"numpy=={pins['numpy']}"]
    folder = VENVS / name
    python = folder / "bin" / "python"
    stamp = folder / ".facsimile-pins"
    if not (python.is_file() and stamp.is_file() and stamp.read_text() == " ".join(wanted)):
        shutil.rmtree(folder, ignore_errors=True)
        subprocess.run([interpreter, "-m", "venv", str(folder)], check=True)
        proc = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *wanted],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        stamp.write_text(" ".join(wanted))
    return python


def _env() -> dict[str, str]:
    """The environment without anything that would put the development venv or the repository on sys.path."""
    drop = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "FACSIMILE_MODELS_DIR"}
    return {k: v for k, v in os.environ.items() if k not in drop}


@pytest.fixture(scope="module")
def release_zips(tmp_path_factory) -> dict[str, Path]:
    """The linux zips with their real wheels (cp311 and cp313): the default (CPU) one and the -cuda one, built once."""
    models = _real_models()
    out = tmp_path_factory.mktemp("release")
    try:
        built = build_addon.build(out, platforms=["linux-x64"], models_dir=models)
    except build_addon.BuildError as exc:
        _skip_or_fail(f"cannot build the release zips: {exc}")
    return {b.flavour: b.path for b in built}


@pytest.fixture(scope="module")
def release_zip(release_zips) -> Path:
    return release_zips["cpu"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """A short real-face video (the photo drifting a little each frame), written with the development venv's cv2."""
    import cv2

    img = cv2.imread(str(shared_path("photos", "neutral.jpeg")))
    h, w = img.shape[:2]
    scale = 480 / max(h, w)
    img = cv2.resize(img, (int(w * scale) // 2 * 2, int(h * scale) // 2 * 2))
    h, w = img.shape[:2]
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 24.0, (w, h))
    for i in range(VIDEO_FRAMES):
        writer.write(cv2.warpAffine(img, np.float32([[1, 0, 1.5 * i], [0, 1, 0.8 * i]]), (w, h)))
    writer.release()
    return path


@pytest.mark.parametrize("name", sorted(ENVIRONMENTS))
def test_release_zip_in_fresh_venv(name: str, release_zip: Path, clip: Path, tmp_path: Path) -> None:
    var, exe, pyenv_version, requirements, blender, python_version = ENVIRONMENTS[name]
    python = _fresh_venv(name, _interpreter(var, exe, pyenv_version), requirements)
    probe = "import importlib.util as u, sys; print([m for m in sys.argv[1:] if u.find_spec(m)])"
    present = subprocess.run(
        [str(python), "-c", probe, *NOT_IN_BLENDER], capture_output=True, text=True, env=_env(), cwd=tmp_path
    )
    assert present.stdout.strip() == "[]", f"the fresh venv is not bare: {present.stdout}{present.stderr}"

    photo = shared_path("photos", "surprised.jpeg")
    res = install_in_fresh_bpy(release_zip, tmp_path, photo, python=str(python), video=clip, skin=True, env=_env())
    assert tuple(res["blender"][:2]) == blender and tuple(res["python"][:2]) == python_version

    # Installed and enabled; Blender installed the bundled wheels that fit this Python, and they are what ran.
    assert res["install"] == ["FINISHED"] and res["enabled"]
    assert {"onnxruntime", "cv2"} <= set(res["wheel_site_packages"])
    assert res["runtime_build"]["distribution"] == "onnxruntime" and not res["runtime_build"]["cuda"]
    assert "CPU build" in res["runtime_build"]["line"] and "-cuda zip" in res["runtime_build"]["line"]
    site = Path(res["extensions_root"]) / ".local"
    for module in ("onnxruntime", "cv2"):
        assert Path(res["modules_used"][module]).is_relative_to(site), res["modules_used"]
    assert res["forbidden_loaded"] == []
    assert "error" not in res["bundled_wheels_run"], res["bundled_wheels_run"].get("error")
    shipped = json.loads((build_addon.MODELS_DIR / "manifest.json").read_text(encoding="utf-8"))["models"]
    assert sorted(res["models_loaded"]) == sorted(shipped)

    photo_res = res["photo"]
    assert "error" not in photo_res, photo_res.get("error")
    assert photo_res["result"] == ["FINISHED"] and photo_res["changed"]
    v = photo_res["values"]  # surprised.jpeg has raised brows
    assert max(v["browInnerUp"], v["browOuterUpLeft"], v["browOuterUpRight"]) > max(
        v["browDownLeft"], v["browDownRight"]
    )

    video = res["video"]
    assert "error" not in video, video.get("error")
    assert video["result"] == ["FINISHED"]
    assert len(video["key_frames"]) >= 50 and set(video["key_frames"].values()) == {VIDEO_FRAMES}, video

    skin = res["skin"]
    assert "error" not in skin, skin.get("error")
    assert skin["result"] == ["FINISHED"] and skin["samples"] == 1 and skin["vertices"] == skin["body_vertices"]
    assert skin["max_pose_displacement"] > 1e-2 * skin["bbox_diagonal"]  # the pose really moved the arm
    assert skin["max_diff_vs_blender"] <= 1e-4 * skin["bbox_diagonal"], skin

    # Disabled and removed: nothing registered, nothing left on disk (wheels included), nothing from the repository.
    assert res["types_after_disable"] == [] and res["scene_props_after_disable"] == []
    assert res["uninstall"] == ["FINISHED"] and not res["addon_left"] and res["files_left"] == []
    assert res["repo_checkout_imported"] == []


def test_cuda_zip_in_fresh_venv(release_zips: dict[str, Path], tmp_path: Path) -> None:
    """The -cuda zip (onnxruntime-gpu) installs in Blender 5.3's Python, says it is the CUDA build, applies a photo
    (on the CPU where no GPU is: the device used is reported) and removes cleanly. One Python only: the wheels and
    the code path are the default zip's, which both Pythons test in full above."""
    var, exe, pyenv_version, requirements, _, _ = ENVIRONMENTS["blender5.3-py3.13"]
    python = _fresh_venv("blender5.3-py3.13", _interpreter(var, exe, pyenv_version), requirements)
    photo = shared_path("photos", "surprised.jpeg")
    res = install_in_fresh_bpy(release_zips["cuda"], tmp_path, photo, python=str(python), env=_env())
    assert res["install"] == ["FINISHED"] and res["enabled"]
    assert res["runtime_build"]["distribution"] == "onnxruntime-gpu" and res["runtime_build"]["cuda"]
    assert "CUDA build" in res["runtime_build"]["line"]
    run = res["bundled_wheels_run"]
    assert "error" not in run, run.get("error")
    assert "CUDAExecutionProvider" in run["providers"]
    assert res["photo"]["result"] == ["FINISHED"] and res["photo"]["changed"]
    assert res["uninstall"] == ["FINISHED"] and res["files_left"] == []
