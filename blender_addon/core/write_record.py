"""What Facsimile wrote: every output it replaces carries the sha256 of the bytes written, so a later run can tell an
output it made (safe to replace) from one the user changed since (replaced only with --force).

The record travels with the file itself, as the extended attribute `user.facsimile.sha256` (nothing is written
beside it). Batch outputs also have their job record (OUTPUT.facsimile.json, usecases/batch.py) holding the same
hash, which survives an editor that saves by replacing the file (Blender does). Where the file system keeps no
extended attributes the file has no record, and it is treated like any file Facsimile did not write.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

XATTR = "user.facsimile.sha256"
SIDECAR_SUFFIX = ".facsimile.json"  # a batch job's record beside its output


def digest_of(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def mark(path: str | os.PathLike, digest: str) -> None:
    """Record that `digest` is what Facsimile wrote to `path` (silently nothing where xattrs are not kept)."""
    with contextlib.suppress(OSError, AttributeError):
        os.setxattr(os.fspath(path), XATTR, digest.encode("ascii"), follow_symlinks=False)


def sidecar_path(output: str | os.PathLike) -> Path:
    output = Path(output)
    return output.with_name(output.name + SIDECAR_SUFFIX)


def recorded_digests(path: str | os.PathLike) -> list[str]:
    """Every hash a record claims for `path` (its own attribute, a batch record beside it); empty when none."""
    found = []
    with contextlib.suppress(OSError, AttributeError):
        found.append(os.getxattr(os.fspath(path), XATTR).decode("ascii", "replace"))
    side = sidecar_path(path)
    with contextlib.suppress(OSError, ValueError, RecursionError):
        if side.is_file() and side.stat().st_size < 1 << 20:
            data = json.loads(side.read_text(encoding="utf-8"))
            if isinstance(data, dict) and isinstance(data.get("output_sha256"), str):
                found.append(data["output_sha256"])
    return found


def changed_since_written(path: str | os.PathLike) -> bool:
    """True when a record says what Facsimile wrote to `path` and the file no longer holds it (the user edited it)."""
    claims = recorded_digests(path)
    if not claims:
        return False
    try:
        now = digest_of(path)
    except OSError:
        return False
    return now not in claims
