"""Body accuracy: render rigged characters in CMU poses, solve their bones from the image, compare with the truth.

For each shared character (../shared/data/mocap/models, glTF) and CMU clip (../shared/data/mocap/bvh), frames spread
over the clip are retargeted onto the character (core/body/bvh_retarget.py), rendered with Workbench from a camera in
front of the character's rest facing (following its hips), and run through
  * ours: core.body.pose_landmarker (the converted ONNX models) -> core.body.pose_to_bones -> limb bone directions;
  * MediaPipe: mp.solutions.pose (the same TFLite models in MediaPipe's own graph; PoseLandmarker's .task bundle is not
    in the pinned wheel) -> the same solve.
Reported: mean angular error of the limb bones (upper/lower arms and legs) against the posed armature, per pipeline;
the error of the raw landmark segments (shoulder -> elbow, ...) before the solve, so the solve's own share shows; the
distance between our world landmarks and MediaPipe's on the same images; the time of our landmarker per image.

Usage (Blender-free Python with bpy, from the repository root):
    python benchmarks/bench_body_pose.py [--frames-per-clip 6] [--characters male female] [--size 640 480]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared" / "data" / "mocap"
CHARACTERS = {"male": "quaternius_human_male_m2m.glb", "female": "quaternius_human_female_m2m.glb"}
CLIPS = (
    "cmu_subject02_walk.bvh",
    "cmu_01_01_forward_jumps.bvh",
    "cmu_131_03_hop_3dsmax.bvh",
    "cmu_61_10_salsa_daz_scaled.bvh",
)
LIMB_ROLES = (
    "leftUpperArm", "leftLowerArm", "rightUpperArm", "rightLowerArm",
    "leftUpperLeg", "leftLowerLeg", "rightUpperLeg", "rightLowerLeg",
)  # fmt: skip
# Hands and feet: solved from the palm (wrist, index, pinky) and the foot's three points; reported apart.
END_ROLES = ("leftHand", "rightHand", "leftFoot", "rightFoot")
# The landmark segment each limb bone runs along (MediaPipe names).
SEGMENTS = {
    "leftUpperArm": ("left_shoulder", "left_elbow"),
    "leftLowerArm": ("left_elbow", "left_wrist"),
    "rightUpperArm": ("right_shoulder", "right_elbow"),
    "rightLowerArm": ("right_elbow", "right_wrist"),
    "leftUpperLeg": ("left_hip", "left_knee"),
    "leftLowerLeg": ("left_knee", "left_ankle"),
    "rightUpperLeg": ("right_hip", "right_knee"),
    "rightLowerLeg": ("right_knee", "right_ankle"),
}


@dataclass
class Sample:
    image: np.ndarray  # RGB uint8
    truth: dict[str, np.ndarray]  # role -> posed bone direction, armature space
    label: str


def _load_character(name: str):
    import bpy

    from blender_addon.core.rig import match_rig
    from blender_addon.scene import rig_pose
    from blender_addon.scene import rig_reader as rr

    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_scene.gltf(filepath=str(SHARED / "models" / CHARACTERS[name]))
    meshes = [o for o in bpy.data.objects if o.type == "MESH" and any(m.type == "ARMATURE" for m in o.modifiers)]
    mesh = max(meshes, key=lambda o: len(o.data.vertices))
    rig = rr.read_rig(mesh)
    arm = rig.armature
    names = [b.name for b in arm.data.bones]
    parents = {b.name: (b.parent.name if b.parent else None) for b in arm.data.bones}
    role_map = match_rig(names, parents, rig_name=arm.name)
    frames = rig_pose.rest_frames(arm, role_map)
    return rig, frames


def render_samples(
    character: str,
    clips: tuple[str, ...],
    per_clip: int,
    size: tuple[int, int],
    folder: Path,
    consecutive: int = 0,
):
    """Renders of one character in frames of each clip, with the truth; the rest frames of its mapped roles.
    consecutive > 0: that many frames in a row at 30 frames/s (every 4th of the 120 Hz clip) from the clip's
    middle instead, for the video timing."""
    import bpy
    from mathutils import Vector

    from blender_addon.core.body.pose_to_bones import RestSkeleton, _body_axes
    from blender_addon.core.formats.image_io import load_image
    from blender_addon.demo import render_preview as rp
    from blender_addon.scene import body_motion as bm

    rig, frames = _load_character(character)
    rest = RestSkeleton.from_frames(frames)
    arm = rig.armature
    world = np.array(arm.matrix_world)
    _, up, fwd = _body_axes(rest)
    fwd_w, up_w = world[:3, :3] @ fwd, world[:3, :3] @ up
    _add_face_marks(rig.mesh, arm, frames, world, up_w, fwd_w)
    rp.configure_render("workbench", size)
    cam = bpy.data.objects.new("BenchCam", bpy.data.cameras.new("BenchCam"))
    bpy.context.scene.collection.objects.link(cam)
    bpy.context.scene.camera = cam
    cam.data.lens = 35.0
    height = float(np.ptp(rest.head @ up))
    distance = 2.4 * height / 1.7 + 1.2
    bpy.context.scene.camera.rotation_mode = "QUATERNION"
    cam.rotation_quaternion = Vector(tuple(-fwd_w)).to_track_quat("-Z", "Y")
    pose_bones = {b.name: b for b in arm.pose.bones}
    samples = []
    for clip in clips:
        n_frames = _clip_frames(SHARED / "bvh" / clip)
        if consecutive:
            start = max(2, n_frames // 2 - 2 * consecutive)
            picks = np.arange(start, min(n_frames, start + 4 * consecutive), 4)
        else:
            picks = np.linspace(max(2, n_frames // (per_clip + 1)), n_frames - 1, per_clip).astype(int)
        _, full, skel = bm.bvh_poses(rig, SHARED / "bvh" / clip, None, frames=(int(picks[0]), int(picks[-1])))
        for f in picks:
            bm.apply_pose(arm, skel, full[f - picks[0]])
            hips_bone = pose_bones[frames.bones[frames.index("hips")]]
            hips_w = world @ np.array([*hips_bone.head, 1.0])
            centre = hips_w[:3] + up_w * 0.1 * height
            cam.location = Vector(tuple(centre + fwd_w * distance))
            truth = {}
            for role, bone in zip(frames.roles, frames.bones):
                pbone = pose_bones[bone]
                d = np.array(pbone.tail) - np.array(pbone.head)
                truth[role] = d / np.linalg.norm(d)
            path = rp.render_png(folder / f"{character}_{Path(clip).stem}_{f:04d}.png")
            samples.append(Sample(load_image(path), truth, f"{character}/{Path(clip).stem}/{f}"))
    return rest, samples


def _add_face_marks(mesh, arm, frames, world: np.ndarray, up_w: np.ndarray, fwd_w: np.ndarray) -> None:
    """Dark eyes, brows and a mouth on the front of the head, parented to the head bone.

    The shared characters are faceless mannequins: without a face, MediaPipe's pose model (ours and the original
    alike) often takes the front view for a back view and swaps left and right. Real actors have faces; these marks
    give the renders that cue, nothing more (same images for both pipelines)."""
    import bpy
    from mathutils import Matrix, Vector

    head_bone = arm.data.bones[frames.bones[frames.index("head")]]
    h = world @ np.array([*head_bone.head_local, 1.0])
    t = world @ np.array([*head_bone.tail_local, 1.0])
    verts = np.array([tuple(mesh.matrix_world @ v.co) for v in mesh.data.vertices])
    rel = verts - h[:3]
    height = rel @ up_w
    size = float(height.max()) if height.max() > 0 else float(np.linalg.norm(t[:3] - h[:3]))  # head height
    band = (height > 0.2 * size) & (height < 0.9 * size) & (np.abs(rel @ np.cross(up_w, fwd_w)) < 0.2 * size)
    front = float((rel[band] @ fwd_w).max()) if band.any() else 0.45 * size
    left = np.cross(up_w, fwd_w)
    mat = bpy.data.materials.new("BenchFaceMarks")
    mat.diffuse_color = (0.03, 0.02, 0.02, 1.0)
    marks = [  # (left offset, height, scale x, scale z) in head sizes
        (0.17, 0.55, 0.065, 0.04),
        (-0.17, 0.55, 0.065, 0.04),
        (0.17, 0.66, 0.08, 0.018),
        (-0.17, 0.66, 0.08, 0.018),
        (0.0, 0.3, 0.11, 0.025),
    ]
    for i, (lx, hz, sx, sz) in enumerate(marks):
        bpy.ops.mesh.primitive_uv_sphere_add(segments=16, ring_count=8, radius=1.0)
        ob = bpy.context.active_object
        ob.name = f"BenchFaceMark{i}"
        pos = h[:3] + left * lx * size + up_w * hz * size + fwd_w * (front - 0.04 * size)
        ob.matrix_world = Matrix.Translation(Vector(tuple(pos))) @ Matrix.Diagonal(
            Vector((sx * size, 0.05 * size, sz * size, 1.0))
        )
        ob.data.materials.append(mat)
        saved = ob.matrix_world.copy()
        ob.parent = arm
        ob.parent_type = "BONE"
        ob.parent_bone = head_bone.name
        ob.matrix_world = saved


def _clip_frames(path: Path) -> int:
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.strip().lower().startswith("frames:"):
            return int(line.split(":")[1])
    raise ValueError(f"{path}: no Frames line")


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    return math.degrees(math.acos(float(np.clip(np.dot(a, b), -1.0, 1.0))))


def evaluate(rest, samples: list[Sample], device: str = "cpu") -> dict:
    """Per pipeline: limb errors after the solve and of the raw landmark segments; parity of world landmarks."""
    import mediapipe as mp

    from blender_addon.core.body.pose_landmarker import PoseLandmarker, PoseLandmarkerOptions
    from blender_addon.core.body.pose_to_bones import BodyPoseSolver, L, _Solver, posed_directions

    ours = PoseLandmarker(PoseLandmarkerOptions(device=device))
    legacy = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1, enable_segmentation=False)
    solver = BodyPoseSolver(rest)
    to_rig = _Solver(rest, solver.options).to_rig
    res: dict[str, dict[str, list]] = {
        k: {"solved": [], "segments": [], "ends": [], "missed": 0} for k in ("ours", "mediapipe")
    }
    parity, times = [], []
    for s in samples:
        t0 = time.perf_counter()
        r = ours.detect(s.image)
        times.append(time.perf_counter() - t0)
        ref = legacy.process(s.image)
        worlds = {
            "ours": (r.poses[0].world_landmarks, r.poses[0].visibility) if r.poses else None,
            "mediapipe": (
                np.array([[p.x, p.y, p.z] for p in ref.pose_world_landmarks.landmark]),
                np.array([p.visibility for p in ref.pose_landmarks.landmark]),
            )
            if ref.pose_world_landmarks
            else None,
        }
        if worlds["ours"] and worlds["mediapipe"]:
            parity.append(float(np.linalg.norm(worlds["ours"][0] - worlds["mediapipe"][0], axis=1).max()))
        for key, wv in worlds.items():
            if wv is None:
                res[key]["missed"] += 1
                continue
            world, _vis = wv
            dirs = posed_directions(rest, solver.solve(world, None))  # the truth is fully posed: no gating
            pts = np.asarray(world, float) @ to_rig.T
            res[key]["ends"] += [_angle(dirs[r], s.truth[r]) for r in END_ROLES if r in s.truth and r in dirs]
            for role in LIMB_ROLES:
                if role not in s.truth:
                    continue
                res[key]["solved"].append(_angle(dirs[role], s.truth[role]))
                a, b = SEGMENTS[role]
                res[key]["segments"].append(_angle(pts[L[b]] - pts[L[a]], s.truth[role]))
    ours.close()
    legacy.close()
    out = {}
    for key, v in res.items():
        out[key] = {
            "limb_error_deg_mean": float(np.mean(v["solved"])) if v["solved"] else None,
            "limb_error_deg_median": float(np.median(v["solved"])) if v["solved"] else None,
            "landmark_segment_error_deg_mean": float(np.mean(v["segments"])) if v["segments"] else None,
            "hands_feet_error_deg_mean": float(np.mean(v["ends"])) if v["ends"] else None,
            "images_without_pose": v["missed"],
        }
        if v["solved"]:
            out[key]["solve_adds_deg"] = out[key]["limb_error_deg_mean"] - out[key]["landmark_segment_error_deg_mean"]
    out["world_landmark_parity_max_m"] = {
        "mean_of_per_image_max": float(np.mean(parity)) if parity else None,
        "worst": float(np.max(parity)) if parity else None,
    }
    out["ours_detect_ms_median"] = float(np.median(times) * 1000)
    out["images"] = len(samples)
    return out


def video_timing(samples: list[Sample], device: str = "cpu", threads: int = 2, rounds: int = 3) -> dict:
    """Per-frame time of body tracking on consecutive frames: ours (VIDEO mode) and mp.solutions.pose (video mode,
    smoothing on), interleaved round by round on the same frames so machine load hits both alike."""
    import mediapipe as mp

    from blender_addon.core.body.pose_landmarker import PoseLandmarker, PoseLandmarkerOptions, RunningMode

    os.environ.setdefault("FACSIMILE_THREADS", str(threads))
    ours_t, mp_t, detector_runs = [], [], 0
    for _ in range(rounds):
        opts = PoseLandmarkerOptions(running_mode=RunningMode.VIDEO, device=device, threads=threads)
        with PoseLandmarker(opts) as pl:
            for i, s in enumerate(samples):
                t0 = time.perf_counter()
                pl.detect_for_video(s.image, i * 1000.0 / 30.0)
                ours_t.append(time.perf_counter() - t0)
            detector_runs = pl.detector_runs
        with mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1) as legacy:
            for s in samples:
                t0 = time.perf_counter()
                legacy.process(s.image)
                mp_t.append(time.perf_counter() - t0)
    return {
        "frames": len(samples),
        "size": list(samples[0].image.shape[1::-1]),
        "threads": threads,
        "ours_ms_median": round(float(np.median(ours_t)) * 1000, 2),
        "mediapipe_ms_median": round(float(np.median(mp_t)) * 1000, 2),
        "ours_detector_runs": detector_runs,
    }


CAPTURE_VIDEO = REPO.parent / "shared" / "data" / "real_faces" / "video" / "eval_mead" / "W015_level_1_neutral_030.mp4"


def capture_timing(video: Path = CAPTURE_VIDEO, size: tuple[int, int] = (640, 480), rounds: int = 2) -> dict:
    """Face (tracker + expression generator, FaceSolver.solve_video) alone, and face + body tracking on the same
    decoded frames (as `facsimile solve --body` runs them), per frame, on a real upper-body video cropped to 4:3 and
    resized to `size`; decode excluded (shared by both). Rounds interleave the two so load hits both alike."""
    import cv2

    from blender_addon.core.body.pose_report import track_bodies
    from blender_addon.core.face.pipeline import FaceSolver

    cap = cv2.VideoCapture(str(video))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        h, w = f.shape[:2]
        cw = min(w, h * size[0] // size[1])
        f = f[:, (w - cw) // 2 : (w - cw) // 2 + cw]
        frames.append(cv2.cvtColor(cv2.resize(f, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB))
    cap.release()
    solver = FaceSolver(device="cpu")
    face_t, both_t, bodies_found = [], [], 0
    for _ in range(rounds):
        t0 = time.perf_counter()
        list(solver.solve_video(iter(frames), fps=25.0))
        face_t.append((time.perf_counter() - t0) / len(frames))
        sink: list = []
        t0 = time.perf_counter()
        list(solver.solve_video(track_bodies(iter(frames), 25.0, sink, device="cpu"), fps=25.0))
        both_t.append((time.perf_counter() - t0) / len(frames))
        bodies_found = sum(b is not None for b in sink)
    face_ms, both_ms = min(face_t) * 1000, min(both_t) * 1000
    return {
        "video": video.name,
        "frames": len(frames),
        "size": list(size),
        "face_ms_per_frame": round(face_ms, 2),
        "face_plus_body_ms_per_frame": round(both_ms, 2),
        "face_plus_body_fps": round(1000.0 / both_ms, 1),
        "frames_with_body": bodies_found,
        "threads": os.environ.get("FACSIMILE_THREADS", "1 (default)"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--characters", nargs="+", default=list(CHARACTERS), choices=list(CHARACTERS))
    ap.add_argument("--clips", nargs="+", default=list(CLIPS))
    ap.add_argument("--frames-per-clip", type=int, default=6)
    ap.add_argument("--size", type=int, nargs=2, default=(640, 480))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    ap.add_argument("--timing-frames", type=int, default=30, help="consecutive frames for the video timing (0: none)")
    ap.add_argument("--threads", type=int, default=2, help="onnxruntime threads for the video timing")
    ap.add_argument(
        "--capture-timing", action="store_true", help="also time face vs face + body on a real 640x480 video"
    )
    args = ap.parse_args(argv)
    report = {}
    with tempfile.TemporaryDirectory(prefix="facsimile-bench-body-") as tmp:
        for ch in args.characters:
            t0 = time.perf_counter()
            rest, samples = render_samples(ch, tuple(args.clips), args.frames_per_clip, tuple(args.size), Path(tmp))
            t1 = time.perf_counter()
            report[ch] = evaluate(rest, samples, args.device)
            report[ch]["render_s"] = round(t1 - t0, 1)
            print(ch, json.dumps(report[ch], indent=1), flush=True)
        if args.capture_timing:
            report["capture_timing"] = capture_timing()
            print("capture_timing", json.dumps(report["capture_timing"], indent=1), flush=True)
        if args.timing_frames:
            ch, clip = args.characters[0], "cmu_subject02_walk.bvh"
            _, seq = render_samples(ch, (clip,), 0, tuple(args.size), Path(tmp), consecutive=args.timing_frames)
            report["video_timing"] = video_timing(seq, args.device, args.threads)
            print("video_timing", json.dumps(report["video_timing"], indent=1), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
