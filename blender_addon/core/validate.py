"""Range and type checks for every number a user gives (command lines, batch rows, operator fields, weights files).

One place, so the CLI, batch and the panel refuse the same values with the same message. Why: values Blender cannot
hold were written as broken animation (frame 1e9 collapses 30 keys into one; an infinite frame saves a key at inf),
and a stray string or boolean in a job row was a traceback or a silent 1.0.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

from .errors import FacsimileError

# Blender's scene frame range (MINAFRAME / MAXFRAME in DNA_scene_types.h): keys outside it cannot be set or played.
MIN_FRAME = -1048574
MAX_FRAME = 1048574
MAX_FPS = 1000.0  # a source or scene rate above this is a typo, not a camera
MAX_SOURCE_FRAME = 10**9  # video frame indices


def _show(value: object) -> str:
    """A value for a message, cut short (a 400-digit integer is not worth printing)."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"


def whole(value: object, name: str, lo: int | None = None, hi: int | None = None) -> int:
    """An integer (3, '3', 3.0), never a boolean or 2.5, within [lo, hi]."""
    if isinstance(value, bool):
        raise FacsimileError(f"{name} must be a whole number, got {_show(value)}")
    if isinstance(value, Integral):
        n = int(value)
    elif isinstance(value, Real):
        v = float(value)
        if not math.isfinite(v) or v != int(v):
            raise FacsimileError(f"{name} must be a whole number, got {_show(value)}")
        n = int(v)
    elif isinstance(value, str):
        try:
            n = int(value.strip())
        except ValueError:  # not a number, or too many digits for Python's int conversion
            raise FacsimileError(f"{name} must be a whole number, got {_show(value)}") from None
    else:
        raise FacsimileError(f"{name} must be a whole number, got {type(value).__name__}")
    if lo is not None and n < lo:
        raise FacsimileError(f"{name} must be at least {lo}, got {_show(n)}")
    if hi is not None and n > hi:
        raise FacsimileError(f"{name} must be at most {hi}, got {_show(n)}")
    return n


def number(
    value: object, name: str, lo: float | None = None, hi: float | None = None, *, above: float | None = None
) -> float:
    """A finite number (never a boolean), >= lo, <= hi, > above."""
    if isinstance(value, bool):
        raise FacsimileError(f"{name} must be a number, got {_show(value)}")
    if isinstance(value, Real):
        try:
            v = float(value)
        except OverflowError:  # an integer past a float's range
            v = math.inf if value > 0 else -math.inf
    elif isinstance(value, str):
        try:
            v = float(value.strip())
        except ValueError:
            raise FacsimileError(f"{name} must be a number, got {_show(value)}") from None
    else:
        raise FacsimileError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(v):
        raise FacsimileError(f"{name} must be a finite number, got {_show(value)}")
    if above is not None and not v > above:
        raise FacsimileError(f"{name} must be more than {above:g}, got {v:g}")
    if lo is not None and v < lo:
        raise FacsimileError(f"{name} must be at least {lo:g}, got {v:g}")
    if hi is not None and v > hi:
        raise FacsimileError(f"{name} must be at most {hi:g}, got {v:g}")
    return v


def frame(value: object, name: str) -> int:
    """A scene frame Blender can hold."""
    return whole(value, name, MIN_FRAME, MAX_FRAME)


def optional_frame(value: object, name: str) -> int | None:
    return None if value is None else frame(value, name)


def fps(value: object, name: str = "fps") -> float:
    """A frame rate: finite, above 0, at most MAX_FPS."""
    return number(value, name, hi=MAX_FPS, above=0.0)


def frame_span(start: int, count: int, name: str) -> None:
    """`count` keys from `start` must all land inside Blender's frame range."""
    last = int(start) + int(count) - 1
    if last > MAX_FRAME:
        raise FacsimileError(
            f"{name} {start} with {count} frames would key up to frame {last}, past Blender's last frame {MAX_FRAME}"
        )


def weight(value: object, name: str) -> float:
    """A blendshape weight: a finite number; a string or a boolean is not a weight."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise FacsimileError(f"weight for {name!r} must be a number, got {_show(value)}")
    v = float(value)
    if not math.isfinite(v):
        raise FacsimileError(f"weight for {name!r} is {value!r}; every weight must be a finite number")
    return v
