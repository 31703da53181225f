"""A face-solving session inside Blender: the cached solver (one per device and model folder), a photo solved with
its landmark preview, and a clip baked in chunks (BakeJob). What is solved is written onto the character through
character.py; the maths is in core/face.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np

from ..core.arkit import ARKIT_NAMES
from ..core.errors import FacsimileError
from ..core.retarget import RetargetMap
from ..scene.character import check_target, retarget_map, scene_fps, store_last_solve
from ..scene.shape_keys import bake_keyframes

PREVIEW_IMAGE_NAME = "Facsimile Preview"


# ---------------------------------------------------------------- solver


_SOLVERS: dict[tuple[str, str], object] = {}


def solver_for(device: str):
    """One FaceSolver per (device, model folder): loading the models costs far more than a frame does.

    Keyed on the model folder so that pointing FACSIMILE_MODELS_DIR elsewhere re-verifies the files there.
    """
    from ..core.models.store import models_dir

    key = (device, str(models_dir()))
    solver = _SOLVERS.get(key)
    if solver is None:
        from ..core.face.pipeline import FaceSolver

        solver = FaceSolver(device=device)
        _SOLVERS[key] = solver
    return solver


def forget_solvers() -> None:
    """Drop cached sessions (unregister, or after the models changed on disk)."""
    _SOLVERS.clear()


def device_used(solver: object) -> str:
    """The device the solver's sessions really run on (the UI shows it; never the one merely asked for)."""
    return str(getattr(solver, "device_info", "cpu"))


# ---------------------------------------------------------------- photo


@dataclass
class PhotoSolve:
    image: np.ndarray  # (H, W, 3) uint8 RGB
    faces: list  # SolvedFace, largest first
    device: str


def solve_photo(path: str | Path, device: str) -> PhotoSolve:
    """Load a photo and solve every face in it; a photo without a face is an error naming the file."""
    from ..core.formats.image_io import load_image

    path = Path(path)
    image = load_image(path)
    solver = solver_for(device)
    faces = list(solver.solve_image(image))
    if not faces:
        raise FacsimileError(
            f"no face found in {path.name}; use a photo where one face is clearly visible and roughly frontal"
        )
    return PhotoSolve(image=image, faces=faces, device=device_used(solver))


def pick_face(solved: PhotoSolve, index: int, path: str | Path = "photo") -> object:
    if not 0 <= index < len(solved.faces):
        raise FacsimileError(
            f"face {index} asked for, but {Path(path).name} shows {len(solved.faces)} face(s) "
            f"(0 = the largest, up to {len(solved.faces) - 1})"
        )
    return solved.faces[index]


def preview_pixels(solved: PhotoSolve, chosen: int) -> np.ndarray:
    """The photo with every face's landmarks, boxes and index labels drawn, RGB uint8."""
    from ..core.face.overlay import draw_landmarks

    pick_face(solved, chosen)
    return draw_landmarks(solved.image, solved.faces)  # labelled 0, 1, ... in the order the Face setting counts


def show_preview(pixels_rgb: np.ndarray, name: str = PREVIEW_IMAGE_NAME) -> bpy.types.Image:
    """Put an RGB uint8 picture in an Image datablock (replacing the last preview) and show it in any Image Editor."""
    h, w = pixels_rgb.shape[:2]
    img = bpy.data.images.get(name)
    if img is not None and (img.size[0] != w or img.size[1] != h):
        bpy.data.images.remove(img)
        img = None
    if img is None:
        img = bpy.data.images.new(name, width=w, height=h, alpha=True)
    rgba = np.empty((h, w, 4), dtype=np.float32)
    rgba[..., :3] = pixels_rgb[::-1].astype(np.float32) / 255.0  # Blender rows run bottom-up
    rgba[..., 3] = 1.0
    img.pixels.foreach_set(rgba.reshape(-1))
    img.update()
    wm = bpy.context.window_manager
    for window in wm.windows if wm is not None else ():
        for area in window.screen.areas:
            if area.type == "IMAGE_EDITOR":
                area.spaces.active.image = img
                area.tag_redraw()
    return img


def weights_summary(weights: np.ndarray, top: int = 3) -> str:
    w = np.asarray(weights).reshape(-1)
    order = np.argsort(-w)[:top]
    return ", ".join(f"{ARKIT_NAMES[i]} {w[i]:.2f}" for i in order)


# ---------------------------------------------------------------- bake


@dataclass
class BakeResult:
    frames: int  # keyframes written per shape key
    missing: int  # processed frames without a face (they hold the nearest solved pose)
    first_frame: int
    last_frame: int
    device: str
    summary: str


class BakeJob:
    """A clip baked in chunks: step() solves a few frames (the modal operator calls it from a timer, the headless
    command and the tests in a loop); finish() writes every keyframe at once. Until finish() the object is untouched,
    so cancelling (close() without finish()) leaves it exactly as it was."""

    def __init__(
        self,
        obj: bpy.types.Object,
        path: str | Path,
        *,
        device: str = "auto",
        first: int = 0,
        last: int | None = None,
        stride: int = 1,
        start_frame: int = 1,
        smoothing: float = 1.0,
        scene: bpy.types.Scene | None = None,
        rmap: RetargetMap | None = None,
        extras: tuple = (),
        write_face: bool = True,
    ):
        """extras: per-frame collectors sharing this decode (head, body: see capture_session.py), each with
        see(image), add(video_frame) and finish(scene_frames, kept) -> summary; write_face False keys no shape key
        (the target may then be an armature)."""
        import itertools

        from ..core.formats.video_io import VIDEO_EXTENSIONS, open_video

        if stride < 1:
            raise FacsimileError(f"stride must be 1 or more, got {stride}")
        if first < 0 or (last is not None and last < first):
            raise FacsimileError(f"source frame range {first}:{last} is empty; last must be >= first >= 0")
        if smoothing < 0:
            raise FacsimileError(f"smoothing must be >= 0 (0 = off), got {smoothing}")
        self.write_face = write_face
        self.obj = check_target(obj) if write_face else obj
        # The operation's one mapping (tuning + neutral); one that matches nothing fails here, before any solving.
        self.rmap = (rmap if rmap is not None else retarget_map(obj)) if write_face else None
        self.extras = tuple(extras)
        self.path = Path(path)
        self.scene = scene or bpy.context.scene
        # An image sequence has no frame rate of its own: one image per scene frame. A video keeps its timing.
        is_file = self.path.suffix.lower() in VIDEO_EXTENSIONS and self.path.is_file()
        self.source = open_video(self.path, None if is_file else scene_fps(self.scene))
        self.stride = stride
        self.first = first
        self.start_frame = start_frame
        count = self.source.frame_count
        stop = last + 1 if last is not None else None
        if count > 0:
            self.total = len(range(first, count if stop is None else min(stop, count), stride))
            if self.total == 0:
                raise FacsimileError(f"{self.path.name} has {count} frames; the range starting at {first} is empty")
        else:
            self.total = -1
        # A video's frame count is the header's estimate (duration x nominal rate; wrong for a variable rate): the
        # clip is read to its real end, never cut at the estimate.
        frames = itertools.islice(self.source.frames(), first, stop, stride)
        if self.extras:
            frames = self._tap(frames)
        self.solver = solver_for(device)
        self._gen = self.solver.solve_video(frames, smoothing=smoothing, fps=self.source.fps / stride)
        self.weights: list[np.ndarray] = []
        self.found: list[bool] = []
        self.done = False

    def _tap(self, frames):
        for image in frames:
            for extra in self.extras:
                extra.see(image)
            yield image

    @property
    def fraction(self) -> float:
        if self.done:
            return 1.0
        if self.total <= 0:
            return 0.0
        return min(1.0, len(self.weights) / self.total)

    @property
    def status(self) -> str:
        total = str(self.total) if self.total > 0 else "?"
        return f"{len(self.weights)}/{total} frames solved, {sum(self.found)} with a face"

    def step(self, max_frames: int = 8) -> bool:
        """Solve up to max_frames more frames; True when the clip is exhausted."""
        if self.done:
            return True
        for _ in range(max(1, max_frames)):
            try:
                frame = next(self._gen)
            except StopIteration:
                self.done = True
                return True
            self.weights.append(np.asarray(frame.weights, dtype=np.float32))
            self.found.append(bool(frame.found))
            for extra in self.extras:
                extra.add(frame)
        return False

    def close(self) -> None:
        """Release the clip (and its decoder) without writing anything."""
        gen, self._gen = self._gen, iter(())
        close = getattr(gen, "close", None)
        if close is not None:
            close()
        for extra in getattr(self, "extras", ()):
            getattr(extra, "close", lambda: None)()

    def source_times(self, n: int) -> np.ndarray | None:
        """Seconds (from the first solved frame) of the first n solved frames by the video's own timestamps, or None
        where there are none (an image sequence)."""
        times = getattr(self.source, "times", ())
        index = self.first + np.arange(n) * self.stride
        if len(times) == 0 or index[-1] >= len(times):
            return None
        t = np.asarray(times, dtype=np.float64)[index]
        return t - t[0]

    def scene_frames(self, n: int) -> np.ndarray:
        """Scene frame of each solved frame: source timing kept (stride and a differing scene rate included). A video
        is keyed by its frames' own timestamps, so a variable-frame-rate clip lands where its frames were shown."""
        times = self.source_times(n) if n else None
        if times is not None:
            return self.start_frame + np.round(times * scene_fps(self.scene)).astype(np.int64)
        ratio = scene_fps(self.scene) / self.source.fps
        return self.start_frame + np.round(np.arange(n) * self.stride * ratio).astype(np.int64)

    def _ended_early(self) -> bool:
        """Whether the clip stopped well before the end its header promises: by time for a video (a variable rate
        makes the header's frame count an estimate), by frame count otherwise."""
        if not (self.total > 0 and len(self.weights) < self.total):
            return False
        times = getattr(self.source, "times", ())
        header_s = self.source.header_seconds() if hasattr(self.source, "header_seconds") else -1.0
        if len(times) and header_s > 0:
            shown = times[-1] + 1.0 / self.source.fps  # the last frame is shown for about one frame
            return shown < 0.95 * header_s
        return True

    def finish(self) -> BakeResult:
        """Write the keyframes (one bulk write per shape key) and keep the raw solve for JSON export."""
        if not self.done:
            raise FacsimileError("the bake has not finished solving yet")
        if not self.weights:
            raise FacsimileError(f"{self.path.name}: no frames in the chosen range")
        found = np.array(self.found)
        if not found.any():
            raise FacsimileError(
                f"no face found in any of the {len(found)} frames of {self.path.name}; nothing was keyed. "
                "Check the clip shows a face, reasonably lit and frontal"
            )
        w = np.stack(self.weights)
        w[: int(np.argmax(found))] = w[int(np.argmax(found))]  # before the first face: hold its pose, not zeros
        frames = self.scene_frames(len(w))
        keep = np.concatenate([[True], np.diff(frames) > 0])  # a slower scene rate maps frames onto one key
        w, frames = w[keep], frames[keep]
        from ..core import validate

        if int(frames[-1]) > validate.MAX_FRAME:
            raise FacsimileError(
                f"the keys would run to frame {int(frames[-1])}, past Blender's last frame {validate.MAX_FRAME}; "
                "use an earlier start frame or a shorter range"
            )
        device = device_used(self.solver)
        missing = int((~found).sum())
        if self.write_face:
            report = bake_keyframes(self.obj, self.rmap, w, frames.astype(np.float64))
            store_last_solve(self.obj, w, scene_fps(self.scene))
            what = f"{len(report.written)} shape keys"
        else:
            what = "no shape keys (face off)"
        summary = (
            f"{self.obj.name}: {len(frames)} frames keyed ({int(frames[0])}-{int(frames[-1])}) on "
            f"{what} from {self.path.name} on {device}"
        )
        for extra in self.extras:
            summary += "; " + extra.finish(frames.astype(np.float64), keep)
        if missing:
            summary += f"; {missing} frame(s) without a face"
        if self._ended_early():
            summary += (
                f"; warning: {self.path.name} ended after {len(self.weights)} of the {self.total} frames its header "
                "promises (truncated or damaged?), only those were keyed"
            )
        return BakeResult(
            frames=len(frames),
            missing=missing,
            first_frame=int(frames[0]),
            last_frame=int(frames[-1]),
            device=device,
            summary=summary,
        )
