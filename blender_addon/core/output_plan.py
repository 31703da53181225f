"""One output plan per run: every path the run will write, checked together against every input before any work,
and committed in an order that never leaves a side output newer than a failed main output.

A run (a command, an operator, a batch) opens `run_scope()`. The checks (`check_plan`, called by
core.output_guard.check_outputs, which every use case's options call) refuse, with one line each and before any work:
- an output that is an input or another output (core.output_guard);
- an input that is not a plain file or folder (a named pipe, a device, a socket: reading one can block forever), and a
  path that is a symlink loop;
- an output that exists and is not a plain file, is read-only (its owner protected it), belongs to another user in a
  sticky shared folder (the final rename would fail after the work), or was changed since Facsimile wrote it
  (core.write_record; `--force` replaces it);
- an output name longer than its folder allows (temporaries always fit: core.atomic_io), and a .blend output larger
  than the free space left where its size can be known.
While the run works, side outputs (JSON, previews, reports) written before the declared main output (the .blend) stay
temporaries; they are renamed into place only once the main output is. A failed run removes those temporaries and the
output folders it created.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .errors import FacsimileError


@dataclass
class OutputPlan:
    """The state of one run's outputs."""

    force: bool = False  # replace outputs changed since Facsimile wrote them
    main: str | None = None  # the main output's file key; sides wait for it
    main_done: bool = False
    main_in_place: bool = False  # the main output is its own input (--in-place): the user's edits are the input
    pending: list[tuple[Path, Path, str]] = field(default_factory=list)  # (temporary, target, digest)
    created: list[Path] = field(default_factory=list)  # output folders this run made

    def declare_main(self, path: str | os.PathLike, in_place: bool = False) -> None:
        from .output_guard import file_key

        self.main, self.main_done, self.main_in_place = file_key(path), False, in_place

    def commit_pending(self) -> None:
        from .atomic_io import commit, discard

        pending, self.pending = self.pending, []
        for i, (tmp, target, digest) in enumerate(pending):
            try:
                commit(tmp, target, digest)
            except BaseException:
                for rest, _, _ in pending[i:]:
                    discard(rest)
                raise

    def abandon(self) -> None:
        """A failed run: drop side outputs still waiting, and remove the (empty) folders this run created."""
        from .atomic_io import discard

        for tmp, _, _ in self.pending:
            discard(tmp)
        self.pending = []
        for folder in reversed(self.created):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty
        self.created = []


_current: OutputPlan | None = None


def current() -> OutputPlan | None:
    return _current


@contextlib.contextmanager
def run_scope(force: bool = False) -> Iterator[OutputPlan]:
    """The plan of one run. On an error (Ctrl-C, SIGTERM, SIGHUP included) side outputs still waiting for the main
    output are dropped and the folders the run created are removed; on success they are committed."""
    global _current
    outer, plan = _current, OutputPlan(force=force)
    if outer is not None:  # a nested run (a batch job): same force, own main output
        plan.force = plan.force or outer.force
    _current = plan
    try:
        yield plan
        plan.commit_pending()
    except BaseException:
        plan.abandon()
        raise
    finally:
        _current = outer
        if outer is not None:
            outer.created += [f for f in plan.created if f.exists()]


def note_created_folders(folders: list[Path]) -> None:
    if _current is not None:
        _current.created += folders


def declare_main(path: str | os.PathLike, in_place: bool = False) -> None:
    """The run's main output: side outputs written before it is in place wait for it. in_place: it is also the
    run's input, so it is replaced even when changed since Facsimile wrote it (the changes were read)."""
    if _current is not None:
        _current.declare_main(path, in_place)


def defer(target: Path, tmp: Path, digest: str) -> bool:
    """Keep a finished side output as its temporary until the main output is in place; False: commit it now."""
    from .output_guard import file_key

    plan = _current
    if plan is None or plan.main is None or plan.main_done or file_key(target) == plan.main:
        return False
    plan.pending.append((tmp, target, digest))
    return True


def committed(path: Path) -> None:
    """The main output is in place: the side outputs waiting for it follow."""
    from .output_guard import file_key

    plan = _current
    if plan is not None and plan.main is not None and file_key(path) == plan.main:
        plan.main_done = True
        plan.commit_pending()


def forcing() -> bool:
    return bool(_current and _current.force)


# ---------------------------------------------------------------- the checks


_KINDS = {
    stat.S_IFIFO: "a named pipe",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def _kind(mode: int) -> str | None:
    return _KINDS.get(stat.S_IFMT(mode))


def _stat(path: str | os.PathLike, role: str) -> os.stat_result | None:
    """os.stat, None when the path does not exist; a symlink loop or an unreadable folder is one clear line."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise FacsimileError(f"{role} {path} is a symlink to nothing; fix or remove the link") from None
        return None
    except OSError as exc:
        import errno

        if exc.errno == errno.ELOOP:
            raise FacsimileError(f"{role} {path} is a symlink loop; fix the link or choose another path") from None
        if exc.errno == errno.ENAMETOOLONG:
            raise FacsimileError(f"{role} {path}: the path is too long for the file system") from None
        if exc.errno == errno.ENOTDIR:
            return None
        raise FacsimileError(f"{role} {path}: {exc.strerror or exc}") from None


def check_input(role: str, path: str | os.PathLike) -> None:
    """An input must be a plain file or folder: a named pipe or a device would block or never end."""
    st = _stat(path, role)
    if st is not None and (kind := _kind(st.st_mode)):
        raise FacsimileError(f"{role} {path} is {kind}, not a file; give a regular file")


def check_name_length(role: str, path: str | os.PathLike) -> None:
    from .atomic_io import name_max

    p = Path(path)
    limit = name_max(_existing_folder(p.parent))
    if len(p.name.encode("utf-8", "surrogateescape")) > limit:
        raise FacsimileError(
            f"{role} name {p.name[:40]}... is {len(p.name.encode())} bytes, longer than the file system allows "
            f"({limit}); choose a shorter name"
        )
    if len(os.fsencode(os.path.abspath(p))) >= 4096:
        raise FacsimileError(f"{role} {str(p)[:60]}...: the path is too long for the file system")


def _existing_folder(folder: Path) -> Path:
    folder = Path(os.path.abspath(folder))
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    return folder


def check_replaceable(path: str | os.PathLike, role: str = "output", changes: bool = True) -> None:
    """What the final rename onto `path` needs, checked before the work: a plain (or new) file, writable by its mode,
    replaceable in its folder, and not changed since Facsimile wrote it unless the run forces."""
    p = Path(path)
    check_name_length(role, p)
    _stat(p.parent if str(p.parent) else ".", f"{role} folder")
    st = _stat(p, role)
    if st is None:
        return
    if stat.S_ISDIR(st.st_mode):
        raise FacsimileError(f"output path {p} is a folder; give a file name")
    if kind := _kind(st.st_mode):
        raise FacsimileError(f"{role} {p} is {kind}, not a file; choose a regular file as output")
    if not st.st_mode & 0o222:
        raise FacsimileError(
            f"{role} {p} is read-only (mode {stat.S_IMODE(st.st_mode):04o}); make it writable or choose another path"
        )
    folder = p.parent if str(p.parent) else Path(".")
    with contextlib.suppress(OSError):
        fst = os.stat(folder)
        euid = os.geteuid() if hasattr(os, "geteuid") else 0
        if fst.st_mode & stat.S_ISVTX and euid != 0 and st.st_uid != euid and fst.st_uid != euid:
            raise FacsimileError(
                f"{role} {p} belongs to another user in the shared folder {folder}, which lets only its owner replace "
                "it; choose another path"
            )
    from . import write_record

    if changes and not forcing() and not _is_in_place_main(p) and write_record.changed_since_written(p):
        raise FacsimileError(
            f"{role} {p} was changed since Facsimile wrote it; pass --force to replace it, or choose another path"
        )


def _is_in_place_main(path: Path) -> bool:
    from .output_guard import file_key

    plan = _current
    return bool(plan and plan.main_in_place and plan.main == file_key(path))


def check_free_space(path: str | os.PathLike, need: int, role: str = "output") -> None:
    """Refuse when the output's file system plainly lacks `need` bytes (+ margin); nothing when it cannot be told."""
    folder = _existing_folder(Path(path).parent)
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    want = int(need * 1.1) + (1 << 20)
    if free < want:
        raise FacsimileError(
            f"{role} {path} needs about {want / 1e6:.1f} MB and its disk has {free / 1e6:.1f} MB free; free space or "
            "choose another folder"
        )
