"""load_image: every photo a user may pick (bit depths, channels, EXIF orientation, huge, broken) -> RGB uint8 or a
clear FacsimileError."""

from __future__ import annotations

import struct
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import REPO_ROOT, shared_path

from blender_addon.core.errors import FacsimileError
from blender_addon.core.formats.image_io import DEFAULT_MAX_SIDE, ImageLoadError, load_image, to_rgb_uint8


def _pattern(h: int = 60, w: int = 90) -> np.ndarray:
    """RGB image whose left 10 columns are red and top 5 rows are blue, so orientation is checkable."""
    img = np.zeros((h, w, 3), np.uint8)
    img[:, :10] = (255, 0, 0)
    img[:5, 10:] = (0, 0, 255)
    return img


def _write(path, rgb: np.ndarray, params=()) -> None:
    ok = cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) if rgb.ndim == 3 else rgb, list(params))
    assert ok


def _with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """Insert a minimal APP1/EXIF segment with one Orientation tag right after the JPEG SOI marker."""
    ifd = struct.pack("<H", 1) + struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack("<I", 0)
    tiff = b"II*\x00" + struct.pack("<I", 8) + ifd
    payload = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def test_plain_jpeg_and_png(tmp_path):
    img = _pattern()
    _write(tmp_path / "a.png", img)
    _write(tmp_path / "a.jpg", img, (cv2.IMWRITE_JPEG_QUALITY, 98))
    png = load_image(tmp_path / "a.png")
    assert png.dtype == np.uint8 and png.shape == (60, 90, 3) and png.flags.c_contiguous
    assert (png == img).all()
    assert np.abs(load_image(tmp_path / "a.jpg").astype(int) - img).mean() < 3


def test_16bit_gray_and_rgba(tmp_path):
    img = _pattern()
    img16 = img.astype(np.uint16) * 257
    _write(tmp_path / "deep.png", img16)
    assert (load_image(tmp_path / "deep.png") == img).all()
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    _write(tmp_path / "gray.png", gray)
    g = load_image(tmp_path / "gray.png")
    assert g.shape == (60, 90, 3) and (g[:, :, 0] == gray).all() and (g[:, :, 1] == gray).all()
    rgba = np.dstack([img, np.full(img.shape[:2], 200, np.uint8)])
    ok = cv2.imwrite(str(tmp_path / "alpha.png"), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    assert ok and (load_image(tmp_path / "alpha.png") == img).all()


@pytest.mark.parametrize(
    "orientation,rotate",
    [(1, None), (3, cv2.ROTATE_180), (6, cv2.ROTATE_90_CLOCKWISE), (8, cv2.ROTATE_90_COUNTERCLOCKWISE)],
)
def test_exif_orientation_is_honoured(tmp_path, orientation, rotate):
    img = _pattern()
    ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 98])
    path = tmp_path / "exif.jpg"
    path.write_bytes(_with_exif_orientation(jpg.tobytes(), orientation))
    expect = img if rotate is None else cv2.rotate(img, rotate)
    got = load_image(path)
    assert got.shape == expect.shape
    assert np.abs(got.astype(int) - expect).mean() < 3


def test_huge_photo_is_read_reduced_without_blowing_memory(tmp_path):
    """A 12000x8000 JPEG: decoded at reduced scale (child process peak memory well under one full-size decode)."""
    face = cv2.imread(str(shared_path("photos", "neutral.jpeg")))
    h, w = face.shape[:2]
    canvas = cv2.resize(face, (int(w * 8000 / h), 8000), interpolation=cv2.INTER_LINEAR)
    big = np.zeros((8000, 12000, 3), np.uint8)
    big[:, : canvas.shape[1]] = canvas[:, :12000]
    path = tmp_path / "huge.jpg"
    assert cv2.imwrite(str(path), big, [cv2.IMWRITE_JPEG_QUALITY, 80])
    del big, canvas
    code = (
        "import sys\n"
        # VmHWM is this process image's own peak (ru_maxrss would include the forked pytest parent's).
        "def _hwm():\n"
        "    try:\n"
        "        line = [x for x in open('/proc/self/status') if x.startswith('VmHWM')][0]\n"
        "    except OSError:\n"
        "        return -1  # not Linux: the size checks still run\n"
        "    return int(line.split()[1]) // 1024\n"
        "from blender_addon.core.formats.image_io import load_image\n"
        "img = load_image(sys.argv[1])\n"
        "peak = _hwm()\n"
        "from blender_addon.core.face.tracking import FaceTracker\n"
        "faces = FaceTracker(device='cpu').detect(img)\n"
        "print(img.shape[0], img.shape[1], len(faces), peak)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, cwd=REPO_ROOT)
    assert out.returncode == 0, out.stderr
    h2, w2, n_faces, peak_mb = map(int, out.stdout.split())
    assert max(h2, w2) == DEFAULT_MAX_SIDE and abs(w2 / h2 - 1.5) < 0.01
    assert n_faces == 1
    full_decode_mb = 12000 * 8000 * 3 / 2**20  # 275 MB for the pixels alone
    # Python + numpy + cv2 start at ~60 MB; a plain cv2.imread of this file peaks at ~600 MB here.
    assert peak_mb < full_decode_mb + 60 or peak_mb == -1, (
        f"peak {peak_mb} MB after loading: the full-size image was decoded"
    )


def test_absurd_dimensions_are_refused_before_decoding(tmp_path):
    """A PNG header claiming 100000x100000 pixels (a decompression bomb) is refused by its header."""
    ok, png = cv2.imencode(".png", np.zeros((2, 2, 3), np.uint8))
    data = bytearray(png.tobytes())
    data[16:24] = struct.pack(">II", 100_000, 100_000)
    (tmp_path / "bomb.png").write_bytes(bytes(data))
    with pytest.raises(ImageLoadError, match="megapixels"):
        load_image(tmp_path / "bomb.png")


def test_broken_files_give_clear_errors(tmp_path):
    ok, jpg = cv2.imencode(".jpg", np.full((64, 64, 3), 128, np.uint8))
    cases = {
        "empty.jpg": b"",
        "text.png": b"hello, this is not a picture\n" * 10,
        "garbage.jpg": b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4,
        "halfheader.png": b"\x89PNG\r\n\x1a\n\x00\x00",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ImageLoadError) as info:
            load_image(tmp_path / name)
        msg = str(info.value)
        assert name in msg and ("empty" in msg or "cannot decode" in msg), msg
        assert (tmp_path / name).read_bytes() == data  # never touched
    with pytest.raises(ImageLoadError, match="not found"):
        load_image(tmp_path / "missing.jpg")
    with pytest.raises(ImageLoadError, match="not a file"):
        load_image(tmp_path)
    assert isinstance(ImageLoadError("x"), FacsimileError)


def test_truncated_jpeg_gives_image_or_clear_error(tmp_path):
    """libjpeg fills a cut-off JPEG with grey; either that image or a clear error is fine, never a crash."""
    img = cv2.resize(cv2.imread(str(shared_path("photos", "lisa1.jpg"))), (300, 400))
    ok, jpg = cv2.imencode(".jpg", img)
    (tmp_path / "cut.jpg").write_bytes(jpg.tobytes()[: len(jpg) // 3])
    try:
        out = load_image(tmp_path / "cut.jpg")
    except ImageLoadError as exc:
        assert "cut.jpg" in str(exc)
    else:
        assert out.shape == (400, 300, 3)


def test_one_pixel_image(tmp_path):
    _write(tmp_path / "dot.png", np.full((1, 1, 3), 7, np.uint8))
    assert load_image(tmp_path / "dot.png").shape == (1, 1, 3)


def test_to_rgb_uint8_normalises_arrays():
    rgb = _pattern()
    assert to_rgb_uint8(rgb) is not None and (to_rgb_uint8(rgb) == rgb).all()
    assert (to_rgb_uint8(rgb.astype(np.float32) / 255.0) == rgb).all()
    assert (to_rgb_uint8(rgb.astype(np.uint16) * 257) == rgb).all()
    assert to_rgb_uint8(rgb[:, :, 0]).shape == (60, 90, 3)
    assert to_rgb_uint8(rgb[:, :, :1]).shape == (60, 90, 3)
    assert (to_rgb_uint8(np.dstack([rgb, rgb[:, :, 0]])) == rgb).all()
    for bad in (np.zeros((0, 5, 3), np.uint8), np.zeros((4, 4, 5), np.uint8), np.zeros(5, np.uint8)):
        with pytest.raises(FacsimileError):
            to_rgb_uint8(bad)
