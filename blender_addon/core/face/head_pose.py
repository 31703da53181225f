"""Head rotation and eye gaze from the 478 face landmarks: a perspective fit to MediaPipe's canonical face.

Why a fit and not the landmark normalisation frame: the frame built from a few points (eye corners, nose line) leans
with the face's shape and expression, and ignores perspective. Here the rigid landmarks of MediaPipe's Procrustes
basis (the same 33 points and weights its geometry pipeline uses) are fitted to the canonical face
(exported_models/head_model.npz) through a pinhole camera with MediaPipe's assumed vertical field of view (63 deg,
principal point at the image centre): SQPnP for a global start, then a weighted Gauss-Newton refinement of the
reprojection error. Gaze: each iris centre's viewing ray is intersected with that eye's eyeball (a sphere behind the
canonical iris), giving the eye's rotation relative to the head.

Convention (the same as `pose_deg` of `facsimile solve`): camera frame x right, y up, z towards the viewer; the head
rotation R (canonical face -> camera) is R = Rz(roll) @ Ry(yaw) @ Rx(-pitch), angles in degrees:
  yaw > 0: the face turns towards the image's right (the subject's left);
  pitch > 0: the face tilts up (chin up);
  roll > 0: the face tilts counter-clockwise in the image (towards the subject's left shoulder... as seen: the head's
  top goes to the image's left).
Zero is the canonical face looking straight into the camera. Gaze angles use the same signs relative to the head:
an eye's yaw > 0 looks towards the subject's left, pitch > 0 looks up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import FacsimileError
from .landmark_normalize import NUM_LANDMARKS, as_landmark_batch

HEAD_MODEL_FILE = "head_model.npz"
FOV_Y_DEG = 63.0  # MediaPipe's geometry pipeline: perspective camera, vertical field of view
EYEBALL_RADIUS_CM = 1.2  # eye rotation centre behind the iris centre (an adult eyeball is ~2.4 cm across)
IRIS_CENTRES = (468, 473)  # subject's right, left
GN_ITERATIONS = 6
_GL_FROM_CV = np.diag([1.0, -1.0, -1.0])  # OpenCV camera (x right, y down, z forward) <-> ours (y up, z to viewer)


@dataclass(frozen=True)
class HeadPose:
    """One face's head pose in the camera frame (x right, y up, z towards the viewer) and its gaze."""

    rotation: np.ndarray  # (3, 3) canonical face -> camera
    translation: np.ndarray  # (3,) canonical face origin in the camera frame, cm (z < 0: in front of the camera)
    ypr_deg: np.ndarray  # (3,) yaw, pitch, roll (see the module docstring)
    gaze_deg: np.ndarray  # (2, 2) (subject's right, left eye) x (yaw, pitch) relative to the head
    reprojection_px: float  # weighted RMS reprojection error of the rigid points, pixels

    def rotation_quaternion(self) -> np.ndarray:
        """The head rotation as a unit quaternion (w, x, y, z) in the camera frame."""
        return quaternion_from_matrix(self.rotation)


def matrix_from_ypr(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """R = Rz(roll) @ Ry(yaw) @ Rx(-pitch), degrees -> (3, 3)."""
    y, p, r = (math.radians(v) for v in (yaw, pitch, roll))
    cy, sy, cp, sp, cr, sr = math.cos(y), math.sin(y), math.cos(p), math.sin(p), math.cos(r), math.sin(r)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, sp], [0, -sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return rz @ ry @ rx


def ypr_from_matrix(rot: np.ndarray) -> np.ndarray:
    """(3, 3) rotation -> (yaw, pitch, roll) degrees, the inverse of matrix_from_ypr (|yaw| < 90)."""
    r = np.asarray(rot, dtype=np.float64)
    yaw = math.asin(max(-1.0, min(1.0, -r[2, 0])))
    pitch = math.atan2(-r[2, 1], r[2, 2])
    roll = math.atan2(r[1, 0], r[0, 0])
    return np.degrees([yaw, pitch, roll])


def quaternion_from_matrix(rot: np.ndarray) -> np.ndarray:
    """(3, 3) rotation -> unit quaternion (w, x, y, z) with w >= 0."""
    m = np.asarray(rot, dtype=np.float64)
    t = np.trace(m)
    if t > 0:
        s = math.sqrt(t + 1.0) * 2
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    else:
        i = int(np.argmax(np.diag(m)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = math.sqrt(max(1.0 + m[i, i] - m[j, j] - m[k, k], 1e-12)) * 2
        q = [0.0, 0.0, 0.0, 0.0]
        q[0] = (m[k, j] - m[j, k]) / s
        q[1 + i] = 0.25 * s
        q[1 + j] = (m[j, i] + m[i, j]) / s
        q[1 + k] = (m[k, i] + m[i, k]) / s
    q = np.array(q)
    q /= np.linalg.norm(q)
    return q if q[0] >= 0 else -q


def matrix_from_quaternion(q: np.ndarray) -> np.ndarray:
    w, x, y, z = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


@dataclass(frozen=True)
class HeadModel:
    """The canonical face (478, 3) cm and the rigid landmark basis the fit uses (ids, weights)."""

    points: np.ndarray
    basis_ids: np.ndarray
    basis_weights: np.ndarray


_MODEL: HeadModel | None = None


def load_head_model(path: str | Path | None = None) -> HeadModel:
    """The shipped canonical face (checked against the model manifest), read once."""
    global _MODEL
    if path is None and _MODEL is not None:
        return _MODEL
    from ..models.store import verified_model_path

    p = Path(path) if path is not None else verified_model_path(HEAD_MODEL_FILE)
    try:
        with np.load(p) as d:
            model = HeadModel(
                points=d["points"].astype(np.float64),
                basis_ids=d["basis_ids"].astype(np.int64),
                basis_weights=d["basis_weights"].astype(np.float64),
            )
    except (OSError, KeyError, ValueError) as exc:
        raise FacsimileError(f"head model {p} is unreadable ({exc}); reinstall the extension") from None
    if model.points.shape != (NUM_LANDMARKS, 3) or len(model.basis_ids) != len(model.basis_weights):
        raise FacsimileError(f"head model {p} has unexpected shapes; reinstall the extension")
    if path is None:
        _MODEL = model
    return model


def camera_matrix(width: float, height: float, fov_y_deg: float = FOV_Y_DEG) -> np.ndarray:
    """Pinhole intrinsics (pixels) with square pixels, the principal point at the image centre."""
    if not (width > 0 and height > 0):
        raise FacsimileError(f"image size must be positive, got {width} x {height}")
    f = 0.5 * height / math.tan(math.radians(fov_y_deg) / 2)
    return np.array([[f, 0, 0.5 * width], [0, f, 0.5 * height], [0, 0, 1.0]])


class HeadPoseEstimator:
    """Landmarks (image pixels) -> HeadPose, by a weighted perspective fit to the canonical face."""

    def __init__(self, fov_y_deg: float = FOV_Y_DEG, model_path: str | Path | None = None):
        self.fov_y_deg = float(fov_y_deg)
        self.model = load_head_model(model_path)
        ids = self.model.basis_ids
        self._obj = self.model.points[ids]
        self._sqrt_w = np.sqrt(self.model.basis_weights / self.model.basis_weights.sum() * len(ids))
        self._ids = ids

    def estimate(self, landmarks: np.ndarray, width: float, height: float, previous: HeadPose | None = None) -> HeadPose:
        """One face's (478|468, 3) pixel landmarks in a width x height image -> HeadPose.

        `previous` (the last frame's pose of the same face) starts the refinement there in video."""
        lm = as_landmark_batch(landmarks)
        if len(lm) != 1:
            raise FacsimileError(f"estimate() takes one face's landmarks, got {len(lm)} faces")
        pts = lm[0]
        k = camera_matrix(width, height, self.fov_y_deg)
        img = np.ascontiguousarray(pts[self._ids, :2])
        obj_cv = np.ascontiguousarray(self._obj)
        if previous is not None:
            r_cv = _GL_FROM_CV @ previous.rotation
            rvec = cv2.Rodrigues(r_cv)[0]
            tvec = (_GL_FROM_CV @ previous.translation).reshape(3, 1)
        else:
            ok, rvec, tvec = cv2.solvePnP(obj_cv, img, k, None, flags=cv2.SOLVEPNP_SQPNP)
            if not ok:
                raise FacsimileError("the head pose fit failed on these landmarks; the face detection is likely wrong")
        rvec, tvec, rms = self._refine(obj_cv, img, k, rvec.reshape(3), tvec.reshape(3))
        r_gl = _GL_FROM_CV @ cv2.Rodrigues(rvec)[0]
        t_gl = _GL_FROM_CV @ tvec
        gaze = self._gaze(pts, k, r_gl, t_gl)
        return HeadPose(rotation=r_gl, translation=t_gl, ypr_deg=ypr_from_matrix(r_gl), gaze_deg=gaze, reprojection_px=rms)

    def _refine(self, obj: np.ndarray, img: np.ndarray, k: np.ndarray, rvec: np.ndarray, tvec: np.ndarray):
        """Weighted Gauss-Newton on the reprojection error (cv2.projectPoints gives the Jacobian)."""
        w = np.repeat(self._sqrt_w, 2)
        params = np.concatenate([rvec, tvec]).astype(np.float64)
        rms = float("inf")
        for _ in range(GN_ITERATIONS):
            proj, jac = cv2.projectPoints(obj, params[:3], params[3:], k, None)
            res = (proj.reshape(-1, 2) - img).reshape(-1) * w
            rms = float(np.sqrt((res**2).mean()))
            j = jac[:, :6] * w[:, None]
            step, *_ = np.linalg.lstsq(j, -res, rcond=None)
            params += step
            if np.abs(step).max() < 1e-7:
                break
        proj, _ = cv2.projectPoints(obj, params[:3], params[3:], k, None)
        rms = float(np.sqrt((((proj.reshape(-1, 2) - img).reshape(-1) * w) ** 2).mean()))
        if not np.isfinite(params).all() or params[5] <= 0:
            raise FacsimileError("the head pose fit diverged on these landmarks; the face detection is likely wrong")
        return params[:3], params[3:], rms

    def _gaze(self, pts: np.ndarray, k: np.ndarray, r_gl: np.ndarray, t_gl: np.ndarray) -> np.ndarray:
        """(2, 2) eye (yaw, pitch) degrees relative to the head, from each iris centre's ray and eyeball sphere."""
        out = np.zeros((2, 2))
        kinv = np.linalg.inv(k)
        for e, idx in enumerate(IRIS_CENTRES):
            centre_head = self.model.points[idx] - np.array([0.0, 0.0, EYEBALL_RADIUS_CM])
            c = r_gl @ centre_head + t_gl  # eyeball centre, camera frame
            ray = _GL_FROM_CV @ (kinv @ np.array([pts[idx, 0], pts[idx, 1], 1.0]))
            ray /= np.linalg.norm(ray)
            b = float(ray @ c)
            disc = b * b - (float(c @ c) - EYEBALL_RADIUS_CM**2)
            hit = ray * (b - math.sqrt(disc)) if disc > 0 else ray * b  # nearer intersection, else closest point
            d = r_gl.T @ (hit - c)  # gaze direction in the head frame
            d /= np.linalg.norm(d)
            out[e] = np.degrees([math.atan2(d[0], d[2]), math.asin(max(-1.0, min(1.0, d[1])))])
        return out
