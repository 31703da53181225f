"""Head rotation and eye gaze from the 478 face landmarks: a perspective fit to MediaPipe's canonical face.

Why a fit and not the landmark normalisation frame: the frame built from a few points (eye corners, nose line) leans
with the face's shape and expression, and ignores perspective. Here the rigid landmarks of MediaPipe's Procrustes
basis (the same 33 points and weights its geometry pipeline uses) are fitted to the canonical face
(exported_models/head_model.npz) twice, with a pinhole camera of MediaPipe's assumed vertical field of view (63 deg,
principal point at the image centre):
  1. perspective reprojection fit of the 2D points (SQPnP start, weighted Gauss-Newton refinement);
  2. weighted 3D Procrustes of the landmarks un-projected to metric space with their depth (the geometry pipeline's
     two-pass scale estimate), which sees the depth the 2D fit cannot.
Yaw and pitch come from their quaternion blend, PNP_SHARE of the first; roll (in the image plane, where the depth
adds nothing) from the Procrustes alone. Both choices were made on the development renders (seed 19019 of
benchmarks/bench_head_pose.py); the reported figures use other seeds. Gaze: from the eyeLook weights when the caller
has them (gaze_from_weights: 40 deg yaw and 30 deg pitch per unit, measured on a real iPhone take), else from each iris
centre's viewing ray intersected with its eyeball (a sphere behind the canonical iris).

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
from ..rig.rotations import matrices_from_quats, quats_from_matrices, ypr_from_matrices, ypr_matrices
from .landmark_normalize import NUM_LANDMARKS, as_landmark_batch

HEAD_MODEL_FILE = "head_model.npz"
FOV_Y_DEG = 63.0  # MediaPipe's geometry pipeline: perspective camera, vertical field of view
EYEBALL_RADIUS_CM = 1.2  # eye rotation centre behind the iris centre (an adult eyeball is ~2.4 cm across)
IRIS_CENTRES = (468, 473)  # subject's right, left
GN_ITERATIONS = 6
PNP_SHARE = 0.3  # share of the reprojection fit in the blended rotation (the rest: the metric Procrustes)
# Eye rotation per unit of eyeLook weight, from the shared iPhone Live Link take (LeftEyeYaw against
# eyeLookOut - eyeLookIn: slope 0.70 rad, r = 0.98; pitch against eyeLookUp - eyeLookDown: 0.52 rad, r = 0.97).
GAZE_YAW_PER_UNIT_DEG = 40.1
GAZE_PITCH_PER_UNIT_DEG = 30.0
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
        return quats_from_matrices(self.rotation)[0]


def ypr_from_matrix(rot: np.ndarray) -> np.ndarray:
    """(3, 3) rotation -> (yaw, pitch, roll) degrees (the module docstring's convention)."""
    return ypr_from_matrices(rot)[0]


def _weighted_similarity(src: np.ndarray, dst: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    """Scale and rotation of the weighted least-squares similarity src -> dst (weights sum to 1)."""
    a = src - w @ src
    b = dst - w @ dst
    u, sig, vt = np.linalg.svd((b * w[:, None]).T @ a)
    d = np.array([1.0, 1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rot = u @ np.diag(d) @ vt
    return float((sig * d).sum() / (w @ (a * a).sum(1))), rot


def _blend(r1: np.ndarray, r2: np.ndarray, share1: float) -> np.ndarray:
    """Normalised quaternion blend of two close rotations, share1 of the first."""
    q1, q2 = quats_from_matrices(np.stack([r1, r2]))
    q = share1 * q1 + (1 - share1) * (q2 if q1 @ q2 >= 0 else -q2)
    return matrices_from_quats(q)[0]


def gaze_from_weights(weights: np.ndarray) -> np.ndarray:
    """(52,) ARKit weights -> (2, 2) eye (yaw, pitch) degrees for (subject's right, left), the head_pose signs."""
    from ..arkit import INDEX

    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    y, p = GAZE_YAW_PER_UNIT_DEG, GAZE_PITCH_PER_UNIT_DEG
    return np.array(
        [
            [(w[INDEX["eyeLookInRight"]] - w[INDEX["eyeLookOutRight"]]) * y,
             (w[INDEX["eyeLookUpRight"]] - w[INDEX["eyeLookDownRight"]]) * p],
            [(w[INDEX["eyeLookOutLeft"]] - w[INDEX["eyeLookInLeft"]]) * y,
             (w[INDEX["eyeLookUpLeft"]] - w[INDEX["eyeLookDownLeft"]]) * p],
        ]
    )  # fmt: skip


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
        self._w = self.model.basis_weights / self.model.basis_weights.sum()
        self._sqrt_w = np.sqrt(self._w * len(ids))
        self._ids = ids

    def estimate(
        self,
        landmarks: np.ndarray,
        width: float,
        height: float,
        previous: HeadPose | None = None,
        weights: np.ndarray | None = None,
    ) -> HeadPose:
        """One face's (478|468, 3) pixel landmarks in a width x height image -> HeadPose.

        `previous` (the last frame's pose of the same face) starts the refinement there in video; `weights` (the
        face's 52 ARKit weights) give the gaze from the eyeLook channels instead of the iris geometry."""
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
        r_pnp = _GL_FROM_CV @ cv2.Rodrigues(rvec)[0]
        t_gl = _GL_FROM_CV @ tvec
        r_metric = self._metric_procrustes(pts, width, height)
        ypr = ypr_from_matrix(_blend(r_pnp, r_metric, PNP_SHARE))
        ypr[2] = ypr_from_matrix(r_metric)[2]  # roll is in the image plane: the 2D fit adds nothing but noise there
        r_gl = ypr_matrices(ypr[None])[0]
        gaze = gaze_from_weights(weights) if weights is not None else self._gaze(pts, k, r_gl, t_gl)
        return HeadPose(
            rotation=r_gl, translation=t_gl, ypr_deg=ypr_from_matrix(r_gl), gaze_deg=gaze, reprojection_px=rms
        )

    def _metric_procrustes(self, pts: np.ndarray, width: float, height: float) -> np.ndarray:
        """Rotation of the canonical face onto the landmarks un-projected to metric space with their depth: screen
        points on the near plane (near = 1), depth from the landmark z (x-pixel scale), two scale passes, then a
        weighted orthogonal Procrustes (MediaPipe's geometry pipeline does the same)."""
        near = 1.0
        hn = 2 * near * math.tan(math.radians(self.fov_y_deg) / 2)
        wn = hn * width / height
        scr = np.stack(
            [pts[:, 0] / width * wn - wn / 2, (1 - pts[:, 1] / height) * hn - hn / 2, pts[:, 2] / width * wn], 1
        )
        offset = scr[:, 2].mean()
        ids, w, can = self._ids, self._w, self._obj

        def metric(scale: float) -> np.ndarray:
            m = scr[ids].copy()
            m[:, 2] = (m[:, 2] - offset + near) / scale
            m[:, :2] *= m[:, 2:3] / near
            m[:, 2] *= -1
            return m

        flipped = scr[ids] * np.array([1.0, 1.0, -1.0])
        s1 = _weighted_similarity(can, flipped, w)[0]
        s2 = _weighted_similarity(can, metric(s1), w)[0]
        return _weighted_similarity(can, metric(s1 * s2), w)[1]

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
            step = np.linalg.solve(j.T @ j + 1e-9 * np.eye(6), -(j.T @ res))
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
        for e, idx in enumerate(IRIS_CENTRES):
            centre_head = self.model.points[idx] - np.array([0.0, 0.0, EYEBALL_RADIUS_CM])
            c = r_gl @ centre_head + t_gl  # eyeball centre, camera frame
            ray = np.array([(pts[idx, 0] - k[0, 2]) / k[0, 0], -(pts[idx, 1] - k[1, 2]) / k[1, 1], -1.0])
            ray /= np.linalg.norm(ray)
            b = float(ray @ c)
            disc = b * b - (float(c @ c) - EYEBALL_RADIUS_CM**2)
            hit = ray * (b - math.sqrt(disc)) if disc > 0 else ray * b  # nearer intersection, else closest point
            d = r_gl.T @ (hit - c)  # gaze direction in the head frame
            d /= np.linalg.norm(d)
            out[e] = np.degrees([math.atan2(d[0], d[2]), math.asin(max(-1.0, min(1.0, d[1])))])
        return out


# Angles move in degrees (tens per second), weights in 0..1: the speed coefficients are scaled to match, so a head
# turn of 60 deg/s opens the cut-off about as much as a fast expression change does for the weights.
HEAD_FILTER_PARAMS = (1.0, 0.02)  # min cut-off (Hz), beta (per deg/s)
GAZE_FILTER_PARAMS = (2.0, 0.05)  # eyes move faster (saccades): less smoothing


class HeadTrack:
    """Head pose and gaze of one tracked face through a video: fitted per frame (started from the last frame's pose),
    smoothed with the same One Euro filter as the weights, and held while the face is lost (the filter restarts after
    a gap, as the weights' does). Collects the whole take for a bake or a CSV."""

    def __init__(self, smoothing: float = 1.0, estimator: HeadPoseEstimator | None = None):
        from .one_euro import OneEuroFilter, OneEuroParams

        self.estimator = estimator or HeadPoseEstimator()
        head = OneEuroParams(*HEAD_FILTER_PARAMS)
        gaze = OneEuroParams(*GAZE_FILTER_PARAMS)
        self._filter = OneEuroFilter(7, params=[head] * 3 + [gaze] * 4, smoothing=smoothing, names=None)
        self._previous: HeadPose | None = None
        self.ypr: list[np.ndarray] = []
        self.gaze: list[np.ndarray] = []
        self.found: list[bool] = []

    def update(
        self, landmarks: np.ndarray | None, t: float, width: float, height: float, weights: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """One frame's (yaw, pitch, roll) and (2, 2) gaze in degrees, smoothed; landmarks None = face lost."""
        if landmarks is None:
            self._filter.reset()
            self._previous = None
            ypr = self.ypr[-1] if self.ypr else np.zeros(3)
            gaze = self.gaze[-1] if self.gaze else np.zeros((2, 2))
            self.found.append(False)
        else:
            pose = self.estimator.estimate(landmarks, width, height, previous=self._previous, weights=weights)
            self._previous = pose
            v = self._filter(np.concatenate([pose.ypr_deg, pose.gaze_deg.ravel()]), t)
            ypr, gaze = v[:3], v[3:].reshape(2, 2)
            self.found.append(True)
        self.ypr.append(np.array(ypr, dtype=np.float64))
        self.gaze.append(np.array(gaze, dtype=np.float64))
        return self.ypr[-1], self.gaze[-1]

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(N, 3) yaw/pitch/roll, (N, 2, 2) gaze (degrees) and (N,) found; frames before the first face hold its
        values (not zeros), as the weights do."""
        ypr = np.array(self.ypr, dtype=np.float64).reshape(-1, 3)
        gaze = np.array(self.gaze, dtype=np.float64).reshape(-1, 2, 2)
        found = np.array(self.found, dtype=bool)
        if found.any():
            first = int(np.argmax(found))
            ypr[:first], gaze[:first] = ypr[first], gaze[first]
        return ypr, gaze, found


def head_poses(faces: list, image: np.ndarray, estimator: HeadPoseEstimator | None = None) -> list[HeadPose]:
    """The HeadPose of each solved face (core.face.pipeline.SolvedFace) of one image, gaze from its weights."""
    if not faces:
        return []
    est = estimator or HeadPoseEstimator()
    h, w = image.shape[:2]
    return [est.estimate(f.landmarks, w, h, weights=f.weights) for f in faces]


def track_video_heads(frames: list, width: float, height: float, smoothing: float = 1.0):
    """(N, 3) head angles, (N, 2, 2) gaze (degrees) and (N,) found for the VideoFrames of FaceSolver.solve_video."""
    track = HeadTrack(smoothing=smoothing)
    for f in frames:
        face = f.face
        if face is None:
            track.update(None, f.time, width, height)
        else:
            track.update(face.landmarks, f.time, width, height, weights=face.weights)
    return track.arrays()
