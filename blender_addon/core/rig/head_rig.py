"""Head, neck and eye rotations for a rig, from the camera-frame head pose and gaze (core/face/head_pose.py).

Why here and not in Blender code: the arithmetic (actor's neutral, gain and limits per axis, neck/head split, the
change from the camera's frame to the armature's and to each bone's rest frame) is testable without Blender, and the
Live Link CSV import and the capture use case share it.

Frames. The camera frame is x right, y up, z towards the viewer; a character in its armature faces `forward` with
`up` and its own left (`left`) as given by its rest pose (default: Blender's convention, facing -Y, up +Z, left +X).
The actor and the character face each other's viewer the same way, so the actor's left is the character's left
(no mirroring unless asked). Output rotations are per-role local rotations relative to the rest pose, quaternions
(w, x, y, z) in the pose-bone convention: basis = rest^T @ R_armature @ rest for a bone whose parent is not rotated
by this module (with a neck split, the head's R is what is left after the neck's share).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..errors import FacsimileError
from .rotations import power, quats_from_matrices, ypr_matrices

AXES = ("yaw", "pitch", "roll")


@dataclass(frozen=True)
class HeadRigOptions:
    """How the actor's head and eyes drive the rig. Angles in degrees, per axis (yaw, pitch, roll)."""

    neutral_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)  # the actor's resting head angle, subtracted
    gain: tuple[float, float, float] = (1.0, 1.0, 1.0)
    limits_deg: tuple[float, float, float] = (80.0, 60.0, 50.0)  # |angle| after gain is clamped to these
    neck_ratio: float = 0.0  # share of the head rotation given to the neck bone (0: head only)
    eye_gain: float = 1.0
    eye_limits_deg: tuple[float, float] = (35.0, 30.0)  # eye yaw, pitch
    mirror: bool = False  # the character mirrors the actor (left <-> right)

    def check(self) -> HeadRigOptions:
        vals = (*self.neutral_deg, *self.gain, *self.limits_deg, self.neck_ratio, self.eye_gain, *self.eye_limits_deg)
        if len(self.neutral_deg) != 3 or len(self.gain) != 3 or len(self.limits_deg) != 3:
            raise FacsimileError("head neutral, gain and limits take three values each (yaw, pitch, roll)")
        if not all(isinstance(v, int | float) and np.isfinite(v) for v in vals):
            raise FacsimileError("head neutral, gain and limits must be finite numbers")
        if not 0.0 <= self.neck_ratio <= 1.0:
            raise FacsimileError(f"neck ratio must be between 0 and 1, got {self.neck_ratio}")
        if min(self.limits_deg) < 0 or min(self.eye_limits_deg) < 0 or max(self.limits_deg) > 180:
            raise FacsimileError("head and eye limits must be between 0 and 180 degrees")
        return self


def character_frame(left: np.ndarray | None = None, up: np.ndarray | None = None) -> np.ndarray:
    """(3, 3) camera -> armature axes: columns are the character's left, up and forward in armature space."""
    left = np.array([1.0, 0.0, 0.0]) if left is None else np.asarray(left, dtype=np.float64)
    up = np.array([0.0, 0.0, 1.0]) if up is None else np.asarray(up, dtype=np.float64)
    left = left / np.linalg.norm(left)
    up = up - (up @ left) * left
    up = up / np.linalg.norm(up)
    forward = np.cross(left, up)
    return np.stack([left, up, forward], 1)


def shaped_ypr(ypr_deg: np.ndarray, opts: HeadRigOptions) -> np.ndarray:
    """(N, 3) camera-frame head angles -> after the neutral, the gain and the limits (and mirroring)."""
    a = np.asarray(ypr_deg, dtype=np.float64).reshape(-1, 3) - np.asarray(opts.neutral_deg)
    if opts.mirror:
        a = a * np.array([-1.0, 1.0, -1.0])
    a = a * np.asarray(opts.gain)
    lim = np.asarray(opts.limits_deg)
    return np.clip(a, -lim, lim)


def _local(rest: np.ndarray, r_arm: np.ndarray) -> np.ndarray:
    """Armature-space delta rotations (N, 3, 3) about a bone -> its pose-bone quaternions (N, 4)."""
    rot = np.asarray(rest, dtype=np.float64)[:3, :3]
    rot = rot / np.linalg.norm(rot, axis=0, keepdims=True)
    return quats_from_matrices(rot.T[None] @ r_arm @ rot[None])


def head_rotations(
    ypr_deg: np.ndarray,
    rest: Mapping[str, np.ndarray],
    opts: HeadRigOptions,
    frame: np.ndarray | None = None,
    head_under_neck: bool = True,
    parent_delta: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Per-role (N, 4) pose quaternions for 'neck' and/or 'head' (those in `rest`: role -> bone matrix_local).

    ypr_deg (N, 3): the actor's head in the camera frame. parent_delta (N, 3, 3): the armature-space rotation the
    body already gives the neck's (or head's) parent, so the head keeps the camera-frame direction instead of adding
    the torso's turn to it (one owner, no double turn)."""
    opts.check()
    if "head" not in rest and "neck" not in rest:
        raise FacsimileError("head rotations need a head or a neck bone")
    m = character_frame() if frame is None else np.asarray(frame, dtype=np.float64)
    r_cam = ypr_matrices(shaped_ypr(ypr_deg, opts))
    r_arm = m[None] @ r_cam @ m.T[None]
    if parent_delta is not None:
        r_arm = np.transpose(parent_delta, (0, 2, 1)) @ r_arm
    out: dict[str, np.ndarray] = {}
    if "neck" in rest and "head" in rest and opts.neck_ratio > 0:
        r_neck = power(r_arm, opts.neck_ratio)
        out["neck"] = _local(rest["neck"], r_neck)
        r_head = np.transpose(r_neck, (0, 2, 1)) @ r_arm if head_under_neck else r_arm
        out["head"] = _local(rest["head"], r_head)
    elif "head" in rest:
        out["head"] = _local(rest["head"], r_arm)
    else:
        out["neck"] = _local(rest["neck"], r_arm)
    return out


def eye_rotations(
    gaze_deg: np.ndarray,
    rest: Mapping[str, np.ndarray],
    opts: HeadRigOptions,
    frame: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Per-role (N, 4) quaternions for 'rightEye' / 'leftEye' from (N, 2, 2) gaze degrees ((subject's right, left) x
    (yaw, pitch), relative to the head) for the eye roles present in `rest`."""
    opts.check()
    g = np.asarray(gaze_deg, dtype=np.float64).reshape(-1, 2, 2)
    if opts.mirror:
        g = g[:, ::-1] * np.array([-1.0, 1.0])
    lim = np.asarray(opts.eye_limits_deg)
    g = np.clip(g * opts.eye_gain, -lim, lim)
    m = character_frame() if frame is None else np.asarray(frame, dtype=np.float64)
    out = {}
    for e, role in enumerate(("rightEye", "leftEye")):
        if role in rest:
            ypr = np.stack([g[:, e, 0], g[:, e, 1], np.zeros(len(g))], 1)
            r_arm = m[None] @ ypr_matrices(ypr) @ m.T[None]
            out[role] = _local(rest[role], r_arm)
    return out


def neutral_from_track(ypr_deg: np.ndarray, mode: str, found: np.ndarray | None = None) -> tuple[float, float, float]:
    """The actor's resting head angle from a take: 'first' (first frame with a face) or 'median' (of the take)."""
    a = np.asarray(ypr_deg, dtype=np.float64).reshape(-1, 3)
    if found is not None:
        a = a[np.asarray(found, bool)]
    if len(a) == 0:
        raise FacsimileError("no frame with a face to take the neutral head angle from")
    if mode == "first":
        v = a[0]
    elif mode == "median":
        v = np.median(a, axis=0)
    else:
        raise FacsimileError(f"neutral mode must be 'first' or 'median', got {mode!r}")
    return (float(v[0]), float(v[1]), float(v[2]))


def livelink_from_angles(ypr_deg: np.ndarray, gaze_deg: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Our head angles and gaze (degrees) -> Live Link Face columns (radians): head (N, 3) HeadYaw/Pitch/Roll and
    eyes (N, 6) LeftEyeYaw/Pitch/Roll, RightEyeYaw/Pitch/Roll.

    Live Link's frame is ARKit's mirrored into Unreal's left-handed one: every angle has the opposite sign of ours
    (HeadYaw > 0 turns to the subject's right, HeadPitch > 0 looks down). Measured on the shared iPhone take for the
    eyes: LeftEyeYaw = -0.70 x (eyeLookOutLeft - eyeLookInLeft), LeftEyePitch = -0.52 x (eyeLookUp - eyeLookDown),
    correlation > 0.96; the head columns follow the same frame. Eye roll is 0."""
    a = np.radians(np.asarray(ypr_deg, dtype=np.float64).reshape(-1, 3))
    head = -a
    eyes = np.zeros((len(a), 6))
    if gaze_deg is not None:
        g = np.radians(np.asarray(gaze_deg, dtype=np.float64).reshape(-1, 2, 2))
        eyes[:, 0:2] = -g[:, 1]  # left eye
        eyes[:, 3:5] = -g[:, 0]  # right eye
    return head, eyes


def angles_from_livelink(head: np.ndarray, eyes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The inverse of livelink_from_angles: (N, 3) head degrees and (N, 2, 2) gaze degrees (subject's right, left)."""
    h = np.asarray(head, dtype=np.float64).reshape(-1, 3)
    e = np.asarray(eyes, dtype=np.float64).reshape(-1, 6)
    gaze = np.stack([-e[:, 3:5], -e[:, 0:2]], 1)
    return np.degrees(-h), np.degrees(gaze)
