"""Whether this process was asked to stop (Ctrl-C, SIGTERM, SIGHUP), and why.

The command line turns each of those signals into KeyboardInterrupt. One that lands inside a C extension's import or
a library call can come out as another exception (an ImportError "initialization failed"); the signal is noted here
first, so the command and each batch job still treat the run as interrupted (exit 130), never as a failure or a bug.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

_reason: str | None = None


def note(reason: str) -> None:
    global _reason
    _reason = reason


def requested() -> str | None:
    """The reason a stop was asked for, or None."""
    return _reason


def clear() -> None:
    global _reason
    _reason = None


_STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Hold Ctrl-C, SIGTERM and SIGHUP while Blender runs its own Python callbacks (opening or saving a .blend runs
    load/save/version handlers, which report an exception raised inside them as a traceback and go on); a signal that
    arrives meanwhile is delivered, and stops the run, right after. A no-op off the main thread or without
    pthread_sigmask (Windows)."""
    import signal
    import threading

    mask = getattr(signal, "pthread_sigmask", None)
    if mask is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = {getattr(signal, n) for n in _STOP_SIGNALS if hasattr(signal, n)}
    previous = mask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        mask(signal.SIG_SETMASK, previous)  # a pending signal's handler runs here
