"""The one landmark normalisation shared by training and runtime: pixels -> pose-free, scale-free feature vectors.

Why reference-free: the frame is built from the landmarks' own rigid points (eye corners, nose bridge, forehead, nose
base), so nothing needs to be shipped besides this code, and training (synthetic ICT landmarks) and runtime (the
ONNX front-end's landmarks) go through exactly the same arithmetic.

Input: (N, 478, 3) or (N, 468, 3) MediaPipe landmarks in image pixels (x right, y down, z in pixel scale, smaller =
nearer the camera). A 468-point input gets its iris points estimated as the eye-contour centres so the feature size
never changes. Output: (N, FEATURE_SIZE) float32 = the 478 points rotated into the face frame (x towards the subject's
left, y up, z out of the face), centred on the rigid points and divided by the distance between the eye centres; plus
HeadPose (yaw, pitch, roll in degrees) for the out-of-range flag.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import FacsimileError

NUM_LANDMARKS = 478
NUM_FACE_LANDMARKS = 468
FEATURE_SIZE = NUM_LANDMARKS * 3

# Rigid points (they barely move with expressions): MediaPipe canonical-mesh ids.
RIGHT_EYE_CORNERS = (33, 133)  # the subject's right eye (image left)
LEFT_EYE_CORNERS = (362, 263)
UPPER_MIDLINE = (168, 6, 9, 151)  # nose bridge up to the forehead
LOWER_MIDLINE = (4, 5, 195, 197)  # nose tip and ridge
RIGID_IDS = RIGHT_EYE_CORNERS + LEFT_EYE_CORNERS + UPPER_MIDLINE + LOWER_MIDLINE + (127, 356, 129, 358)
# The frame's y axis (nose -> forehead) leans back from the face's vertical: measured 19.6 degrees on the ICT mean face
# looking straight into a camera (model_training: normalize_landmarks on a zero-pose synthetic face).
PITCH_OFFSET_DEG = 19.6
# Eye contours used to place iris points when only 468 landmarks are given.
RIGHT_EYE_RING = (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7)
LEFT_EYE_RING = (362, 398, 384, 385, 386, 387, 388, 466, 263, 249, 390, 373, 374, 380, 381, 382)


@dataclass(frozen=True)
class HeadPose:
    """Per-face head rotation relative to looking straight at the camera, degrees; (N,) arrays."""

    yaw: np.ndarray  # > 0: the face turns towards the image's right side (subject's left)
    pitch: np.ndarray  # > 0: the face tilts up
    roll: np.ndarray  # > 0: counter-clockwise in the image


def as_landmark_batch(landmarks: np.ndarray) -> np.ndarray:
    """Validate and return (N, 478, 3) float64; raises FacsimileError on wrong shape or non-finite values."""
    arr = np.asarray(landmarks)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1] not in (NUM_LANDMARKS, NUM_FACE_LANDMARKS) or arr.shape[2] != 3:
        raise FacsimileError(
            f"landmarks must have shape (N, 478, 3) or (N, 468, 3) (or one face without N); got {tuple(arr.shape)}"
        )
    if not np.issubdtype(arr.dtype, np.number):
        raise FacsimileError(f"landmarks must be numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(axis=(1, 2)).sum())
        raise FacsimileError(f"{bad} face(s) have NaN or infinite landmark coordinates; re-run face detection")
    if arr.shape[1] == NUM_FACE_LANDMARKS:
        iris = []
        for ring in (RIGHT_EYE_RING, LEFT_EYE_RING):
            centre = arr[:, list(ring)].mean(1, keepdims=True)
            iris.append(np.repeat(centre, 5, axis=1))
        arr = np.concatenate([arr] + iris, axis=1)
    return arr


def face_frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Origin (N, 3), rotation rows (N, 3, 3) (x: subject's left, y: up, z: out of the face) and scale (N,)
    from landmarks in a y-up, z-towards-camera frame."""
    right_eye = points[:, list(RIGHT_EYE_CORNERS)].mean(1)
    left_eye = points[:, list(LEFT_EYE_CORNERS)].mean(1)
    x = left_eye - right_eye
    scale = np.linalg.norm(x, axis=1)
    if np.any(scale < 1e-6):
        raise FacsimileError("degenerate landmarks: both eyes at the same point; the face detection failed")
    x = x / scale[:, None]
    up = points[:, list(UPPER_MIDLINE)].mean(1) - points[:, list(LOWER_MIDLINE)].mean(1)
    y = up - (up * x).sum(1, keepdims=True) * x
    ny = np.linalg.norm(y, axis=1)
    if np.any(ny < 1e-6):
        raise FacsimileError("degenerate landmarks: the nose line is parallel to the eye line")
    y = y / ny[:, None]
    z = np.cross(x, y)
    rot = np.stack([x, y, z], axis=1)
    origin = points[:, list(RIGID_IDS)].mean(1)
    return origin, rot, scale


def normalize_landmarks(landmarks: np.ndarray) -> tuple[np.ndarray, HeadPose]:
    """(N, 478|468, 3) pixel landmarks -> features (N, FEATURE_SIZE) float32 and the estimated HeadPose."""
    pts = as_landmark_batch(landmarks)
    # Image frame (x right, y down, z away) -> y up, z towards the camera: a 180-degree turn about x (right-handed).
    pts = pts * np.array([1.0, -1.0, -1.0])
    origin, rot, scale = face_frame(pts)
    local = ((pts - origin[:, None, :]) @ rot.transpose(0, 2, 1)) / scale[:, None, None]
    fwd = rot[:, 2]  # face normal in camera coordinates
    yaw = np.degrees(np.arctan2(fwd[:, 0], fwd[:, 2]))
    pitch = np.degrees(np.arcsin(np.clip(fwd[:, 1], -1.0, 1.0))) - PITCH_OFFSET_DEG
    roll = np.degrees(np.arctan2(rot[:, 0, 1], rot[:, 0, 0]))
    return local.reshape(len(pts), -1).astype(np.float32), HeadPose(yaw=yaw, pitch=pitch, roll=roll)
