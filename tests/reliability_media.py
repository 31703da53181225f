"""Hostile media for the reliability tests: image files whose header declares a huge size (a few hundred bytes on
disk), and a variable-frame-rate MP4 (cv2 writes constant-rate files only: its sample table is rewritten)."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np


def huge_tiff(path: Path, width: int, height: int, big: bool = False) -> Path:
    """A TIFF (or BigTIFF) whose first IFD says width x height, 8-bit RGB, one uncompressed strip of a few bytes."""
    if not big:
        entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 2),
                   (273, 4, 1, 8), (277, 3, 1, 3), (278, 4, 1, height), (279, 4, 1, 16)]  # fmt: skip
        ifd = struct.pack("<H", len(entries))
        for tag, typ, count, value in entries:
            ifd += struct.pack("<HHI", tag, typ, count) + (
                struct.pack("<HH", value, 0) if typ == 3 else struct.pack("<I", value)
            )
        ifd += struct.pack("<I", 0)
        data = b"II*\x00" + struct.pack("<I", 24) + bytes(16) + ifd
    else:
        entries = [(256, 16, 1, width), (257, 16, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 2),
                   (273, 16, 1, 16), (277, 3, 1, 3), (279, 16, 1, 16)]  # fmt: skip
        ifd = struct.pack("<Q", len(entries))
        for tag, typ, count, value in entries:
            ifd += struct.pack("<HHQ", tag, typ, count) + (
                struct.pack("<HHI", value, 0, 0) if typ == 3 else struct.pack("<Q", value)
            )
        ifd += struct.pack("<Q", 0)
        data = b"II+\x00" + struct.pack("<HHQ", 8, 0, 32) + bytes(16) + ifd
    path.write_bytes(data)
    return path


def huge_webp(path: Path, width: int, height: int, kind: str = "VP8X") -> Path:
    """A WebP whose header says width x height (VP8X extended or VP8L lossless)."""
    if kind == "VP8X":
        chunk = b"VP8X" + struct.pack("<I", 10) + bytes(4) + (width - 1).to_bytes(3, "little")
        chunk += (height - 1).to_bytes(3, "little")
        body = chunk + b"VP8L" + struct.pack("<I", 6) + b"\x2f" + bytes(5)
    else:
        bits = (width - 1) | ((height - 1) << 14)
        body = b"VP8L" + struct.pack("<I", 10) + b"\x2f" + bits.to_bytes(4, "little") + bytes(5)
    data = b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body
    path.write_bytes(data)
    return path


def huge_bmp(path: Path, width: int, height: int) -> Path:
    header = b"BM" + struct.pack("<IHHI", 54 + 16, 0, 0, 54)
    header += struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    path.write_bytes(header + bytes(16))
    return path


def huge_pnm(path: Path, width: int, height: int) -> Path:
    path.write_bytes(f"P6\n{width} {height}\n255\n".encode() + bytes(16))
    return path


def huge_gif(path: Path, width: int, height: int) -> Path:
    path.write_bytes(b"GIF89a" + struct.pack("<HH", width, height) + b"\x00\x00\x00" + b";")
    return path


# ---------------------------------------------------------------- a variable-frame-rate MP4


def _boxes(buf: bytes, start: int, end: int):
    i = start
    while i + 8 <= end:
        size, kind = struct.unpack_from(">I4s", buf, i)
        header = 8
        if size == 1:
            size = struct.unpack_from(">Q", buf, i + 8)[0]
            header = 16
        elif size == 0:
            size = end - i
        yield kind.decode("latin-1"), i, size, header
        i += size


_CONTAINERS = {"moov", "trak", "mdia", "minf", "stbl", "edts"}


def _rewrite(buf: bytes, start: int, end: int, deltas: list[int], track_scale: list[int], movie_scale: list[int]):
    out = b""
    total = sum(deltas)
    for kind, at, size, header in _boxes(buf, start, end):
        body = buf[at + header : at + size]
        if kind in _CONTAINERS:
            body = _rewrite(buf, at + header, at + size, deltas, track_scale, movie_scale)
        elif kind == "mvhd" and body[0] == 0:
            movie_scale.append(struct.unpack_from(">I", body, 12)[0])
        elif kind == "mdhd" and body[0] == 0:
            scale = struct.unpack_from(">I", body, 12)[0]
            track_scale.append(scale)
            body = body[:16] + struct.pack(">I", total) + body[20:]
        elif kind == "stts":
            entries = b"".join(struct.pack(">II", 1, d) for d in deltas)
            body = body[:4] + struct.pack(">I", len(deltas)) + entries
        out += struct.pack(">I4s", 8 + len(body), kind.encode("latin-1")) + body
    return out


def _fix_movie_durations(buf: bytearray, seconds: float, movie_scale: int) -> None:
    """mvhd / tkhd / elst durations (movie timescale) to the new length."""
    value = round(seconds * movie_scale)

    def walk(start: int, end: int) -> None:
        for kind, at, size, header in _boxes(bytes(buf), start, end):
            body = at + header
            if kind in _CONTAINERS:
                walk(body, at + size)
            elif kind == "mvhd" and buf[body] == 0:
                struct.pack_into(">I", buf, body + 16, value)
            elif kind == "tkhd" and buf[body] == 0:
                struct.pack_into(">I", buf, body + 20, value)
            elif kind == "elst" and buf[body] == 0 and struct.unpack_from(">I", buf, body + 4)[0] >= 1:
                struct.pack_into(">I", buf, body + 8, value)

    walk(0, len(buf))


def write_vfr_mp4(path: Path, frames: list[np.ndarray], seconds_each: list[float]) -> Path:
    """An MP4 whose frame i is shown for seconds_each[i]: written at a constant rate by cv2, then its time-to-sample
    table rewritten (the moov box comes after the media data, so no chunk offset moves)."""
    h, w = frames[0].shape[:2]
    tmp = path.with_name(path.stem + "_cfr.mp4")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (w, h))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    buf = tmp.read_bytes()
    tmp.unlink()
    top = list(_boxes(buf, 0, len(buf)))
    kinds = [k for k, *_ in top]
    assert kinds.index("moov") > kinds.index("mdat"), "cv2 wrote moov before mdat; the rewrite needs it after"
    _, at, size, header = next(b for b in top if b[0] == "moov")
    # first pass: learn the track's timescale
    track_scale: list[int] = []
    movie_scale: list[int] = []
    _rewrite(buf, at, at + size, [1] * len(frames), track_scale, movie_scale)
    deltas = [max(1, round(s * track_scale[0])) for s in seconds_each]
    moov = _rewrite(buf, at, at + size, deltas, [], [])
    out = bytearray(buf[:at] + moov + buf[at + size :])
    _fix_movie_durations(out, sum(deltas) / track_scale[0], movie_scale[0])
    path.write_bytes(bytes(out))
    return path


# ---------------------------------------------------------------- peak memory of a run


_PEAK = (
    "import resource, runpy, sys\n"
    "sys.argv = ['facsimile', *sys.argv[1:]]\n"
    "code = 0\n"
    "try:\n"
    "    runpy.run_module('blender_addon.host.cli', run_name='__main__')\n"
    "except SystemExit as e:\n"
    "    code = e.code\n"
    "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
    "try:  # ru_maxrss keeps the forking parent's high-water mark across exec on Linux; VmHWM is this process's own\n"
    "    peak = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')) / 1024\n"
    "except (OSError, StopIteration, ValueError):\n"
    "    pass\n"
    "print('PEAK_MB', peak, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def peak_memory_run(args: list[str], env: dict, cwd: Path, timeout: float) -> tuple[subprocess.CompletedProcess, float]:
    """`facsimile ARGS` in a child process; its result and its peak resident memory in MB (inf when not reported)."""
    done = subprocess.run([sys.executable, "-c", _PEAK, *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip
    peak = float(done.stderr.rsplit("PEAK_MB", 1)[1].split()[0]) if "PEAK_MB" in done.stderr else float("inf")
    return done, peak
