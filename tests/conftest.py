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


# ---------------------------------------------------------------- ending the test process
# The bpy module (4.5.4) runs Blender's shutdown only when the module object is freed at interpreter finalisation;
# while anything Blender holds keeps it alive, exit() blocks forever in the audio thread's static state
# (blender_addon/host/process_exit.py). The CLI releases what it knows (the driver namespace); after the whole suite some
# other Blender-side reference remains (not found: every quarter of the suite alone exits normally), so the test
# process leaves through os._exit with pytest's own status once everything is reported, and removes Blender's
# session temp folder itself.
_SESSION = {}


def pytest_sessionfinish(session, exitstatus):
    _SESSION["status"] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    import shutil
    import sys

    if "bpy" not in sys.modules or "status" not in _SESSION:
        return
    import bpy

    from blender_addon.host import process_exit

    process_exit.release_blender_references()
    tempdir = bpy.app.tempdir
    sys.stdout.flush()
    sys.stderr.flush()
    if tempdir and os.path.basename(tempdir.rstrip("/\\")).startswith("blender_"):
        shutil.rmtree(tempdir, ignore_errors=True)
    os._exit(_SESSION["status"])
