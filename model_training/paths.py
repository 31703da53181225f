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
