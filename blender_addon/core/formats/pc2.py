"""PC2 point caches (the format Blender's Mesh Cache modifier and 3ds Max read).

Layout, little-endian: 12-byte signature b"POINTCACHE2\\0", int32 version (1), int32 number of points, float32 start
frame, float32 sample rate (frames between samples), int32 number of samples; then samples x points x float32 xyz.
Writes go to a temporary file renamed into place, so a failed bake never leaves a truncated cache.
"""

from __future__ import annotations

import contextlib
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic_io import atomic_output
from ..errors import FacsimileError

SIGNATURE = b"POINTCACHE2\0"
VERSION = 1
_HEADER = struct.Struct("<12siiffi")


@dataclass
class PC2Header:
    num_points: int
    start_frame: float
    sample_rate: float
    num_samples: int


class PC2Writer:
    """Stream samples into a PC2 file: `with PC2Writer(path, n_points, n_samples) as w: w.write(block)`.

    The samples go to a temporary file (core.atomic_io) renamed into place only when every sample was written; on any
    error, Ctrl-C included, the temporary is removed and `path` is left as it was."""

    def __init__(self, path: str | Path, num_points: int, num_samples: int, start_frame: float = 1.0,
                 sample_rate: float = 1.0) -> None:  # fmt: skip
        self.path = Path(path)
        if num_points <= 0 or num_samples <= 0:
            raise FacsimileError("a point cache needs at least one point and one sample")
        if not self.path.parent.is_dir():
            raise FacsimileError(f"folder {self.path.parent} does not exist; cannot write {self.path.name}")
        self.num_points, self.num_samples = int(num_points), int(num_samples)
        self.header = _HEADER.pack(SIGNATURE, VERSION, self.num_points, float(start_frame), float(sample_rate),
                                   self.num_samples)  # fmt: skip
        self.written = 0
        self._f = None
        self._stack: contextlib.ExitStack | None = None

    def __enter__(self) -> PC2Writer:
        with contextlib.ExitStack() as stack:
            tmp = stack.enter_context(atomic_output(self.path, suffix=".pc2"))
            self._f = stack.enter_context(open(tmp, "wb"))
            self._f.write(self.header)
            self._stack = stack.pop_all()
        return self

    def write(self, samples: np.ndarray) -> None:
        """Append (S, num_points, 3) samples."""
        samples = np.asarray(samples, dtype="<f4")
        if samples.ndim == 2:
            samples = samples[None]
        if samples.shape[1:] != (self.num_points, 3):
            raise FacsimileError(f"samples must be (S, {self.num_points}, 3), got {samples.shape}")
        if self.written + samples.shape[0] > self.num_samples:
            raise FacsimileError("more samples written than the cache header declares")
        if not np.all(np.isfinite(samples)):
            raise FacsimileError("deformed vertices contain NaN or infinite values; nothing was written")
        self._f.write(np.ascontiguousarray(samples).tobytes())
        self.written += samples.shape[0]

    def __exit__(self, exc_type, exc, tb) -> bool | None:
        stack, self._stack = self._stack, None
        if exc_type is None and self.written != self.num_samples:
            err = FacsimileError(f"point cache incomplete: {self.written} of {self.num_samples} samples written")
            stack.__exit__(FacsimileError, err, None)  # closes and removes the temporary
            raise err
        return stack.__exit__(exc_type, exc, tb)


def read_pc2(path: str | Path) -> tuple[PC2Header, np.ndarray]:
    """Header and (S, V, 3) float32 samples, mapped from the file rather than read (a bake can be gigabytes, and
    checking a cache before playing it needs only its header); a clear error for anything that is not a complete
    PC2 file."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise FacsimileError(f"{path} is too short to be a PC2 point cache")
    sig, version, n_points, start, rate, n_samples = _HEADER.unpack_from(head)
    if sig != SIGNATURE:
        raise FacsimileError(f"{path} is not a PC2 point cache (bad signature)")
    if version != VERSION or n_points <= 0 or n_samples <= 0:
        raise FacsimileError(
            f"{path}: unsupported PC2 header (version {version}, {n_points} points, {n_samples} samples)"
        )
    need = _HEADER.size + n_points * n_samples * 12
    if size != need:
        raise FacsimileError(f"{path} holds {size} bytes, its header promises {need}: the file is truncated")
    arr = np.memmap(path, dtype="<f4", mode="r", offset=_HEADER.size, shape=(n_samples, n_points, 3))
    return PC2Header(n_points, start, rate, n_samples), arr
