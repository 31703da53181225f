"""No dead functions in the add-on: every public function and method of blender_addon/ is called from the product
(the add-on, model_training/, benchmarks/, build_addon.py), or is an entry point that Blender or Python calls by name.

A function only the tests call is dead weight the next engineer has to read and keep working: remove it (a test that
needs the helper keeps its own copy), or give it the caller the product lacks. The check is by name, read with ast:
a definition counts as used when its name is referenced (called, passed, imported, or named in a string) anywhere
in the product outside its own body. So it never flags a live function, and it can miss a dead one that shares its
name with a live one.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ADDON = REPO / "blender_addon"

# The product: everything that ships or is run by a make target, never tests/.
PRODUCT_SOURCES = ("blender_addon", "model_training", "benchmarks", "build_addon.py")

# Methods Blender calls by name on its registered classes (Operator, Panel, UIList, AddonPreferences).
BLENDER_CALLBACKS = frozenset({"execute", "invoke", "modal", "cancel", "check", "draw", "draw_item", "filter_items"})
BLENDER_CLASSMETHODS = frozenset({"poll"})
# Module-level functions called by name from outside Python code: Blender's register()/unregister() of each module
# that register() loads, and `main` of modules run with `python -m` or the pyproject entry point.
MODULE_ENTRY_POINTS = frozenset({"register", "unregister", "main"})

# Dead functions another open issue removes or gives a caller, so that two branches do not edit the same lines.
# Each line names the issue; the test below fails once an entry is no longer dead, so the list only shrinks.
PENDING: dict[str, str] = {
    "blender_compat.py:user_extensions_dir": "issue 20 (packaging): the install check uses blender_compat",
    "blender_compat.py:install_extension": "issue 20 (packaging): the install check uses blender_compat",
    "blender_compat.py:uninstall_extension": "issue 20 (packaging): the install check uses blender_compat",
    "fit.py:Fit.to_head": "issue 18 (keygen)",
}


@dataclass(frozen=True)
class Definition:
    path: Path
    line: int
    qualname: str  # "f" or "Class.f"
    start: int
    end: int

    @property
    def key(self) -> str:
        return f"{self.path.name}:{self.qualname}"

    def __str__(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}: {self.qualname}()"


def _python_files(names: tuple[str, ...], root: Path = REPO) -> list[Path]:
    files: list[Path] = []
    for name in names:
        path = root / name
        files.extend([path] if path.is_file() else sorted(path.rglob("*.py")))
    return [f for f in files if "__pycache__" not in f.parts]


def _is_entry_point(node: ast.FunctionDef, owner: ast.ClassDef | None) -> bool:
    if owner is None:
        return node.name in MODULE_ENTRY_POINTS
    return node.name in BLENDER_CALLBACKS or node.name in BLENDER_CLASSMETHODS


def public_definitions(path: Path) -> list[Definition]:
    """Public functions and public methods of public or private classes, minus Blender's and Python's entry points."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[Definition] = []

    def visit(body: list[ast.stmt], owner: ast.ClassDef | None) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if node.name.startswith("_") or _is_entry_point(node, owner):
                    continue
                qual = f"{owner.name}.{node.name}" if owner else node.name
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                found.append(Definition(path, node.lineno, qual, start, node.end_lineno or node.lineno))
            elif isinstance(node, ast.ClassDef) and owner is None:
                visit(node.body, node)

    visit(tree.body, None)
    return found


def references(files: list[Path]) -> dict[str, list[tuple[Path, int]]]:
    """Every name the files use: names, attributes, imported names and identifier-like strings, with where."""
    refs: dict[str, list[tuple[Path, int]]] = {}
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                name, line = node.id, node.lineno
            elif isinstance(node, ast.Attribute):
                name, line = node.attr, node.lineno
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    refs.setdefault(alias.name, []).append((path, node.lineno))
                continue
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier():
                name, line = node.value, node.lineno
            else:
                continue
            refs.setdefault(name, []).append((path, line))
    return refs


@functools.cache
def _dead_in_the_repo() -> tuple[Definition, ...]:
    return tuple(dead_functions(ADDON, _python_files(PRODUCT_SOURCES)))


def dead_functions(addon: Path, product: list[Path]) -> list[Definition]:
    refs = references(product)
    dead = []
    for path in _python_files((addon.name,), addon.parent):
        for d in public_definitions(path):
            name = d.qualname.rsplit(".", 1)[-1]
            uses = [(p, line) for p, line in refs.get(name, []) if not (p == d.path and d.start <= line <= d.end)]
            if not uses:
                dead.append(d)
    return dead


# ---------------------------------------------------------------------------------------------------------- the rule


def test_every_public_function_of_the_addon_has_a_product_caller() -> None:
    dead = [d for d in _dead_in_the_repo() if d.key not in PENDING]
    assert not dead, (
        "public functions that nothing in the product calls (only tests, or nothing): remove them, or call them "
        "from the product; a test that needs one keeps its own helper:\n" + "\n".join(f"  {d}" for d in dead)
    )


def test_pending_entries_are_still_dead() -> None:
    """The PENDING list only shrinks: an entry whose function gained a caller or went away must leave it."""
    dead = {d.key for d in _dead_in_the_repo()}
    stale = sorted(set(PENDING) - dead)
    assert not stale, "no longer dead (or gone): remove from PENDING in tests/test_dead_code.py: " + ", ".join(stale)


# --------------------------------------------------------------------------------------------- the check can fail


def _tree(tmp_path: Path, files: dict[str, str]) -> tuple[Path, list[Path]]:
    addon = tmp_path / "blender_addon"
    for name, source in files.items():
        (addon / name).parent.mkdir(parents=True, exist_ok=True)
        (addon / name).write_text(source, encoding="utf-8")
    return addon, sorted(addon.rglob("*.py"))


def test_checker_flags_a_function_only_its_own_body_or_nothing_calls(tmp_path: Path) -> None:
    addon, files = _tree(
        tmp_path,
        {
            "a.py": "def used():\n    return 1\n\ndef dead(n):\n    return dead(n - 1) if n else 0\n",
            "b.py": "from .a import used\n\nclass Op:\n    def execute(self, context):\n        return used()\n"
            "    def helper(self):\n        return 2\n",
        },
    )
    found = {f"{d.path.name}:{d.qualname}" for d in dead_functions(addon, files)}
    assert found == {"a.py:dead", "b.py:Op.helper"}


def test_checker_counts_attribute_calls_strings_and_entry_points(tmp_path: Path) -> None:
    addon, files = _tree(
        tmp_path,
        {
            "m.py": "def by_attribute():\n    pass\n\ndef by_string():\n    pass\n\ndef register():\n    pass\n\n"
            "class Panel:\n    @classmethod\n    def poll(cls, context):\n        return True\n",
            "n.py": "from . import m\n\nm.by_attribute()\ngetattr(m, 'by_string')()\n",
        },
    )
    assert dead_functions(addon, files) == []
