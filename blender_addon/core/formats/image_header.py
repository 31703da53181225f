"""An image's format and pixel size read from its header, before anything is decoded, for every format the photo
loader accepts, so that a small file declaring a huge image (a decompression bomb) is refused without memory spent.

Readers here are a few byte reads each: JPEG (SOF, and whether it is progressive: libjpeg keeps a progressive
image's whole coefficient buffer), PNG (IHDR), TIFF and BigTIFF (the first IFD's width and length, the page cv2
decodes), WebP (VP8, VP8L, VP8X), BMP (all header versions), GIF, PNM (PBM/PGM/PPM/PAM/PFM), JPEG 2000 (ihdr),
OpenEXR (dataWindow), Radiance HDR and Sun raster. Anything else is not a photo format we accept.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass


@dataclass(frozen=True)
class ImageHeader:
    format: str
    width: int
    height: int
    progressive: bool = False  # a progressive JPEG decodes at full size in memory whatever the reduction asked


def read_header(data) -> ImageHeader | None:
    """The header of the image file whose bytes are `data` (bytes, or any buffer such as the numpy array of the whole
    file: JPEG's size sits after its EXIF blocks and a TIFF's first IFD may sit at the end), or None for a format this
    does not know. A known format whose size cannot be read comes back with width = height = -1."""
    whole = memoryview(data).cast("B")
    head = bytes(whole[: 1 << 16])
    for reader in (_jpeg, _tiff):
        found = reader(whole)
        if found is not None:
            return found
    for reader in (_png, _webp, _bmp, _gif, _pnm, _jp2, _exr, _hdr, _sunras):
        found = reader(head)
        if found is not None:
            return found
    return None


def _unknown(fmt: str) -> ImageHeader:
    return ImageHeader(fmt, -1, -1)


def _jpeg(buf) -> ImageHeader | None:
    if bytes(buf[:2]) != b"\xff\xd8":
        return None
    i = 2
    while i + 9 < len(buf):
        if buf[i] != 0xFF:
            return _unknown("JPEG")
        marker = buf[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = int.from_bytes(buf[i + 2 : i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h = int.from_bytes(buf[i + 5 : i + 7], "big")
            w = int.from_bytes(buf[i + 7 : i + 9], "big")
            return ImageHeader("JPEG", w, h, progressive=marker in (0xC2, 0xC6, 0xCA, 0xCE))
        i += 2 + length
    return _unknown("JPEG")


def _png(buf: bytes) -> ImageHeader | None:
    if buf[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    if buf[12:16] != b"IHDR" or len(buf) < 24:
        return _unknown("PNG")
    return ImageHeader("PNG", int.from_bytes(buf[16:20], "big"), int.from_bytes(buf[20:24], "big"))


def _tiff(buf) -> ImageHeader | None:
    if bytes(buf[:4]) not in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return None
    e = "<" if bytes(buf[:2]) == b"II" else ">"
    big = bytes(buf[2:4]) in (b"+\x00", b"\x00+")
    try:
        if big:
            (offset,) = struct.unpack_from(e + "Q", buf, 8)
            (count,) = struct.unpack_from(e + "Q", buf, offset)
            entry, first, size = 20, offset + 8, 8
        else:
            (offset,) = struct.unpack_from(e + "I", buf, 4)
            (count,) = struct.unpack_from(e + "H", buf, offset)
            entry, first, size = 12, offset + 2, 4
        w = h = -1
        for k in range(min(count, 4096)):
            at = first + k * entry
            tag, typ = struct.unpack_from(e + "HH", buf, at)
            if tag not in (256, 257):
                continue
            value_at = at + (12 if big else 8)
            if typ == 3:  # SHORT
                (value,) = struct.unpack_from(e + "H", buf, value_at)
            elif typ == 4:  # LONG
                (value,) = struct.unpack_from(e + "I", buf, value_at)
            elif typ == 16 and size == 8:  # LONG8
                (value,) = struct.unpack_from(e + "Q", buf, value_at)
            else:
                return _unknown("TIFF")
            w, h = (value, h) if tag == 256 else (w, value)
        return ImageHeader("TIFF", w, h) if w > 0 and h > 0 else _unknown("TIFF")
    except struct.error:  # the IFD lies past the bytes read (or past the file)
        return _unknown("TIFF")


def _webp(buf: bytes) -> ImageHeader | None:
    if buf[:4] != b"RIFF" or buf[8:12] != b"WEBP":
        return None
    chunk = buf[12:16]
    try:
        if chunk == b"VP8 ":
            w, h = struct.unpack_from("<HH", buf, 26)
            return ImageHeader("WebP", w & 0x3FFF, h & 0x3FFF)
        if chunk == b"VP8L":
            b = buf[21:25]
            bits = int.from_bytes(b, "little")
            return ImageHeader("WebP", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
        if chunk == b"VP8X":
            w = int.from_bytes(buf[24:27], "little") + 1
            h = int.from_bytes(buf[27:30], "little") + 1
            return ImageHeader("WebP", w, h)
    except struct.error:
        pass
    return _unknown("WebP")


def _bmp(buf: bytes) -> ImageHeader | None:
    if buf[:2] != b"BM" or len(buf) < 26:
        return None
    (dib,) = struct.unpack_from("<I", buf, 14)
    if dib == 12:  # OS/2 BITMAPCOREHEADER
        w, h = struct.unpack_from("<HH", buf, 18)
    else:
        w, h = struct.unpack_from("<ii", buf, 18)
    return ImageHeader("BMP", abs(w), abs(h))


def _gif(buf: bytes) -> ImageHeader | None:
    if buf[:6] not in (b"GIF87a", b"GIF89a") or len(buf) < 10:
        return None
    w, h = struct.unpack_from("<HH", buf, 6)
    return ImageHeader("GIF", w, h)


_PNM = re.compile(rb"^P([1-6Ff])(?:\s+|#[^\n]*\n)+(\d+)(?:\s+|#[^\n]*\n)+(\d+)")
_PAM = re.compile(rb"WIDTH\s+(\d+)[\s\S]*?HEIGHT\s+(\d+)|HEIGHT\s+(\d+)[\s\S]*?WIDTH\s+(\d+)")


def _pnm(buf: bytes) -> ImageHeader | None:
    if buf[:2] == b"P7":
        m = _PAM.search(buf[:4096])
        if not m:
            return _unknown("PAM")
        w, h = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
        return ImageHeader("PAM", int(w[:12]), int(h[:12]))
    if len(buf) < 2 or buf[0:1] != b"P" or buf[1:2] not in b"123456Ff":
        return None
    m = _PNM.match(buf[:4096])
    if not m:
        return _unknown("PNM")
    return ImageHeader("PNM", int(m.group(2)[:12]), int(m.group(3)[:12]))


def _jp2(buf: bytes) -> ImageHeader | None:
    if buf[:12] == b"\x00\x00\x00\x0cjP  \r\n\x87\n":
        at = buf.find(b"ihdr", 0, 1 << 16)
        if at < 0 or at + 12 > len(buf):
            return _unknown("JPEG 2000")
        h, w = struct.unpack_from(">II", buf, at + 4)
        return ImageHeader("JPEG 2000", w, h)
    if buf[:4] == b"\xff\x4f\xff\x51" and len(buf) >= 16:  # a raw codestream: SIZ right after SOC
        xs, ys, x0, y0 = struct.unpack_from(">IIII", buf, 8)
        return ImageHeader("JPEG 2000", xs - x0, ys - y0)
    return None


def _exr(buf: bytes) -> ImageHeader | None:
    if buf[:4] != b"\x76\x2f\x31\x01":
        return None
    at = buf.find(b"dataWindow\x00box2i\x00", 0, 1 << 16)
    if at < 0:
        return _unknown("OpenEXR")
    at += len(b"dataWindow\x00box2i\x00") + 4
    try:
        x0, y0, x1, y1 = struct.unpack_from("<iiii", buf, at)
    except struct.error:
        return _unknown("OpenEXR")
    return ImageHeader("OpenEXR", x1 - x0 + 1, y1 - y0 + 1)


_HDR_SIZE = re.compile(rb"\n\n([-+])([XY]) (\d+) ([-+])([XY]) (\d+)")


def _hdr(buf: bytes) -> ImageHeader | None:
    if not (buf.startswith(b"#?RADIANCE") or buf.startswith(b"#?RGBE")):
        return None
    m = _HDR_SIZE.search(buf[: 1 << 16])
    if not m:
        return _unknown("Radiance HDR")
    first, second = int(m.group(3)[:12]), int(m.group(6)[:12])
    return ImageHeader("Radiance HDR", *((second, first) if m.group(2) == b"Y" else (first, second)))


def _sunras(buf: bytes) -> ImageHeader | None:
    if buf[:4] != b"\x59\xa6\x6a\x95" or len(buf) < 12:
        return None
    w, h = struct.unpack_from(">II", buf, 4)
    return ImageHeader("Sun raster", w, h)
