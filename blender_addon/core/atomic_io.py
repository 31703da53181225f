"""Atomic output: write beside the target, then rename, so a crash or an error never leaves a half-written file.

Temporaries carry a name that says whose they are: `.TARGET.PID.facsimile-tmp.RANDOM.EXT` (hidden, in the target's
folder so the rename is atomic). They are removed on every failure path; one left by a killed process (SIGKILL, power
loss) is swept by the next write of the same target, once its process no longer runs.
"""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import FacsimileError

TEMP_MARK = ".facsimile-tmp."


def check_writable_dir(path: str | Path) -> Path:
    """The output's folder must exist (it is created if its parent allows) and be writable; say so clearly if not."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FacsimileError(f"cannot create output folder {folder}: {exc.strerror or exc}") from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise FacsimileError(f"output folder {folder} is not writable; choose another output path")
    if path.is_dir():
        raise FacsimileError(f"output path {path} is a folder; give a file name")
    return path


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


def stale_temporaries(path: str | Path) -> list[Path]:
    """Temporaries of `path` whose writing process is gone (killed runs); those of running processes are not stale."""
    path = Path(path)
    prefix = f".{path.name}."
    stale = []
    for name in glob.glob(glob.escape(str(path.parent / prefix)) + "*" + glob.escape(TEMP_MARK) + "*"):
        rest = os.path.basename(name)[len(prefix) :]
        pid_text = rest.split(TEMP_MARK, 1)[0]
        if pid_text.isdigit() and not _pid_alive(int(pid_text)):
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


def new_temporary(path: str | Path, suffix: str | None = None) -> Path:
    """An empty temporary file beside `path`, named as ours, with the permissions a plain open() would give."""
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.{os.getpid()}{TEMP_MARK}", suffix=suffix or path.suffix or ".tmp", dir=path.parent
    )
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_name, 0o666 & ~umask)  # mkstemp makes 0600
    return Path(tmp_name)


@contextlib.contextmanager
def atomic_output(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success it replaces `path`; on any error (Ctrl-C included)
    it is removed, together with anything a writer put beside it (Blender's `NAME@`, `NAME1`)."""
    path = check_writable_dir(path)
    sweep_stale_temporaries(path)
    tmp = new_temporary(path, suffix)
    try:
        yield tmp
        try:
            os.replace(tmp, path)
        except OSError as exc:
            raise FacsimileError(f"could not write {path}: {exc.strerror or exc}") from exc
    finally:
        for leftover in (tmp, Path(f"{tmp}@"), Path(f"{tmp}1")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def atomic_write_text(path: str | Path, text: str) -> Path:
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
