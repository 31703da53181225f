"""Face detection, 468-point face mesh and iris landmarks with onnxruntime, following MediaPipe's face mesh graph.

Pipeline (MediaPipe's face_landmark_front_cpu, re-implemented with numpy + cv2):
  1. detector: the whole image letterboxed to 128x128 ([-1, 1]), BlazeFace short-range SSD anchors, sigmoid scores,
     weighted non-maximum suppression (IoU 0.3);
  2. region: detection box centre, rotation from the two eye keypoints, square on the long side, scaled 1.5x;
  3. face mesh: that rotated region warped to 192x192 ([0, 1]), 468 (x, y, z) mapped back to image pixels, and a
     face-presence score;
  4. iris: a 2.3x square around each eye's corners (33/133 and 362/263), 64x64, the second eye mirrored as MediaPipe
     does, 5 iris points per eye appended as landmarks 468-472 and 473-477 (MediaPipe's refine_landmarks order).
     All eyes go through the iris model in one batch (split over two sessions on two threads with parallel=True).
In video mode the next region comes from the previous landmarks (eye corners 33/263, 1.5x) and the detector only runs
again when the face-presence score drops below min_presence, as MediaPipe's tracker does (here on the same frame).

Beyond MediaPipe, for photos: when the upright detection is weak or tilted, views turned by 90/-90/180 degrees are
searched too (sideways and upside-down photos), and with max_faces > 1 square tiles of a wide photo are searched for
faces too small for the 128x128 whole-image pass (group photos). Faces MediaPipe would find keep its exact regions.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..errors import FacsimileError
from ..formats.image_io import to_rgb_uint8
from ..models.onnx_session import SessionInfo, create_session
from ..models.specs import FACE_DETECTOR, FACE_LANDMARKS, IRIS_LANDMARKS, ModelSpec, check_session
from ..models.store import verified_model_path

NUM_MESH = 468
NUM_LANDMARKS = 478
# MediaPipe's iris graph: "left" eye boundary 33/133 -> landmarks 468..472, mirrored eye 362/263 -> 473..477.
EYE_CORNERS = ((33, 133), (362, 263))
TRACK_ROTATION_KEYPOINTS = (33, 263)
MIRRORED_IRIS_ORDER = [0, 3, 2, 1, 4]

DETECTOR_SIZE = 128
MESH_SIZE = 192
IRIS_SIZE = 64
DETECTOR_NMS_IOU = 0.3
FACE_ROI_SCALE = 1.5
IRIS_ROI_SCALE = 2.3
SCORE_CLIP = 100.0
# Below this best upright detector score, turned views of the photo are searched too (see _detect_any_orientation).
ORIENTATION_CHECK_SCORE = 0.85
ORIENTATION_TILT_PENALTY = 0.3  # score penalty for an eye line at 90 degrees (tilt 1), linear below


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
    roi: RotatedRect = field(repr=False)  # region the face mesh model saw; the tracker's next region starts here


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


def _box_area(box: np.ndarray) -> float:
    return float(max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(x, dtype=np.float64), -SCORE_CLIP, SCORE_CLIP)))


def _roi_from_points(
    xmin: float, ymin: float, xmax: float, ymax: float, p0: np.ndarray, p1: np.ndarray, scale: float
) -> RotatedRect:
    """DetectionsToRects + RectTransformation(square_long, scale): box centre, rotation aligning p0->p1 with +x."""
    rotation = -math.atan2(-(p1[1] - p0[1]), p1[0] - p0[0])
    rotation = (rotation + math.pi) % (2 * math.pi) - math.pi
    side = max(xmax - xmin, ymax - ymin) * scale
    return RotatedRect(((xmin + xmax) / 2.0, (ymin + ymax) / 2.0), (side, side), rotation)


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


def _eye_affines(meshes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Iris crop affines for every eye of n meshes at once: ((2n, 2, 3) crop pixel -> image pixel, (2n,) crop
    pixel size). Same region as _roi_from_points on the eye corners (box centre, rotation p0 -> p1, 2.3x square)."""
    corners = np.asarray(EYE_CORNERS)
    p0 = meshes[:, corners[:, 0], :2].reshape(-1, 2).astype(np.float64)
    p1 = meshes[:, corners[:, 1], :2].reshape(-1, 2).astype(np.float64)
    d = p1 - p0
    rotation = np.arctan2(d[:, 1], d[:, 0])
    side = np.abs(d).max(axis=1) * IRIS_ROI_SCALE
    pix = side / IRIS_SIZE
    c, s = np.cos(rotation) * pix, np.sin(rotation) * pix
    mats = np.empty((len(p0), 2, 3))
    mats[:, 0, 0], mats[:, 0, 1], mats[:, 1, 0], mats[:, 1, 1] = c, -s, s, c
    half = IRIS_SIZE / 2.0
    mats[:, :, 2] = (p0 + p1) / 2.0 - half * (mats[:, :, 0] + mats[:, :, 1])
    return mats, pix


class FaceTracker:
    """Faces and landmarks from RGB images: `detect` for photos (all faces), `track` for video (one face)."""

    def __init__(
        self,
        device: str = "auto",
        max_faces: int = 4,
        min_detection: float = 0.5,
        min_presence: float = 0.5,
        iris: bool = True,
        threads: int | None = None,
        parallel: bool | None = None,
    ) -> None:
        """parallel: run the two eyes' iris passes on two cores at once (None: on CPU with one intra-op thread and
        4+ cores). It saves one iris pass of wall time per frame when a core is free; on a loaded 2-core machine the
        worker waits for a core and it costs more than it saves (measured), hence the 4-core default."""
        if max_faces < 1:
            raise ValueError("max_faces must be at least 1")
        self.max_faces = max_faces
        self.min_detection = float(min_detection)
        self.min_presence = float(min_presence)
        self.iris = iris
        # These models take ~1 ms each: a second intra-op thread costs more in hand-offs than it saves (measured on
        # 2 cores: face mesh 0.75 ms with 1 thread vs 1.5 ms+ with 2), so one thread unless FACSIMILE_THREADS says.
        if threads is None:
            threads = int(os.environ.get("FACSIMILE_THREADS") or 1)
        self._detector, self.device_info = self._load(FACE_DETECTOR, device, threads)
        self._mesh, _ = self._load(FACE_LANDMARKS, device, threads)
        self._iris, _ = self._load(IRIS_LANDMARKS, device, threads) if iris else (None, None)
        if parallel is None:
            parallel = threads == 1 and (os.cpu_count() or 1) >= 4 and self.device_info.device == "cpu"
        # A second iris session: onnxruntime serialises concurrent runs of one session, two sessions run in parallel
        # (measured: 2 threads x 300 face mesh runs take 0.37 s on one session, 0.23 s on two).
        self._iris_aux = self._load(IRIS_LANDMARKS, device, threads)[0] if iris and parallel else None
        self._pool: ThreadPoolExecutor | None = None
        self._prev: Face | None = None

    @staticmethod
    def _load(spec: ModelSpec, device: str, threads: int | None):
        session, info = create_session(verified_model_path(spec.file_name), device, threads)
        check_session(session, spec)
        return session, info

    @property
    def device(self) -> SessionInfo:
        return self.device_info

    def reset(self) -> None:
        """Forget the tracked face: the next `track` call runs the detector."""
        self._prev = None

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
        if not tiles or long_ <= 1.2 * short:
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

    @staticmethod
    def _orientation_quality(dets: list[_Detection], view: float) -> float:
        """Best detection's score, less a penalty for an eye line tilted in that view (sideways faces score ~0.9)."""
        if not dets:
            return 0.0
        k = dets[0].keypoints
        angle = math.atan2(k[1, 1] - k[0, 1], k[1, 0] - k[0, 0]) - view
        angle = (angle + math.pi) % (2 * math.pi) - math.pi
        tilt = min(abs(angle), math.pi / 2) / (math.pi / 2)
        return dets[0].score - ORIENTATION_TILT_PENALTY * tilt

    def _detect_any_orientation(self, image: np.ndarray) -> list[_Detection]:
        """Detections for the photo's most likely orientation.

        BlazeFace is trained on upright faces: on a sideways or upside-down photo it still fires (scores up to ~0.9)
        with keypoints laid out roughly as if upright, which would put the face mesh on a wrongly rotated crop. So
        when the best upright detection is weak or its eye line is tilted, the detector also looks at the image
        turned by 90, -90 and 180 degrees and the view with the best score-minus-tilt wins. Upright photos with a
        clear face (most) never pay for the extra passes.
        """
        dets = self._detect_regions(image, tiles=self.max_faces > 1)
        best = self._orientation_quality(dets, 0.0)
        if dets and dets[0].score >= ORIENTATION_CHECK_SCORE and best >= ORIENTATION_CHECK_SCORE - 0.1:
            return dets
        for view in (math.pi / 2, -math.pi / 2, math.pi):
            found = self._detect_regions(image, tiles=self.max_faces > 1, view=view)
            quality = self._orientation_quality(found, view)
            if quality > best:
                dets, best = found, quality
        return dets

    # ----- landmarks ------------------------------------------------------------------------------------------
    def _landmarks(self, image: np.ndarray, rois: list[RotatedRect]) -> tuple[np.ndarray, np.ndarray]:
        """Face mesh for each region in one batch: ((n, 468, 3) image-pixel landmarks, (n,) presence scores)."""
        crops = np.empty((len(rois), MESH_SIZE, MESH_SIZE, 3), np.uint8)
        for crop, r in zip(crops, rois):
            crop[:] = _warp(image, r, MESH_SIZE, cv2.BORDER_REPLICATE)
        raw, flag = self._mesh.run(None, {"image": _to_unit_float(crops)})
        mats = np.stack([r.crop_to_image(MESH_SIZE, MESH_SIZE) for r in rois])
        z_scale = np.array([r.size[0] / MESH_SIZE for r in rois])
        out = _project(raw.reshape(len(rois), NUM_MESH, 3), mats, z_scale)
        return out, _sigmoid(flag[:, 0].astype(np.float64))

    def _run_iris(self, x: np.ndarray) -> np.ndarray:
        """Iris model on a batch of eye crops -> (k, 15). With a second session, the second half of the batch runs
        on a worker thread at the same time (onnxruntime releases the GIL while it computes)."""
        if self._iris_aux is None or len(x) < 2:
            return self._iris.run(["iris"], {"image": x})[0]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="facsimile-iris")
        half = len(x) // 2
        pending = self._pool.submit(self._iris_aux.run, ["iris"], {"image": x[half:]})
        try:
            first = self._iris.run(["iris"], {"image": x[:half]})[0]
        finally:
            second = pending.result()[0]
        return np.concatenate([first, second])

    def _iris_points(self, image: np.ndarray, meshes: np.ndarray) -> np.ndarray:
        """(n, 10, 3) iris landmarks (5 per eye) for n face meshes, all eyes in one batch."""
        mats, pix = _eye_affines(meshes)
        crops = np.empty((len(mats), IRIS_SIZE, IRIS_SIZE, 3), np.uint8)
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        for k, (crop, m) in enumerate(zip(crops, mats)):
            warped = cv2.warpAffine(image, m, (IRIS_SIZE, IRIS_SIZE), flags=flags, borderMode=cv2.BORDER_REPLICATE)
            crop[:] = warped[:, ::-1] if k % 2 else warped  # the model knows one eye: mirror the other
        iris = self._run_iris(_to_unit_float(crops)).reshape(-1, 5, 3)
        iris[1::2, :, 0] = IRIS_SIZE - iris[1::2, :, 0]
        # Mirroring swaps the iris's horizontal contour points; restore the face mesh's (refine_landmarks) order.
        iris[1::2] = iris[1::2][:, MIRRORED_IRIS_ORDER]
        return _project(iris, mats, pix).reshape(len(meshes), 10, 3)

    def _faces_from_rois(self, image: np.ndarray, rois: list[RotatedRect], det_scores: list[float]) -> list[Face]:
        meshes, presence = self._landmarks(image, rois)
        ok = np.nonzero(presence >= self.min_presence)[0]
        if ok.size == 0:
            return []
        meshes, presence = meshes[ok], presence[ok]
        rois, det_scores = [rois[i] for i in ok], [det_scores[i] for i in ok]
        if self._iris is not None:
            iris = self._iris_points(image, meshes)
        else:  # keep the 478-point contract: iris centre/contour approximated by the eye-corner midpoint
            iris = np.repeat(np.stack([(meshes[:, a] + meshes[:, b]) / 2 for a, b in EYE_CORNERS], axis=1), 5, axis=1)
        faces = []
        for mesh, irs, score, roi, ds in zip(meshes, iris, presence, rois, det_scores):
            lm = np.concatenate([mesh, irs]).astype(np.float32)
            lo, hi = mesh[:, :2].min(0), mesh[:, :2].max(0)
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
        x0, y0, x1, y1 = d.box
        return _roi_from_points(x0, y0, x1, y1, d.keypoints[0], d.keypoints[1], FACE_ROI_SCALE)

    @staticmethod
    def roi_from_landmarks(landmarks: np.ndarray) -> RotatedRect:
        """The next video frame's region: mesh bounding box, rotation from eye corners 33 -> 263, 1.5x square."""
        mesh = landmarks[:NUM_MESH, :2]
        lo, hi = mesh.min(0), mesh.max(0)
        a, b = TRACK_ROTATION_KEYPOINTS
        return _roi_from_points(lo[0], lo[1], hi[0], hi[1], mesh[a], mesh[b], FACE_ROI_SCALE)

    # ----- public API -----------------------------------------------------------------------------------------
    def detect(self, image_rgb: np.ndarray) -> list[Face]:
        """All faces (up to max_faces) in a photo, largest first; [] when there is none."""
        image = to_rgb_uint8(image_rgb)
        dets = self._detect_any_orientation(image)[: self.max_faces]
        if not dets:
            return []
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
        faces = self._dedupe(faces)
        return sorted(faces, key=lambda f: -(f.box[2] * f.box[3]))

    def track(self, image_rgb: np.ndarray) -> Face | None:
        """Video mode: the face in this frame from the previous frame's landmarks; detector only when needed."""
        image = to_rgb_uint8(image_rgb)
        if self._prev is not None:
            roi = self.roi_from_landmarks(self._prev.landmarks)
            faces = self._faces_from_rois(image, [roi], [0.0])
            if faces:
                self._prev = faces[0]
                return faces[0]
        # (Re-)detect: the largest detection whose mesh is confirmed, without running mesh and iris on every face.
        dets = sorted(self._detect_any_orientation(image)[: self.max_faces], key=lambda d: -_box_area(d.box))
        self._prev = None
        for d in dets:
            for cand in (d, d.alternative):
                if cand is not None:
                    faces = self._faces_from_rois(image, [self._roi_from_detection(cand)], [cand.score])
                    if faces:
                        self._prev = faces[0]
                        return self._prev
        return None


def require_face(faces: list[Face], source: str) -> Face:
    """The largest face, or a FacsimileError naming the image (for commands that need exactly one face)."""
    if not faces:
        raise FacsimileError(f"no face found in {source}; use a photo where the face is visible and well lit")
    return faces[0]
