"""Face detection and 478 face landmarks (iris included) with onnxruntime, following MediaPipe's FaceLandmarker.

Pipeline (FaceLandmarker's graph, re-implemented with numpy + cv2):
  1. detector: the whole image letterboxed to 128x128 ([-1, 1]), BlazeFace short-range SSD anchors, sigmoid scores,
     weighted non-maximum suppression (IoU 0.3);
  2. region: detection box centre, rotation from the two eye keypoints, each side scaled 1.5x (FaceDetectorGraph's
     expanded rect: not made square; the crop stretches it to the model's square input);
  3. landmarks: that rotated region warped to 256x256 ([0, 1]); FaceLandmarker's landmark model returns 478
     (x, y, z) in one pass (468 face mesh points, then 5 iris points per eye, MediaPipe's refine_landmarks order),
     mapped back to image pixels, and a face-presence score. All regions of a photo run as one batch.
In video mode the next region comes from the previous landmarks (eye corners 33 -> 263, 1.5x square) and the detector
only runs again when the face-presence score drops below min_presence, as FaceLandmarker's tracker does (here on the
same frame). FaceLandmarker's own landmark smoothing (video, one face) is not applied here: the pipeline smooths.

Beyond MediaPipe, for photos: when the upright detection is weak or tilted, views turned by 90/-90/180 degrees are
searched too (sideways and upside-down photos), and with max_faces > 1 square tiles of a wide photo are searched for
faces too small for the 128x128 whole-image pass (group photos). Faces MediaPipe would find keep its exact regions.
"""

from __future__ import annotations

import copy
import math
import os
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..formats.image_io import to_rgb_uint8
from ..models.onnx_session import SessionInfo, create_session, run_fixed
from ..models.specs import FACE_DETECTOR, FACE_LANDMARKS, ModelSpec, check_session
from ..models.store import verified_model_path

NUM_MESH = 468
NUM_LANDMARKS = 478  # 468 face mesh points, then iris 468..472 and 473..477 (MediaPipe's refine_landmarks order)
TRACK_ROTATION_KEYPOINTS = (33, 263)

DETECTOR_SIZE = 128
LANDMARK_SIZE = 256
LANDMARK_BORDER = cv2.BORDER_REPLICATE  # ImageToTensorCalculator default for the landmark crop
DETECTOR_NMS_IOU = 0.3
FACE_ROI_SCALE = 1.5
# Photos with max_faces > 1: tiles of a wide photo are searched only when some face found by the whole-image pass is
# narrower than this fraction of the long side (or none was found); see FaceTracker._tiles_cannot_help.
TILE_SKIP_FACE_FRACTION = 0.2
SCORE_CLIP = 100.0
# Orientation search for photos (see _orientation_views): the defaults of OrientationRules. Thresholds chosen on the 81
# shared and press photos at all four rotations plus upright crops of angry.jpg cut off below the mouth
# (benchmarks/bench_face_orientation.py checks them against FaceLandmarker).
ORIENTATION_CHECK_SCORE = 0.85  # an upright detection this strong (and level) is taken as it is, as FaceLandmarker does
UPRIGHT_FAIR_SCORE = 0.75  # between this and the above, only the upside-down view is looked at ...
UPSIDE_DOWN_MARGIN = 0.2  # ... and it must come within this much of the upright view's quality to be searched further
ORIENTATION_TILT_PENALTY = 0.3  # score penalty for an eye line at 90 degrees (tilt 1), linear below
TWIN_MARGIN = 0.25  # a view's upside-down twin within this quality of it: the landmarks' turn drift decides
DRIFT_TURN = math.radians(25.0)  # how far the region is turned each way to measure that drift


@dataclass(frozen=True)
class OrientationRules:
    """When a photo is also searched turned by 90, -90 and 180 degrees (photos only; video tracks upright).

    enabled False: upright only, as MediaPipe FaceLandmarker. The defaults are the module constants above."""

    enabled: bool = True
    check_score: float = ORIENTATION_CHECK_SCORE
    upright_fair_score: float = UPRIGHT_FAIR_SCORE
    upside_down_margin: float = UPSIDE_DOWN_MARGIN
    tilt_penalty: float = ORIENTATION_TILT_PENALTY
    twin_margin: float = TWIN_MARGIN
    drift_turn_rad: float = DRIFT_TURN


@dataclass(frozen=True)
class RotatedRect:
    """A square-ish region in image pixels: centre (x, y), size (w, h), rotation in radians (clockwise on screen)."""

    center: tuple[float, float]
    size: tuple[float, float]
    rotation: float

    def crop_to_image(self, out_w: int, out_h: int) -> np.ndarray:
        """2x3 affine: crop pixel (u, v) of an out_w x out_h crop -> image pixel (MediaPipe's projection)."""
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        sx, sy = self.size[0] / out_w, self.size[1] / out_h
        # image = center + R @ ((u / out_w - 0.5) * w, (v / out_h - 0.5) * h)
        a = np.array([[c * sx, -s * sy], [s * sx, c * sy]], dtype=np.float64)
        t = np.array(self.center, dtype=np.float64) - a @ np.array([out_w / 2.0, out_h / 2.0])
        return np.hstack([a, t[:, None]])


@dataclass
class Face:
    """One tracked face. Landmarks are (478, 3) float32 image pixels; z uses the x pixel scale (MediaPipe)."""

    box: tuple[float, float, float, float]  # x, y, w, h of the 468 mesh points, image pixels
    confidence: float  # face-presence score of the landmark model, 0..1
    detection_score: float  # detector score (0 when the region came from tracking)
    landmarks: np.ndarray  # (478, 3) float32
    roi: RotatedRect = field(repr=False)  # region the landmark model saw; the tracker's next region starts here


@dataclass
class _Detection:
    score: float
    box: np.ndarray  # xmin, ymin, xmax, ymax in image pixels
    keypoints: np.ndarray  # (6, 2) image pixels: right eye, left eye, nose, mouth, right ear, left ear
    alternative: _Detection | None = None  # the same face seen by a tile pass, tried when the mesh rejects this one


def ssd_anchors() -> np.ndarray:
    """(896, 2) anchor centres in [0, 1] for face_detection_short_range (strides 8, 16, 16, 16; fixed size 1).

    MediaPipe's SsdAnchorsCalculator groups consecutive layers with the same stride into one feature map, two anchors
    (aspect 1 + interpolated) per layer per cell: 16x16x2 + 8x8x6.
    """
    strides = [8, 16, 16, 16]
    centers = []
    layer = 0
    while layer < len(strides):
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            last += 1
        per_cell = 2 * (last - layer)
        fm = math.ceil(DETECTOR_SIZE / strides[layer])
        ys, xs = np.meshgrid((np.arange(fm) + 0.5) / fm, (np.arange(fm) + 0.5) / fm, indexing="ij")
        cell = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centers.append(np.repeat(cell, per_cell, axis=0))
        layer = last
    return np.concatenate(centers).astype(np.float32)


_ANCHORS = ssd_anchors()


def _iou(a: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    ix = np.maximum(0.0, np.minimum(a[2], boxes[:, 2]) - np.maximum(a[0], boxes[:, 0]))
    iy = np.maximum(0.0, np.minimum(a[3], boxes[:, 3]) - np.maximum(a[1], boxes[:, 1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(scores: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray, iou: float) -> list[tuple]:
    """MediaPipe's WEIGHTED non-max suppression: each kept box is the score-weighted mean of the boxes it absorbs.

    scores (n,), boxes (n, 4), keypoints (n, k, 2) -> [(score, box, keypoints)] best first.
    """
    order = np.argsort(-scores, kind="stable")
    out = []
    while order.size:
        top = order[0]
        overlap = _iou(boxes[top], boxes[order])
        members = order[overlap > iou]
        members = members if members.size else order[:1]
        w = scores[members][:, None]
        box = (boxes[members] * w).sum(0) / w.sum()
        kps = (keypoints[members] * w[:, :, None]).sum(0) / w.sum()
        out.append((float(scores[top]), box, kps))
        order = order[overlap <= iou]
        order = order[order != top]
    return out


def _nearest_quarter_turn(rotation: float) -> float:
    """The detector view (0, pi/2, -pi/2 or pi) nearest a region's rotation in radians."""
    k = round(rotation / (math.pi / 2)) % 4
    return (0.0, math.pi / 2, math.pi, -math.pi / 2)[k]


def _box_area(box: np.ndarray) -> float:
    return float(max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(x, dtype=np.float64), -SCORE_CLIP, SCORE_CLIP)))


def _roi_from_points(
    xmin: float,
    ymin: float,
    xmax: float,
    ymax: float,
    p0: np.ndarray,
    p1: np.ndarray,
    scale: float,
    square: bool,
) -> RotatedRect:
    """DetectionsToRects + RectTransformation(scale, square_long=square): box centre, rotation aligning p0->p1
    with +x, both sides scaled (and made square on the long side when `square`)."""
    rotation = -math.atan2(-(p1[1] - p0[1]), p1[0] - p0[0])
    rotation = (rotation + math.pi) % (2 * math.pi) - math.pi
    w, h = xmax - xmin, ymax - ymin
    if square:
        w = h = max(w, h)
    return RotatedRect(((xmin + xmax) / 2.0, (ymin + ymax) / 2.0), (w * scale, h * scale), rotation)


def _warp(image: np.ndarray, roi: RotatedRect, size: int, border: int) -> np.ndarray:
    m = roi.crop_to_image(size, size)
    return cv2.warpAffine(
        image, m, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=border, borderValue=0
    )


def _project(points: np.ndarray, mats: np.ndarray, z_scale: np.ndarray) -> np.ndarray:
    """Crop-pixel (x, y, z) of n crops (n, p, 3) -> image pixels through each crop's (n, 2, 3) affine, all crops in
    one go (no per-crop Python loop in the video hot path); z scaled like x (MediaPipe: z * roi width / crop size)."""
    out = np.empty(points.shape, dtype=np.float32)
    out[..., :2] = np.einsum("nij,npj->npi", mats[:, :, :2], points[..., :2]) + mats[:, None, :, 2]
    out[..., 2] = points[..., 2] * z_scale[:, None]
    return out


def _to_unit_float(crops: np.ndarray) -> np.ndarray:
    """uint8 crops -> float32 in [0, 1] in one pass (same values as astype then multiply, one array fewer)."""
    return np.multiply(crops, np.float32(1.0 / 255.0), dtype=np.float32)


class FaceTracker:
    """Faces and landmarks from RGB images: `detect` for photos (all faces), `track` for video (one face).

    The front-end under core.face.pipeline.FaceSolver (which adds the running mode, the generator and smoothing);
    model_training uses it directly. `landmark_variant` picks the landmark model file (core.models.variants: "fp32",
    "fp16", "int8"; None = the measured default for this platform). `sharing(other)` makes a second tracker on the same
    loaded sessions (a photo solver and a video solver need no second copy of the models)."""

    def __init__(
        self,
        device: str = "auto",
        max_faces: int = 4,
        min_detection: float = 0.5,
        min_presence: float = 0.5,
        threads: int | None = None,
        orientation: OrientationRules | None = None,
        landmark_variant: str | None = None,
    ) -> None:
        from ..models.variants import landmark_model_path

        if max_faces < 1:
            raise ValueError("max_faces must be at least 1")
        self.max_faces = max_faces
        self.min_detection = float(min_detection)
        self.min_presence = float(min_presence)
        self.orientation = orientation or OrientationRules()
        # One intra-op thread unless FACSIMILE_THREADS says: a second thread costs more in hand-offs than it saves
        # for these small models on a busy 2-core machine (measured for the legacy mesh: 0.75 ms vs 1.5 ms+).
        if threads is None:
            threads = int(os.environ.get("FACSIMILE_THREADS") or 1)
        self._detector, self.device_info = self._load(FACE_DETECTOR, device, threads)
        self.landmark_file = landmark_model_path(landmark_variant, device)
        self._landmark_model, self._landmark_info = self._load(FACE_LANDMARKS, device, threads, self.landmark_file)
        self._prev: Face | None = None
        self._last_rotation: float | None = None  # the tracked face's last region rotation (radians), this clip

    @staticmethod
    def _load(spec: ModelSpec, device: str, threads: int | None, path: os.PathLike | None = None):
        session, info = create_session(path or verified_model_path(spec.file_name), device, threads)
        check_session(session, spec)
        return session, info

    def sharing(self, max_faces: int | None = None) -> FaceTracker:
        """A tracker on this one's sessions with its own tracking state (and optionally another max_faces)."""
        twin = copy.copy(self)
        twin._prev = None
        twin._last_rotation = None
        if max_faces is not None:
            if max_faces < 1:
                raise ValueError("max_faces must be at least 1")
            twin.max_faces = max_faces
        return twin

    def close(self) -> None:
        """Drop the sessions (their memory goes with the last tracker sharing them); any later call is an error."""
        self._detector = self._landmark_model = None
        self._prev = None
        self._last_rotation = None

    @property
    def device(self) -> SessionInfo:
        return self.device_info

    def reset(self) -> None:
        """Forget the tracked face and the clip's orientation: the next `track` call runs the full detection."""
        self._prev = None
        self._last_rotation = None

    # ----- detector -------------------------------------------------------------------------------------------
    def _candidates(self, image: np.ndarray, view: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Detector on the letterboxed image seen turned by `view` radians (a multiple of 90 degrees; the turn is
        part of the warp, no rotated copy is made): (scores, boxes xyxy, keypoints (n, 6, 2)) in image pixels,
        before non-maximum suppression."""
        h, w = image.shape[:2]
        side = float(max(h, w))
        letterbox = RotatedRect((w / 2.0, h / 2.0), (side, side), view)
        crop = _warp(image, letterbox, DETECTOR_SIZE, cv2.BORDER_CONSTANT)
        x = crop.astype(np.float32)[None] * np.float32(2.0 / 255.0) - np.float32(1.0)
        raw, logits = self._detector.run(None, {"image": x})
        raw, logits = raw[0], logits[0, :, 0]
        scores = _sigmoid(logits)
        keep = np.nonzero(scores >= self.min_detection)[0]
        raw, scores, anchors = raw[keep] / DETECTOR_SIZE, scores[keep], _ANCHORS[keep]
        cx, cy = raw[:, 0] + anchors[:, 0], raw[:, 1] + anchors[:, 1]
        half_w, half_h = raw[:, 2] / 2, raw[:, 3] / 2
        kps = raw[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]
        # Letterbox removal: tensor [0, 1] -> image pixels through the same affine the crop was made with.
        m = letterbox.crop_to_image(1, 1)
        corners = np.stack([np.stack([cx - half_w, cy - half_h], 1), np.stack([cx + half_w, cy + half_h], 1)], 1)
        corners = corners @ m[:, :2].T + m[:, 2]
        boxes = np.concatenate([corners.min(1), corners.max(1)], axis=1)
        return scores, boxes, kps @ m[:, :2].T + m[:, 2]

    def _detect_regions(self, image: np.ndarray, tiles: bool, view: float = 0.0) -> list[_Detection]:
        """Detections in image pixels, best first. With tiles, square tiles along the long side are searched too.

        The short-range detector sees the whole photo letterboxed to 128x128, so in a wide group photo the faces
        are tiny; tiles of the short side's size give it 1.5x (3:2) to 1.8x (16:9) more pixels per face. Tile
        detections only add faces the whole-image pass missed, so the faces it found keep MediaPipe's regions.
        """
        dets = [_Detection(*d) for d in weighted_nms(*self._candidates(image, view), DETECTOR_NMS_IOU)]
        h, w = image.shape[:2]
        short, long_ = min(h, w), max(h, w)
        if not tiles or long_ <= 1.2 * short or self._tiles_cannot_help(dets, long_):
            return dets
        parts = []
        n = math.ceil(long_ / short) + (1 if long_ > 2 * short else 0)
        for off in np.linspace(0, long_ - short, n).round().astype(int):
            tile = image[:, off : off + short] if w > h else image[off : off + short]
            sc, bx, kp = self._candidates(tile, view)
            shift = np.array([off, 0]) if w > h else np.array([0, off])
            parts.append((sc, bx + np.tile(shift, 2), kp + shift))
        scores = np.concatenate([p[0] for p in parts])
        if scores.size == 0:
            return dets
        boxes = np.concatenate([p[1] for p in parts])
        kps = np.concatenate([p[2] for p in parts])
        known = np.array([d.box for d in dets]).reshape(-1, 4)
        for sc, bx, kp in weighted_nms(scores, boxes, kps, DETECTOR_NMS_IOU):
            overlap = _iou(bx, known) if known.shape[0] else np.zeros(0)
            if overlap.size and overlap.max() > DETECTOR_NMS_IOU:
                same = dets[int(overlap.argmax())]
                if same.alternative is None:
                    same.alternative = _Detection(sc, bx, kp)
                continue
            dets.append(_Detection(sc, bx, kp))
            known = np.vstack([known, bx])
        return sorted(dets, key=lambda d: -d.score)

    def _tiles_cannot_help(self, dets: list[_Detection], long_side: float) -> bool:
        """Skip the tile passes where the whole-image pass already tells the photo is no group of small faces: it
        found max_faces faces, or every face it found spans at least TILE_SKIP_FACE_FRACTION of the long side (a
        portrait, a close two-shot, a video frame of one speaker). The tiles exist for faces too small for the
        128x128 whole-image pass; beside faces that large, the ones left would be background. They cost 1-2 more
        detector runs per wide photo (24% of a photo's time, benchmarks/profile_face_stages.py)."""
        if not dets:
            return False
        if len(dets) >= self.max_faces:
            return True
        return min(float(d.box[2] - d.box[0]) for d in dets) >= TILE_SKIP_FACE_FRACTION * long_side

    def _orientation_quality(self, dets: list[_Detection], view: float) -> float:
        """Best detection's score, less a penalty for an eye line tilted in that view (sideways faces score ~0.9)."""
        if not dets:
            return 0.0
        k = dets[0].keypoints
        angle = math.atan2(k[1, 1] - k[0, 1], k[1, 0] - k[0, 0]) - view
        angle = (angle + math.pi) % (2 * math.pi) - math.pi
        tilt = min(abs(angle), math.pi / 2) / (math.pi / 2)
        return dets[0].score - self.orientation.tilt_penalty * tilt

    def _orientation_views(self, image: np.ndarray) -> list[list[_Detection]]:
        """Detections of each view searched, the photo's most likely orientation first (views that found nothing are
        left out; callers fall back to the next view when the landmark model rejects every face of one).

        BlazeFace is trained on upright faces: on a sideways or upside-down photo it still fires (scores up to ~0.85)
        with keypoints laid out roughly as if upright, which would put the landmark model on a wrongly rotated crop.
        So unless the upright detection is clear and level, the detector also looks at the image turned by 90, -90
        and 180 degrees, and the view with the best score-minus-tilt wins. That score cannot tell a face from the same
        face upside down (an upright face cut off below the mouth scores 0.86 upside down, 0.74 upright), so when the
        winner's upside-down twin comes close, `_turn_drift` decides between the two. A fairly clear, level upright
        detection only pays for the upside-down view, the only one that rivals it on the photos measured.
        """
        rules = self.orientation
        tiles = self.max_faces > 1
        dets = self._detect_regions(image, tiles=tiles)
        if not rules.enabled:
            return [dets] if dets else []
        quality = self._orientation_quality(dets, 0.0)
        if dets and dets[0].score >= rules.check_score and quality >= rules.check_score - 0.1:
            return [dets]
        views: dict[float, tuple[list[_Detection], float]] = {0.0: (dets, quality)}
        if dets and dets[0].score >= rules.upright_fair_score and quality >= rules.upright_fair_score - 0.1:
            flipped = self._detect_regions(image, tiles=tiles, view=math.pi)
            views[math.pi] = (flipped, self._orientation_quality(flipped, math.pi))
            if views[math.pi][1] < quality - rules.upside_down_margin:
                return [dets]
        for view in (math.pi / 2, -math.pi / 2, math.pi):
            if view not in views:
                found = self._detect_regions(image, tiles=tiles, view=view)
                views[view] = (found, self._orientation_quality(found, view))
        order = sorted(views, key=lambda v: -views[v][1])  # stable: upright first among equals
        best = order[0]
        twin = {0.0: math.pi, math.pi: 0.0, math.pi / 2: -math.pi / 2, -math.pi / 2: math.pi / 2}[best]
        if views[twin][0] and views[twin][1] >= views[best][1] - rules.twin_margin:
            drift = self._turn_drift(image, [views[best][0][0], views[twin][0][0]])
            if drift[1] < drift[0]:
                order.remove(twin)
                order.insert(0, twin)
        return [views[v][0] for v in order if views[v][0]]

    def _turn_drift(self, image: np.ndarray, dets: list[_Detection]) -> np.ndarray:
        """How far each detection's landmarks move (mean over 478 points, in inter-ocular distances) when its region
        is turned OrientationRules.drift_turn_rad each way. On a real face the landmark model follows the face, so the points stay put;
        on a face seen upside down it makes up an upright face in the crop, which turns with the crop."""
        rois = []
        for d in dets:
            roi = self._roi_from_detection(d)
            turn = self.orientation.drift_turn_rad
            rois += [roi] + [RotatedRect(roi.center, roi.size, roi.rotation + t) for t in (turn, -turn)]
        landmarks, presence = self._landmarks(image, rois)
        lms = landmarks[..., :2].reshape(len(dets), 3, NUM_LANDMARKS, 2)
        iod = np.linalg.norm(lms[:, 0, 33] - lms[:, 0, 263], axis=1)
        moved = np.linalg.norm(lms[:, 1:] - lms[:, :1], axis=3).mean(axis=(1, 2)) / np.maximum(iod, 1e-6)
        # A region the landmark model rejects outright (no face) never wins.
        return np.where(presence[::3] >= self.min_presence, moved, np.inf)

    # ----- landmarks ------------------------------------------------------------------------------------------
    def _landmarks(self, image: np.ndarray, rois: list[RotatedRect]) -> tuple[np.ndarray, np.ndarray]:
        """The landmark model on every region in one batch: ((n, 478, 3) image-pixel landmarks, (n,) presence).

        The one place crops are batched and the model is run (device-specific batch shapes belong here)."""
        crops = np.empty((len(rois), LANDMARK_SIZE, LANDMARK_SIZE, 3), np.uint8)
        for crop, r in zip(crops, rois):
            crop[:] = _warp(image, r, LANDMARK_SIZE, LANDMARK_BORDER)
        # On CUDA the batch is padded to a few fixed sizes (no new shape per photo); on the CPU it runs as it is.
        raw, flag = run_fixed(self._landmark_model, self._landmark_info, {"image": _to_unit_float(crops)})
        mats = np.stack([r.crop_to_image(LANDMARK_SIZE, LANDMARK_SIZE) for r in rois])
        z_scale = np.array([r.size[0] / LANDMARK_SIZE for r in rois])
        out = _project(raw.reshape(len(rois), NUM_LANDMARKS, 3), mats, z_scale)
        return out, _sigmoid(flag[:, 0].astype(np.float64))

    def _faces_from_rois(self, image: np.ndarray, rois: list[RotatedRect], det_scores: list[float]) -> list[Face]:
        landmarks, presence = self._landmarks(image, rois)
        faces = []
        for lm, score, roi, ds in zip(landmarks, presence, rois, det_scores):
            if score < self.min_presence:
                continue
            lo, hi = lm[:NUM_MESH, :2].min(0), lm[:NUM_MESH, :2].max(0)
            box = (float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1]))
            faces.append(Face(box, float(score), float(ds), lm, roi))
        return faces

    @staticmethod
    def _dedupe(faces: list[Face]) -> list[Face]:
        """Drop faces whose mesh box overlaps a more confident one (two detections converging on one face)."""
        kept: list[Face] = []
        for f in sorted(faces, key=lambda f: -f.confidence):
            b = np.array([f.box[0], f.box[1], f.box[0] + f.box[2], f.box[1] + f.box[3]])
            others = np.array([[k.box[0], k.box[1], k.box[0] + k.box[2], k.box[1] + k.box[3]] for k in kept])
            if not kept or _iou(b, others).max() <= 0.5:
                kept.append(f)
        return kept

    @staticmethod
    def _roi_from_detection(d: _Detection) -> RotatedRect:
        """FaceDetectorGraph's expanded rect: the detection box scaled 1.5x on each side, not made square (the
        landmark model's 256x256 crop stretches it, as FaceLandmarker's image preprocessing does)."""
        x0, y0, x1, y1 = d.box
        return _roi_from_points(x0, y0, x1, y1, d.keypoints[0], d.keypoints[1], FACE_ROI_SCALE, square=False)

    @staticmethod
    def roi_from_landmarks(landmarks: np.ndarray) -> RotatedRect:
        """The next video frame's region: landmarks' bounding box, rotation from eye corners 33 -> 263, 1.5x square
        (FaceLandmarker's LandmarksToDetection + DetectionsToRects + RectTransformation)."""
        pts = landmarks[:, :2]
        lo, hi = pts.min(0), pts.max(0)
        a, b = TRACK_ROTATION_KEYPOINTS
        return _roi_from_points(lo[0], lo[1], hi[0], hi[1], pts[a], pts[b], FACE_ROI_SCALE, square=True)

    # ----- public API -----------------------------------------------------------------------------------------
    def detect(self, image_rgb: np.ndarray) -> list[Face]:
        """All faces (up to max_faces) in a photo, largest first; [] when there is none."""
        image = to_rgb_uint8(image_rgb)
        for dets in self._orientation_views(image):
            faces: list[Face] = []
            start = 0  # best detections first; more only where the landmark model rejects some
            while len(faces) < self.max_faces and start < len(dets):
                batch = dets[start : start + self.max_faces - len(faces)]
                start += len(batch)
                faces = self._dedupe(faces + self._faces_from_detections(image, batch))
            if faces:
                return sorted(faces, key=lambda f: -(f.box[2] * f.box[3]))
        return []

    def _faces_from_detections(self, image: np.ndarray, dets: list[_Detection]) -> list[Face]:
        """Landmarks for one view's detections; a coarse whole-image detection the model rejects tries its tile twin."""
        faces = self._faces_from_rois(image, [self._roi_from_detection(d) for d in dets], [d.score for d in dets])
        if len(faces) < len(dets):  # a coarse whole-image detection the mesh rejected: try its tile detection
            found = np.array([[f.box[0], f.box[1], f.box[0] + f.box[2], f.box[1] + f.box[3]] for f in faces])
            alts = [
                d.alternative
                for d in dets
                if d.alternative is not None and (not faces or _iou(d.alternative.box, found).max() <= 0.1)
            ]
            if alts:
                rois = [self._roi_from_detection(a) for a in alts]
                faces += self._faces_from_rois(image, rois, [a.score for a in alts])
        return faces

    def track(self, image_rgb: np.ndarray) -> Face | None:
        """Video mode: the face in this frame from the previous frame's landmarks; detector only when needed."""
        image = to_rgb_uint8(image_rgb)
        if self._prev is not None:
            roi = self.roi_from_landmarks(self._prev.landmarks)
            faces = self._faces_from_rois(image, [roi], [0.0])
            if faces:
                self._prev = faces[0]
                self._last_rotation = faces[0].roi.rotation
                return faces[0]
        # (Re-)detect: the largest detection whose landmarks are confirmed, without running the model on every face.
        # A face lost mid-clip is looked for first in the clip's own orientation (the quarter turn nearest the last
        # region's rotation): one detector pass, where the orientation search would pay for up to four views and a
        # landmark drift check whenever the face is small or blurred (score under 0.85) in a drifting, zooming shot.
        # Only when that finds no face does the full search run, as on the clip's first frame.
        self._prev = None
        if self._last_rotation is not None:
            quarter = _nearest_quarter_turn(self._last_rotation)
            face = self._confirm(image, [self._detect_regions(image, tiles=self.max_faces > 1, view=quarter)])
            if face is not None:
                return face
        return self._confirm(image, self._orientation_views(image))

    def _confirm(self, image: np.ndarray, views) -> Face | None:
        """The first detection (largest first within a view) whose landmarks the model confirms, remembered as the
        tracked face; None when no view has one."""
        for view in views:
            first = sorted(view[: self.max_faces], key=lambda d: -_box_area(d.box))
            for d in first + view[self.max_faces :]:  # the rest only where the landmark model rejects those
                for cand in (d, d.alternative):
                    if cand is not None:
                        faces = self._faces_from_rois(image, [self._roi_from_detection(cand)], [cand.score])
                        if faces:
                            self._prev = faces[0]
                            self._last_rotation = faces[0].roi.rotation
                            return self._prev
        return None
