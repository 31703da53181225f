"""One rule for every command, checked before any work: an output never replaces an input, and no two outputs of
one run are the same file.

Paths are compared as the files they name: symlinks and `..` are resolved, and two existing paths that are one file
(a hard link, a case-insensitive file system) count as the same. A folder given as an input (an image sequence)
stands for every file in it. The one exception is the main output of a command run with --in-place, which may be its
own input scene; side outputs (JSON, previews, CSVs, records) never may.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .atomic_io import check_writable_dir
from .errors import FacsimileError


@dataclass(frozen=True)
class Named:
    """A path with the option or role that gave it, so a refusal can say which two collide (`--json`, `job 3 output`)."""

    role: str
    path: str | os.PathLike


def named(role: str, path: str | os.PathLike | None) -> Named | None:
    """Named(role, path), or None when the option was not given."""
    return Named(role, path) if path else None


def preset_input(preset: str | None) -> Named | None:
    """A --preset that is a JSON map file is an input too."""
    return Named("map file", preset) if preset and str(preset).lower().endswith(".json") else None


def file_key(path: str | os.PathLike) -> str:
    """The file a path names: absolute, `..` and symlinks resolved (also for a file that does not exist yet; a
    symlink loop stays as written, and opening it is refused by core.output_plan)."""
    try:
        return os.path.normcase(os.path.realpath(os.path.abspath(os.fspath(path))))
    except (OSError, RuntimeError):
        return os.path.normcase(os.path.abspath(os.fspath(path)))


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name one file: the same resolved path (symlinks followed, also for a file that does not
    exist yet), or one existing file reached twice (a hard link, a case-insensitive file system)."""
    if file_key(a) == file_key(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _expand(named: Named) -> list[Named]:
    """A folder or a glob pattern (an image sequence) stands for its files."""
    from .formats.video_io import is_pattern, sequence_files

    p = Path(named.path)
    if p.is_dir():
        return [Named(named.role, f) for f in sorted(p.iterdir()) if f.is_file()]
    if is_pattern(p):
        return [Named(named.role, f) for f in sequence_files(p)]
    return [named]


class FileIndex:
    """Paths by the file they name (resolved path, and device + inode when the file exists), built once, so that a
    batch of thousands of jobs checks each output in constant time."""

    def __init__(self) -> None:
        self._by_key: dict[object, list[Named]] = {}

    @staticmethod
    def identities(path: str | os.PathLike) -> list[object]:
        key = file_key(path)
        try:
            st = os.stat(key)
        except OSError:
            return [key]
        return [key, (st.st_dev, st.st_ino)]

    def add(self, named: Named) -> None:
        for ident in self.identities(named.path):
            self._by_key.setdefault(ident, []).append(named)

    def find(self, path: str | os.PathLike) -> list[Named]:
        found: list[Named] = []
        for ident in self.identities(path):
            found += [n for n in self._by_key.get(ident, ()) if n not in found]
        return found


def input_index(inputs: Iterable[Named | None]) -> FileIndex:
    """The inputs (folders and patterns standing for their files) as a FileIndex."""
    index = FileIndex()
    for n in inputs:
        if n is not None and str(n.path):
            for x in _expand(n):
                index.add(x)
    return index


def check_outputs(
    inputs: Iterable[Named | None] | FileIndex,
    outputs: Sequence[Named | None],
    in_place_pairs: Iterable[tuple[str, str]] = (),
    in_place: bool = False,
    writable: bool = True,
    skip_inputs: Iterable[str] = (),
    check_changes: bool = True,
) -> None:
    """Refuse any output that is an input or another output (FacsimileError naming both); with `writable`, also check
    that every output's folder can be written, so a bad path fails before the work, not after it.

    in_place_pairs: (output role, input role) pairs that --in-place lets be one file (`--out` and `--blend`);
    in_place: whether it was given. skip_inputs: input roles not compared here (checked elsewhere). check_changes:
    refuse an output changed since Facsimile wrote it (core.write_record) unless the run forces; False where the
    check is made later, in the run that writes it (a batch job).
    """
    from .output_plan import check_input, check_replaceable

    pairs = set(in_place_pairs)
    skip = set(skip_inputs)
    if not isinstance(inputs, FileIndex):
        inputs = [n for n in inputs if n is not None and str(n.path)]
        for n in inputs:
            check_input(n.role, n.path)
    ins = inputs if isinstance(inputs, FileIndex) else input_index(inputs)
    outs = [n for n in outputs if n is not None and str(n.path)]
    own_input: set[str] = set()  # outputs that --in-place lets replace their own input
    seen = FileIndex()
    for out in outs:
        for other in seen.find(out.path):
            raise FacsimileError(
                f"{out.role} {out.path} and {other.role} {other.path} are the same file; give each output its own"
            )
        for src in ins.find(out.path):
            if src.role in skip:
                continue
            if (out.role, src.role) not in pairs:
                raise FacsimileError(
                    f"{out.role} {out.path} is the input {src.role} {src.path}; an output never replaces an input, "
                    "choose another path"
                )
            if not in_place:
                raise FacsimileError(
                    f"{out.role} {out.path} is the input file {src.role} {src.path}; choose another {out.role} or "
                    "pass --in-place"
                )
            own_input.add(out.role)
        seen.add(out)
    for out in outs:
        # An in-place output is the user's own input (their edits are the input), and a batch record is ours.
        changes = check_changes and not out.role.endswith("record") and out.role not in own_input
        check_replaceable(out.path, out.role, changes=changes)
    if writable:
        for out in outs:
            check_writable_dir(out.path)


def outputs_in_folder(folder: str | os.PathLike, inputs: Sequence[str | os.PathLike], suffix: str) -> list[Path]:
    """One output file per input in `folder`, never two with one name: `clip.csv` when the input's name is unique,
    else its parent folder's name is put in front (`a_clip.csv`, `b_clip.csv`), and a number when even that repeats."""
    folder = Path(folder)

    def stem_of(path: str | os.PathLike) -> str:
        p = Path(os.fspath(path).rstrip("/\\"))
        stem = p.stem or "video"
        if any(ch in stem for ch in "*?[") and not p.exists():  # a pattern ('shots/*.png'): named after its folder
            stem = p.parent.name or "sequence"
        for ch in "*?[]":
            stem = stem.replace(ch, "_")
        return stem

    stems = [stem_of(p) for p in inputs]
    names = []
    for p, stem in zip(inputs, stems):
        if stems.count(stem) > 1:
            parent = Path(os.path.abspath(os.fspath(p).rstrip("/\\"))).parent.name
            stem = f"{stem_of(parent)}_{stem}" if parent else stem
        names.append(stem)
    out, used = [], set()
    for name in names:
        candidate, n = name, 1
        while os.path.normcase(candidate) in used:
            n += 1
            candidate = f"{name}_{n}"
        used.add(os.path.normcase(candidate))
        out.append(folder / f"{candidate}{suffix}")
    return out
