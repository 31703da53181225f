"""Where the training pipeline reads and writes: the repository, its caches and runs, and the shared data folder."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = REPO_ROOT / "model_training" / "cache"  # renders and real-face caches (git-ignored)
RUNS_DIR = REPO_ROOT / "model_training" / "runs"  # training runs: logs, metrics.json, arm weights (git-ignored)
ONNX_PATH = REPO_ROOT / "exported_models" / "expression_generator.onnx"
CARD_PATH = REPO_ROOT / "exported_models" / "MODEL_CARD.md"


def shared_data_dir() -> Path:
    """../shared/data next to the checkout, or $FACSIMILE_SHARED/data."""
    root = Path(os.environ.get("FACSIMILE_SHARED", REPO_ROOT.parent / "shared"))
    return root / "data"


def skimage_data_dir() -> Path:
    """scikit-image's bundled sample images (the astronaut portrait `make demo` uses, real-photo backgrounds), found
    without importing skimage (its import is slow)."""
    import importlib.util

    spec = importlib.util.find_spec("skimage")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "data"
        if (path / "astronaut.png").is_file():
            return path
    raise FileNotFoundError("scikit-image's sample images are missing: install requirements-train.txt (make venv)")


def file_sha256(path: Path) -> str:
    """The sha256 of a file's content (cache keys are by content, never by size and mtime)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
