"""Photo/video -> ARKit-52 weights: one task, FaceSolver, in the style of MediaPipe's tasks API.

    options = FaceSolverOptions(device="cpu", running_mode=RunningMode.VIDEO, smoothing=1.0)
    with FaceSolver(options) as solver:
        for i, frame in enumerate(frames):
            result = solver.solve_for_video(frame, i / fps)   # FaceSolverResult
            result.weights, result.found, result.face          # smoothed 52 weights, face seen?, the SolvedFace

- FaceSolverOptions: every setting in one frozen dataclass (device, running mode, faces, detector and presence
  thresholds, orientation rules for photos, smoothing for video, threads, landmark model variant, generator file).
- RunningMode.IMAGE: each `solve(image)` stands alone: every face (up to max_faces, largest first), the orientation
  search for sideways/upside-down photos. RunningMode.VIDEO: `solve_for_video(frame, t)` tracks one face from the
  previous frame's landmarks (the detector only when it is lost) and smooths the weights (blink-safe One Euro).
  A solver serves one mode; `for_mode(mode)` makes a solver of the other mode on the same loaded models.
- FaceSolverResult: the one result type of both modes. Its faces are SolvedFace: box, confidence, the 478 landmarks
  in image pixels (x, y, z; z on the x pixel scale), the 52 weights in contract order, in_range (+ reason), pose.
- close() (or `with`) releases the models; calls after it are an error.

Convenience wrappers used across the add-on (CLI, Blender operators, model_training, benchmarks): solve_image,
solve_file (IMAGE mode: list of SolvedFace) and solve_video (a generator of FaceSolverResult over a file, a folder /
glob or an iterable of frames, on a VIDEO-mode twin sharing the models). Further per-face work (head pose, a body pose
task) reads SolvedFace.landmarks and models its own task on this one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path

import numpy as np

from ..arkit import NUM_BLENDSHAPES
from ..errors import FacsimileError
from .tracking import OrientationRules

DEFAULT_MIN_DETECTION = 0.5  # BlazeFace score to keep a detection (FaceLandmarker's min_face_detection_confidence)
DEFAULT_MIN_PRESENCE = 0.5  # landmark model face-presence score to keep a face / keep tracking it


class RunningMode(str, Enum):
    """IMAGE: independent photos, all faces. VIDEO: one face tracked through consecutive frames, smoothed."""

    IMAGE = "image"
    VIDEO = "video"


@dataclass(frozen=True)
class FaceSolverOptions:
    """Every setting of a FaceSolver. max_faces applies to IMAGE mode (VIDEO tracks one face); smoothing to VIDEO
    (0 off, 1 default); orientation to IMAGE (sideways/upside-down photos); landmark_variant None = the measured
    default for the platform (core.models.variants); model_path None = the shipped expression generator."""

    device: str = "auto"
    running_mode: RunningMode = RunningMode.IMAGE
    max_faces: int = 4
    min_detection: float = DEFAULT_MIN_DETECTION
    min_presence: float = DEFAULT_MIN_PRESENCE
    orientation: OrientationRules = field(default_factory=OrientationRules)
    smoothing: float = 1.0
    threads: int | None = None
    landmark_variant: str | None = None
    model_path: str | os.PathLike | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "running_mode", RunningMode(self.running_mode))
        if self.max_faces < 1:
            raise ValueError("max_faces must be at least 1")
        for name in ("min_detection", "min_presence"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {v}")
        if not self.smoothing >= 0.0:
            raise ValueError(f"smoothing must be >= 0 (0 = off), got {self.smoothing}")


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
class FaceSolverResult:
    """What one solve returns, in both modes.

    faces: IMAGE every face found, largest first; VIDEO [] or [the tracked face]. weights (52,): the values to write:
    VIDEO the smoothed weights (the last good values held while the face is lost, zeros before the first face); IMAGE
    the largest face's raw weights (zeros without a face). found: a face was seen. index and time (s): the frame's
    place in VIDEO mode (IMAGE: 0, 0.0)."""

    faces: list[SolvedFace]
    weights: np.ndarray
    found: bool
    index: int = 0
    time: float = 0.0

    @property
    def face(self) -> SolvedFace | None:
        """The largest (IMAGE) or tracked (VIDEO) face, None when there is none."""
        return self.faces[0] if self.faces else None


VideoFrame = FaceSolverResult  # the per-frame name earlier versions used; the same type


class FaceSolver:
    """Face front-end (core.face.tracking) + expression generator, in one running mode, on one device.

    FaceSolver(options) or, as before, FaceSolver(device=..., max_faces=..., model_path=...) for IMAGE mode."""

    def __init__(
        self,
        options: FaceSolverOptions | None = None,
        *,
        device: str | None = None,
        max_faces: int | None = None,
        model_path: str | os.PathLike | None = None,
        _shared: FaceSolver | None = None,
    ):
        if options is None:
            options = FaceSolverOptions()
        elif not isinstance(options, FaceSolverOptions):  # FaceSolver("cpu"): the old positional device
            device, options = str(options), FaceSolverOptions()
        given = {"device": device, "max_faces": max_faces, "model_path": model_path}
        options = replace(options, **{k: v for k, v in given.items() if v is not None})
        self.options = options
        if _shared is not None:
            self.tracker = _shared.tracker.sharing(options.max_faces)
            self.generator = _shared.generator
        else:
            from .expression_generator import ExpressionGenerator
            from .tracking import FaceTracker

            self.tracker = FaceTracker(
                device=options.device,
                max_faces=options.max_faces,
                min_detection=options.min_detection,
                min_presence=options.min_presence,
                threads=options.threads,
                orientation=options.orientation,
                landmark_variant=options.landmark_variant,
            )
            self.generator = ExpressionGenerator(device=options.device, model_path=options.model_path)
        self._closed = False
        self._filter = None
        self._last = np.zeros(NUM_BLENDSHAPES, np.float32)
        self._index = 0
        self._last_time: float | None = None

    # ----- life cycle -------------------------------------------------------------------------------------------
    def for_mode(self, mode: RunningMode | str, **changes) -> FaceSolver:
        """A solver of another running mode (and other per-mode settings: max_faces, smoothing) on these models."""
        self._check_open()
        return type(self)(replace(self.options, running_mode=RunningMode(mode), **changes), _shared=self)

    def close(self) -> None:
        """Release this solver (its models go when no other solver shares them). Idempotent."""
        self._closed = True
        self._filter = None

    def __enter__(self) -> FaceSolver:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise FacsimileError("this FaceSolver was closed; create a new one")

    def _check_mode(self, mode: RunningMode, call: str) -> None:
        self._check_open()
        if self.options.running_mode is not mode:
            raise FacsimileError(
                f"{call} needs a solver in {mode.value} mode, this one runs in {self.options.running_mode.value} mode; "
                f"use solver.for_mode('{mode.value}')"
            )

    @property
    def running_mode(self) -> RunningMode:
        return self.options.running_mode

    @property
    def device_info(self) -> str:
        """The device each stage really runs on, e.g. "face cpu, generator cpu (notes)" (CLI line and panel)."""
        from ..models.onnx_session import describe_stages

        return describe_stages({"face": self.tracker.device_info, "generator": self.generator.session_info})

    # ----- IMAGE mode -------------------------------------------------------------------------------------------
    def solve(self, image_rgb: np.ndarray) -> FaceSolverResult:
        """IMAGE mode: every face in one RGB image (HxWx3 uint8, or grey / float in [0, 1])."""
        self._check_mode(RunningMode.IMAGE, "solve()")
        faces = self._solve_faces(self.tracker.detect(image_rgb))
        weights = faces[0].weights.copy() if faces else np.zeros(NUM_BLENDSHAPES, np.float32)
        return FaceSolverResult(faces=faces, weights=weights, found=bool(faces))

    def solve_image(self, image_rgb: np.ndarray) -> list[SolvedFace]:
        """Every face in an RGB image, largest first ([] when there is none). IMAGE mode; any mode's solver may call
        it (a VIDEO solver answers through an IMAGE twin on the same models, its tracking state untouched)."""
        solver = self if self.options.running_mode is RunningMode.IMAGE else self.for_mode(RunningMode.IMAGE)
        return solver.solve(image_rgb).faces

    def solve_file(self, path: str | os.PathLike) -> list[SolvedFace]:
        """Load a photo (core.formats.image_io) and solve it; unreadable files raise FacsimileError."""
        from ..formats.image_io import load_image

        return self.solve_image(load_image(path))

    # ----- VIDEO mode -------------------------------------------------------------------------------------------
    def solve_for_video(self, frame_rgb: np.ndarray, timestamp_s: float) -> FaceSolverResult:
        """VIDEO mode: the next frame at timestamp_s (seconds, increasing). The tracked face, smoothed weights."""
        from .one_euro import OneEuroFilter

        self._check_mode(RunningMode.VIDEO, "solve_for_video()")
        t = float(timestamp_s)
        if self._last_time is not None and not t > self._last_time:
            raise FacsimileError(f"video timestamps must increase: {t} s after {self._last_time} s")
        self._last_time = t
        index = self._index
        self._index += 1
        if self._filter is None:
            self._filter = OneEuroFilter(NUM_BLENDSHAPES, smoothing=self.options.smoothing)
        face = self.tracker.track(frame_rgb)
        if face is None:
            self._filter.reset()  # no value is smeared across the gap
            return FaceSolverResult(faces=[], weights=self._last.copy(), found=False, index=index, time=t)
        solved = self._solve_faces([face])[0]
        self._last = self._smooth(solved.weights, t)
        return FaceSolverResult(faces=[solved], weights=self._last.copy(), found=True, index=index, time=t)

    def reset(self) -> None:
        """VIDEO mode: forget the tracked face, the filter and the clock (a new clip starts)."""
        self.tracker.reset()
        self._filter = None
        self._last = np.zeros(NUM_BLENDSHAPES, np.float32)
        self._index = 0
        self._last_time = None

    def solve_video(
        self,
        path_or_frames: str | os.PathLike | Iterable[np.ndarray],
        smoothing: float | None = None,
        fps: float | None = None,
    ) -> Iterator[FaceSolverResult]:
        """Track one face through a video file, image folder/glob or an iterable of RGB frames; one result per frame.

        Runs on a fresh VIDEO-mode twin sharing this solver's models (any mode's solver may call it); a file is
        decoded ahead of inference on video_io's reader thread."""
        from ..formats.video_io import DEFAULT_SEQUENCE_FPS, open_video

        self._check_open()
        changes = {} if smoothing is None else {"smoothing": float(smoothing)}
        video = self.for_mode(RunningMode.VIDEO, max_faces=1, **changes)
        if isinstance(path_or_frames, str | os.PathLike):
            source = open_video(Path(path_or_frames), fps)
            frames: Iterable[np.ndarray] = source.frames()
            rate = source.fps
        else:
            frames = path_or_frames
            rate = fps or DEFAULT_SEQUENCE_FPS
        n = 0
        for i, frame in enumerate(frames):
            n += 1
            yield video.solve_for_video(frame, i / rate)
        if n == 0:
            raise FacsimileError("the video has no frames")

    # ----- shared steps -----------------------------------------------------------------------------------------
    def _smooth(self, weights: np.ndarray, t: float) -> np.ndarray:
        return np.clip(self._filter(weights, t), 0.0, 1.0).astype(np.float32)

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
