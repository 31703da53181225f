"""build_addon.py: the extension zips it writes, Blender's validator on them, bad input, and a real install in bpy.

The default run builds development zips (--no-wheels: no network) from the real add-on folder; the build mechanics use
a small real ONNX model set made here so they do not depend on the exported models being complete. The install test
ships the real exported_models/ and runs in a fresh bpy process with its own BLENDER_USER_RESOURCES. The full build
with downloaded wheels (hundreds of MB) is @slow.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from conftest import IN_CI, shared_path  # noqa: E402
from tiny_onnx import model_bytes  # noqa: E402

import build_addon  # noqa: E402
from build_addon import BuildError  # noqa: E402

PLATFORMS = ("linux-x64", "windows-x64", "macos-arm64")
INSTALL_CHECK = Path(__file__).with_name("packaging_install_check.py")


# ------------------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def blender_ext():
    return build_addon.load_blender_ext(build_addon.find_blender_ext())


def _make_models(folder: Path) -> Path:
    """A small but real model folder: two ONNX graphs, manifest.json written by the project's record_model."""
    from blender_addon.core.models.store import record_model

    folder.mkdir(parents=True)
    for name in ("relu", "sigmoid"):
        (folder / f"{name}.onnx").write_bytes(model_bytes(name))
        record_model(folder / f"{name}.onnx", license="GPL-3.0-or-later", opset=17)
    (folder / "NOTICE").write_text("Test models made by tests/test_packaging.py\n", encoding="utf-8")
    (folder / "MODEL_CARD.md").write_text("# Test models\n", encoding="utf-8")
    return folder


@pytest.fixture
def models(tmp_path: Path) -> Path:
    return _make_models(tmp_path / "models")


@pytest.fixture
def addon_copy(tmp_path: Path) -> Path:
    """A copy of the add-on folder whose manifest a test may break."""
    dst = tmp_path / "addon"
    shutil.copytree(build_addon.ADDON_DIR, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dst


def _build(out: Path, models: Path, **kw) -> list[build_addon.BuiltZip]:
    kw.setdefault("with_wheels", False)
    return build_addon.build(out, models_dir=models, **kw)


def _listing(folder: Path) -> dict[str, bytes]:
    """Every file in a folder (hidden temp files included), with its bytes."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else {}


def _tiny_wheel(folder: Path, dist: str, version: str, tag: str, meta_tag: str | None = None) -> Path:
    """A real, minimal wheel (WHEEL, METADATA, RECORD and a module) with the given tag."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{dist}-{version}-{tag}.whl"
    info = f"{dist}-{version}.dist-info"
    wheel = f"Wheel-Version: 1.0\nGenerator: test_packaging\nRoot-Is-Purelib: false\nTag: {meta_tag or tag}\n"
    files = {
        "cv2_stub_for_tag_test.py": "VALUE = 1\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n",
        f"{info}/WHEEL": wheel,
    }
    record = "".join(f"{name},,\n" for name in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
        zf.writestr(f"{info}/RECORD", record)
    return path


# ------------------------------------------------------------------------------------------- the development build


def test_dev_build_contents(tmp_path: Path, models: Path, blender_ext) -> None:
    out = tmp_path / "dist"
    built = _build(out, models)
    assert [b.platform for b in built] == list(PLATFORMS)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"facsimile-0.1.0-{p.replace('-', '_')}-nowheels.zip" for p in PLATFORMS
    )
    source_py = {
        p.relative_to(build_addon.ADDON_DIR).as_posix()
        for p in build_addon.ADDON_DIR.rglob("*.py")
        if "__pycache__" not in p.parts
    }
    for b in built:
        with zipfile.ZipFile(b.path) as zf:
            names = zf.namelist()
            assert names == sorted(names)
            assert {n for n in names if n.endswith(".py")} == source_py
            assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or n.startswith(("tests/", "."))]
            assert {n for n in names if n.startswith("models/")} == {
                "models/relu.onnx",
                "models/sigmoid.onnx",
                "models/manifest.json",
                "models/NOTICE",
                "models/MODEL_CARD.md",
            }
            assert not [n for n in names if n.startswith("wheels/")]
            for info in zf.infolist():
                assert info.date_time == (1980, 1, 1, 0, 0, 0)
                assert info.external_attr >> 16 == 0o100644
            manifest = tomllib.loads(zf.read("blender_manifest.toml").decode())
            assert manifest["platforms"] == [b.platform] and manifest["wheels"] == []
            assert manifest["id"] == "facsimile" and manifest["permissions"] == {
                "files": manifest["permissions"]["files"]
            }
            assert zf.read("models/relu.onnx") == (models / "relu.onnx").read_bytes()
        # Blender's own validator, run here independently of the build's own call.
        cmd = [sys.executable, str(build_addon.find_blender_ext()), "validate", str(b.path)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert b.size == b.path.stat().st_size


def test_excluded_paths(tmp_path: Path, models: Path, addon_copy: Path) -> None:
    """Tests, caches, hidden files and a checkout's own models/ or wheels/ never reach the zip."""
    for junk in ("tests/test_x.py", "core/__pycache__/x.cpython-311.pyc", ".ruff_cache/x", "models/stale.onnx",
                 "wheels/x-1.0-py3-none-any.whl", "old.zip", ".hidden.py"):  # fmt: skip
        (addon_copy / junk).parent.mkdir(parents=True, exist_ok=True)
        (addon_copy / junk).write_bytes(b"junk")
    (built,) = _build(tmp_path / "dist", models, addon_dir=addon_copy, platforms=["linux-x64"])
    with zipfile.ZipFile(built.path) as zf:
        names = zf.namelist()
    assert not [n for n in names if n.startswith(("tests/", "wheels/", ".")) or n.endswith((".pyc", ".zip"))]
    assert "models/stale.onnx" not in names and "models/relu.onnx" in names


def test_installed_layout_finds_models_first(tmp_path: Path, models: Path) -> None:
    """Extracted like Blender does, the zip's model_store resolves <addon>/models/ and verifies every checksum."""
    (built,) = _build(tmp_path / "dist", models, platforms=["linux-x64"])
    root = tmp_path / "installed" / "facsimile"
    with zipfile.ZipFile(built.path) as zf:
        zf.extractall(root)
    code = (
        "import sys, importlib; sys.path.insert(0, sys.argv[1]); "
        "s = importlib.import_module('facsimile.core.models.store'); d = s.models_dir(); "
        "print(d); [s.verified_model_path(n) for n in s.read_manifest(d)['models']]"
    )
    env = {k: v for k, v in os.environ.items() if k != "FACSIMILE_MODELS_DIR"}
    proc = subprocess.run(
        [sys.executable, "-c", code, str(root.parent)], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()) == root / "models"


def test_build_is_byte_reproducible(tmp_path: Path, models: Path, addon_copy: Path) -> None:
    first = _build(tmp_path / "a", models, addon_dir=addon_copy)
    # New timestamps and modes on the inputs must not change a byte.
    for path in [*addon_copy.rglob("*"), *models.iterdir()]:
        os.utime(path, (2_000_000_000, 2_000_000_000))
    (addon_copy / "host" / "cli.py").chmod(0o755)
    second = _build(tmp_path / "b", models, addon_dir=addon_copy)
    for a, b in zip(first, second, strict=True):
        assert a.path.read_bytes() == b.path.read_bytes(), a.platform
    # ...while a changed input does.
    with open(addon_copy / "host" / "cli.py", "a", encoding="utf-8") as f:
        f.write("\n# changed\n")
    third = _build(tmp_path / "c", models, addon_dir=addon_copy, platforms=["linux-x64"])
    assert third[0].sha256 != first[0].sha256


def test_manifest_version_matches_pyproject() -> None:
    manifest = tomllib.loads((build_addon.ADDON_DIR / "blender_manifest.toml").read_text(encoding="utf-8"))
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert manifest["version"] == pyproject["project"]["version"]
    # Blender 4.2 LTS to 5.3 (the maximum is exclusive).
    assert manifest["blender_version_min"] == "4.2.0" and manifest["blender_version_max"] == "5.4.0"
    assert manifest["license"] == ["SPDX:GPL-3.0-or-later"]
    assert set(manifest["permissions"]) == {"files"}  # no network permission: nothing is downloaded at run time


# ------------------------------------------------------------------------------------------------------ bad input


def _edit_manifest(addon: Path, old: str, new: str) -> None:
    path = addon / "blender_manifest.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('maintainer = "Facsimile contributors"\n', "", 'missing "maintainer"'),
        ('version = "0.1.0"', 'version = "0.1"', "semantic-version"),
        ('version = "0.1.0"', "version = ", "not valid TOML"),
        ("wheels = []", 'wheels = ["./wheels/x-1.0-py3-none-any.whl"]', "leave `wheels = []` empty"),
        ('platforms = ["linux-x64", ', 'platforms = ["linux-ppc64", ', "linux-ppc64"),
    ],
    ids=["missing-field", "bad-version", "bad-toml", "wheels-filled", "unknown-platform"],
)
def test_bad_manifest(tmp_path: Path, models: Path, addon_copy: Path, old: str, new: str, message: str) -> None:
    out = tmp_path / "dist"
    good = _build(out, models, addon_dir=addon_copy, platforms=["linux-x64"])
    before = _listing(out)
    _edit_manifest(addon_copy, old, new)
    with pytest.raises(BuildError, match="blender_manifest.toml") as err:
        _build(out, models, addon_dir=addon_copy)
    assert message in str(err.value)
    assert _listing(out) == before  # the earlier good zip is intact and nothing half-written sits beside it
    assert good[0].path.is_file()


def _drop_model(models: Path) -> str:
    (models / "sigmoid.onnx").unlink()
    return "sigmoid.onnx is listed in manifest.json but missing"


def _damage_model(models: Path) -> str:
    with open(models / "relu.onnx", "ab") as f:
        f.write(b"\0")
    return "relu.onnx does not match manifest.json"


def _drop_notice(models: Path) -> str:
    (models / "NOTICE").unlink()
    return "NOTICE is missing"


def _break_manifest_json(models: Path) -> str:
    (models / "manifest.json").write_text("{not json", encoding="utf-8")
    return "cannot read"


@pytest.mark.parametrize("breaker", [_drop_model, _damage_model, _drop_notice, _break_manifest_json])
def test_bad_models(tmp_path: Path, models: Path, breaker) -> None:
    out = tmp_path / "dist"
    out.mkdir()
    message = breaker(models)
    with pytest.raises(BuildError) as err:
        _build(out, models)
    assert message in str(err.value)
    assert _listing(out) == {}


@pytest.mark.parametrize(
    ("tag", "meta_tag", "message"),
    [
        ("cp310-cp310-manylinux_2_17_x86_64", None, "built for Python cp310/cp310"),
        ("cp312-cp312-manylinux_2_17_x86_64", None, "built for Python cp312/cp312"),
        ("cp314-abi3-manylinux_2_17_x86_64", None, "built for Python cp314/abi3"),
        ("cp311-cp311-win_amd64", None, "built for platform win_amd64, not linux-x64"),
        ("cp37-abi3-manylinux_2_17_x86_64", "cp310-cp310-manylinux_2_17_x86_64", "do not match its file name"),
    ],
    ids=["python-3.10", "python-3.12", "abi3-from-3.14", "windows-wheel", "renamed-wheel"],
)
def test_bad_wheel_is_rejected(tmp_path: Path, models: Path, tag: str, meta_tag: str | None, message: str) -> None:
    """A cached wheel that would not import in Blender stops the build before any download or zip."""
    pins = build_addon.read_pins(build_addon.REQUIREMENTS)
    version = pins["opencv-python-headless"]
    cache = tmp_path / "wheels"
    _tiny_wheel(cache / "linux-x64", "opencv_python_headless", version, tag, meta_tag)
    out = tmp_path / "dist"
    with pytest.raises(BuildError) as err:
        _build(out, models, platforms=["linux-x64"], with_wheels=True, wheel_cache=cache, allow_download=False)
    assert message in str(err.value)
    assert "delete it from the wheel cache" in str(err.value)
    assert _listing(out) == {}


def test_good_wheel_tags_are_accepted(tmp_path: Path, blender_ext) -> None:
    """The tag rules accept what Blender 4.2-5.0 (Python 3.11) and 5.1-5.3 (Python 3.13) import, and say which."""
    target = build_addon.TARGETS["linux-x64"]
    both = {(3, 11), (3, 13)}
    for tag, pythons in (
        ("cp37-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64", both),
        ("cp312-abi3-manylinux_2_17_x86_64", {(3, 13)}),
        ("cp311-cp311-manylinux_2_28_x86_64", {(3, 11)}),
        ("cp313-cp313-manylinux_2_28_x86_64", {(3, 13)}),
    ):
        wheel = _tiny_wheel(tmp_path / tag, "opencv_python_headless", "4.11.0.86", tag, tag.split(".")[0])
        assert build_addon.check_wheel(wheel, target, "opencv-python-headless", "4.11.0.86", blender_ext) == pythons
    wheel = _tiny_wheel(tmp_path / "any", "opencv_python_headless", "4.11.0.86", "py3-none-any")
    assert build_addon.check_wheel(wheel, target, "opencv-python-headless", "4.11.0.86", blender_ext) == both
    with pytest.raises(BuildError, match=r"is not opencv-python-headless==4\.11\.0\.85"):
        build_addon.check_wheel(wheel, target, "opencv-python-headless", "4.11.0.85", blender_ext)


def _cache_wheels(cache: Path, tags: dict[str, list[str]]) -> None:
    """Tiny real wheels in a linux-x64 wheel cache, at requirements.txt's pinned versions."""
    pins = build_addon.read_pins(build_addon.REQUIREMENTS)
    for dist, dist_tags in tags.items():
        for tag in dist_tags:
            _tiny_wheel(cache / "linux-x64", dist, pins[build_addon.normalize(dist)], tag)


def test_zip_carries_wheels_for_both_pythons(tmp_path: Path, models: Path) -> None:
    """The default linux zip carries the CPU onnxruntime (cp311 and cp313) and one abi3 OpenCV wheel, the -cuda zip
    onnxruntime-gpu instead; Blender's validator (the 4.5 or the 5.3 one, whichever bpy this suite runs on) accepts
    both."""
    cache = tmp_path / "wheels"
    both = ["cp311-cp311-manylinux_2_28_x86_64", "cp313-cp313-manylinux_2_28_x86_64"]
    _cache_wheels(
        cache,
        {"onnxruntime": both, "onnxruntime_gpu": both, "opencv_python_headless": ["cp37-abi3-manylinux_2_17_x86_64"]},
    )
    built = _build(tmp_path / "dist", models, platforms=["linux-x64"], with_wheels=True, wheel_cache=cache,
                   allow_download=False)  # fmt: skip
    by_flavour = {b.flavour: b for b in built}
    assert sorted(by_flavour) == ["cpu", "cuda"]
    assert by_flavour["cpu"].path.name == "facsimile-0.1.0-linux_x64.zip"
    assert by_flavour["cuda"].path.name == "facsimile-0.1.0-linux_x64-cuda.zip"
    for flavour, dist in (("cpu", "onnxruntime"), ("cuda", "onnxruntime_gpu")):
        b = by_flavour[flavour]
        assert [w.split("-")[0] for w in b.wheels] == [dist, dist, "opencv_python_headless"]
        assert [w.split("-")[2] for w in b.wheels] == ["cp311", "cp313", "cp37"]
        with zipfile.ZipFile(b.path) as zf:
            manifest = tomllib.loads(zf.read("blender_manifest.toml").decode())
            assert manifest["wheels"] == [f"./wheels/{w}" for w in b.wheels]
            assert all(f"wheels/{w}" in zf.namelist() for w in b.wheels)
    only_cpu = _build(tmp_path / "cpu", models, platforms=["linux-x64"], with_wheels=True, wheel_cache=cache,
                      allow_download=False, flavours=("cpu",))  # fmt: skip
    assert [b.flavour for b in only_cpu] == ["cpu"]
    with pytest.raises(BuildError, match="unknown build flavour"):
        _build(tmp_path / "x", models, platforms=["linux-x64"], with_wheels=True, wheel_cache=cache,
               allow_download=False, flavours=("rocm",))  # fmt: skip


def test_wheel_missing_for_one_python_is_a_clear_error(tmp_path: Path, models: Path) -> None:
    cache = tmp_path / "wheels"
    _cache_wheels(
        cache,
        {
            "onnxruntime": ["cp311-cp311-manylinux_2_28_x86_64"],
            "opencv_python_headless": ["cp37-abi3-manylinux_2_17_x86_64"],
        },
    )
    out = tmp_path / "dist"
    with pytest.raises(BuildError, match="onnxruntime wheel for linux-x64 and Python 3.13 is not in"):
        _build(out, models, platforms=["linux-x64"], with_wheels=True, wheel_cache=cache, allow_download=False)
    assert _listing(out) == {}


def test_two_wheels_for_one_python_are_refused(tmp_path: Path, models: Path) -> None:
    """Blender would install both; the build asks to keep one."""
    cache = tmp_path / "wheels"
    _cache_wheels(
        cache, {"opencv_python_headless": ["cp37-abi3-manylinux_2_17_x86_64", "cp313-cp313-manylinux_2_28_x86_64"]}
    )
    out = tmp_path / "dist"
    with pytest.raises(BuildError, match=r"several opencv-python-headless==.* wheels for Python 3\.13 .*keep one per"):
        _build(out, models, platforms=["linux-x64"], with_wheels=True, wheel_cache=cache, allow_download=False)
    assert _listing(out) == {}


def test_missing_wheel_offline_is_a_clear_error(tmp_path: Path, models: Path) -> None:
    out = tmp_path / "dist"
    with pytest.raises(BuildError, match="onnxruntime wheel for linux-x64 and Python 3.11 is not in"):
        _build(out, models, platforms=["linux-x64"], with_wheels=True, wheel_cache=tmp_path / "c", allow_download=False)
    assert _listing(out) == {}


def test_cli_reports_errors_and_prints_table(tmp_path: Path, models: Path, capsys) -> None:
    out = tmp_path / "dist"
    assert build_addon.main(["--no-wheels", "--out", str(out), "--models-dir", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("build_addon: error: ") and "manifest.json is missing" in err
    assert _listing(out) == {}
    assert (
        build_addon.main(["--no-wheels", "--out", str(out), "--models-dir", str(models), "--platform", "linux-x64"])
        == 0
    )
    printed = capsys.readouterr().out
    assert "facsimile-0.1.0-linux_x64-nowheels.zip" in printed and "MiB" in printed


def test_bundled_wheels_need_no_undeclared_dependencies(models: Path) -> None:
    """The zips bundle onnxruntime and opencv with --no-deps: both must run a model with only numpy beside them."""
    code = f"""
import importlib.abc, sys
BLOCKED = {{"flatbuffers", "packaging", "google", "sympy", "coloredlogs", "ml_dtypes", "onnx", "torch"}}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError("blocked " + name)
sys.meta_path.insert(0, Block())
import numpy as np, cv2, onnxruntime as ort
s = ort.InferenceSession({str(models / "sigmoid.onnx")!r}, providers=["CPUExecutionProvider"])
y = s.run(None, {{"x": np.zeros((1, 4), np.float32)}})[0]
assert np.allclose(y, 0.5), y
print("ok", ort.__version__, cv2.__version__)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=models)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok ")


# ------------------------------------------------------------------------------------------ install in a fresh bpy


def _real_models() -> Path:
    folder = build_addon.MODELS_DIR
    missing = [n for n in build_addon.MODEL_SIDE_FILES if not (folder / n).is_file()]
    if missing:
        reason = f"exported_models/ is incomplete (missing {', '.join(missing)}); run `make models`"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    return folder


def install_in_fresh_bpy(
    zip_path: Path,
    tmp_path: Path,
    photo: Path | None,
    *,
    python: str = sys.executable,
    video: Path | None = None,
    skin: bool = False,
    env: dict[str, str] | None = None,
) -> dict:
    """Run packaging_install_check.py in a new `python` process (bpy) with its own empty Blender user folder."""
    user = tmp_path / "blender_user"
    user.mkdir()
    env = dict(os.environ if env is None else env)
    env.pop("FACSIMILE_MODELS_DIR", None)
    env["BLENDER_USER_RESOURCES"] = str(user)
    result = tmp_path / "result.json"
    cmd = [python, str(INSTALL_CHECK), str(zip_path), str(result)]
    cmd += (["--photo", str(photo)] if photo else []) + (["--video", str(video)] if video else [])
    cmd += ["--skin"] if skin else []
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    res = json.loads(result.read_text(encoding="utf-8"))
    assert "error" not in res, f"failed at step {res.get('step')}:\n{res['error']}"
    ext_root = Path(res["extensions_root"])
    assert ext_root.is_relative_to(user)  # never the real user's Blender folder
    return res


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """Build the linux dev zip with the real models, install/use/remove it once in a fresh bpy process."""
    models_dir = _real_models()
    photo = shared_path("photos", "surprised.jpeg")
    tmp = tmp_path_factory.mktemp("install")
    (built,) = build_addon.build(tmp / "dist", platforms=["linux-x64"], with_wheels=False, models_dir=models_dir)
    res = install_in_fresh_bpy(built.path, tmp, photo)
    res["zip"] = str(built.path)
    return res


def test_install_enable_and_load_models_from_installed_copy(installed: dict) -> None:
    res = installed
    installed_dir = Path(res["repo_dir"]) / "facsimile"
    assert res["install"] == ["FINISHED"] and res["enabled"]
    assert Path(res["package_file"]) == installed_dir / "__init__.py"
    with zipfile.ZipFile(res["zip"]) as zf:
        assert res["installed_files"] == sorted(zf.namelist())
    assert Path(res["models_dir"]) == installed_dir / "models"
    shipped = json.loads((build_addon.MODELS_DIR / "manifest.json").read_text(encoding="utf-8"))["models"]
    assert sorted(res["models_loaded"]) == sorted(shipped)
    assert res["repo_checkout_imported"] == []  # nothing came from the repository's blender_addon/


def test_install_then_remove_leaves_nothing(installed: dict) -> None:
    res = installed
    assert res["types_after_disable"] == []
    assert res["scene_props_after_disable"] == [] and res["object_props_after_disable"] == []
    assert res["uninstall"] == ["FINISHED"] and not res["addon_left"]
    assert res["files_left"] == []


def test_installed_apply_from_photo_on_demo_character(installed: dict) -> None:
    photo = installed["photo"]
    if "skipped" in photo:
        reason = f"add-on not complete yet: {photo['skipped']}"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    assert "error" not in photo, photo.get("error")
    installed_dir = Path(installed["repo_dir"]) / "facsimile"
    assert photo["result"] == ["FINISHED"]
    assert Path(photo["module_file"]).is_relative_to(installed_dir)
    assert photo["changed"], "Apply from Photo changed no shape key on the demo character"
    v = photo["values"]  # surprised.jpeg has raised brows (shared/data/photos/LICENSES.md)
    raised = max(v.get(n, 0.0) for n in ("browInnerUp", "browOuterUpLeft", "browOuterUpRight"))
    assert raised > max(v.get("browDownLeft", 0.0), v.get("browDownRight", 0.0))


# ---------------------------------------------------------------------------------------- real wheels (network)


@pytest.mark.slow
def test_release_build_with_real_wheels(tmp_path: Path) -> None:
    """Downloads (or reuses from build/wheels/) the pinned wheels; the linux -cuda zip installs them in a fresh bpy
    (the default CPU zip is install-tested by tests/test_fresh_install.py)."""
    models_dir = _real_models()
    built = build_addon.build(tmp_path / "dist", models_dir=models_dir)
    by_platform = {b.platform: b for b in built if b.flavour == "cuda"}
    assert {b.platform for b in built} == set(PLATFORMS) and set(by_platform) == {"linux-x64", "windows-x64"}
    for b in built:
        with zipfile.ZipFile(b.path) as zf:
            manifest = tomllib.loads(zf.read("blender_manifest.toml").decode())
            assert manifest["wheels"] == [f"./wheels/{w}" for w in b.wheels]
            assert all(f"wheels/{w}" in zf.namelist() for w in b.wheels)
        flavour = "onnxruntime_gpu-" if b.flavour == "cuda" else "onnxruntime-"
        blender_ext = build_addon.load_blender_ext(build_addon.find_blender_ext())
        for prefix in (flavour, "opencv_python_headless-"):  # each package imports on both Blender Pythons
            served = [build_addon.wheel_pythons(w, blender_ext) for w in b.wheels if w.startswith(prefix)]
            assert sorted(p for s in served for p in s) == [(3, 11), (3, 13)], (b.platform, prefix, b.wheels)
    res = install_in_fresh_bpy(by_platform["linux-x64"].path, tmp_path, None)
    assert res["enabled"] and res["models_loaded"]
    assert {"onnxruntime", "cv2"} <= set(res["wheel_site_packages"])  # Blender installed the bundled wheels
    run = res["bundled_wheels_run"]  # ...and they run a shipped model with nothing but numpy beside them
    site = Path(res["extensions_root"]) / ".local"
    assert "error" not in run, run.get("error")
    assert Path(run["onnxruntime"]).is_relative_to(site) and Path(run["cv2"]).is_relative_to(site)
    assert "CUDAExecutionProvider" in run["providers"]  # the GPU build (CUDA is used when CUDA 13 + cuDNN 9 load)
    assert res["files_left"] == []  # uninstalling removed the wheels too


def test_validate_only_checks_finished_zips(tmp_path: Path, models: Path, capsys) -> None:
    """`--validate ZIP...` runs this Python's Blender validator on finished zips (make addon: bpy 5.3's on 3.13)."""
    (built,) = _build(tmp_path / "dist", models, platforms=["linux-x64"])
    assert build_addon.main(["--validate", str(built.path)]) == 0
    assert f"valid for Blender {build_addon.find_blender_ext().parents[4].name}" in capsys.readouterr().out
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(built.path) as src, zipfile.ZipFile(broken, "w") as dst:
        for info in src.infolist():
            if info.filename != "blender_manifest.toml":
                dst.writestr(info, src.read(info))
    assert build_addon.main(["--validate", str(broken)]) == 1
    assert "validator rejected broken.zip" in capsys.readouterr().err
    assert build_addon.main(["--validate", str(tmp_path / "missing.zip")]) == 1
