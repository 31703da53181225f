"""Body landmarks as JSON for `facsimile solve --body`, and which body belongs to which face in a photo.

The JSON keeps MediaPipe's conventions so users and tests can compare with MediaPipe directly: "world_landmarks" are
the 33 points in MediaPipe's order (metres, origin between the hips, x right, y down, z away from the camera),
"landmarks" the same points as (x, y) normalised to the image width/height plus z on the x scale, "visibility" and
"presence" in [0, 1].
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from .pose_landmarker import Pose, PoseLandmarker, PoseLandmarkerOptions, RunningMode

NOSE, LEFT_EAR, RIGHT_EAR = 0, 7, 8


def body_entry(pose: Pose, digits: int = 4) -> dict:
    """One person's body as JSON-ready lists."""

    def r(a: np.ndarray) -> list:
        return np.round(np.asarray(a, dtype=np.float64), digits).tolist()

    return {
        "score": round(float(pose.score), 4),
        "world_landmarks": r(pose.world_landmarks),
        "visibility": r(pose.visibility),
        "presence": r(pose.presence),
        "landmarks": r(pose.landmarks),
    }


def match_faces(face_boxes: list[tuple[float, float, float, float]], poses: list[Pose], size: tuple[int, int]):
    """(face index -> pose index, unmatched pose indices): a body belongs to the face whose box (x, y, w, h, image
    pixels), grown by half its size, holds the body's nose, or failing that its ear midpoint; nearest centre wins."""
    w, h = size
    taken: dict[int, int] = {}
    free = list(range(len(poses)))
    for fi, (x, y, bw, bh) in enumerate(face_boxes):
        cx, cy = x + bw / 2, y + bh / 2
        best, best_d = None, None
        for pi in free:
            lm = poses[pi].landmarks
            for p in (lm[NOSE, :2], (lm[LEFT_EAR, :2] + lm[RIGHT_EAR, :2]) / 2):
                px, py = float(p[0]) * w, float(p[1]) * h
                if abs(px - cx) <= bw and abs(py - cy) <= bh:
                    d = (px - cx) ** 2 + (py - cy) ** 2
                    if best_d is None or d < best_d:
                        best, best_d = pi, d
        if best is not None:
            taken[fi] = best
            free.remove(best)
    return taken, free


def track_bodies(
    frames: Iterable[np.ndarray], fps: float, sink: list, device: str = "auto", smoothing: float = 1.0
) -> Iterator[np.ndarray]:
    """Pass video frames through unchanged while tracking one body on each: `sink` gets one body_entry (or None) per
    frame, in order. The face and the body share one decode of the video, and the body of frame i runs on a worker
    thread while the caller works on frame i (onnxruntime releases the GIL: on 2 cores the two models overlap)."""
    from concurrent.futures import ThreadPoolExecutor

    def body(frame: np.ndarray, ts: float) -> dict | None:
        res = landmarker.detect_for_video(frame, ts)
        return body_entry(res.poses[0]) if res.poses else None

    with (
        PoseLandmarker(
            PoseLandmarkerOptions(running_mode=RunningMode.VIDEO, device=device, smoothing=smoothing)
        ) as landmarker,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="facsimile-body") as pool,
    ):
        pending = None
        try:
            for i, frame in enumerate(frames):
                if pending is not None:
                    sink.append(pending.result())
                pending = pool.submit(body, frame, i * 1000.0 / fps)
                yield frame
            if pending is not None:
                sink.append(pending.result())
                pending = None
        finally:
            if pending is not None:  # the caller stopped early: let the running frame finish, drop its result
                pending.cancel() or pending.exception()
