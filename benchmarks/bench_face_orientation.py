"""Orientation search check: FaceTracker on every shared photo and press photo (real_faces/photos_rest) turned by 0, 90,
180 and 270 degrees, plus upright crops of angry.jpg cut off below the mouth (where BlazeFace scores the face higher
upside down), against MediaPipe FaceLandmarker on the unturned image mapped through the same turn.

Prints, per turn, how many faces come out the right way up (mean landmark error under 5% of the inter-ocular
distance), how many within 1%, the detector runs per image, and the misses by name. Usage:
FACSIMILE_SHARED=/work/shared python benchmarks/bench_face_orientation.py [--max-faces 1]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from blender_addon.core.face.tracking import FaceTracker  # noqa: E402
from blender_addon.core.formats.image_io import load_image  # noqa: E402

SHARED_DATA = Path(os.environ.get("FACSIMILE_SHARED", REPO.parent / "shared")) / "data"
TASK = SHARED_DATA / "real_faces" / "models" / "face_landmarker.task"
ANGRY_CUTS = (1250, 1300, 1350, 1400, 1450)  # rows kept of angry.jpg (1920 high; mouth at about row 1250)
TURNS = {0: None, 90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


def images() -> list[tuple[str, np.ndarray]]:
    files = sorted((SHARED_DATA / "photos").glob("*.jp*g")) + sorted((SHARED_DATA / "real_faces/photos_rest").glob("*"))
    out = [(p.name, load_image(p)) for p in files if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    angry = load_image(SHARED_DATA / "photos" / "angry.jpg")
    return out + [(f"angry.jpg[:{b}]", np.ascontiguousarray(angry[:b])) for b in ANGRY_CUTS]


def turn_points(pts: np.ndarray, shape: tuple[int, int], deg: int) -> np.ndarray:
    """Pixel coordinates in an h x w image -> the same points after cv2.rotate by deg clockwise."""
    h, w = shape
    x, y = pts[:, 0], pts[:, 1]
    return {
        0: pts,
        90: np.stack([h - 1 - y, x], 1),
        180: np.stack([w - 1 - x, h - 1 - y], 1),
        270: np.stack([y, w - 1 - x], 1),
    }[deg]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-faces", type=int, default=1)
    args = ap.parse_args(argv)
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    options = vision.FaceLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(TASK)), num_faces=1)
    landmarker = vision.FaceLandmarker.create_from_options(options)
    tracker = FaceTracker(device="cpu", max_faces=args.max_faces)
    runs = {"n": 0}
    candidates = tracker._candidates

    def counted(image, view=0.0):
        runs["n"] += 1
        return candidates(image, view)

    tracker._candidates = counted
    stats = {deg: {"n": 0, "up": 0, "close": 0, "runs": 0, "miss": []} for deg in TURNS}
    for name, img in images():
        found = landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=img)).face_landmarks
        if not found:
            print(f"{name}: FaceLandmarker finds no face, skipped")
            continue
        h, w = img.shape[:2]
        ref = np.array([[p.x * w, p.y * h] for p in found[0]])
        iod = np.linalg.norm(ref[33] - ref[263])
        for deg, code in TURNS.items():
            turned = img if code is None else np.ascontiguousarray(cv2.rotate(img, code))
            runs["n"] = 0
            faces = tracker.detect(turned)
            s = stats[deg]
            s["n"] += 1
            s["runs"] += runs["n"]
            if not faces:
                s["miss"].append(f"{name} (none)")
                continue
            expect = turn_points(ref, (h, w), deg)  # several faces: the one FaceLandmarker picked
            err = min(np.linalg.norm(f.landmarks[:, :2] - expect, axis=1).mean() for f in faces) / iod
            s["up"] += err < 0.05
            s["close"] += err < 0.01
            if err >= 0.05:
                s["miss"].append(f"{name} ({err * 100:.0f}%)")
    landmarker.close()
    print(f"max_faces={args.max_faces}; right way up = mean error under 5% of the inter-ocular distance")
    for deg, s in stats.items():
        print(
            f"turned {deg:3d}: {s['up']}/{s['n']} right way up, {s['close']} within 1%, "
            f"{s['runs'] / max(s['n'], 1):.2f} detector runs per image; misses: {', '.join(s['miss']) or 'none'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
