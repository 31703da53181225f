"""Head (and, once merged, body) collectors that ride along a face bake (face_session.BakeJob's extras): they see
every decoded frame and every tracked face of the same pass, so the video is decoded and the face tracked once.

Each collector does nothing to the scene until finish(), which keys its bones in one bulk write per curve, so a
cancelled bake leaves the rig as it was.
"""

from __future__ import annotations

import numpy as np

from .core.face.head_pose import HeadTrack
from .core.rig.head_rig import HeadRigOptions, neutral_from_track
from .head_capture import HeadTarget, bake_head, store_head_take


class HeadCollector:
    """Head pose and gaze per frame (smoothed like the weights), keyed onto the head target at finish()."""

    name = "head"

    def __init__(
        self,
        target: HeadTarget,
        opts: HeadRigOptions,
        smoothing: float = 1.0,
        neutral: str = "none",
        face_obj=None,
    ):
        self.target = target
        self.face_obj = face_obj
        self.opts = opts.check()
        self.neutral = neutral
        self.track = HeadTrack(smoothing=smoothing)
        self._size = (0, 0)
        self.device = "cpu (numpy + cv2)"
        self.result: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def see(self, image: np.ndarray) -> None:
        self._size = (image.shape[1], image.shape[0])

    def add(self, frame) -> None:
        face = frame.face
        if face is None:
            self.track.update(None, frame.time, *self._size)
        else:
            self.track.update(face.landmarks, frame.time, *self._size, weights=face.weights)

    def finish(self, frames: np.ndarray, kept: np.ndarray) -> str:
        ypr, gaze, found = self.track.arrays()
        ypr, gaze, found = ypr[kept], gaze[kept], found[kept]
        self.result = (ypr, gaze, found)
        opts = self.opts
        note = ""
        if self.neutral != "none" and found.any():
            n = neutral_from_track(ypr, self.neutral, found)
            opts = HeadRigOptions(**{**opts.__dict__, "neutral_deg": n})
            note = f" (neutral {self.neutral}: yaw {n[0]:+.1f}, pitch {n[1]:+.1f}, roll {n[2]:+.1f} deg)"
        if self.face_obj is not None:
            store_head_take(self.face_obj, frames, ypr, gaze)
        return bake_head(self.target, frames, ypr, gaze, opts) + note
