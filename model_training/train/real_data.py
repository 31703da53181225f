"""Real video frames in the training loop: our front-end's landmarks with MediaPipe's blendshapes as pseudo-labels.

The arrays come from the real-face cache (model_training/data/real_faces.py: per set, our front-end's landmarks and
MediaPipe FaceLandmarker's blendshapes on the very same frames, keyed by the front-end model's sha256). Only the
`train` split is trained on; `select` chooses the arm; `test`, MEAD and photos_rest never do (data/splits.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from blender_addon.core.face.landmark_normalize import normalize_landmarks

from ..data.splits import rest_rows


@dataclass
class RealFrames:
    """Rows where both front-ends found the face: features (N, 1434), MediaPipe's weights (N, 52) in ARKit order."""

    features: np.ndarray
    labels: np.ndarray
    clip: np.ndarray  # (N,) int index into clip_names
    frame: np.ndarray  # (N,) frame index within the clip
    clip_names: list[str]

    def __len__(self) -> int:
        return len(self.features)

    def rest_rows(self) -> np.ndarray:
        """The resting-face rows (data/splits.py REST_FRAMES: the first frames of every clip)."""
        return rest_rows(self.frame)

    def digest(self) -> str:
        h = hashlib.sha256(np.ascontiguousarray(self.features).tobytes())
        h.update(np.ascontiguousarray(self.labels).tobytes())
        return h.hexdigest()


def real_frames(
    landmarks: np.ndarray, mp_blendshapes: np.ndarray, clip: np.ndarray, frame: np.ndarray, clip_names: list[str]
) -> RealFrames:
    """From cache arrays: landmarks (N, 478, 3) pixels (NaN rows: no face), mp_blendshapes (N, 52) (NaN: none)."""
    lm = np.asarray(landmarks, np.float32)
    mp = np.asarray(mp_blendshapes, np.float32)
    ok = np.isfinite(lm).all(axis=(1, 2)) & np.isfinite(mp).all(axis=1)
    feats = normalize_landmarks(lm[ok])[0] if ok.any() else np.zeros((0, lm.shape[1] * 3), np.float32)
    return RealFrames(
        features=feats.astype(np.float32),
        labels=np.clip(mp[ok], 0.0, 1.0),
        clip=np.asarray(clip)[ok],
        frame=np.asarray(frame)[ok],
        clip_names=list(clip_names),
    )


PATHS = ("video", "photo")  # our front-end's two paths: tracking through a clip, and detection on one image


def load_real(name: str, log=print, paths: tuple[str, ...] = ("video",)) -> RealFrames:
    """One split of the real-face cache as RealFrames; FileNotFoundError naming what is missing (never computed here:
    `make real-faces` fills the cache).

    paths: which of our front-end's landmarks to use; with both, every frame appears twice (tracked, and detected
    alone as a photo would be) with MediaPipe's label of that frame, and the photo rows count as clips of their own
    ("<clip> (photo path)") so a clip's rise over its rest is measured within one path."""
    from ..data.real_faces import load_set

    s = load_set(name, log=log, cached_only=True)
    n = len(s.clip_names)
    lm = {"video": s.ours, "photo": s.ours_photo}
    offset = {"video": 0, "photo": n}
    names = list(s.clip_names) + [f"{c} (photo path)" for c in s.clip_names]
    return real_frames(
        np.concatenate([lm[p] for p in paths]),
        np.concatenate([s.mp_blendshapes for _ in paths]),
        np.concatenate([s.clip + offset[p] for p in paths]),
        np.concatenate([s.frame for _ in paths]),
        names if "photo" in paths else list(s.clip_names),
    )
