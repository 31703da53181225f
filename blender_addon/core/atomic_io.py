"""Atomic output: write beside the target, then rename, so a crash or an error never leaves a half-written file.

Temporaries carry a name that says whose they are: `.TARGET.HOST.PID.facsimile-tmp.RANDOM.EXT` (hidden, in the
target's folder so the rename is atomic). HOST is a short id of the machine and PID namespace (hostname, PID-namespace
inode, boot id), so a PID is only ever judged on the machine that owns it. A target name too long for that pattern is
shortened to its head and a hash (`.HEAD~HASH.HOST...`), so a temporary name always fits the folder's name limit
(with room for Blender's own `@` suffix). Temporaries are removed on every failure path; one left by a killed process
(SIGKILL, power loss) is swept by the next write of the same target only when it is certainly dead: its id is ours and
its PID no longer runs, or (another machine's, or an old-style name) it has not been touched for STALE_AGE_S.

Every output Facsimile replaces keeps the mode of the file it replaces (a 0600 JSON stays 0600), and carries a record
of what was written (core.write_record: its sha256 in an extended attribute), so that a later run refuses to replace
an output the user changed since (unless --force).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import secrets
import socket
import stat
import time
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from .errors import FacsimileError

TEMP_MARK = ".facsimile-tmp."
STALE_AGE_S = 48 * 3600  # a temporary nobody can vouch for is dead only when untouched this long
_WRITER_SPARE = 2  # Blender saves through `NAME@`; keep room for a writer's suffix


def name_max(folder: str | os.PathLike) -> int:
    """The longest file name (bytes) the folder's file system takes."""
    try:
        return int(os.pathconf(os.fspath(folder) or ".", "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return 255


@lru_cache(maxsize=1)
def host_id() -> str:
    """8 hex digits naming this machine and PID namespace: two containers or hosts never share one."""
    parts = [socket.gethostname()]
    for probe in ("/proc/self/ns/pid",):
        with contextlib.suppress(OSError):
            parts.append(str(os.stat(probe).st_ino))
    with contextlib.suppress(OSError):
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
    return hashlib.sha1("\0".join(parts).encode()).hexdigest()[:8]


def temporary_stem(path: str | Path) -> str:
    """The part of a temporary's name that names its target: the name itself, or its head and a hash when the name
    is too long for a temporary beside it."""
    path = Path(path)
    name = path.name
    limit = name_max(path.parent if str(path.parent) else ".")
    budget = limit - _WRITER_SPARE - len(f"..{host_id()}.{2**22}{TEMP_MARK}") - 8 - _suffix_room(path.suffix)
    if len(name.encode()) <= budget:
        return name
    digest = hashlib.sha1(name.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    head = name.encode("utf-8", "surrogateescape")[: max(1, budget - 13)].decode("utf-8", "ignore")
    return f"{head}~{digest}"


def _suffix_room(suffix: str) -> int:
    return min(len(suffix.encode()), 16) if suffix else 4


def check_writable_dir(path: str | Path) -> Path:
    """The output's folder must exist (it is created if its parent allows, and removed again when the run fails:
    core.output_plan) and be writable; say so clearly if not."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        created = _make_folders(folder)
    except OSError as exc:
        raise FacsimileError(f"cannot create output folder {folder}: {exc.strerror or exc}") from exc
    if created:
        from . import output_plan

        output_plan.note_created_folders(created)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise FacsimileError(f"output folder {folder} is not writable; choose another output path")
    if path.is_dir():
        raise FacsimileError(f"output path {path} is a folder; give a file name")
    return path


def _make_folders(folder: Path) -> list[Path]:
    """mkdir -p, returning the folders it created (outermost first)."""
    missing: list[Path] = []
    p = folder
    while not p.exists() and not p.is_symlink():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    created = []
    for f in reversed(missing):
        try:
            f.mkdir()
        except FileExistsError:
            continue
        created.append(f)
    return created


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's) or cannot tell: keep its file
    return True


def _is_dead(name: str, rest: str) -> bool:
    """Whether the temporary `name` (its part after the target's stem: `HOST.PID` or an old-style `PID`) belongs to a
    process that is certainly gone."""
    owner = rest.split(TEMP_MARK, 1)[0]
    host, _, pid_text = owner.rpartition(".")
    if host == host_id() and pid_text.isdigit():
        return not _pid_alive(int(pid_text))
    try:
        age = time.time() - os.lstat(name).st_mtime
    except OSError:
        return False
    return age > STALE_AGE_S  # another machine's (or an old-style name): only when nothing touched it for long


def stale_temporaries(path: str | Path) -> list[Path]:
    """Temporaries of `path` whose writing process is certainly gone (killed runs); a temporary that may still be
    written (a live process here, or another machine's recent file) is never stale."""
    path = Path(path)
    stale = []
    prefixes = {f".{path.name}.", f".{temporary_stem(path)}."}
    for prefix in prefixes:
        for name in glob.glob(glob.escape(str(path.parent / prefix)) + "*" + glob.escape(TEMP_MARK) + "*"):
            rest = os.path.basename(name)[len(prefix) :]
            if _is_dead(name, rest) and Path(name) not in stale:
                stale.append(Path(name))
    return stale


def sweep_stale_temporaries(path: str | Path) -> int:
    """Remove what killed runs left while writing `path`; returns how many files went."""
    removed = 0
    for f in stale_temporaries(path):
        with contextlib.suppress(OSError):
            f.unlink()
            removed += 1
    return removed


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def target_mode(path: str | Path) -> int:
    """The mode the written file gets: the replaced file's, else what a plain open() would give."""
    try:
        st = os.stat(path)
    except OSError:
        return 0o666 & ~_umask()
    return stat.S_IMODE(st.st_mode) if stat.S_ISREG(st.st_mode) else 0o666 & ~_umask()


def new_temporary(path: str | Path, suffix: str | None = None) -> Path:
    """An empty temporary file beside `path`, named as ours, with the mode the target will have."""
    path = Path(path)
    suffix = suffix or path.suffix or ".tmp"
    if len(suffix.encode()) > 16:
        suffix = ".tmp"
    fd, tmp_name = tempfile_mkstemp(prefix=f".{temporary_stem(path)}.{host_id()}.{os.getpid()}{TEMP_MARK}",
                                    suffix=suffix, folder=path.parent)  # fmt: skip
    os.close(fd)
    os.chmod(tmp_name, target_mode(path) | stat.S_IWUSR)  # mkstemp makes 0600; we still write it
    return Path(tmp_name)


def tempfile_mkstemp(prefix: str, suffix: str, folder: Path) -> tuple[int, str]:
    """mkstemp with a short random part (8 characters), so that the name's length is known in advance."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        name = os.path.join(folder, f"{prefix}{secrets.token_hex(4)}{suffix}")
        try:
            return os.open(name, flags, 0o600), name
        except FileExistsError:
            continue
    raise FacsimileError(f"could not create a temporary file in {folder}")


@contextlib.contextmanager
def atomic_output(path: str | Path, suffix: str | None = None, check_changes: bool = True) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success it replaces `path`; on any error (Ctrl-C included)
    it is removed, together with anything a writer put beside it (Blender's `NAME@`, `NAME1`).

    Under a run's output plan (core.output_plan), a side output written before the run's main output is kept as its
    temporary until the main output is in place, so a failed main output never has newer side outputs beside it.
    check_changes=False: a file of Facsimile's own bookkeeping (a batch record), replaced even when edited."""
    from . import output_plan, write_record

    path = check_writable_dir(path)
    output_plan.check_replaceable(path, changes=check_changes)
    sweep_stale_temporaries(path)
    mode = target_mode(path)
    tmp = new_temporary(path, suffix)
    handed_over = False
    try:
        yield tmp
        with contextlib.suppress(OSError):
            os.chmod(tmp, mode)  # a writer that replaced the temporary (Blender) made its own mode
        digest = write_record.digest_of(tmp)
        if output_plan.defer(path, tmp, digest):
            handed_over = True
            return
        commit(tmp, path, digest)
    finally:
        if not handed_over:
            discard(tmp)


def commit(tmp: Path, path: Path, digest: str) -> None:
    """Rename a finished temporary onto its target and record what was written there."""
    from . import output_plan, write_record

    try:
        os.replace(tmp, path)
    except OSError as exc:
        raise FacsimileError(f"could not write {path}: {exc.strerror or exc}") from exc
    write_record.mark(path, digest)
    output_plan.committed(path)


def discard(tmp: Path) -> None:
    """Remove a temporary and what a writer put beside it."""
    for leftover in (tmp, Path(f"{tmp}@"), Path(f"{tmp}1")):
        with contextlib.suppress(FileNotFoundError, IsADirectoryError, PermissionError):
            leftover.unlink()


def atomic_write_text(path: str | Path, text: str) -> Path:
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
