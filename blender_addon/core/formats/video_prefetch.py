"""Decode video frames on a reader thread ahead of inference (a bounded queue), around any frame iterator.

cv2's decoder and onnxruntime both release the GIL, so while the face models run on frame i the reader decodes
frame i+1..i+DEPTH: decoding leaves the critical path (benchmarks/bench_video_bake.py measures it). The wrapped reader
(core.formats.video_io, and its timestamps) is untouched; a sequence already in memory (a list of frames) is passed
through without a thread. Errors raised by the reader reach the consumer at the frame where they happened; leaving the
`with` block early (a cancelled bake) stops the thread and closes the reader before it returns.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

DEPTH = 4  # frames decoded ahead: enough to hide a slow frame, little memory (4 x 1080p RGB = 25 MB)
_END = object()
_POLL_S = 0.05


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class Prefetcher:
    """Iterate the frames of `source`, decoded by a daemon thread up to `depth` frames ahead."""

    def __init__(self, source: Iterable[Any], depth: int = DEPTH) -> None:
        if depth < 1:
            raise ValueError("depth must be at least 1")
        self._source = iter(source)
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="facsimile-video-prefetch", daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _read(self) -> None:
        try:
            for frame in self._source:
                if not self._put(frame):
                    return
            self._put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(_Failure(exc))

    def __iter__(self) -> Iterator[Any]:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item

    def close(self) -> None:
        """Stop the reader thread and close the wrapped iterator (its decoder) once the thread is out of it."""
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=_POLL_S)  # unblock a put
        close = getattr(self._source, "close", None)
        if close is not None:
            close()


@contextlib.contextmanager
def prefetched(frames: Iterable[Any], depth: int = DEPTH) -> Iterator[Iterable[Any]]:
    """`with prefetched(reader.frames()) as frames: for f in frames: ...`; sequences in memory pass straight through."""
    if isinstance(frames, Sequence):
        yield frames
        return
    ahead = Prefetcher(frames, depth)
    try:
        yield ahead
    finally:
        ahead.close()
