"""Real faces (../shared/data/real_faces) through our face front-end and MediaPipe FaceLandmarker, cached.

Why: the expression generator must read real skin, brows and lips, and its one reference is MediaPipe's blendshape
head. Every set here is run through both on the very same frames (same decoded pixels, same frame subsampling):
our FaceTracker (video tracking for clips, photo detection for photos) and mp.tasks.vision.FaceLandmarker
(VIDEO mode for clips, IMAGE mode for photos, blendshapes on). The arrays are cached per clip under
model_training/cache/real_faces/<front-end key>/, where the key hashes our front-end's ONNX files and tracking code,
so a new front-end model recomputes by itself.

Sets and what they may be used for (../shared/data/real_faces/README.md; the splits are in data/splits.py):
  train        video/train clips of the train split: training
  select       splits.SELECT_CLIPS (held out by clip and person): choosing the arm, never reported as held out
  test         splits.TEST_CLIPS (held out by clip and person): reported only, decides nothing
  mead         video/eval_mead: test only (CC BY-NC-SA: never train a shipped model on it)
  photos_rest  photos_rest/*.jpg: test only
  astronaut    skimage's astronaut portrait, the photo `make demo` uses: test only

`python -m model_training.data.real_faces [--stride 2] [--sets train val ...]` fills the cache and prints timings
(`make real-faces`). Measured: 5,244 images at the default stride (train 3,288, val 958, MEAD 935, 63 photos) in
510 s with the legacy front-end and 880 s with front-end v2 (beside a Cycles render), on the shared 2-core machine
at load average 12-19: 35-250 ms per image for both front-ends together, decoding included.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from blender_addon.core.arkit import ARKIT_NAMES
from blender_addon.core.face.tracking import _iou  # the one box overlap of the project

from ..paths import CACHE_DIR, shared_data_dir, skimage_data_dir
from .splits import REST_FRAMES, check_identity_groups, clip_split, rest_rows

CACHE_ROOT = CACHE_DIR / "real_faces"
NUM_LANDMARKS = 478

SETS: tuple[str, ...] = ("train", "select", "test", "mead", "photos_rest", "astronaut")
VIDEO_SETS = ("train", "select", "test", "mead")
CLIP_SETS = ("train", "select", "test")  # the three splits of video/train (data/splits.py)
EVAL_ONLY_SETS = ("test", "mead", "photos_rest", "astronaut")
DEFAULT_STRIDE = 2
DEFAULT_MEAD_STRIDE = 1


def real_faces_dir() -> Path:
    return shared_data_dir() / "real_faces"


def landmarker_task_path() -> Path:
    return real_faces_dir() / "models" / "face_landmarker.task"


# ----- MediaPipe's blendshape names -> ARKit order ---------------------------------------------------------------
# MediaPipe's 52 categories are `_neutral` plus ARKit's names without tongueOut; tongueOut is filled with 0.
MEDIAPIPE_MISSING = ("tongueOut",)


def mediapipe_to_arkit_index(category_names: list[str]) -> np.ndarray:
    """Index array idx with arkit[k] = scores[idx[k]], where -1 marks an ARKit channel MediaPipe lacks (tongueOut)."""
    pos = {n: i for i, n in enumerate(category_names)}
    missing = [n for n in ARKIT_NAMES if n not in pos and n not in MEDIAPIPE_MISSING]
    if missing:
        raise ValueError(f"MediaPipe blendshapes lack ARKit channels {missing}")
    return np.array([pos.get(n, -1) for n in ARKIT_NAMES], dtype=np.int64)


def mediapipe_scores_to_arkit(scores: np.ndarray, index: np.ndarray) -> np.ndarray:
    """MediaPipe's category scores -> (52,) ARKit order, 0 where MediaPipe has no such channel."""
    out = np.where(index >= 0, scores[np.maximum(index, 0)], 0.0)
    return out.astype(np.float32)


# ----- front-end key -----------------------------------------------------------------------------------------------
def frontend_key() -> str:
    """sha256 prefix of our front-end: its ONNX model files (the ModelSpecs tracking.py uses) and tracking.py."""
    from blender_addon.core.face import tracking
    from blender_addon.core.models.specs import ModelSpec
    from blender_addon.core.models.store import verified_model_path

    h = hashlib.sha256()
    names = sorted({v.file_name for v in vars(tracking).values() if isinstance(v, ModelSpec)})
    if not names:  # tracking refers to its specs another way: every face/iris model in the store
        from blender_addon.core.models.store import models_dir

        names = sorted(p.name for p in models_dir().glob("*.onnx") if p.name.startswith(("face_", "iris_")))
    for name in names:
        path = verified_model_path(name)
        h.update(name.encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
    h.update(Path(inspect.getfile(tracking)).read_bytes())
    return h.hexdigest()[:16]


# ----- the two front-ends on the same frames ---------------------------------------------------------------------
class _MediaPipe:
    """FaceLandmarker with blendshapes; VIDEO mode for clips (one landmarker per clip), IMAGE mode for photos."""

    def __init__(self, video: bool, num_faces: int = 1):
        import mediapipe as mp

        self.mp = mp
        vision = mp.tasks.vision
        opts = vision.FaceLandmarkerOptions(
            base_options=mp.tasks.BaseOptions(model_asset_path=str(landmarker_task_path())),
            running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
            num_faces=num_faces,
            output_face_blendshapes=True,
        )
        self.landmarker = vision.FaceLandmarker.create_from_options(opts)
        self.video = video
        self._index: np.ndarray | None = None

    def close(self) -> None:
        self.landmarker.close()

    def __call__(self, rgb: np.ndarray, timestamp_ms: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
        """[(landmarks (478, 3) pixels, blendshapes (52,) ARKit order), ...] for each face found."""
        img = self.mp.Image(image_format=self.mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        res = self.landmarker.detect_for_video(img, timestamp_ms) if self.video else self.landmarker.detect(img)
        h, w = rgb.shape[:2]
        out = []
        for lms, bs in zip(res.face_landmarks, res.face_blendshapes, strict=True):
            if self._index is None:
                self._index = mediapipe_to_arkit_index([c.category_name for c in bs])
            pts = np.array([[p.x * w, p.y * h, p.z * w] for p in lms], np.float32)
            scores = mediapipe_scores_to_arkit(np.array([c.score for c in bs], np.float32), self._index)
            out.append((pts, scores))
        return out


def _box(lm: np.ndarray) -> np.ndarray:
    lo, hi = lm[:468, :2].min(0), lm[:468, :2].max(0)
    return np.r_[lo, hi]


@dataclass
class _Rows:
    ours: list = field(default_factory=list)
    ours_photo: list = field(default_factory=list)
    ours_conf: list = field(default_factory=list)
    mp_landmarks: list = field(default_factory=list)
    mp_blendshapes: list = field(default_factory=list)
    frame: list = field(default_factory=list)
    size: list = field(default_factory=list)

    def add(self, frame: int, rgb: np.ndarray, ours, mp_faces, ours_photo=None) -> None:
        """One image: our face (or None) and MediaPipe's face on the same person (the best box overlap).
        ours_photo: our photo-path face on the same frame (clips: detection on the frame alone; photos: `ours`)."""
        nan_lm = np.full((NUM_LANDMARKS, 3), np.nan, np.float32)
        self.ours.append(ours.landmarks.astype(np.float32) if ours is not None else nan_lm)
        photo = ours_photo if ours_photo is not None else ours
        self.ours_photo.append(photo.landmarks.astype(np.float32) if photo is not None else nan_lm)
        self.ours_conf.append(float(ours.confidence) if ours is not None else 0.0)
        pick = None
        if mp_faces:
            if ours is None or len(mp_faces) == 1:
                pick = mp_faces[0]
            else:
                ref = _box(ours.landmarks)
                pick = max(mp_faces, key=lambda f: float(_iou(ref, _box(f[0])[None])[0]))
        self.mp_landmarks.append(pick[0] if pick is not None else nan_lm)
        self.mp_blendshapes.append(pick[1] if pick is not None else np.full(len(ARKIT_NAMES), np.nan, np.float32))
        self.frame.append(frame)
        self.size.append(rgb.shape[1::-1])

    def arrays(self) -> dict[str, np.ndarray]:
        ours = np.asarray(self.ours, np.float32).reshape(-1, NUM_LANDMARKS, 3)
        mpl = np.asarray(self.mp_landmarks, np.float32).reshape(-1, NUM_LANDMARKS, 3)
        return {
            "ours": ours,
            "ours_photo": np.asarray(self.ours_photo, np.float32).reshape(-1, NUM_LANDMARKS, 3),
            "ours_found": np.isfinite(ours[:, 0, 0]),
            "ours_confidence": np.asarray(self.ours_conf, np.float32),
            "mp_landmarks": mpl,
            "mp_blendshapes": np.asarray(self.mp_blendshapes, np.float32).reshape(-1, len(ARKIT_NAMES)),
            "mp_found": np.isfinite(mpl[:, 0, 0]),
            "frame": np.asarray(self.frame, np.int32),
            "image_size": np.asarray(self.size, np.int32).reshape(-1, 2),
        }


def _wanted(i: int, stride: int) -> bool:
    return i % stride == 0 or i < REST_FRAMES


def _video_frames(path: Path, stride: int, max_frames: int | None) -> Iterator[tuple[int, np.ndarray, float]]:
    """(index, RGB frame, fps) for frames i % stride == 0 and the first REST_FRAMES; skipped frames are only
    grabbed, not decoded to RGB."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise RuntimeError(f"cannot open {path}")
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0) or 25.0
    try:
        i = 0
        n = 0
        while max_frames is None or n < max_frames:
            if not cap.grab():
                break
            if _wanted(i, stride):
                ok, bgr = cap.retrieve()
                if not ok:
                    break
                n += 1
                yield i, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), fps
            i += 1
    finally:
        cap.release()


def process_clip(path: Path, stride: int, max_frames: int | None = None, tracker=None) -> dict[str, np.ndarray]:
    """Track one clip with our front-end (video mode) and MediaPipe (VIDEO mode) on the same frames; each frame also
    through our photo path (detection on the frame alone, what `solve` does with a photo): the two paths place the
    landmarks differently, and a model that reads only tracked frames can lose the brows on photos (issue 18)."""
    from blender_addon.core.face.tracking import FaceTracker

    tracker = tracker or FaceTracker(device="cpu", max_faces=1, threads=1)
    tracker.reset()
    mp = _MediaPipe(video=True)
    rows = _Rows()
    try:
        for i, rgb, fps in _video_frames(path, stride, max_frames):
            tracked = tracker.track(rgb)
            found = tracker.detect(rgb)  # stateless: the tracking state is untouched
            rows.add(i, rgb, tracked, mp(rgb, int(round(i * 1000.0 / fps))), found[0] if found else None)
    finally:
        mp.close()
    return rows.arrays()


def process_photos(paths: list[Path], tracker=None) -> dict[str, np.ndarray]:
    """Photos through our photo detection (largest face) and MediaPipe IMAGE mode (the face on the same person)."""
    from blender_addon.core.face.tracking import FaceTracker
    from blender_addon.core.formats.image_io import load_image

    tracker = tracker or FaceTracker(device="cpu", max_faces=4, threads=1)
    mp = _MediaPipe(video=False, num_faces=4)
    rows = _Rows()
    try:
        for p in paths:
            rgb = load_image(p)
            faces = tracker.detect(rgb)
            rows.add(0, rgb, faces[0] if faces else None, mp(rgb))
    finally:
        mp.close()
    return rows.arrays()


# ----- sets --------------------------------------------------------------------------------------------------------
def set_sources(name: str) -> list[Path]:
    """The files of a set, sorted by name."""
    root = real_faces_dir()
    if name in CLIP_SETS:
        clips = sorted((root / "video" / "train").glob("*.mp4"))
        check_identity_groups([p.stem for p in clips])
        return [p for p in clips if clip_split(p.stem) == name]
    if name == "mead":
        return sorted((root / "video" / "eval_mead").glob("*.mp4"))
    if name == "photos_rest":
        return sorted((root / "photos_rest").glob("*.jpg"), key=lambda p: (len(p.stem), p.stem))
    if name == "astronaut":
        return [skimage_data_dir() / "astronaut.png"]
    raise ValueError(f"unknown set {name!r}; sets: {', '.join(SETS)}")


@dataclass
class RealFaceSet:
    """Per-image arrays of one set (N rows). Landmarks are pixel coordinates (x, y, z*width as MediaPipe), NaN rows
    where that front-end found no face; mp_blendshapes are in ARKit order (blender_addon.core.arkit.ARKIT_NAMES)."""

    name: str
    clip_names: list[str]  # clip (video stem) or photo file name per clip index
    clip: np.ndarray  # (N,) int index into clip_names
    frame: np.ndarray  # (N,) frame index in the clip (0 for photos)
    ours: np.ndarray  # (N, 478, 3) float32
    ours_photo: np.ndarray  # (N, 478, 3) our photo path on the same image (clips: detection per frame; photos: ours)
    ours_found: np.ndarray  # (N,) bool
    ours_confidence: np.ndarray  # (N,) float32
    mp_landmarks: np.ndarray  # (N, 478, 3) float32
    mp_blendshapes: np.ndarray  # (N, 52) float32
    mp_found: np.ndarray  # (N,) bool
    image_size: np.ndarray  # (N, 2) width, height
    key: str = ""

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def both_found(self) -> np.ndarray:
        return self.ours_found & self.mp_found

    def is_rest_frame(self) -> np.ndarray:
        """Resting-face rows: every photo, and frames 0..n_first-1 of a clip."""
        return rest_rows(self.frame, self.name in VIDEO_SETS)

    def clip_of(self, row: int) -> str:
        return self.clip_names[int(self.clip[row])]


CACHE_FORMAT = 2  # 2: ours_photo beside ours (a cache without it is not read)


def _cache_file(folder: Path, source: Path, stride: int, max_frames: int | None) -> Path:
    tag = f"s{stride}" + (f"_n{max_frames}" if max_frames else "") + f"_f{CACHE_FORMAT}"
    return folder / f"{source.stem}_{tag}.npz"


def load_set(
    name: str,
    stride: int | None = None,
    max_frames: int | None = None,
    cache_root: Path | None = None,
    log: Callable[[str], None] | None = print,
    cached_only: bool = False,
) -> RealFaceSet:
    """The arrays of one set, computed once per front-end key and then read from the cache (fast).
    cached_only: raise FileNotFoundError naming the missing cache file instead of computing it (the train stage).

    stride: every stride-th frame of each clip (plus the first REST_FRAMES); default DEFAULT_STRIDE for the training
    clips and DEFAULT_MEAD_STRIDE for MEAD. max_frames: at most this many frames per clip (tests).
    """
    key = frontend_key()
    # The clips of the three splits share one folder (a clip moved between splits keeps its cache).
    folder = (cache_root or CACHE_ROOT) / key / ("video_train" if name in CLIP_SETS else name)
    folder.mkdir(parents=True, exist_ok=True)
    if stride is None:
        stride = DEFAULT_MEAD_STRIDE if name == "mead" else DEFAULT_STRIDE
    sources = set_sources(name)
    if not sources:
        raise FileNotFoundError(f"no files for set {name!r} under {real_faces_dir()}")
    parts, names = [], []
    tracker = None
    for src in sources if name in VIDEO_SETS else [None]:
        target = (
            _cache_file(folder, src, stride, max_frames) if src is not None else folder / f"photos_f{CACHE_FORMAT}.npz"
        )
        if target.is_file():
            data = dict(np.load(target))
        elif cached_only:
            raise FileNotFoundError(
                f"the real-face cache lacks {target.relative_to(target.parents[2])} (front-end {key}): run make real-faces"
            )
        else:
            from blender_addon.core.face.tracking import FaceTracker

            t0 = time.perf_counter()
            if src is not None:
                tracker = tracker or FaceTracker(device="cpu", max_faces=1, threads=1)
                data = process_clip(src, stride, max_frames, tracker)
            else:
                data = process_photos(sources)
            tmp = target.with_suffix(".tmp.npz")
            np.savez_compressed(tmp, **data)
            os.replace(tmp, target)
            if log:
                dt = time.perf_counter() - t0
                what = src.stem if src is not None else f"{len(sources)} photos"
                log(
                    f"{name}/{what}: {len(data['frame'])} images in {dt:.1f}s ({1000 * dt / max(1, len(data['frame'])):.0f} ms each)"
                )
        if src is not None:
            data["clip"] = np.full(len(data["frame"]), len(names), np.int32)
            names.append(src.stem)
        else:
            data["clip"] = np.arange(len(sources), dtype=np.int32)
            names = [p.name for p in sources]
        parts.append(data)
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return RealFaceSet(name=name, clip_names=names, key=key, **cat)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Fill the real-face cache (our front-end + MediaPipe on the same frames).")
    ap.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    ap.add_argument("--stride", type=int, default=None, help=f"frame stride (default {DEFAULT_STRIDE}, MEAD 1)")
    ap.add_argument("--max-frames", type=int, default=None)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    print(f"front-end key {frontend_key()}; cache {CACHE_ROOT}")
    for s in args.sets:
        t = time.perf_counter()
        fs = load_set(s, stride=args.stride, max_frames=args.max_frames)
        print(
            f"{s}: {len(fs)} images from {len(fs.clip_names)} sources, ours found {fs.ours_found.mean():.1%}, "
            f"MediaPipe found {fs.mp_found.mean():.1%}, {time.perf_counter() - t:.1f}s"
        )
    print(f"total {time.perf_counter() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
