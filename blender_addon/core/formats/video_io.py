"""Video frames for the solver: video files through cv2.VideoCapture, image sequences from folders or globs.

Frames come out as RGB uint8 one at a time (a long video never sits in memory). A file cv2 cannot decode, or a
video with no readable frame, is a FacsimileError that names the file and what to do, never an empty result.
Decoding runs a few frames ahead on a reader thread (cv2 releases the GIL), so it overlaps the face tracking of the
previous frames instead of adding to it.
"""

from __future__ import annotations

import glob
import math
import os
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import FacsimileError

VIDEO_EXTENSIONS = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
DEFAULT_SEQUENCE_FPS = 30.0
PREFETCH_FRAMES = 3  # frames decoded ahead: enough to hide decode jitter, little memory even for 4K


class VideoReadError(FacsimileError, ValueError):
    """A video or image sequence that cannot be read."""


def is_pattern(path: str | os.PathLike) -> bool:
    """A glob pattern ('shots/*.png') only when no file or folder of that name exists: a path that exists is a path,
    so 'face [1].jpg' is that photo, never a pattern matching 'face 1.jpg'."""
    s = os.fspath(path)
    return any(ch in s for ch in "*?[") and not os.path.exists(s)


def sequence_files(path: str | os.PathLike) -> list[str]:
    """The images of a folder (sorted by name) or of a glob pattern; [] when there are none."""
    s = os.fspath(path)
    if os.path.isdir(s):
        names = sorted(os.listdir(s))  # listed, never globbed: a folder name may hold '[' or '*'
        files = [os.path.join(s, n) for n in names]
    elif is_pattern(s):
        files = sorted(glob.glob(s))
    else:
        return []
    return [f for f in files if Path(f).suffix.lower() in IMAGE_EXTENSIONS and os.path.isfile(f)]


def is_video_path(path: str | os.PathLike) -> bool:
    """True for a video file extension, a folder (image sequence) or a glob pattern (a name that does not exist)."""
    if is_pattern(path):
        return True
    p = Path(os.fspath(path))
    return p.suffix.lower() in VIDEO_EXTENSIONS or p.is_dir()


def prefetched(produce: Callable[[], Iterator[np.ndarray]], depth: int = PREFETCH_FRAMES) -> Iterator[np.ndarray]:
    """Run the frame generator `produce()` on a reader thread, `depth` frames ahead of the consumer.

    Exceptions of the reader come out of this iterator at the point the frame would have; closing this iterator early
    (a cancelled bake) stops the reader and closes its generator (releasing the decoder) before returning.
    """
    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()
    done = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def reader() -> None:
        gen = produce()
        try:
            for frame in gen:
                if not put((frame, None)):
                    return
            put((done, None))
        except BaseException as exc:  # handed to the consumer, raised there
            put((None, exc))
        finally:
            gen.close()

    thread = threading.Thread(target=reader, name="facsimile-video-reader", daemon=True)
    thread.start()
    try:
        while True:
            item, exc = q.get()
            if exc is not None:
                raise exc
            if item is done:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:  # unblock a reader waiting on a full queue
                q.get(timeout=0.05)
            except queue.Empty:
                pass
        thread.join()


@dataclass
class VideoSource:
    """An opened frame source: fps, frame count (-1 when unknown) and the frame iterator."""

    path: str
    fps: float
    frame_count: int

    def frames(self) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def ended_early(self, decoded: int) -> bool:
        """Whether reading the whole source gave fewer frames than its header promises (truncated or damaged)."""
        return 0 < self.frame_count and decoded < self.frame_count


class _CaptureSource(VideoSource):
    """A video file. Each decoded frame's own timestamp (seconds from the first frame) is appended to `times` as it
    is decoded: a variable-frame-rate clip is keyed by them, never by frame index / fps."""

    times: list[float] | tuple = ()  # filled by frames()

    def frames(self) -> Iterator[np.ndarray]:
        self.times = []
        return prefetched(self._decode)

    def header_seconds(self) -> float:
        """How long the header says the clip lasts (frame count / rate); -1 when unknown."""
        return self.frame_count / self.fps if self.frame_count > 0 and self.fps > 0 else -1.0

    def ended_early(self, decoded: int) -> bool:
        """By time, not by count: a variable frame rate makes the header's frame count (duration x nominal rate) an
        estimate. The last frame is shown for about one frame interval."""
        if not super().ended_early(decoded):
            return False
        if len(self.times) and self.header_seconds() > 0:
            return self.times[-1] + 1.0 / self.fps < 0.95 * self.header_seconds()
        return True

    def _decode(self) -> Iterator[np.ndarray]:
        import cv2

        cap = cv2.VideoCapture(self.path)
        try:
            if not cap.isOpened():
                raise VideoReadError(f"cannot open video {self.path}; is it a video file cv2/FFmpeg can decode?")
            n = 0
            times = self.times
            first_ms = None
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                ms = float(cap.get(cv2.CAP_PROP_POS_MSEC))
                if first_ms is None:
                    first_ms = ms
                # The frame's presentation time; a container without one (or going backwards) continues evenly.
                t = (ms - first_ms) / 1000.0 if math.isfinite(ms) else -1.0
                if not times:
                    t = 0.0
                elif not t > times[-1]:
                    t = times[-1] + 1.0 / self.fps
                times.append(t)
                n += 1
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            if n == 0:
                raise VideoReadError(
                    f"{self.path}: no frame could be decoded (corrupt or unsupported video); re-encode it as H.264 MP4"
                )
        finally:
            cap.release()


class _SequenceSource(VideoSource):
    def __init__(self, path: str, fps: float, files: list[str]):
        super().__init__(path=path, fps=fps, frame_count=len(files))
        self.files = files

    def frames(self) -> Iterator[np.ndarray]:
        return prefetched(self._load)

    def _load(self) -> Iterator[np.ndarray]:
        from .image_io import load_image

        for f in self.files:
            yield load_image(f)


def open_video(path: str | os.PathLike, fps: float | None = None) -> VideoSource:
    """A video file, a folder of images (sorted by name) or a glob pattern (a name that does not exist) -> VideoSource.

    fps: overrides the file's rate; image sequences default to 30 fps.
    """
    import cv2

    s = str(path)
    if fps is not None and not (fps > 0 and math.isfinite(fps)):
        raise FacsimileError(f"fps must be a positive number, got {fps!r}")
    if is_pattern(s) or Path(s).is_dir():
        files = sequence_files(s)
        if not files:
            raise VideoReadError(f"no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) found for {s}")
        return _SequenceSource(s, fps or DEFAULT_SEQUENCE_FPS, files)
    p = Path(s)
    if not p.is_file():
        raise VideoReadError(f"video file not found: {s}")
    cap = cv2.VideoCapture(s)
    try:
        if not cap.isOpened():
            raise VideoReadError(f"cannot open video {s}: corrupt or not a video format cv2/FFmpeg can decode")
        file_fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or -1)
    finally:
        cap.release()
    if fps is None:
        fps = file_fps if file_fps > 0 and math.isfinite(file_fps) and file_fps < 1000 else DEFAULT_SEQUENCE_FPS
    return _CaptureSource(path=s, fps=float(fps), frame_count=count)
