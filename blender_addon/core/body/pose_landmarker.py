"""Body pose: 33 image and 33 world landmarks per person with onnxruntime, following MediaPipe's pose graph.

The task mirrors mediapipe.tasks.vision.PoseLandmarker (options dataclass, IMAGE/VIDEO running mode, a result type,
close()) and re-implements its CPU graph with numpy + cv2 on the converted models (pose_detector.onnx,
pose_landmarks.onnx; model_training/convert/mediapipe_pose.py):
  1. detector: the image letterboxed to 224x224 ([-1, 1], zero border), SSD anchors (5 layers, strides
     8/16/32/32/32, fixed size), sigmoid scores >= min_pose_detection_confidence, weighted NMS (IoU 0.3);
  2. region (AlignmentPointsRects + RectTransformation): centre = the hips keypoint, side = 2x the distance to the
     full-body circle keypoint, rotation turning hips -> that keypoint to 90 degrees, then 1.25x, square;
  3. landmarks: that region warped to 256x256 ([0, 1]); 39 rows (x, y, z, visibility, presence) of which the first
     33 are the body landmarks in MediaPipe's order, 33/34 the alignment points for the next region, and 39 world
     rows (metres, origin between the hips) rotated by the region's rotation (WorldLandmarkProjection); the image
     x, y refined from the 64x64 heatmap (kernel 7, as MediaPipe).
In VIDEO mode the next frame's region comes from this frame's alignment points (as the legacy and task graphs do)
and the detector runs only when the pose-presence score falls below min_tracking_confidence. World and image
landmarks are then One Euro filtered (MediaPipe's world-landmark filter: min cut-off 0.1 Hz, beta 40).

The image x, y are refined with the model's heatmap as MediaPipe does (RefineLandmarksFromHeatmap). Not reproduced:
the segmentation mask (not exported).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from enum import Enum

import cv2
import numpy as np

from ..errors import FacsimileError
from ..face.one_euro import OneEuroFilter, OneEuroParams
from ..face.tracking import RotatedRect, _iou, weighted_nms
from ..formats.image_io import to_rgb_uint8
from ..models.onnx_session import SessionInfo, create_session
from ..models.specs import POSE_DETECTOR, POSE_LANDMARKS, ModelSpec, check_session
from ..models.store import verified_model_path

# MediaPipe's 33 pose landmarks, in order.
POSE_LANDMARK_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)  # fmt: skip
NUM_POSE_LANDMARKS = 33
NUM_MODEL_ROWS = 39  # 33 body + 2 alignment points (hips centre, full-body circle) + 4 more auxiliary points
ALIGNMENT_ROWS = (33, 34)

DETECTOR_SIZE = 224
LANDMARK_SIZE = 256
NMS_IOU = 0.3
ROI_SCALE = 1.25
HEATMAP_SIZE = 64
HEATMAP_KERNEL = 7
HEATMAP_MIN_CONFIDENCE = 0.5
SCORE_CLIP = 100.0
WORLD_FILTER = OneEuroParams(min_cutoff=0.1, beta=40.0, d_cutoff=1.0)  # MediaPipe's pose world-landmark filter
IMAGE_FILTER = OneEuroParams(min_cutoff=0.05, beta=80.0, d_cutoff=1.0)


def pose_anchors() -> np.ndarray:
    """(2254, 2) anchor centres in [0, 1] of pose_detection (SsdAnchors: 5 layers, strides 8, 16, 32, 32, 32, two
    anchors per layer and cell, layers of equal stride sharing one feature map: 28x28x2 + 14x14x2 + 7x7x6)."""
    strides = [8, 16, 32, 32, 32]
    centers, layer = [], 0
    while layer < len(strides):
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            last += 1
        fm = math.ceil(DETECTOR_SIZE / strides[layer])
        ys, xs = np.meshgrid((np.arange(fm) + 0.5) / fm, (np.arange(fm) + 0.5) / fm, indexing="ij")
        cell = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centers.append(np.repeat(cell, 2 * (last - layer), axis=0))
        layer = last
    return np.concatenate(centers).astype(np.float32)


_ANCHORS = pose_anchors()


class RunningMode(Enum):
    IMAGE = "image"
    VIDEO = "video"


@dataclass(frozen=True)
class PoseLandmarkerOptions:
    """As mediapipe.tasks.vision.PoseLandmarkerOptions, with the device and threads of our runtime."""

    running_mode: RunningMode = RunningMode.IMAGE
    num_poses: int = 1
    min_pose_detection_confidence: float = 0.5
    min_pose_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    smoothing: float = 1.0  # VIDEO: One Euro strength (0 = off, 1 = MediaPipe's filter, > 1 smoother)
    device: str = "auto"
    threads: int | None = None  # intra-op threads; None: $FACSIMILE_THREADS or 1

    def __post_init__(self) -> None:
        if not isinstance(self.running_mode, RunningMode):
            raise FacsimileError(f"running_mode must be a RunningMode, got {self.running_mode!r}")
        if self.num_poses < 1:
            raise FacsimileError(f"num_poses must be at least 1, got {self.num_poses}")
        for name in ("min_pose_detection_confidence", "min_pose_presence_confidence", "min_tracking_confidence"):
            v = getattr(self, name)
            if not (0.0 <= v <= 1.0):
                raise FacsimileError(f"{name} must be in [0, 1], got {v!r}")
        if not (self.smoothing >= 0 and math.isfinite(self.smoothing)):
            raise FacsimileError(f"smoothing must be a number >= 0, got {self.smoothing!r}")


@dataclass
class Pose:
    """One person. landmarks: (33, 3) x, y normalised to the image width/height, z on the x scale (MediaPipe's
    NormalizedLandmark); world_landmarks: (33, 3) metres, origin between the hips, x right, y down, z away from the
    camera (MediaPipe's world landmarks); visibility, presence: (33,) in [0, 1]."""

    landmarks: np.ndarray
    world_landmarks: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    score: float  # pose-presence score of the landmark model
    roi: RotatedRect = field(repr=False)  # image-pixel region the landmark model saw
    alignment: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((2, 2)))  # image px, next region


@dataclass
class PoseLandmarkerResult:
    """mediapipe's PoseLandmarkerResult shape: one entry per person, best first."""

    poses: list[Pose]

    @property
    def pose_landmarks(self) -> list[np.ndarray]:
        return [p.landmarks for p in self.poses]

    @property
    def pose_world_landmarks(self) -> list[np.ndarray]:
        return [p.world_landmarks for p in self.poses]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(x, dtype=np.float64), -SCORE_CLIP, SCORE_CLIP)))


def refine_from_heatmap(xy: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
    """MediaPipe's RefineLandmarksFromHeatmap (kernel 7, min confidence 0.5): each landmark's crop-normalised x, y
    becomes the sigmoid-weighted mean cell of the 7x7 heatmap window around it, when that window's peak is at least
    0.5 (cells outside the map weigh nothing; points outside the map are kept)."""
    n = xy.shape[0]
    hm = np.asarray(heatmap, dtype=np.float32).reshape(HEATMAP_SIZE, HEATMAP_SIZE, -1)
    col = np.trunc(xy[:, 0] * HEATMAP_SIZE).astype(np.int64)  # C++ float -> int truncation, as MediaPipe
    row = np.trunc(xy[:, 1] * HEATMAP_SIZE).astype(np.int64)
    inside = (col >= 0) & (col < HEATMAP_SIZE) & (row >= 0) & (row < HEATMAP_SIZE)
    half = HEATMAP_KERNEL // 2
    offs = np.arange(-half, half + 1)
    rr = row[:, None] + offs[None, :]  # (n, 7)
    cc = col[:, None] + offs[None, :]
    valid = ((rr >= 0) & (rr < HEATMAP_SIZE))[:, :, None] & ((cc >= 0) & (cc < HEATMAP_SIZE))[:, None, :]
    vals = hm[
        np.clip(rr, 0, HEATMAP_SIZE - 1)[:, :, None],
        np.clip(cc, 0, HEATMAP_SIZE - 1)[:, None, :],
        np.arange(n)[:, None, None],
    ].astype(np.float64)
    conf = np.where(valid, _sigmoid(vals), 0.0)  # (n, 7, 7)
    total = conf.sum(axis=(1, 2))
    peak = conf.max(axis=(1, 2))
    ok = inside & (peak >= HEATMAP_MIN_CONFIDENCE) & (total > 0)
    out = np.array(xy, dtype=np.float64)
    safe = np.maximum(total, 1e-12)
    wc = (conf * cc[:, None, :]).sum(axis=(1, 2)) / safe / HEATMAP_SIZE
    wr = (conf * rr[:, :, None]).sum(axis=(1, 2)) / safe / HEATMAP_SIZE
    out[ok, 0], out[ok, 1] = wc[ok], wr[ok]
    return out


def roi_from_alignment(center: np.ndarray, edge: np.ndarray) -> RotatedRect:
    """AlignmentPointsRects (target angle 90 degrees) + RectTransformation (1.25x, square): image pixels."""
    rotation = math.pi / 2 - math.atan2(-(edge[1] - center[1]), edge[0] - center[0])
    rotation = (rotation + math.pi) % (2 * math.pi) - math.pi
    side = 2.0 * float(np.hypot(*(np.asarray(edge, float) - np.asarray(center, float)))) * ROI_SCALE
    return RotatedRect((float(center[0]), float(center[1])), (side, side), rotation)


class PoseLandmarker:
    """Body landmarks from RGB images: detect() for photos, detect_for_video() for frames in time order."""

    def __init__(self, options: PoseLandmarkerOptions | None = None) -> None:
        self.options = options or PoseLandmarkerOptions()
        threads = self.options.threads
        if threads is None:
            threads = int(os.environ.get("FACSIMILE_THREADS") or 1)
        self._detector, self.detector_info = self._load(POSE_DETECTOR, self.options.device, threads)
        self._landmark_model, self.device_info = self._load(POSE_LANDMARKS, self.options.device, threads)
        self._prev: Pose | None = None
        self._last_ts: float | None = None
        self._world_filter = self._image_filter = None
        self._closed = False
        self.detector_runs = 0  # how often the detector ran (video tracking runs it only when the pose is lost)
        self.reset()

    @classmethod
    def create_from_options(cls, options: PoseLandmarkerOptions) -> PoseLandmarker:
        return cls(options)

    @staticmethod
    def _load(spec: ModelSpec, device: str, threads: int):
        session, info = create_session(verified_model_path(spec.file_name), device, threads)
        check_session(session, spec)
        return session, info

    @property
    def device(self) -> SessionInfo:
        return self.device_info

    def reset(self) -> None:
        """Forget the tracked pose and the filters (a cut in the video)."""
        self._prev = None
        self._last_ts = None
        s = self.options.smoothing
        self._world_filter = OneEuroFilter(NUM_POSE_LANDMARKS * 3, WORLD_FILTER, smoothing=s, names=None)
        self._image_filter = OneEuroFilter(NUM_POSE_LANDMARKS * 3, IMAGE_FILTER, smoothing=s, names=None)

    def close(self) -> None:
        """Release the sessions; the landmarker cannot be used afterwards."""
        self._detector = self._landmark_model = None
        self._closed = True

    def __enter__(self) -> PoseLandmarker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ----- detector -------------------------------------------------------------------------------------------
    def _detect(self, image: np.ndarray) -> list[tuple[float, np.ndarray, np.ndarray]]:
        """Person detections, best first: (score, box xyxy, keypoints (4, 2)) in image pixels."""
        self.detector_runs += 1
        h, w = image.shape[:2]
        side = float(max(h, w))
        letterbox = RotatedRect((w / 2.0, h / 2.0), (side, side), 0.0)
        m = letterbox.crop_to_image(DETECTOR_SIZE, DETECTOR_SIZE)
        crop = cv2.warpAffine(
            image,
            m,
            (DETECTOR_SIZE, DETECTOR_SIZE),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        x = crop.astype(np.float32)[None] * np.float32(2.0 / 255.0) - np.float32(1.0)
        raw, logits = self._detector.run(None, {"image": x})
        scores = _sigmoid(logits[0, :, 0])
        keep = np.nonzero(scores >= self.options.min_pose_detection_confidence)[0]
        if keep.size == 0:
            return []
        raw, scores, anchors = raw[0, keep] / DETECTOR_SIZE, scores[keep], _ANCHORS[keep]
        cx, cy = raw[:, 0] + anchors[:, 0], raw[:, 1] + anchors[:, 1]
        boxes = np.stack([cx - raw[:, 2] / 2, cy - raw[:, 3] / 2, cx + raw[:, 2] / 2, cy + raw[:, 3] / 2], 1)
        kps = raw[:, 4:12].reshape(-1, 4, 2) + anchors[:, None, :]
        out = []
        unit = letterbox.crop_to_image(1, 1)
        for score, box, kp in weighted_nms(scores, boxes, kps, NMS_IOU)[: self.options.num_poses]:
            corners = box.reshape(2, 2) @ unit[:, :2].T + unit[:, 2]
            out.append((score, corners.ravel(), kp @ unit[:, :2].T + unit[:, 2]))
        return out

    # ----- landmarks ------------------------------------------------------------------------------------------
    def _landmarks(self, image: np.ndarray, rois: list[RotatedRect]) -> list[Pose]:
        """The landmark model on every region in one batch; poses whose presence passes the threshold."""
        h, w = image.shape[:2]
        crops = np.empty((len(rois), LANDMARK_SIZE, LANDMARK_SIZE, 3), np.uint8)
        mats = []
        for crop, r in zip(crops, rois):
            m = r.crop_to_image(LANDMARK_SIZE, LANDMARK_SIZE)
            mats.append(m)
            crop[:] = cv2.warpAffine(
                image,
                m,
                (LANDMARK_SIZE, LANDMARK_SIZE),
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_REPLICATE,
            )
        x = np.multiply(crops, np.float32(1.0 / 255.0), dtype=np.float32)
        raw, flag, world, heatmap = self._landmark_model.run(None, {"image": x})
        poses = []
        for i, r in enumerate(rois):
            score = float(flag[i, 0])
            if score < self.options.min_pose_presence_confidence:
                continue
            rows = raw[i].reshape(NUM_MODEL_ROWS, 5).astype(np.float64)
            rows[:, :2] = refine_from_heatmap(rows[:, :2] / LANDMARK_SIZE, heatmap[i]) * LANDMARK_SIZE
            px = rows[:, :2] @ mats[i][:, :2].T + mats[i][:, 2]  # image pixels
            lm = np.empty((NUM_POSE_LANDMARKS, 3))
            lm[:, 0] = px[:NUM_POSE_LANDMARKS, 0] / w
            lm[:, 1] = px[:NUM_POSE_LANDMARKS, 1] / h
            lm[:, 2] = rows[:NUM_POSE_LANDMARKS, 2] / LANDMARK_SIZE * r.size[0] / w
            c, s = math.cos(r.rotation), math.sin(r.rotation)
            wl = world[i].reshape(NUM_MODEL_ROWS, 3)[:NUM_POSE_LANDMARKS].astype(np.float64)
            world_rot = np.stack([c * wl[:, 0] - s * wl[:, 1], s * wl[:, 0] + c * wl[:, 1], wl[:, 2]], 1)
            poses.append(
                Pose(
                    landmarks=lm.astype(np.float32),
                    world_landmarks=world_rot.astype(np.float32),
                    visibility=_sigmoid(rows[:NUM_POSE_LANDMARKS, 3]).astype(np.float32),
                    presence=_sigmoid(rows[:NUM_POSE_LANDMARKS, 4]).astype(np.float32),
                    score=score,
                    roi=r,
                    alignment=px[list(ALIGNMENT_ROWS)],
                )
            )
        return poses

    @staticmethod
    def _dedupe(poses: list[Pose]) -> list[Pose]:
        """Two detections converging on one person: keep the more confident pose."""
        kept: list[Pose] = []
        for p in sorted(poses, key=lambda p: -p.score):
            lo, hi = p.landmarks[:, :2].min(0), p.landmarks[:, :2].max(0)
            box = np.array([*lo, *hi])
            others = np.array([[*k.landmarks[:, :2].min(0), *k.landmarks[:, :2].max(0)] for k in kept]).reshape(-1, 4)
            if others.size and _iou(box, others).max() > 0.5:
                continue
            kept.append(p)
        return kept

    # ----- public API -----------------------------------------------------------------------------------------
    def _check(self, image, mode: RunningMode) -> np.ndarray:
        if self._closed:
            raise FacsimileError("this PoseLandmarker was closed; create a new one")
        if self.options.running_mode is not mode:
            call = "detect" if self.options.running_mode is RunningMode.IMAGE else "detect_for_video"
            raise FacsimileError(f"this PoseLandmarker runs in {self.options.running_mode.value} mode: call {call}()")
        return to_rgb_uint8(image)

    def detect(self, image_rgb: np.ndarray) -> PoseLandmarkerResult:
        """All people of a photo (up to num_poses), best first; an empty result when nobody is found."""
        image = self._check(image_rgb, RunningMode.IMAGE)
        dets = self._detect(image)
        if not dets:
            return PoseLandmarkerResult([])
        rois = [roi_from_alignment(kp[0], kp[1]) for _, _, kp in dets]
        return PoseLandmarkerResult(self._dedupe(self._landmarks(image, rois)))

    def detect_for_video(self, image_rgb: np.ndarray, timestamp_ms: float) -> PoseLandmarkerResult:
        """One person tracked through frames given in increasing time; landmarks One Euro filtered."""
        image = self._check(image_rgb, RunningMode.VIDEO)
        if not math.isfinite(timestamp_ms) or (self._last_ts is not None and timestamp_ms <= self._last_ts):
            raise FacsimileError(f"video timestamps must increase: got {timestamp_ms} ms after {self._last_ts} ms")
        self._last_ts = float(timestamp_ms)
        poses: list[Pose] = []
        if self._prev is not None:
            poses = self._landmarks(image, [roi_from_alignment(*self._prev.alignment)])
            if poses and poses[0].score < self.options.min_tracking_confidence:
                poses = []
        if not poses:
            dets = self._detect(image)
            if dets:
                poses = self._landmarks(image, [roi_from_alignment(dets[0][2][0], dets[0][2][1])])
        if not poses:
            self.reset_tracking_only()
            return PoseLandmarkerResult([])
        pose = poses[0]
        self._prev = pose
        t = timestamp_ms / 1000.0
        pose.world_landmarks = self._world_filter(pose.world_landmarks.ravel(), t).reshape(-1, 3).astype(np.float32)
        pose.landmarks = self._image_filter(pose.landmarks.ravel(), t).reshape(-1, 3).astype(np.float32)
        return PoseLandmarkerResult([pose])

    def reset_tracking_only(self) -> None:
        """The person was lost: the next frame detects again and the filters restart (no smoothing across a gap)."""
        self._prev = None
        self._world_filter.reset()
        self._image_filter.reset()
