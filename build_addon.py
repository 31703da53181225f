#!/usr/bin/env python3
"""Build Facsimile's Blender extension zips: per platform a default zip (CPU onnxruntime) and, for NVIDIA platforms, a
"-cuda" zip (onnxruntime-gpu), each carrying everything the add-on needs.

Why this exists instead of `blender --command extension build --split-platforms`: the zip must also carry the ONNX
models from exported_models/ (under models/, where core/models/store.py looks first) and the pinned wheels, which are
downloaded per platform here, and the output must be byte-reproducible. Blender's own extension code (bl_pkg's
blender_ext.py, shipped inside the bpy package) is still the judge: it validates the manifest, decides which wheels fit
which platform and Python, and validates every finished zip.

    python build_addon.py                  # linux-x64, windows-x64, macos-arm64 zips + linux/windows -cuda zips
    python build_addon.py --flavour cpu    # only the default (CPU) zips
    python build_addon.py --no-wheels      # development zips without wheels: no network
    python build_addon.py --platform linux-x64 --out dist
    .venv313/bin/python build_addon.py --validate dist/*.zip   # Blender 5.3's validator on the same zips

Wheels are fetched with `pip download --only-binary=:all: --no-deps` into a cache folder (default build/wheels/, never
committed) and reused from there. onnxruntime's declared dependencies (flatbuffers, packaging, protobuf, sympy) are not
needed to run a model and are deliberately not bundled; numpy ships with Blender.

Nothing half-written is ever left in the output folder: every input is checked before the first zip is written, and
each zip is written to a hidden temporary file, validated, then renamed into place.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from blender_addon.core.models.store import sha256_of  # the runtime checks models with this same digest

REPO = Path(__file__).resolve().parent
ADDON_DIR = REPO / "blender_addon"
MODELS_DIR = REPO / "exported_models"
REQUIREMENTS = REPO / "requirements.txt"
DEFAULT_OUT = REPO / "dist"
DEFAULT_WHEEL_CACHE = REPO / "build" / "wheels"

MANIFEST_NAME = "blender_manifest.toml"
MODEL_MANIFEST = "manifest.json"
# Shipped beside the ONNX files: the checksums the runtime verifies, the third-party notices and the model card.
MODEL_SIDE_FILES = (MODEL_MANIFEST, "NOTICE", "MODEL_CARD.md")
ZIP_MODELS_DIR = "models"
ZIP_WHEELS_DIR = "wheels"

# The CPython versions Blender embeds: 3.11 in Blender 4.2 to 5.0, 3.13 in 5.1 to 5.3. Each zip carries, for every
# bundled package, wheels that together import on all of them; Blender installs the one that fits its own Python.
BLENDER_PYTHONS: tuple[tuple[int, int], ...] = ((3, 11), (3, 13))
BLENDER_RANGE = "Blender 4.2-5.3"
# Fixed metadata so the same inputs give the same bytes (1980-01-01 is the earliest date a zip can hold).
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
ZIP_FILE_MODE = 0o100644
ZIP_CREATE_SYSTEM_UNIX = 3


@dataclass(frozen=True)
class Target:
    """A Blender platform and build flavour: which pinned packages it bundles and which pip platform tags may satisfy
    them. flavour "cpu" is the default zip; "cuda" the -cuda zip for NVIDIA GPUs."""

    platform: str
    packages: tuple[str, ...]
    pip_platforms: tuple[str, ...]
    flavour: str = "cpu"


# Blender 4.2-5.3 need glibc 2.28 on Linux, hence manylinux_2_28 and older; pip does not expand manylinux_2_X tags on
# its own. onnxruntime 1.31's only macOS arm64 wheel is tagged macosx_14_0 (pip expands macOS tags downwards).
_LINUX_TAGS = tuple(f"manylinux_2_{minor}_x86_64" for minor in range(28, 16, -1)) + ("manylinux2014_x86_64",)
# The default zips: the CPU onnxruntime (the default device policy keeps the face and the generator on the CPU, and the
# GPU build is ten times the download).
TARGETS: dict[str, Target] = {
    "linux-x64": Target("linux-x64", ("onnxruntime", "opencv-python-headless"), _LINUX_TAGS),
    "windows-x64": Target("windows-x64", ("onnxruntime", "opencv-python-headless"), ("win_amd64",)),
    "macos-arm64": Target("macos-arm64", ("onnxruntime", "opencv-python-headless"), ("macosx_14_0_arm64",)),
}
# The -cuda zips: onnxruntime-gpu (CUDA where it pays: LBS bakes; README "Packaging"). No CUDA on macOS.
CUDA_TARGETS: dict[str, Target] = {
    "linux-x64": Target("linux-x64", ("onnxruntime-gpu", "opencv-python-headless"), _LINUX_TAGS, "cuda"),
    "windows-x64": Target("windows-x64", ("onnxruntime-gpu", "opencv-python-headless"), ("win_amd64",), "cuda"),
}
FLAVOURS: dict[str, dict[str, Target]] = {"cpu": TARGETS, "cuda": CUDA_TARGETS}


class BuildError(Exception):
    """Bad build input; the message says what is wrong and how to fix it."""


@dataclass(frozen=True)
class Entry:
    """One file of the zip: its name inside the archive and where its bytes come from."""

    arcname: str
    source: Path | None = None
    data: bytes | None = None

    def size(self) -> int:
        return len(self.data) if self.data is not None else self.source.stat().st_size


@dataclass(frozen=True)
class BuiltZip:
    platform: str
    path: Path
    wheels: tuple[str, ...]
    size: int
    sha256: str
    flavour: str = "cpu"


# ---------------------------------------------------------------------------------------------------------------------
# Blender's extension code


def find_blender_ext() -> Path:
    """bl_pkg's blender_ext.py inside the installed bpy package (found without importing bpy, which is slow)."""
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        raise BuildError(
            "Blender's extension validator was not found: the bpy package is not installed in this Python. "
            "Run `make venv` (requirements.txt pins bpy) or pass --blender-ext PATH/TO/bl_pkg/cli/blender_ext.py."
        )
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
        if found:
            return found[-1]
    raise BuildError(f"bpy is installed but has no scripts/addons_core/bl_pkg/cli/blender_ext.py under {spec.origin}")


def load_blender_ext(path: Path) -> ModuleType:
    """Import blender_ext.py as a plain module (it needs no Blender, only the standard library)."""
    spec = importlib.util.spec_from_file_location("facsimile_build_blender_ext", path)
    if spec is None or spec.loader is None:
        raise BuildError(f"cannot load Blender's extension module {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def valid_tags_file(blender_ext_path: Path) -> Path | None:
    """The tag list `blender --command extension validate` uses (Blender's extensions platform tags)."""
    path = blender_ext_path.parents[3] / "modules" / "_bpy_internal" / "extensions" / "tags.py"
    return path if path.is_file() else None


def validate_zip(zip_path: Path, blender_ext_path: Path) -> None:
    """Run Blender's own `validate` sub-command on a finished zip; raise BuildError with its messages on failure."""
    cmd = [sys.executable, str(blender_ext_path), "validate", str(zip_path)]
    tags = valid_tags_file(blender_ext_path)
    cmd.append(f"--valid-tags={tags}" if tags else "--valid-tags=")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        detail = (proc.stdout + proc.stderr).strip()
        raise BuildError(f"Blender's extension validator rejected {zip_path.name}: {detail}")


# ---------------------------------------------------------------------------------------------------------------------
# Manifest


def _top_level_line(lines: list[str], key: str) -> int | None:
    """Index of `key = ...` before the first [table] header, or None."""
    pattern = re.compile(rf"^{re.escape(key)}\s*=")
    for i, line in enumerate(lines):
        if line.lstrip().startswith("["):
            return None
        if pattern.match(line):
            return i
    return None


def read_manifest(addon_dir: Path, ext: ModuleType) -> tuple[str, dict]:
    """The source manifest's text and data, after Blender's strict validation and Facsimile's own rules."""
    path = addon_dir / MANIFEST_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BuildError(f"cannot read the extension manifest {path}: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BuildError(f"{path} is not valid TOML: {exc}") from exc
    manifest = ext.pkg_manifest_from_dict_and_validate_all_errros(data, from_repo=False, strict=True)
    if isinstance(manifest, list):
        raise BuildError(f"{path} failed Blender's manifest validation: " + "; ".join(manifest))
    if "build" in data:
        build = ext.PkgManifest_Build.from_dict_all_errors(data["build"], extra_paths=())
        if isinstance(build, list):
            raise BuildError(f"{path} [build] table is invalid: " + "; ".join(build))
        if "generated" in data["build"]:
            raise BuildError(f"{path} must not contain [build.generated]: the build writes platforms and wheels")
    if manifest.type != "add-on":
        raise BuildError(f'{path}: type must be "add-on", found {manifest.type!r}')
    unknown = [p for p in (manifest.platforms or []) if p not in TARGETS]
    if not manifest.platforms or unknown:
        raise BuildError(
            f"{path}: platforms must be a non-empty subset of {sorted(TARGETS)}; unknown: {unknown or 'none listed'}"
        )
    lines = text.splitlines()
    for key in ("platforms", "wheels"):
        i = _top_level_line(lines, key)
        if i is None:
            raise BuildError(
                f"{path} needs a one-line top-level `{key} = [...]` entry (before any [table]); "
                "the build rewrites it in each zip"
            )
        try:
            tomllib.loads(lines[i])
        except tomllib.TOMLDecodeError as exc:
            raise BuildError(f"{path}: keep `{key} = [...]` on one line; the build rewrites that line") from exc
    if data.get("wheels"):
        raise BuildError(f"{path}: leave `wheels = []` empty; the build fills it from requirements.txt's pins")
    return text, data


def manifest_for_zip(text: str, data: dict, platform: str, wheels: list[str], ext: ModuleType) -> bytes:
    """The zip's copy of the manifest: the source text with `platforms` and `wheels` set for this one zip."""
    lines = text.splitlines()
    lines[_top_level_line(lines, "platforms")] = f'platforms = ["{platform}"]'
    if wheels:
        body = "".join(f'\n  "{w}",' for w in wheels)
        lines[_top_level_line(lines, "wheels")] = f"wheels = [{body}\n]"
    out = "\n".join(lines) + "\n"
    parsed = tomllib.loads(out)
    expected = dict(data, platforms=[platform], wheels=list(wheels))
    if parsed != expected:  # the line rewrite must change exactly these two keys
        raise BuildError(f"internal error: rewriting platforms/wheels changed other manifest values for {platform}")
    manifest = ext.pkg_manifest_from_dict_and_validate_all_errros(parsed, from_repo=False, strict=True)
    if isinstance(manifest, list):
        raise BuildError(f"the {platform} manifest failed Blender's validation: " + "; ".join(manifest))
    return out.encode("utf-8")


# ---------------------------------------------------------------------------------------------------------------------
# Add-on files and models


def addon_entries(addon_dir: Path, data: dict, ext: ModuleType) -> list[Entry]:
    """The add-on's files, minus the manifest's [build] paths_exclude_pattern (tests, caches, models/, wheels/)."""
    patterns = data.get("build", {}).get("paths_exclude_pattern") or ["__pycache__/", ".*"]
    matcher = ext.PathPatternMatch(patterns)
    entries = []
    for root, dirs, files in os.walk(addon_dir):
        rel_root = Path(root).relative_to(addon_dir).as_posix()
        prefix = "" if rel_root == "." else rel_root + "/"
        dirs[:] = sorted(d for d in dirs if not matcher.test_path(prefix + d + "/"))
        for name in sorted(files):
            rel = prefix + name
            if rel == MANIFEST_NAME or matcher.test_path(rel):
                continue
            path = Path(root) / name
            if not path.is_file():
                raise BuildError(f"{path} is not a regular file (broken link?); remove it from the add-on folder")
            entries.append(Entry(rel, source=path))
    if not any(e.arcname == "__init__.py" for e in entries):
        raise BuildError(f"{addon_dir} has no __init__.py: not a Python package")
    return entries


def model_entries(models_dir: Path) -> list[Entry]:
    """The ONNX models listed in manifest.json (each checked against its sha256) and their side files."""
    manifest_path = models_dir / MODEL_MANIFEST
    hint = "run `make models` to export them"
    for name in MODEL_SIDE_FILES:
        if not (models_dir / name).is_file():
            raise BuildError(f"{models_dir / name} is missing: the extension must ship it with the models; {hint}")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BuildError(f"cannot read {manifest_path}: {exc}") from exc
    models = manifest.get("models") if isinstance(manifest, dict) else None
    if not isinstance(models, dict) or not models:
        raise BuildError(f"{manifest_path} lists no models (expected a non-empty 'models' table); {hint}")
    entries = []
    for name in sorted(models):
        path = models_dir / name
        if Path(name).name != name:
            raise BuildError(f"{manifest_path}: model name {name!r} must be a plain file name")
        if not path.is_file():
            raise BuildError(f"model file {path} is listed in {MODEL_MANIFEST} but missing; {hint}")
        want = str(models[name].get("sha256", ""))
        got = sha256_of(path)
        if got != want:
            raise BuildError(
                f"model file {path} does not match {MODEL_MANIFEST} (sha256 {got[:12]}..., recorded {want[:12]}...): "
                f"it was changed after export or is damaged; {hint}"
            )
        entries.append(Entry(f"{ZIP_MODELS_DIR}/{name}", source=path))
    unlisted = sorted(p.name for p in models_dir.glob("*.onnx") if p.name not in models)
    if unlisted:
        print(f"warning: not shipping {', '.join(unlisted)}: not listed in {manifest_path}", file=sys.stderr)
    entries.extend(Entry(f"{ZIP_MODELS_DIR}/{name}", source=models_dir / name) for name in MODEL_SIDE_FILES)
    return entries


# ---------------------------------------------------------------------------------------------------------------------
# Wheels


def normalize(name: str) -> str:
    """PEP 503 project name normalisation (`opencv_python_headless` == `opencv-python-headless`)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(requirements: Path) -> dict[str, str]:
    """`name==version` pins of a requirements file (markers ignored: TARGETS picks the packages per platform)."""
    pins: dict[str, str] = {}
    try:
        lines = requirements.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BuildError(f"cannot read {requirements}: {exc}") from exc
    for line in lines:
        line = line.split("#", 1)[0].strip()
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;]+)", line)
        if m:
            pins[normalize(m.group(1))] = m.group(2)
    return pins


def _wheel_tags(filename: str) -> tuple[str, str, str, str, str]:
    """(distribution, version, python tag, abi tag, platform tag) of a wheel file name."""
    parts = filename[: -len(".whl")].split("-")
    if not filename.endswith(".whl") or len(parts) not in (5, 6):
        raise BuildError(f"{filename} is not a wheel file name (name-version[-build]-python-abi-platform.whl)")
    return parts[0], parts[1], parts[-3], parts[-2], parts[-1]


def _dotted(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def _python_ok(python_tag: str, abi_tag: str, python: tuple[int, int]) -> bool:
    """Whether some tag combination of a wheel imports on CPython `python` (the rules pip and Blender apply)."""
    here = f"{python[0]}{python[1]}"
    for py in python_tag.split("."):
        for abi in abi_tag.split("."):
            if py in (f"cp{here}", f"py{here}") and abi in (f"cp{here}", "none"):
                return True
            if py in ("py3", f"py{python[0]}") and abi == "none":
                return True
            m = re.fullmatch(r"cp3(\d+)", py)
            if m and abi == "abi3" and int(m.group(1)) <= python[1]:
                return True
    return False


def wheel_pythons(filename: str, ext: ModuleType) -> set[tuple[int, int]]:
    """Which of BLENDER_PYTHONS a wheel imports on, by its tags and by Blender's own reading of them."""
    _, _, python_tag, abi_tag, _ = _wheel_tags(filename)
    blender_versions = ext.python_versions_from_wheel(filename)
    if not isinstance(blender_versions, set):
        return set()
    stable = "abi3" in abi_tag.split(".")
    fits = set()
    for python in BLENDER_PYTHONS:
        blender_ok = (
            python in blender_versions
            or (3,) in blender_versions
            or (stable and any(len(v) == 2 and v <= python for v in blender_versions))
        )
        if blender_ok and _python_ok(python_tag, abi_tag, python):
            fits.add(python)
    return fits


def check_wheel(path: Path, target: Target, package: str, version: str, ext: ModuleType) -> set[tuple[int, int]]:
    """A wheel must be the pinned release, import on one of Blender's Pythons, fit the platform, and be a real wheel.

    Returns the Blender Pythons it serves."""
    dist, wheel_version, python_tag, abi_tag, platform_tag = _wheel_tags(path.name)
    where = f"{path} (for {target.platform})"
    delete = "delete it from the wheel cache and rerun"
    if normalize(dist) != normalize(package) or wheel_version != version:
        raise BuildError(f"{where} is not {package}=={version} (requirements.txt's pin); {delete}")
    pythons = wheel_pythons(path.name, ext)
    if not pythons:
        raise BuildError(
            f"{where} is built for Python {python_tag}/{abi_tag}, but {BLENDER_RANGE} runs Python "
            f"{' or '.join(_dotted(p) for p in BLENDER_PYTHONS)}; {delete}"
        )
    if not ext.blender_platform_compatible_with_wheel_platform(target.platform, platform_tag):
        raise BuildError(f"{where} is built for platform {platform_tag}, not {target.platform}; {delete}")
    file_tags = {
        f"{py}-{abi}-{plat}"
        for py in python_tag.split(".")
        for abi in abi_tag.split(".")
        for plat in platform_tag.split(".")
    }
    try:
        with zipfile.ZipFile(path) as zf:
            wheel_meta = [n for n in zf.namelist() if re.fullmatch(r"[^/]+\.dist-info/WHEEL", n)]
            if len(wheel_meta) != 1:
                raise BuildError(f"{where} has no single *.dist-info/WHEEL file: not a wheel; {delete}")
            text = zf.read(wheel_meta[0]).decode("utf-8", "replace")
    except (zipfile.BadZipFile, OSError) as exc:
        raise BuildError(f"{where} is not a readable wheel ({exc}): truncated download?; {delete}") from exc
    meta_tags = set(re.findall(r"^Tag:\s*(\S+)\s*$", text, flags=re.MULTILINE))
    if not meta_tags & file_tags:
        raise BuildError(
            f"{where}: its WHEEL metadata tags {sorted(meta_tags)} do not match its file name (renamed file?); {delete}"
        )
    return pythons


def cached_wheels(folder: Path, package: str, version: str) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.glob("*.whl")
        if normalize(p.name.split("-")[0]) == normalize(package) and p.name.split("-")[1:2] == [version]
    )


def download_wheel(target: Target, package: str, version: str, folder: Path, python: tuple[int, int]) -> Path:
    """pip download one pinned wheel for the target platform and one of Blender's Pythons into the cache folder."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".download-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--quiet",
               "--only-binary=:all:", "--no-deps", "--implementation", "cp",
               "--python-version", _dotted(python), "--dest", tmp]  # fmt: skip
        for tag in target.pip_platforms:
            cmd += ["--platform", tag]
        cmd.append(f"{package}=={version}")
        print(f"downloading {package}=={version} for {target.platform}, Python {_dotted(python)} ...", file=sys.stderr,
              flush=True)  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        got = sorted(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or len(got) != 1:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-5:])
            raise BuildError(
                f"pip could not download {package}=={version} for {target.platform} (Python "
                f"{_dotted(python)}, platforms {', '.join(target.pip_platforms)}): {tail}\n"
                "Check the network, or build without wheels: `python build_addon.py --no-wheels`."
            )
        final = folder / got[0].name
        os.replace(got[0], final)
    return final


def _covering(
    wheels: dict[Path, set[tuple[int, int]]], package: str, version: str, folder: Path
) -> set[tuple[int, int]]:
    """The Pythons a package's wheels serve; two wheels serving one Python would both be installed by Blender."""
    served: set[tuple[int, int]] = set()
    for pythons in wheels.values():
        twice = served & pythons
        if twice:
            names = ", ".join(p.name for p in wheels)
            raise BuildError(
                f"{folder} holds several {package}=={version} wheels for Python "
                f"{', '.join(_dotted(p) for p in sorted(twice))} ({names}); keep one per Python"
            )
        served |= pythons
    return served


def wheels_for(target: Target, pins: dict[str, str], cache: Path, ext: ModuleType, allow_download: bool) -> list[Path]:
    """The checked wheels of one platform, covering every Blender Python; cached ones are checked before anything is
    downloaded."""
    folder = cache / target.platform
    found: dict[str, dict[Path, set[tuple[int, int]]]] = {}
    for package in target.packages:
        version = pins.get(normalize(package))
        if version is None:
            raise BuildError(f"requirements.txt has no `{package}==VERSION` pin; the extension bundles that wheel")
        found[package] = {
            path: check_wheel(path, target, package, version, ext) for path in cached_wheels(folder, package, version)
        }
        _covering(found[package], package, version, folder)
    for package in target.packages:
        version = pins[normalize(package)]
        for python in BLENDER_PYTHONS:
            if python in _covering(found[package], package, version, folder):
                continue
            if not allow_download:
                raise BuildError(
                    f"{package} wheel for {target.platform} and Python {_dotted(python)} is not in {folder} and "
                    "downloads are off"
                )
            path = download_wheel(target, package, version, folder, python)
            try:
                pythons = check_wheel(path, target, package, version, ext)
                if python not in pythons:
                    raise BuildError(f"pip downloaded {path.name} for Python {_dotted(python)}, which it does not fit")
            except BuildError:
                path.unlink(missing_ok=True)
                raise
            found[package][path] = pythons
            _covering(found[package], package, version, folder)
    return [path for package in target.packages for path in sorted(found[package])]


# ---------------------------------------------------------------------------------------------------------------------
# Zip writing


def _zip_info(arcname: str, size: int, compress: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(arcname, date_time=ZIP_DATE_TIME)
    info.external_attr = ZIP_FILE_MODE << 16
    info.create_system = ZIP_CREATE_SYSTEM_UNIX
    info.compress_type = compress
    info.file_size = size
    return info


def write_zip(entries: list[Entry], out_path: Path, blender_ext_path: Path) -> None:
    """Write a reproducible zip (sorted names, fixed dates and modes) to a hidden temp file, validate, then rename."""
    names = [e.arcname for e in entries]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise BuildError(f"two files would share these names in the zip: {', '.join(dupes)}")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=out_path.parent, prefix=f".{out_path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with zipfile.ZipFile(tmp, "w") as zf:
            for entry in sorted(entries, key=lambda e: e.arcname):
                if entry.data is not None:
                    info = _zip_info(entry.arcname, len(entry.data), zipfile.ZIP_DEFLATED)
                    zf.writestr(info, entry.data, compresslevel=9)
                elif entry.arcname.endswith(".whl"):  # already compressed: store, as Blender's own build does
                    info = _zip_info(entry.arcname, entry.size(), zipfile.ZIP_STORED)
                    with open(entry.source, "rb") as src, zf.open(info, "w") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                else:
                    data = entry.source.read_bytes()
                    zf.writestr(_zip_info(entry.arcname, len(data), zipfile.ZIP_DEFLATED), data, compresslevel=9)
        validate_zip(tmp, blender_ext_path)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)


def zip_name(manifest: dict, platform: str, with_wheels: bool = True, flavour: str = "cpu") -> str:
    """Blender's `--split-platforms` naming, <id>-<version>-<platform with underscores>.zip, and -cuda for the CUDA
    flavour; development zips end in -nowheels so one is never mistaken for a release (it runs only where onnxruntime
    and cv2 are already importable)."""
    suffix = ("" if flavour == "cpu" else f"-{flavour}") if with_wheels else "-nowheels"
    return f"{manifest['id']}-{manifest['version']}-{platform.replace('-', '_')}{suffix}.zip"


def build(
    out_dir: Path,
    platforms: list[str] | None = None,
    with_wheels: bool = True,
    addon_dir: Path | None = None,
    models_dir: Path | None = None,
    requirements: Path | None = None,
    wheel_cache: Path | None = None,
    blender_ext_path: Path | None = None,
    allow_download: bool = True,
    flavours: tuple[str, ...] = ("cpu", "cuda"),
) -> list[BuiltZip]:
    """Check every input, then write one validated zip per platform and flavour into out_dir (the -cuda flavour only
    where CUDA_TARGETS has the platform; development builds without wheels have one flavour). Raises BuildError on
    bad input. Folders left as None are the repository's: blender_addon/, exported_models/, requirements.txt,
    build/wheels/.
    """
    addon_dir = addon_dir or ADDON_DIR
    models_dir = models_dir or MODELS_DIR
    requirements = requirements or REQUIREMENTS
    wheel_cache = wheel_cache or DEFAULT_WHEEL_CACHE
    blender_ext_path = blender_ext_path or find_blender_ext()
    ext = load_blender_ext(blender_ext_path)
    text, manifest = read_manifest(addon_dir, ext)
    platforms = platforms or list(manifest["platforms"])
    missing = [p for p in platforms if p not in manifest["platforms"]]
    if missing:
        raise BuildError(f"platform(s) {', '.join(missing)} not in the manifest's platforms {manifest['platforms']}")
    common = addon_entries(addon_dir, manifest, ext) + model_entries(models_dir)
    pins = read_pins(requirements) if with_wheels else {}

    unknown = [f for f in flavours if f not in FLAVOURS]
    if unknown or not flavours:
        raise BuildError(f"unknown build flavour(s) {unknown or 'none given'}; choose from {', '.join(FLAVOURS)}")
    if not with_wheels:
        flavours = ("cpu",)  # no wheels, nothing differs between flavours

    # Everything is checked (and downloaded) before the first zip is written.
    plan: list[tuple[Target, list[Path]]] = []
    for platform in platforms:
        for flavour in flavours:
            target = FLAVOURS[flavour].get(platform)
            if target is None:
                continue
            wheels = wheels_for(target, pins, wheel_cache, ext, allow_download) if with_wheels else []
            plan.append((target, wheels))

    built = []
    for target, wheels in plan:
        platform = target.platform
        rel_wheels = [f"./{ZIP_WHEELS_DIR}/{w.name}" for w in wheels]
        entries = [Entry(MANIFEST_NAME, data=manifest_for_zip(text, manifest, platform, rel_wheels, ext))]
        entries += common + [Entry(f"{ZIP_WHEELS_DIR}/{w.name}", source=w) for w in wheels]
        out_path = out_dir / zip_name(manifest, platform, with_wheels, target.flavour)
        write_zip(entries, out_path, blender_ext_path)
        built.append(
            BuiltZip(
                platform,
                out_path,
                tuple(w.name for w in wheels),
                out_path.stat().st_size,
                sha256_of(out_path),
                target.flavour,
            )
        )
    return built


def format_table(built: list[BuiltZip]) -> str:
    rows = [("platform", "zip", "wheels", "size", "sha256")]
    for b in built:
        rows.append((b.platform, b.path.name, str(len(b.wheels)), f"{b.size / 2**20:.1f} MiB", b.sha256[:16]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i != 3 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def validate_only(zips: list[Path], blender_ext_path: Path | None) -> int:
    """Check finished zips with the validator of the bpy this Python has (a second Blender version's rules)."""
    try:
        ext_path = blender_ext_path or find_blender_ext()
        for path in zips:
            if not path.is_file():
                raise BuildError(f"{path} does not exist")
            validate_zip(path, ext_path)
            print(f"valid for Blender {ext_path.parents[4].name}: {path.name}")
    except BuildError as exc:
        print(f"build_addon: error: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build Facsimile's Blender extension zips (one per platform).")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: dist/)")
    parser.add_argument(
        "--platform", action="append", choices=sorted(TARGETS), help="build only this platform (repeatable)"
    )
    parser.add_argument("--no-wheels", action="store_true", help="development build without wheels (no network)")
    parser.add_argument(
        "--flavour",
        action="append",
        choices=sorted(FLAVOURS),
        help="cpu (the default zips) or cuda (the -cuda zips); repeatable, default both",
    )
    parser.add_argument("--wheel-cache", type=Path, default=DEFAULT_WHEEL_CACHE, help="default: build/wheels/")
    parser.add_argument("--offline", action="store_true", help="use only wheels already in the cache")
    parser.add_argument("--addon-dir", type=Path, default=ADDON_DIR, help=argparse.SUPPRESS)
    parser.add_argument("--models-dir", type=Path, default=MODELS_DIR, help="default: exported_models/")
    parser.add_argument("--requirements", type=Path, default=REQUIREMENTS, help=argparse.SUPPRESS)
    parser.add_argument("--blender-ext", type=Path, default=None, help="path to bl_pkg/cli/blender_ext.py")
    parser.add_argument(
        "--validate",
        type=Path,
        nargs="+",
        metavar="ZIP",
        help="only run Blender's validator (from this Python's bpy) on finished zips, e.g. with bpy 5.3 on 3.13",
    )
    args = parser.parse_args(argv)
    if args.validate:
        return validate_only(args.validate, args.blender_ext)
    try:
        built = build(
            args.out,
            platforms=args.platform,
            with_wheels=not args.no_wheels,
            addon_dir=args.addon_dir,
            models_dir=args.models_dir,
            requirements=args.requirements,
            wheel_cache=args.wheel_cache,
            blender_ext_path=args.blender_ext,
            allow_download=not args.offline,
            flavours=tuple(args.flavour or FLAVOURS),
        )
    except BuildError as exc:
        print(f"build_addon: error: {exc}", file=sys.stderr)
        return 1
    print(format_table(built))
    if args.no_wheels:
        print("(development build: no wheels; onnxruntime and opencv must already be importable in Blender's Python)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
