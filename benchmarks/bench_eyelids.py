"""Eyelid gaps on winks and blinks of real clips: our front-end beside MediaPipe's legacy face mesh on the same frames.

Why: the legacy mesh (`mp.solutions.face_mesh`, 468 points at 192 px, the model Facsimile shipped before) barely sees a
wink, which is why FaceLandmarker's landmark model replaced it. The gap is the upper-to-lower eyelid distance over the
eye's width (159/145 over 33/133 for the eye on the image's left, 386/374 over 362/263 for the other): about 0.4 open,
near 0 closed. The frames are those tests/test_face_tracking.py::test_winks_and_blinks_move_the_eyelids checks.
Prints the README's eyelid table. Usage (mediapipe is in requirements-train.txt):

    FACSIMILE_SHARED=/work/shared .venv/bin/python benchmarks/bench_eyelids.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from blender_addon.core.face.tracking import FaceTracker  # noqa: E402
from blender_addon.core.formats.video_io import open_video  # noqa: E402

SHARED_DATA = Path(os.environ.get("FACSIMILE_SHARED", REPO.parent / "shared")) / "data"
CLIPS = SHARED_DATA / "real_faces" / "video" / "train"
# (clip, frame, what the frame shows), as in the test's EYE_CASES
FRAMES = [
    ("liveportrait_d7.mp4", 0, "eyes open"),
    ("liveportrait_d7.mp4", 30, "wink"),
    ("liveportrait_d7.mp4", 51, "wink (other eye)"),
    ("liveportrait_d3.mp4", 0, "eyes open"),
    ("liveportrait_d3.mp4", 12, "wink"),
    ("liveportrait_d3.mp4", 42, "wink (other eye)"),
    ("liveportrait_d14.mp4", 0, "eyes open"),
    ("liveportrait_d14.mp4", 18, "blink"),
]


def eyelid_gaps(lm: np.ndarray) -> tuple[float, float]:
    a = np.linalg.norm(lm[159, :2] - lm[145, :2]) / np.linalg.norm(lm[33, :2] - lm[133, :2])
    b = np.linalg.norm(lm[386, :2] - lm[374, :2]) / np.linalg.norm(lm[362, :2] - lm[263, :2])
    return float(a), float(b)


def clip_frames(name: str, indices: set[int]) -> dict[int, np.ndarray]:
    out: dict[int, np.ndarray] = {}
    frames = open_video(CLIPS / name).frames()
    try:
        for i, frame in enumerate(frames):
            if i in indices:
                out[i] = frame
            if len(out) == len(indices):
                break
    finally:
        frames.close()
    return out


def legacy_landmarks(mesh, rgb: np.ndarray) -> np.ndarray | None:
    res = mesh.process(rgb)
    if not res.multi_face_landmarks:
        return None
    h, w = rgb.shape[:2]
    return np.array([(p.x * w, p.y * h) for p in res.multi_face_landmarks[0].landmark], dtype=np.float64)


def _cell(gaps: tuple[float, float] | None, show_asym: bool) -> str:
    if gaps is None:
        return "no face"
    a, b = gaps
    return f"{a:.3f} / {b:.3f}" + (f" ({a - b:+.3f})" if show_asym else "")


def main() -> int:
    if not CLIPS.is_dir():
        print(f"{CLIPS} is missing: set FACSIMILE_SHARED to the folder holding data/", file=sys.stderr)
        return 1
    import mediapipe as mp

    tracker = FaceTracker(device="cpu", max_faces=1)
    print("| frame | legacy gaps (asymmetry) | ours gaps (asymmetry) |")
    print("|---|---|---|")
    by_clip: dict[str, set[int]] = {}
    for clip, frame, _ in FRAMES:
        by_clip.setdefault(clip, set()).add(frame)
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=False) as mesh:
        for clip, wanted in by_clip.items():
            frames = clip_frames(clip, wanted)
            for name, index, what in FRAMES:
                if name != clip:
                    continue
                rgb = np.ascontiguousarray(frames[index])
                faces = tracker.detect(rgb)
                ours = eyelid_gaps(faces[0].landmarks) if faces else None
                legacy = legacy_landmarks(mesh, rgb)
                legacy_gaps = eyelid_gaps(legacy) if legacy is not None else None
                short = clip.removeprefix("liveportrait_").removesuffix(".mp4")
                asym = what != "blink"
                print(f"| {short} #{index}, {what} | {_cell(legacy_gaps, asym)} | {_cell(ours, asym)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
