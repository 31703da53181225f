"""Head (and, once merged, body) collectors that ride along a face bake (face_session.BakeJob's extras): they see
every decoded frame and every tracked face of the same pass, so the video is decoded and the face tracked once.

Each collector does nothing to the scene until finish(), which keys its bones in one bulk write per curve, so a
cancelled bake leaves the rig as it was.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..core.face.head_pose import HeadTrack
from ..core.rig.head_rig import HeadRigOptions, neutral_from_track
from ..scene.head_capture import HeadTarget, bake_head, store_head_take


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
        body: BodyCollector | None = None,
    ):
        self.target = target
        self.face_obj = face_obj
        self.body = body  # finished before this one: the head turns from the body's pose of its parent
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
        parent = self.body.head_parent_delta(self.target.roles) if self.body is not None else None
        return bake_head(self.target, frames, ypr, gaze, opts, parent_delta=parent) + note


# ---------------------------------------------------------------- body


@dataclass
class BodyTarget:
    """The armature, its role map and the rest frames the body solver needs; `roles` are the ones it writes."""

    armature: object
    role_map: object
    rest: object  # rig_pose.RestFrames
    roles: tuple[str, ...]


def resolve_body_target(face_obj, rig: str | None, rig_map, bones, head_owned: bool) -> BodyTarget:
    """The armature the body goes to (the same one the head uses); the hips and both upper legs are required, and the
    head, neck and eyes are left to the head stage when it runs (one owner)."""
    import bpy

    from ..core.body.pose_to_bones import REQUIRED_ROLES, SOLVED_ROLES
    from ..core.errors import FacsimileError
    from ..scene import rig_pose
    from ..scene.head_capture import _face_armature

    arm = bpy.data.objects.get(rig) if rig else _face_armature(face_obj)
    if arm is None or arm.type != "ARMATURE":
        raise FacsimileError(
            "body capture needs an armature: the face mesh has none (no Armature modifier or armature parent); "
            "name one with --rig / the panel's Rig field"
        )
    rmap = rig_pose.role_map_for(arm, rig_map, bones or None)
    rmap.require(REQUIRED_ROLES, "the body")
    mapped = tuple(r for r in rmap.bones if r not in ("leftEye", "rightEye", "jaw"))
    rest = rig_pose.rest_frames(arm, rmap, mapped)
    owned = ("neck", "head") if head_owned else ()
    roles = tuple(r for r in SOLVED_ROLES if r in rmap.bones and r not in owned)
    return BodyTarget(arm, rmap, rest, roles)


class BodyCollector:
    """Body landmarks per decoded frame (the pose landmarker in video mode, on the same frames as the face), solved
    to per-role rotations against the rig's rest pose and keyed at finish(). Its armature-space rotation of the
    neck's parent is what the head stage turns from (head_parent_delta), so head and body never add up twice.

    The landmarker runs on one worker thread, in frame order, while the face models run on the caller's: onnxruntime
    releases the GIL, so on two cores the body costs little wall time. At most MAX_PENDING frames wait for it."""

    MAX_PENDING = 4

    name = "body"

    def __init__(self, target: BodyTarget, device: str, fps: float, smoothing: float = 1.0, head_owned: bool = True):
        from ..core.body.pose_landmarker import PoseLandmarker, PoseLandmarkerOptions, RunningMode
        from ..core.body.pose_to_bones import BodyPoseSolver, SolveOptions

        self.target = target
        self.fps = float(fps)
        self.landmarker = PoseLandmarker(
            PoseLandmarkerOptions(running_mode=RunningMode.VIDEO, device=device, smoothing=smoothing)
        )
        self.solver = BodyPoseSolver(target.rest, SolveOptions(head=not head_owned))
        self.device = str(getattr(self.landmarker.device_info, "device", self.landmarker.device_info))
        self.world: list[np.ndarray] = []
        self.visibility: list[np.ndarray] = []
        self.result = None
        self.deltas: dict[str, np.ndarray] | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="facsimile-body")
        self._pending: deque = deque()
        self._seen = 0

    def _detect(self, image: np.ndarray, ms: float) -> tuple[np.ndarray, np.ndarray]:
        res = self.landmarker.detect_for_video(image, ms)
        if res.poses:
            pose = res.poses[0]
            return np.asarray(pose.world_landmarks, dtype=np.float64), np.asarray(pose.visibility, dtype=np.float64)
        return np.full((33, 3), np.nan), np.zeros(33)

    def _collect(self, keep: int) -> None:
        while len(self._pending) > keep:
            world, vis = self._pending.popleft().result()
            self.world.append(world)
            self.visibility.append(vis)

    def see(self, image: np.ndarray) -> None:
        self._pending.append(self._pool.submit(self._detect, image, 1000.0 * self._seen / self.fps))
        self._seen += 1
        self._collect(self.MAX_PENDING)

    def close(self) -> None:
        """Stop the worker (a cancelled capture): frames still queued are dropped. Safe to call twice."""
        if self._pool is None:
            return
        for f in self._pending:
            f.cancel()
        self._pending.clear()
        self._pool.shutdown(wait=True)
        self._pool = None
        self.landmarker.close()

    def add(self, frame) -> None:
        pass

    def finish(self, frames: np.ndarray, kept: np.ndarray) -> str:
        from ..core.body.pose_to_bones import RestSkeleton, posed_rotations
        from ..scene import rig_pose

        self._collect(0)
        self.close()
        world = np.stack(self.world)[kept]
        vis = np.stack(self.visibility)[kept]
        seen = int(np.isfinite(world[:, 0, 0]).sum())
        if seen == 0:
            return "body: nobody found in any frame, the armature is untouched"
        roles, quats = self.solver.solve_sequence(world, vis, self.fps)
        rots = {r: quats[:, i] for i, r in enumerate(roles) if r in self.target.roles}
        rig_pose.bake_rotations(self.target.armature, self.target.role_map, frames, rots)
        rest = RestSkeleton.from_frames(self.target.rest)
        per_frame = [posed_rotations(rest, {r: quats[i, j] for j, r in enumerate(roles)}) for i in range(len(quats))]
        self.deltas = {r: np.stack([g[r] for g in per_frame]) for r in per_frame[0]}
        return f"body: {len(rots)} bones keyed, a person in {seen} of {len(world)} frames"

    def head_parent_delta(self, head_roles: tuple[str, ...]) -> np.ndarray | None:
        """(N, 3, 3) armature-space rotation of the bone the head chain hangs from (None before finish)."""
        if self.deltas is None:
            return None
        from ..core.rig.roles import role_ancestors

        first = "neck" if "neck" in head_roles else "head"
        parent = next((a for a in role_ancestors(first) if a in self.deltas), None)
        return None if parent is None else self.deltas[parent]
