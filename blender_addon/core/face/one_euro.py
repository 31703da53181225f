"""One Euro filter (Casiez et al. 2012) per channel, run frame by frame on solved weight tracks from video
(FaceSolver.solve_video: the panel's and `facsimile bake`'s video bakes, `facsimile solve` on a video).

Why One Euro: it smooths jitter when a channel is still and follows fast moves with little lag, because the cut-off
rises with the channel's speed. Blinks are the fastest facial motion (a full close/open in ~100-150 ms), so the eyelid
channels get a much higher beta and min cut-off: a blink is never flattened into a half-close.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..arkit import ARKIT_NAMES, NUM_BLENDSHAPES
from ..errors import FacsimileError

BLINK_SAFE_CHANNELS = tuple(n for n in ARKIT_NAMES if n.startswith(("eyeBlink", "eyeSquint", "eyeWide")))


@dataclass(frozen=True)
class OneEuroParams:
    min_cutoff: float = 1.5  # Hz: smoothing when still (lower = smoother)
    beta: float = 0.5  # speed coefficient (higher = less lag on fast moves)
    d_cutoff: float = 1.0  # Hz: smoothing of the speed estimate


DEFAULT_PARAMS = OneEuroParams()
BLINK_PARAMS = OneEuroParams(min_cutoff=4.0, beta=5.0, d_cutoff=1.0)


def _alpha(cutoff: np.ndarray, dt: float) -> np.ndarray:
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Vector One Euro filter: one independent filter per channel, each with its own parameters.

    smoothing in [0, 1] scales all cut-offs (0 = off, 1 = default, above 1 smoother): one knob for the UI/CLI.
    """

    def __init__(
        self,
        channels: int = NUM_BLENDSHAPES,
        params: OneEuroParams | list[OneEuroParams] | None = None,
        smoothing: float = 1.0,
        names: tuple[str, ...] | None = ARKIT_NAMES,
    ):
        if smoothing < 0 or not math.isfinite(smoothing):
            raise FacsimileError(f"smoothing must be a number >= 0, got {smoothing!r}")
        if params is None:
            if names is not None and len(names) == channels:
                params = [BLINK_PARAMS if n in BLINK_SAFE_CHANNELS else DEFAULT_PARAMS for n in names]
            else:
                params = [DEFAULT_PARAMS] * channels
        elif isinstance(params, OneEuroParams):
            params = [params] * channels
        if len(params) != channels:
            raise FacsimileError(f"{len(params)} filter parameter sets for {channels} channels")
        self.channels = channels
        self.smoothing = float(smoothing)
        scale = 1.0 / max(self.smoothing, 1e-6)
        self.min_cutoff = np.array([p.min_cutoff for p in params]) * scale
        self.beta = np.array([p.beta for p in params]) * scale
        self.d_cutoff = np.array([p.d_cutoff for p in params])
        self.reset()

    def reset(self) -> None:
        """Forget the history (a cut in the video, a lost face)."""
        self._x: np.ndarray | None = None
        self._dx = np.zeros(self.channels)
        self._t: float | None = None

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        """Filter one sample x (channels,) taken at time t seconds (strictly increasing)."""
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        if x.shape[0] != self.channels:
            raise FacsimileError(f"expected {self.channels} values, got {x.shape[0]}")
        if not np.isfinite(x).all():
            raise FacsimileError("cannot filter NaN or infinite values")
        if self.smoothing == 0 or self._x is None or self._t is None:
            self._x, self._t = x.copy(), float(t)
            self._dx = np.zeros(self.channels)
            return x.copy()
        dt = float(t) - self._t
        if dt <= 0:
            raise FacsimileError(f"time must increase between samples (got {t} after {self._t})")
        dx = (x - self._x) / dt
        a_d = _alpha(self.d_cutoff, dt)
        self._dx = a_d * dx + (1 - a_d) * self._dx
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        a = _alpha(cutoff, dt)
        self._x = a * x + (1 - a) * self._x
        self._t = float(t)
        return self._x.copy()
