"""README's layout table is a newcomer's map: one row per folder, each with what it holds, and no row for a folder
that is gone. The folders are the top-level folders and every package of the add-on (blender_addon/ and below);
model_training/'s stages are mapped in model_training/README.md."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def tracked_files() -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the folders to map come from git ls-files")
    return out.splitlines()


def folders(files: list[str]) -> set[str]:
    """Top-level folders (not hidden) and every package folder of the add-on, as 'path/'."""
    found = {f.split("/")[0] + "/" for f in files if "/" in f and not f.startswith(".")}
    found |= {
        f.removesuffix("__init__.py") for f in files if f.startswith("blender_addon/") and f.endswith("__init__.py")
    }
    return found


def layout_rows(readme: str) -> dict[str, str]:
    """folder -> 'what it holds' cell of each row of the '## Layout' table (a row may name several folders)."""
    section = readme.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 2 or set(cells[0]) <= {"-", " "} or cells[0] == "folder":
            continue
        for name in re.findall(r"`([^`]+/)`", cells[0]):
            assert name not in rows, f"README layout table: `{name}` has two rows"
            rows[name] = cells[1]
    return rows


def test_layout_table_maps_every_folder_one_to_one() -> None:
    rows = layout_rows((REPO / "README.md").read_text(encoding="utf-8"))
    expected = folders(tracked_files())
    missing, gone = sorted(expected - set(rows)), sorted(set(rows) - expected)
    assert not missing, f"README.md '## Layout' has no row for: {missing} (add one with a one-line purpose)"
    assert not gone, f"README.md '## Layout' has rows for folders that do not exist: {gone}"
    empty = [name for name, what in rows.items() if len(what) < 10]
    assert not empty, f"README.md '## Layout' rows without a purpose: {empty}"


def test_the_check_finds_a_missing_and_a_stale_row() -> None:
    readme = "# X\n\n## Layout\n\n| folder | what | may import |\n|---|---|---|\n| `a/` | the a things | |\n| `gone/` | old |\n"
    rows = layout_rows(readme)
    assert set(rows) == {"a/", "gone/"}
    expected = folders(["a/x.py", "blender_addon/__init__.py", "blender_addon/ui/__init__.py", ".ci/run"])
    assert expected == {"a/", "blender_addon/", "blender_addon/ui/"}
    assert expected - set(rows) == {"blender_addon/", "blender_addon/ui/"} and set(rows) - expected == {"gone/"}
