"""Contact sheets: tile rendered PNGs into one labelled image (cv2), so a whole sequence or all 52 shapes read at once."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from ..core.errors import FacsimileError


def _as_bgr(image: np.ndarray | str | Path) -> np.ndarray:
    if isinstance(image, (str, Path)):
        data = cv2.imread(str(image), cv2.IMREAD_COLOR)
        if data is None:
            raise FacsimileError(f"could not read image {image} for the contact sheet")
        return data
    img = np.asarray(image)
    if img.dtype != np.uint8:
        raise FacsimileError(f"contact sheet tiles must be uint8 images, got {img.dtype}")
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.ndim == 3 and img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    if img.ndim == 3 and img.shape[2] == 3:
        return img
    raise FacsimileError(f"contact sheet tiles must be HxW, HxWx3 or HxWx4 images, got shape {img.shape}")


def make_contact_sheet(
    images: Sequence[np.ndarray | str | Path],
    labels: Sequence[str] | None = None,
    cols: int | None = None,
    tile: tuple[int, int] | None = None,
    pad: int = 4,
    label_height: int = 22,
    background: tuple[int, int, int] = (40, 40, 40),
) -> np.ndarray:
    """Tile images (BGR arrays or PNG paths) in a grid with a label strip under each; returns a BGR uint8 image.

    tile: (width, height) every image is resized to (default: the first image's size).
    """
    if not images:
        raise FacsimileError("no images to put on the contact sheet")
    if labels is not None and len(labels) != len(images):
        raise FacsimileError(f"{len(labels)} labels for {len(images)} images")
    tiles = [_as_bgr(im) for im in images]
    tw, th = tile if tile is not None else (tiles[0].shape[1], tiles[0].shape[0])
    n = len(tiles)
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    lh = label_height if labels is not None else 0
    cell_w, cell_h = tw + pad, th + lh + pad
    sheet = np.empty((rows * cell_h + pad, cols * cell_w + pad, 3), dtype=np.uint8)
    sheet[:] = background
    font = cv2.FONT_HERSHEY_SIMPLEX
    for k, img in enumerate(tiles):
        r, c = divmod(k, cols)
        x0, y0 = pad + c * cell_w, pad + r * cell_h
        if img.shape[:2] != (th, tw):
            img = cv2.resize(img, (tw, th), interpolation=cv2.INTER_AREA)
        sheet[y0 : y0 + th, x0 : x0 + tw] = img
        if labels is not None:
            text = str(labels[k])
            scale = 0.5
            (w, h), _ = cv2.getTextSize(text, font, scale, 1)
            while w > tw - 4 and scale > 0.25:  # shrink long names to fit the tile
                scale -= 0.05
                (w, h), _ = cv2.getTextSize(text, font, scale, 1)
            org = (x0 + max(2, (tw - w) // 2), y0 + th + (lh + h) // 2)
            cv2.putText(sheet, text, org, font, scale, (235, 235, 235), 1, cv2.LINE_AA)
    return sheet
