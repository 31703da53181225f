"""Shared test fixtures: where ../shared data lives, and skipping (or, under CI=true, failing) when it is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_ROOT = Path(os.environ.get("FACSIMILE_SHARED", REPO_ROOT.parent / "shared")).resolve()
SHARED_DATA = SHARED_ROOT / "data"
IN_CI = os.environ.get("CI", "").lower() == "true"


def shared_path(*parts: str) -> Path:
    """A path under ../shared/data; skips the test when absent (outside CI) and fails it under CI=true."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        reason = f"shared data missing: {path} (set FACSIMILE_SHARED to the folder holding data/)"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return shared_path()
