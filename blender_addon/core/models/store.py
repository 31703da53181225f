"""Where the ONNX models live and whether they are the files we shipped.

The installed extension carries its models in <addon>/models/; a development checkout uses the repository's
exported_models/. Each file is checked against manifest.json's sha256 before it is loaded, so a truncated download or a
tampered file is a clear error instead of garbage weights.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..errors import FacsimileError

ADDON_ROOT = Path(__file__).resolve().parents[2]  # blender_addon/ (core/models/store.py is two levels down)
MANIFEST_NAME = "manifest.json"


class ModelFileError(FacsimileError, RuntimeError):
    """A model file is missing, unlisted or does not match its recorded checksum."""


def model_dirs() -> list[Path]:
    """Search order: $FACSIMILE_MODELS_DIR, the installed extension's models/, the checkout's exported_models/."""
    dirs = []
    env = os.environ.get("FACSIMILE_MODELS_DIR")
    if env:
        dirs.append(Path(env))
    dirs.append(ADDON_ROOT / "models")
    dirs.append(ADDON_ROOT.parent / "exported_models")
    return dirs


def models_dir() -> Path:
    """The first model folder that has a manifest. A $FACSIMILE_MODELS_DIR without one is an error, never a silent
    fall-back to the bundled models (the user asked for those files)."""
    env = os.environ.get("FACSIMILE_MODELS_DIR")
    if env and not (Path(env) / MANIFEST_NAME).is_file():
        raise ModelFileError(
            f"$FACSIMILE_MODELS_DIR is {env}, which holds no {MANIFEST_NAME}; point it at a model folder "
            "(exported_models/ of a checkout) or unset it to use the bundled models"
        )
    for d in model_dirs():
        if (d / MANIFEST_NAME).is_file():
            return d
    searched = ", ".join(str(d) for d in model_dirs())
    raise ModelFileError(
        f"no Facsimile model folder found (looked for {MANIFEST_NAME} in: {searched}). "
        "Reinstall the extension zip, or in a checkout run `make models`."
    )


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: bad JSON, bad UTF-8, an endless integer
        raise ModelFileError(f"cannot read model manifest {path}: {str(exc)[:200]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
        raise ModelFileError(f"model manifest {path} has no 'models' table")
    return data


def verified_model_path(file_name: str, folder: Path | None = None) -> Path:
    """Path of a shipped model after checking it exists and matches its manifest sha256."""
    folder = folder or models_dir()
    manifest = read_manifest(folder)
    entry = manifest["models"].get(file_name)
    if entry is None:
        raise ModelFileError(f"{file_name} is not listed in {folder / MANIFEST_NAME}; the model set is incomplete")
    path = folder / file_name
    if not path.is_file():
        raise ModelFileError(f"model file {path} is missing; reinstall the extension or run `make models`")
    digest = sha256_of(path)
    if digest != entry.get("sha256"):
        raise ModelFileError(
            f"model file {path} does not match its manifest checksum (sha256 {digest[:12]}..., expected "
            f"{str(entry.get('sha256'))[:12]}...): the file is damaged or was replaced. Reinstall the extension or "
            "re-export the model."
        )
    return path


def record_model(path: Path, **extra: object) -> None:
    """Add or refresh a model's entry (sha256, size, extra fields) in its folder's manifest. Used by exporters."""
    path = Path(path)
    manifest_path = path.parent / MANIFEST_NAME
    data = {"models": {}}
    if manifest_path.is_file():
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
        data.setdefault("models", {})
    entry = dict(data["models"].get(path.name, {}))
    entry.update(extra)
    entry["sha256"] = sha256_of(path)
    entry["bytes"] = path.stat().st_size
    data["models"][path.name] = entry
    data["models"] = dict(sorted(data["models"].items()))
    tmp = manifest_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, manifest_path)
