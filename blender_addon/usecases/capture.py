"""Capture: the whole performance from one photo or clip in one step: face (shape keys), head (and neck), eyes and
body (armature), each switchable, each reported with the device it ran on.

One decode and one face-tracking pass feed every stage (face_session.BakeJob with collectors); the head has one
owner: the head stage writes neck/head/eyes and the body stage never does, so the two cannot fight over the neck.
A rig without the bones asked for is one clear line naming the missing roles, before anything is solved.
Photos give one pose (optionally keyed); clips give keyframes, bulk-written like the face bake. The panel, the CLI
(`facsimile capture`) and batch call capture() / start_capture().
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import bpy
import numpy as np

from ..core.errors import FacsimileError
from ..core.rig.head_rig import HeadRigOptions
from ..scene.head_capture import HeadTargetOptions

HEAD_DEVICE = "cpu (numpy + cv2 fit)"


@dataclass(frozen=True)
class CaptureOptions:
    source: str | Path  # photo, video file, image folder or glob
    face: bool = True
    head: bool = True
    eyes: bool | None = None  # None: where the rig has eye bones; True: required; False: off
    body: bool = False
    rig: HeadTargetOptions = field(default_factory=HeadTargetOptions)
    head_rig: HeadRigOptions = field(default_factory=HeadRigOptions)
    neutral: str = "none"  # clips: 'first' or 'median' head angle of the take is the actor's rest (subtracted)
    face_index: int = 0  # photo: 0 = the largest face
    key_frame: int | None = None  # photo: also key the pose here
    first: int = 0
    last: int | None = None
    stride: int = 1
    start_frame: int | None = None
    smoothing: float = 1.0
    device: str | None = None
    preset: str | None = None
    mirror: bool | None = None

    def is_photo(self) -> bool:
        from ..core.formats.video_io import is_video_path

        return not is_video_path(str(self.source))

    def inputs(self) -> list:
        from ..core.output_guard import Named, preset_input

        rig_map = self.rig.rig_map
        map_file = Named("rig map", rig_map) if rig_map and str(rig_map).lower().endswith(".json") else None
        return [Named("source", self.source), preset_input(self.preset), map_file]

    def outputs(self) -> list:
        return []

    def eyes_wanted(self) -> bool:
        return self.eyes is not False

    def check(self) -> None:
        """Everything that costs nothing, before a model loads: a stage on, numbers in range, the source opens."""
        from ..core import validate
        from ..core.formats.video_io import open_video

        if not (self.face or self.head or self.eyes or self.body):
            raise FacsimileError("nothing to capture: turn on at least one of face, head, eyes, body")
        if self.neutral not in ("none", "first", "median"):
            raise FacsimileError(f"neutral must be none, first or median, got {self.neutral!r}")
        self.head_rig.check()
        validate.whole(self.face_index, "face", 0, 999)
        validate.optional_frame(self.key_frame, "key frame")
        validate.number(self.smoothing, "smoothing", 0.0, 1000.0)
        if self.is_photo():
            if not Path(self.source).is_file():
                raise FacsimileError(f"photo {self.source} does not exist")
            return
        first = validate.whole(self.first, "first source frame", 0, validate.MAX_SOURCE_FRAME)
        if self.last is not None:
            validate.whole(self.last, "last source frame", first, validate.MAX_SOURCE_FRAME)
        validate.whole(self.stride, "stride", 1, validate.MAX_SOURCE_FRAME)
        validate.optional_frame(self.start_frame, "start frame")
        open_video(self.source)


@dataclass
class CaptureResult:
    stages: dict[str, str]  # stage -> what it wrote and on which device
    frames: int
    summary: str
    head_deg: np.ndarray | None = None  # (N, 3) yaw, pitch, roll written (before gain/limits), for reports
    gaze_deg: np.ndarray | None = None  # (N, 2, 2)


def _targets(obj: bpy.types.Object, opts: CaptureOptions):
    """The head target and (when asked) the body's, resolved before any solving: a rig without the bones asked for
    fails here, before a model loads or a frame is decoded."""
    from ..scene.head_capture import resolve_target
    from .capture_session import resolve_body_target

    head = body = None
    if opts.head or opts.eyes:
        head = resolve_target(obj, opts.rig, want_eyes=opts.eyes_wanted(), want_head=opts.head)
    if opts.body:
        body = resolve_body_target(obj, opts.rig.rig, opts.rig.rig_map, opts.rig.bones, head_owned=opts.head)
    return head, body


def capture_photo(obj: bpy.types.Object, opts: CaptureOptions) -> CaptureResult:
    from ..core.face.head_pose import HeadPoseEstimator
    from ..scene.character import mapping_for, store_last_solve, write_pose
    from ..scene.head_capture import write_head_pose
    from ..ui.preferences import requested_device
    from .face_session import pick_face, solve_photo

    rmap = mapping_for(obj, opts.preset, opts.mirror) if opts.face else None
    head_target, body_target = _targets(obj, opts)
    device = requested_device(opts.device)
    solved = solve_photo(Path(opts.source), device)
    face = pick_face(solved, opts.face_index, opts.source)
    stages: dict[str, str] = {}
    parent_delta = None
    if body_target is not None:
        stages["body"], parent_delta = _photo_body(body_target, solved.image, face, device, opts.key_frame)
    if rmap is not None:
        report = write_pose(obj, rmap, face.weights, key_frame=opts.key_frame)
        store_last_solve(obj, np.asarray(face.weights)[None, :], None)
        stages["face"] = f"{len(report.written)} shape keys on {solved.device}"
    ypr = gaze = None
    if head_target is not None:
        h, w = solved.image.shape[:2]
        pose = HeadPoseEstimator().estimate(face.landmarks, w, h, weights=face.weights)
        ypr, gaze = pose.ypr_deg[None], pose.gaze_deg[None]
        what = write_head_pose(
            head_target, ypr, gaze if opts.eyes_wanted() else None, opts.head_rig, opts.key_frame, parent_delta
        )
        stages["head"] = (
            f"{what}: yaw {ypr[0, 0]:+.1f}, pitch {ypr[0, 1]:+.1f}, roll {ypr[0, 2]:+.1f} deg on {HEAD_DEVICE}"
        )
    summary = f"{obj.name}: captured {Path(opts.source).name}: " + "; ".join(f"{k}: {v}" for k, v in stages.items())
    return CaptureResult(stages=stages, frames=1, summary=summary, head_deg=ypr, gaze_deg=gaze)


def _photo_body(target, image: np.ndarray, face, device: str, key_frame: int | None):
    """The body of the photo's chosen face (the pose whose head it carries, else the best one) onto the armature."""
    from ..core.body.pose_landmarker import PoseLandmarker, PoseLandmarkerOptions
    from ..core.body.pose_report import match_faces
    from ..core.body.pose_to_bones import BodyPoseSolver, RestSkeleton, SolveOptions, posed_rotations
    from ..scene import rig_pose

    with PoseLandmarker(PoseLandmarkerOptions(num_poses=4, device=device)) as marker:
        poses = marker.detect(image).poses
        used = str(getattr(marker.device_info, "device", marker.device_info))
    if not poses:
        return f"nobody found, the armature is untouched (on {used})", None
    owner, _ = match_faces([face.box], poses, (image.shape[1], image.shape[0]))
    pose = poses[owner.get(0, 0)]
    solver = BodyPoseSolver(target.rest, SolveOptions(head="head" in target.roles))
    local = solver.solve(pose.world_landmarks, pose.visibility)
    rots = {r: q for r, q in local.items() if r in target.roles}
    rig_pose.write_pose(target.armature, target.role_map, rots)
    if key_frame is not None:
        rig_pose.bake_rotations(
            target.armature, target.role_map, np.array([key_frame], float), {r: q[None] for r, q in rots.items()}
        )
    g = posed_rotations(RestSkeleton.from_frames(target.rest), local)
    parent = next((a for a in ("upperChest", "chest", "spine", "hips") if a in g), None)
    return f"{len(rots)} bones on '{target.armature.name}' on {used}", None if parent is None else g[parent][None]


def start_capture(obj: bpy.types.Object, opts: CaptureOptions, scene: bpy.types.Scene | None = None):
    """A chunked job over the clip (the panel's modal operator steps it): face keys plus head/eye collectors."""
    from ..scene.character import mapping_for
    from ..ui.preferences import requested_device
    from .capture_session import HeadCollector
    from .face_session import BakeJob

    scene = scene or bpy.context.scene
    rmap = mapping_for(obj, opts.preset, opts.mirror) if opts.face else None
    head_target, body_target = _targets(obj, opts)
    extras = []
    body = None
    if body_target is not None:  # first: the head turns from the body's pose at finish()
        from ..core.formats.video_io import open_video
        from .capture_session import BodyCollector

        fps = open_video(opts.source, None).fps / opts.stride
        body = BodyCollector(body_target, requested_device(opts.device), fps, opts.smoothing, head_owned=opts.head)
        extras.append(body)
    if head_target is not None:
        face_obj = obj if obj.type == "MESH" else None
        extras.append(
            HeadCollector(
                head_target,
                opts.head_rig,
                smoothing=opts.smoothing,
                neutral=opts.neutral,
                face_obj=face_obj,
                body=body,
            )
        )
    return BakeJob(
        obj,
        opts.source,
        device=requested_device(opts.device),
        first=opts.first,
        last=opts.last,
        stride=opts.stride,
        start_frame=scene.frame_start if opts.start_frame is None else opts.start_frame,
        smoothing=opts.smoothing,
        scene=scene,
        rmap=rmap,
        extras=tuple(extras),
        write_face=opts.face,
    )


def finish_capture(job, opts: CaptureOptions) -> CaptureResult:
    from .face_session import device_used

    result = job.finish()
    stages = {}
    if opts.face:
        stages["face"] = f"shape keys on {device_used(job.solver)}"
    else:
        stages["face tracking"] = f"landmarks only on {device_used(job.solver)}"
    head_deg = gaze_deg = None
    for extra in job.extras:
        stages[extra.name] = f"on {extra.device}"
        if extra.result is not None:
            head_deg, gaze_deg = extra.result[0], extra.result[1]
    return CaptureResult(
        stages=stages, frames=result.frames, summary=result.summary, head_deg=head_deg, gaze_deg=gaze_deg
    )


def capture(
    obj: bpy.types.Object,
    opts: CaptureOptions,
    *,
    scene: bpy.types.Scene | None = None,
    chunk: int = 32,
    progress: Callable[[object], None] | None = None,
) -> CaptureResult:
    """The whole capture synchronously (CLI, batch, background operator)."""
    opts.check()
    if opts.is_photo():
        return capture_photo(obj, opts)
    job = start_capture(obj, opts, scene)
    try:
        while not job.step(chunk):
            if progress is not None:
                progress(job)
        return finish_capture(job, opts)
    finally:
        job.close()


CAPTURE_JOB_KEYS = ("head", "eyes", "body", "rig", "rig_map", "neck_ratio", "head_neutral")


def is_capture_job(spec: dict) -> bool:
    """A batch job row asks for a capture when it sets head or body true or eyes on/auto."""
    return any(_truthy(spec.get(k)) for k in ("head", "eyes", "body"))


def _truthy(value: object) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on", "auto") if value is not None else False


def options_from_job(spec: dict, common: dict) -> CaptureOptions:
    """A batch job row (video or image, face, key_frame, start_frame, stride, first, last, smoothing, and the capture
    columns head, eyes (auto/on/off), body, rig, rig_map, neck_ratio, head_neutral) as CaptureOptions."""
    eyes = str(spec.get("eyes", "auto")).strip().lower()
    eyes_opt = {"auto": None, "on": True}.get(eyes, False)
    if eyes not in ("auto", "on", "off"):
        raise FacsimileError(f"eyes must be auto, on or off, got {spec.get('eyes')!r}")
    neutral = str(spec.get("head_neutral") or "none").strip().lower()
    if neutral not in ("none", "first", "median"):
        raise FacsimileError(f"head_neutral must be none, first or median, got {spec.get('head_neutral')!r}")
    try:
        neck_ratio = float(spec.get("neck_ratio") or 0.0)
    except (TypeError, ValueError):
        raise FacsimileError(f"neck_ratio must be a number between 0 and 1, got {spec.get('neck_ratio')!r}") from None
    source = spec.get("video") or spec.get("image")
    return CaptureOptions(
        source=source,
        face=True,
        head=_truthy(spec.get("head")) if spec.get("head") is not None else True,
        eyes=eyes_opt,
        body=_truthy(spec.get("body")),
        rig=HeadTargetOptions(rig=spec.get("rig") or None, rig_map=spec.get("rig_map") or None, eyes=eyes_opt),
        head_rig=HeadRigOptions(neck_ratio=neck_ratio),
        neutral=neutral,
        face_index=spec.get("face") or 0,
        key_frame=spec.get("key_frame"),
        first=spec.get("first") or 0,
        last=spec.get("last"),
        stride=spec.get("stride") or 1,
        start_frame=spec.get("start_frame"),
        smoothing=1.0 if spec.get("smoothing") is None else spec["smoothing"],
        **common,
    )
