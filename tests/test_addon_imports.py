"""The add-on imports only what an installed extension has: Python's standard library, Blender's own modules, numpy,
the wheels the zip bundles, and itself; core/ never imports Blender.

Every import form counts: `import a.b`, `from a import b`, relative imports, imports inside functions, and
`importlib.import_module("a")` / `__import__("a")` with a literal name. The bundled wheels are read from
build_addon.TARGETS (the list the zips are built from), mapped to their import names through the installed packages'
metadata, so this test never restates them.
"""

from __future__ import annotations

import ast
import importlib.metadata
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import build_addon  # noqa: E402

ADDON = REPO / "blender_addon"
PACKAGE = ADDON.name
# Modules that exist only inside Blender (or the bpy wheel), never on PyPI.
BLENDER_MODULES = frozenset(
    {
        "bpy",
        "_bpy",
        "mathutils",
        "bmesh",
        "bpy_extras",
        "gpu",
        "gpu_extras",
        "addon_utils",
        "bl_ui",
        "bl_operators",
        "rna_keymap_ui",
    }
)
BLENDER_PYTHON_EXTRAS = frozenset({"numpy"})  # Blender ships numpy with its Python


@dataclass(frozen=True)
class Import:
    """One imported module: its absolute top-level name (or the package for relative imports) and where."""

    module: str  # absolute dotted name ("numpy.linalg", "blender_addon.core.errors")
    path: Path
    line: int

    @property
    def top(self) -> str:
        return self.module.split(".")[0]

    def __str__(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}: {self.module}"


def _module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str, path: Path, module: str, is_package: bool) -> list[Import]:
    """Every module `source` imports, resolved to absolute names (relative imports against `module`)."""
    tree = ast.parse(source, filename=str(path))
    found: list[Import] = []
    package_parts = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(Import(alias.name, path, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level - 1 >= len(package_parts):
                    raise AssertionError(f"{path}:{node.lineno}: relative import climbs above the package")
                base = package_parts[: len(package_parts) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.append(Import(name, path, node.lineno))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.append(Import(node.args[0].value, path, node.lineno))
    return found


def addon_imports(root: Path = ADDON) -> list[Import]:
    result: list[Import] = []
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        name = _module_name(path, root)
        result.extend(imports_of(path.read_text(encoding="utf-8"), path, name, path.name == "__init__.py"))
    return result


def bundled_import_names() -> dict[str, str]:
    """Top-level import name -> distribution, for every wheel build_addon.py bundles on any platform."""
    bundled = {build_addon.normalize(p) for f in build_addon.FLAVOURS.values() for t in f.values() for p in t.packages}
    names: dict[str, str] = {}
    for top, dists in importlib.metadata.packages_distributions().items():
        for dist in dists:
            if build_addon.normalize(dist) in bundled:
                names[top] = dist
    found = {build_addon.normalize(d) for d in names.values()}
    # onnxruntime and onnxruntime-gpu share one import name; one of them installed is enough to learn it.
    missing = {
        p for p in bundled - found if not (p.startswith("onnxruntime") and any(n == "onnxruntime" for n in names))
    }
    assert not missing, f"bundled packages not installed here, so their import names are unknown: {sorted(missing)}"
    return names


def allowed_top_levels() -> frozenset[str]:
    return frozenset(sys.stdlib_module_names) | BLENDER_MODULES | BLENDER_PYTHON_EXTRAS | set(bundled_import_names())


def violations(imports: list[Import], allowed: frozenset[str], package: str = PACKAGE) -> list[str]:
    core_dir = ADDON / "core"
    bad = []
    for imp in imports:
        if imp.top == package:
            # core/ is the Blender-free layer: it may import only itself from the add-on.
            if imp.path.is_relative_to(core_dir) and not imp.module.startswith(f"{package}.core"):
                bad.append(f"{imp} (core/ imports the Blender side of the add-on)")
            continue
        if imp.top not in allowed:
            bad.append(f"{imp} (not in the standard library, Blender, numpy or the bundled wheels)")
        elif imp.path.is_relative_to(core_dir) and imp.top in BLENDER_MODULES:
            bad.append(f"{imp} (core/ must run without Blender)")
    return bad


# ---------------------------------------------------------------------------------------------------------- the rule


def test_bundled_wheel_names_come_from_the_build() -> None:
    names = bundled_import_names()
    assert {"cv2", "onnxruntime"} <= set(names), names


def test_addon_imports_only_what_the_extension_carries() -> None:
    imports = addon_imports()
    assert len({i.path for i in imports}) >= 40, "the walk found too few modules"
    bad = violations(imports, allowed_top_levels())
    assert not bad, "imports the installed extension cannot satisfy:\n" + "\n".join(bad)


def test_relative_imports_resolve_to_real_modules() -> None:
    """A relative import that names no file would only fail when that line runs inside Blender."""
    for imp in addon_imports():
        if imp.top != PACKAGE:
            continue
        target = ADDON.joinpath(*imp.module.split(".")[1:])
        ok = target.with_suffix(".py").is_file() or (target / "__init__.py").is_file()
        assert ok, f"{imp} names no module of the add-on"


# ------------------------------------------------------------------------------------------- the checker can fail


@pytest.mark.parametrize(
    ("where", "source", "offender"),
    [
        ("core/face/x.py", "def f():\n    import onnx\n", "onnx"),
        ("core/face/x.py", "from onnx import helper\n", "onnx"),
        ("ops.py", "import torch.nn as nn\n", "torch.nn"),
        ("ops.py", "import importlib\nm = importlib.import_module('mediapipe')\n", "mediapipe"),
        ("ops.py", "scipy = __import__('scipy')\n", "scipy"),
        ("ops.py", "class A:\n    def f(self):\n        from skimage import data\n", "skimage"),
        ("core/body/x.py", "import bpy\n", "bpy"),
        ("core/body/x.py", "def f():\n    from mathutils import Matrix\n", "mathutils"),
        ("core/body/x.py", "from ...usecases.photo import apply_photo\n", "blender_addon.usecases.photo"),
    ],
)
def test_checker_flags_forbidden_imports(where: str, source: str, offender: str) -> None:
    path = ADDON / where
    name = _module_name(path, ADDON)
    found = imports_of(source, path, name, is_package=False)
    bad = violations(found, allowed_top_levels())
    assert len(bad) == 1 and f": {offender} (" in bad[0], bad


def test_checker_accepts_allowed_imports() -> None:
    path = ADDON / "core" / "face" / "x.py"
    source = (
        "import os, json\nimport numpy as np\nimport cv2\nimport onnxruntime as ort\n"
        "from ..errors import FacsimileError\nfrom . import one_euro\n"
        "def f():\n    from concurrent.futures import ThreadPoolExecutor\n"
    )
    found = imports_of(source, path, "blender_addon.core.face.x", is_package=False)
    assert {i.module for i in found} >= {"blender_addon.core.errors", "blender_addon.core.face", "cv2"}
    assert violations(found, allowed_top_levels()) == []
    ops = ADDON / "ops.py"
    found = imports_of(
        "import bpy\nfrom mathutils import Matrix\nfrom .core import arkit\n", ops, "blender_addon.ops", False
    )
    assert violations(found, allowed_top_levels()) == []
