"""The benchmarks' "many photos" set and real clip, read by path from ../shared/data (never copied into the project).

photo_files: the shared photos (15), the press photos (real_faces/photos_rest, 62) and 5 frames from each MEAD clip
(real_faces/video/eval_mead, 9 clips, 1920x1080) written as JPEG into a temporary folder the caller owns: about 120
images of every size, each decoded from a file as `facsimile solve` does. real_clip_frames: the decoded frames of a
real 512x512 talking/expressive clip from the training clips (liveportrait_d14, 30 fps).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("FACSIMILE_SHARED", REPO.parent / "shared")) / "data"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
FRAMES_PER_MEAD_CLIP = 5
REAL_CLIP = SHARED_DATA / "real_faces" / "video" / "train" / "liveportrait_d14.mp4"


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []


def photo_files(tmp: Path) -> list[Path]:
    """Every image of the set as a file path (MEAD frames written under tmp); SystemExit when the data is missing."""
    files = _images_in(SHARED_DATA / "photos") + _images_in(SHARED_DATA / "real_faces" / "photos_rest")
    for clip in sorted((SHARED_DATA / "real_faces" / "video" / "eval_mead").glob("*.mp4")):
        cap = cv2.VideoCapture(str(clip))
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        for k in np.linspace(0, max(count - 1, 0), FRAMES_PER_MEAD_CLIP).round().astype(int):
            cap.set(cv2.CAP_PROP_POS_FRAMES, int(k))
            ok, frame = cap.read()
            if ok:
                out = tmp / f"{clip.stem}_{k:04d}.jpg"
                cv2.imwrite(str(out), frame, [cv2.IMWRITE_JPEG_QUALITY, 92])
                files.append(out)
        cap.release()
    if not files:
        raise SystemExit(f"no photos under {SHARED_DATA} (set FACSIMILE_SHARED)")
    return files


def real_clip_frames(limit: int) -> tuple[list[np.ndarray], str]:
    """Up to `limit` RGB frames of REAL_CLIP and its name; SystemExit when it is missing."""
    cap = cv2.VideoCapture(str(REAL_CLIP))
    frames = []
    while len(frames) < limit:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
    cap.release()
    if not frames:
        raise SystemExit(f"{REAL_CLIP} missing or unreadable (set FACSIMILE_SHARED)")
    return frames, REAL_CLIP.name
