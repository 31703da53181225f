"""Load any user photo as an RGB uint8 array: 8/16-bit, grey, RGBA, EXIF orientation, huge camera images.

cv2.imdecode with IMREAD_COLOR already converts grey/RGBA/16-bit to 8-bit BGR and honours EXIF orientation. Huge
JPEGs are decoded at 1/2, 1/4 or 1/8 scale straight from the DCT (IMREAD_REDUCED_*), so a 12000x8000 photo never
needs its full-size buffer; anything still larger than `max_side` is resized with INTER_AREA. Every failure is a
FacsimileError that names the file and says what to do.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from ..errors import FacsimileError

# Landmarks need nothing near this; it bounds memory (3 bytes/pixel) for any input.
DEFAULT_MAX_SIDE = 4096
# Refuse absurd headers (decompression bombs) before decoding: 400 megapixels.
MAX_PIXELS = 400_000_000
_SUPPORTED = "JPEG, PNG, TIFF, BMP, WebP"


class ImageLoadError(FacsimileError, ValueError):
    """The file is not a readable image."""


def _jpeg_size(data: np.ndarray) -> tuple[int, int] | None:
    """(width, height) from a JPEG's SOF header, or None when it is not a JPEG / header not found."""
    buf = data[: 1 << 20].tobytes()  # SOF sits near the start; EXIF thumbnails live in APP1 which is skipped
    if buf[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 9 < len(buf):
        if buf[i] != 0xFF:
            return None
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
            return w, h
        i += 2 + length
    return None


def _png_size(data: np.ndarray) -> tuple[int, int] | None:
    head = data[:24].tobytes()
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def load_image(path: str | os.PathLike, max_side: int = DEFAULT_MAX_SIDE) -> np.ndarray:
    """Read an image file as a contiguous (H, W, 3) RGB uint8 array, upright per EXIF, longest side <= max_side.

    Landmarks found on the returned array are in its pixel coordinates; for huge photos that is the reduced image.
    """
    p = Path(path)
    if not p.exists():
        raise ImageLoadError(f"image file not found: {p}")
    if not p.is_file():
        raise ImageLoadError(f"{p} is not a file; choose an image file ({_SUPPORTED})")
    if p.stat().st_size == 0:
        raise ImageLoadError(f"image file {p} is empty (0 bytes); choose another photo")
    try:
        data = np.fromfile(p, dtype=np.uint8)
    except OSError as exc:
        raise ImageLoadError(f"cannot read image file {p}: {exc}") from exc
    size = _jpeg_size(data) or _png_size(data)
    flags = cv2.IMREAD_COLOR
    if size is not None:
        if size[0] * size[1] > MAX_PIXELS:
            raise ImageLoadError(
                f"image {p} is {size[0]}x{size[1]} pixels, more than this tool accepts "
                f"({MAX_PIXELS // 1_000_000} megapixels); downscale it first"
            )
        if _jpeg_size(data) is not None:
            ratio = max(size) / max_side
            for factor, flag in ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4)):
                if ratio >= factor:
                    flags = flag
                    break
            else:
                if ratio >= 2:
                    flags = cv2.IMREAD_REDUCED_COLOR_2
    try:
        bgr = cv2.imdecode(data, flags)
    except cv2.error as exc:
        raise ImageLoadError(f"cannot decode {p}: {exc.err or exc}; the file may be too large or damaged") from exc
    if bgr is None or bgr.size == 0:
        raise ImageLoadError(
            f"cannot decode {p}: it is not a supported image ({_SUPPORTED}) or it is damaged/truncated"
        )
    h, w = bgr.shape[:2]
    if max(h, w) > max_side:
        s = max_side / max(h, w)
        bgr = cv2.resize(bgr, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def to_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """Normalise an in-memory image (grey, RGBA, uint16, float in [0, 1]) to contiguous (H, W, 3) RGB uint8."""
    if not isinstance(image, np.ndarray):
        raise FacsimileError(f"expected an image array, got {type(image).__name__}")
    img = image
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (3, 4)) or img.size == 0:
        raise FacsimileError(f"expected an (H, W), (H, W, 3) or (H, W, 4) image, got shape {image.shape}")
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype.kind == "f":
        if not np.isfinite(img).all():
            raise FacsimileError("image contains NaN or infinite values")
        img = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise FacsimileError(f"unsupported image dtype {img.dtype}; use uint8, uint16 or float in [0, 1]")
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    elif img.shape[2] == 4:
        img = img[:, :, :3]
    return np.ascontiguousarray(img)


def write_png(path: str | os.PathLike, image_bgr: np.ndarray) -> Path:
    """Write a BGR (OpenCV order) uint8 image as PNG atomically: a temporary file in the same folder, then a rename,
    so a failure never leaves half a file."""
    from ..atomic_io import atomic_output

    with atomic_output(path, suffix=".png") as tmp:
        if not cv2.imwrite(str(tmp), image_bgr):
            raise FacsimileError(f"could not encode PNG for {path}")
    return Path(path)
