"""Reading a user's JSON file (weights, job lists, joint and shape-key maps, landmarks) so that any content is one
clear line: not a plain file (a named pipe would block the read), too large, not text, not JSON, nested deeper than
the parser's stack, or an integer too long to convert."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import FacsimileError

MAX_JSON_BYTES = 256 * 1024 * 1024  # far beyond any weights take or job list; bounds memory


def read_json_file(path: str | os.PathLike, what: str) -> object:
    """The parsed JSON of `path` (`what` names it in errors: "weights file", "job list")."""
    from ..output_plan import check_input

    path = Path(path)
    check_input(what, path)
    if not path.is_file():
        raise FacsimileError(f"{what} {path} does not exist")
    if path.stat().st_size > MAX_JSON_BYTES:
        raise FacsimileError(f"{what} {path} is larger than {MAX_JSON_BYTES >> 20} MB; is it the right file?")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise FacsimileError(f"{what} {path} is not a text file (UTF-8 JSON expected)") from None
    return parse_json_text(text, f"{what} {path}")


def parse_json_text(text: str, where: str) -> object:
    """json.loads with every way it can fail as one FacsimileError naming `where`."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FacsimileError(f"{where} is not valid JSON: {exc}") from None
    except RecursionError:
        raise FacsimileError(f"{where} nests lists or objects too deeply to read; it is not a file of ours") from None
    except ValueError as exc:  # an integer of thousands of digits (Python's int conversion limit)
        raise FacsimileError(f"{where} holds a number too long to read ({str(exc)[:60]})") from None
    if _depth(data) > MAX_JSON_DEPTH:  # Python 3.13's parser reads what 3.11's refuses: one rule for both
        raise FacsimileError(f"{where} nests lists or objects too deeply to read; it is not a file of ours")
    return data


MAX_JSON_DEPTH = 64  # our files nest 3-4 levels; a job list or weights file deeper than this is not one of ours


def _depth(data: object) -> int:
    """How deeply lists and objects nest in parsed JSON (iterative: no recursion limit of its own)."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if deepest > MAX_JSON_DEPTH:
                return deepest
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest
