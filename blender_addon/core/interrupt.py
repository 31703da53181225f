"""Whether this process was asked to stop (Ctrl-C, SIGTERM, SIGHUP), and why.

The command line turns each of those signals into KeyboardInterrupt. One that lands inside a C extension's import or
a library call can come out as another exception (an ImportError "initialization failed"); the signal is noted here
first, so the command and each batch job still treat the run as interrupted (exit 130), never as a failure or a bug.
"""

from __future__ import annotations

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
