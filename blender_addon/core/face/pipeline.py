"""Photo/video -> ARKit-52 weights: the face front-end (core.face.tracking) followed by the expression generator.

One object, FaceSolver, so the CLI, the Blender operators and the tests all run the very same chain: image -> faces
(largest first) -> 478 landmarks -> normalised features -> 52 weights, with the generator's in-range flag carried
through. Video frames are tracked (detector only when the face is lost) and smoothed with the blink-safe One Euro
filter.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from ..arkit import NUM_BLENDSHAPES
from ..errors import FacsimileError


@dataclass
class SolvedFace:
    """One face: box (x, y, w, h) px, detector/mesh confidence, landmarks (478, 3) px, weights (52,) in contract
    order, in_range False (with reason) when the generator should not be trusted on it, pose (yaw, pitch, roll) deg."""

    box: tuple[float, float, float, float]
    confidence: float
    landmarks: np.ndarray
    weights: np.ndarray
    in_range: bool
    reason: str = ""
    pose_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass
class VideoFrame:
    """One video frame: index, time (s), the tracked face (None when lost), the smoothed weights (52,) to write
    (the last good values are held while the face is lost; zeros before the first face) and whether a face was seen."""

    index: int
    time: float
    face: SolvedFace | None
    weights: np.ndarray
    found: bool


class FaceSolver:
    """Face tracker + expression generator on one device."""

    def __init__(self, device: str = "auto", max_faces: int = 4, model_path: str | os.PathLike | None = None):
        from .expression_generator import ExpressionGenerator
        from .tracking import FaceTracker

        self.tracker = FaceTracker(device=device, max_faces=max_faces)
        self.generator = ExpressionGenerator(device=device, model_path=model_path)

    @property
    def device_info(self) -> str:
        """The device each stage really runs on, e.g. "face cpu, generator cpu (notes)" (CLI line and panel)."""
        from ..models.onnx_session import describe_stages

        return describe_stages({"face": self.tracker.device_info, "generator": self.generator.session_info})

    def _solve_faces(self, faces: list) -> list[SolvedFace]:
        if not faces:
            return []
        res = self.generator.predict(np.stack([f.landmarks for f in faces]))
        out = []
        for i, f in enumerate(faces):
            out.append(
                SolvedFace(
                    box=tuple(float(v) for v in f.box),
                    confidence=float(f.confidence),
                    landmarks=np.asarray(f.landmarks, np.float32),
                    weights=res.weights[i],
                    in_range=bool(res.in_range[i]),
                    reason=res.reasons[i],
                    pose_deg=tuple(float(v) for v in res.pose_deg[i]) if res.pose_deg is not None else (0.0, 0.0, 0.0),
                )
            )
        return out

    def solve_image(self, image_rgb: np.ndarray) -> list[SolvedFace]:
        """Every face in an RGB image, largest first ([] when there is none)."""
        return self._solve_faces(self.tracker.detect(image_rgb))

    def solve_file(self, path: str | os.PathLike) -> list[SolvedFace]:
        """Load a photo (core.formats.image_io) and solve it; unreadable files raise FacsimileError."""
        from ..formats.image_io import load_image

        return self.solve_image(load_image(path))

    def solve_video(
        self,
        path_or_frames: str | os.PathLike | Iterable[np.ndarray],
        smoothing: float = 1.0,
        fps: float | None = None,
    ) -> Iterator[VideoFrame]:
        """Track one face through a video file, image folder/glob or an iterable of RGB frames; one VideoFrame per
        frame. The One Euro filter restarts after a lost face so that no value is smeared across the gap."""
        from ..formats.video_io import DEFAULT_SEQUENCE_FPS, open_video
        from .one_euro import OneEuroFilter

        if isinstance(path_or_frames, str | os.PathLike):
            source = open_video(path_or_frames, fps)
            frames: Iterable[np.ndarray] = source.frames()
            rate = source.fps
        else:
            frames = path_or_frames
            rate = fps or DEFAULT_SEQUENCE_FPS
        filt = OneEuroFilter(NUM_BLENDSHAPES, smoothing=smoothing)
        self.tracker.reset()
        last = np.zeros(NUM_BLENDSHAPES, np.float32)
        n = 0
        for i, frame in enumerate(frames):
            n += 1
            t = i / rate
            face = self.tracker.track(frame)
            if face is None:
                filt.reset()
                yield VideoFrame(index=i, time=t, face=None, weights=last.copy(), found=False)
                continue
            solved = self._solve_faces([face])[0]
            last = np.clip(filt(solved.weights, t), 0.0, 1.0).astype(np.float32)
            yield VideoFrame(index=i, time=t, face=solved, weights=last.copy(), found=True)
        if n == 0:
            raise FacsimileError("the video has no frames")
