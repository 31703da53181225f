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
# Refuse absurd headers (decompression bombs) before decoding: 400 megapixels for a baseline JPEG (decoded reduced,
# straight from the DCT), 64 megapixels for every other format (and progressive JPEG), which cv2 decodes at full size
# (up to 16 bits x 4 channels) before it can be shrunk: that bounds a decode to well under 1.5 GB.
MAX_PIXELS = 400_000_000
MAX_FULL_DECODE_PIXELS = 64_000_000
_SUPPORTED = "JPEG, PNG, TIFF, BMP, WebP, GIF, PNM, JPEG 2000, OpenEXR, HDR"


class ImageLoadError(FacsimileError, ValueError):
    """The file is not a readable image."""


def load_image(path: str | os.PathLike, max_side: int = DEFAULT_MAX_SIDE) -> np.ndarray:
    """Read an image file as a contiguous (H, W, 3) RGB uint8 array, upright per EXIF, longest side <= max_side.

    Landmarks found on the returned array are in its pixel coordinates; for huge photos that is the reduced image.
    """
    p = Path(path)
    if not p.exists():
        raise ImageLoadError(f"image file not found: {p}")
    if not p.is_file():
        from ..output_plan import check_input

        check_input("image", p)  # a named pipe or a device: say what it is
        raise ImageLoadError(f"{p} is not a file; choose an image file ({_SUPPORTED})")
    if p.stat().st_size == 0:
        raise ImageLoadError(f"image file {p} is empty (0 bytes); choose another photo")
    try:
        data = np.fromfile(p, dtype=np.uint8)
    except OSError as exc:
        raise ImageLoadError(f"cannot read image file {p}: {exc}") from exc
    from .image_header import read_header

    header = read_header(data)
    if header is None:
        raise ImageLoadError(
            f"cannot decode {p}: it is not a supported image ({_SUPPORTED}); convert it to JPEG or PNG"
        )
    if header.width <= 0 or header.height <= 0:
        raise ImageLoadError(f"cannot decode {p}: its {header.format} header gives no size (damaged or truncated)")
    pixels = header.width * header.height
    reducible = header.format == "JPEG" and not header.progressive
    limit = MAX_PIXELS if reducible else MAX_FULL_DECODE_PIXELS
    if pixels > limit:
        raise ImageLoadError(
            f"image {p} is {header.width}x{header.height} pixels ({header.format}), more than this tool accepts "
            f"({limit // 1_000_000} megapixels{'' if reducible else ' for this format'}); downscale it first"
        )
    flags = cv2.IMREAD_COLOR
    if reducible:
        ratio = max(header.width, header.height) / max_side
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
