"""What the operators and the headless commands share: the target checks, the object's mapping, the neutral pose, the
cached solver, the photo preview image and writing solved weights onto shape keys.

Operators and commands stay thin: they read their inputs, call these functions and report. All heavy lifting is in
core/ (numpy + onnxruntime); this module is the bpy side of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np

from .core.arkit import ARKIT_NAMES, NUM_BLENDSHAPES
from .core.errors import FacsimileError
from .core.retarget import ChannelSettings, RetargetMap, best_preset, build_retarget_map
from .properties import PRESET_ITEMS
from .shape_keys import WriteReport, bake_keyframes, require_shape_key_mesh, set_values, shape_key_names

NEUTRAL_PROP = "facsimile_neutral"
NEUTRAL_SOURCE_PROP = "facsimile_neutral_source"
PREVIEW_IMAGE_NAME = "Facsimile Preview"


# ---------------------------------------------------------------- target


def check_target(obj: bpy.types.Object | None, what: str = "target") -> bpy.types.Object:
    """The object must be a mesh with shape keys; otherwise say what it is and what to pick instead."""
    if obj is None:
        raise FacsimileError(
            f"no {what} object: pick the face mesh in the Facsimile panel's Target field (or select it)"
        )
    return require_shape_key_mesh(obj)


def resolve_target(context: bpy.types.Context) -> bpy.types.Object:
    """The panel's Target, else the active object; checked."""
    settings = getattr(context.scene, "facsimile", None)
    obj = settings.target if settings is not None and settings.target is not None else context.active_object
    return check_target(obj)


# ---------------------------------------------------------------- headless setup


def ensure_registered() -> None:
    """Headless commands need the add-on's properties (the mapping stored on objects): register them once.

    Inside Blender with the extension enabled they already exist and nothing happens. The bpy module hangs at
    interpreter exit while add-on classes are still registered, so what is registered here is unregistered at exit.
    """
    if not hasattr(bpy.types.Object, "facsimile"):
        import atexit

        from . import properties

        properties.register()
        atexit.register(release_properties)


def release_properties() -> None:
    """Undo ensure_registered() (tests, and the exit hook)."""
    from . import properties

    if hasattr(bpy.types.Object, "facsimile"):
        properties.unregister()


def configure_mapping(obj: bpy.types.Object, preset: str | None = None, mirror: bool | None = None) -> RetargetMap:
    """Command-line --preset/--mirror override what the object stores; a JSON map file is preset 'json'."""
    check_target(obj)
    st = obj.facsimile
    if mirror is not None:
        st.mirror = mirror
    if preset:
        if preset.lower().endswith(".json"):
            path = Path(preset)
            if not path.is_file():
                raise FacsimileError(f"mapping file {path} does not exist")
            st.preset = "json"
            st.map_file = str(path.resolve())
        else:
            valid = [item[0] for item in PRESET_ITEMS if item[0] != "json"]
            if preset.lower() not in valid:
                raise FacsimileError(f"unknown preset {preset!r}; choose one of {', '.join(valid)} or a .json map file")
            st.preset = preset.lower()
        return refresh_mapping(obj)
    return retarget_map(obj)


# ---------------------------------------------------------------- mapping


def refresh_mapping(obj: bpy.types.Object) -> RetargetMap:
    """Rebuild the object's mapping rows from its preset, keeping each channel's tuned gain/offset/clamp/enabled."""
    check_target(obj)
    st = obj.facsimile
    preset: str | Path = st.preset
    if st.preset == "json":
        if not st.map_file:
            raise FacsimileError("preset 'JSON file' needs a map file: set Map file in the Facsimile panel")
        preset = Path(bpy.path.abspath(st.map_file))
    rmap = build_retarget_map(shape_key_names(obj), preset, mirror=st.mirror)
    old = {row.arkit_name: row for row in st.mapping}
    kept = {
        name: (row.gain, row.offset, row.clamp_min, row.clamp_max, row.enabled)
        for name, row in old.items()
        if len(old) == NUM_BLENDSHAPES
    }
    st.mapping.clear()
    for b in rmap.bindings:
        row = st.mapping.add()
        row.arkit_name = b.arkit
        row.shape_key = ", ".join(b.targets)
        row.unmatched = not b.targets
        if b.arkit in kept:
            row.gain, row.offset, row.clamp_min, row.clamp_max, row.enabled = kept[b.arkit]
    if st.preset == "auto":
        st.resolved_preset = best_preset(shape_key_names(obj))
    else:
        st.resolved_preset = st.preset
    return retarget_map(obj)


def retarget_map(obj: bpy.types.Object) -> RetargetMap:
    """The object's mapping rows (built from the preset the first time) as a core RetargetMap, with its neutral."""
    check_target(obj)
    st = obj.facsimile
    if len(st.mapping) != NUM_BLENDSHAPES:
        return refresh_mapping(obj)
    existing = set(shape_key_names(obj))
    targets: dict[str, tuple[str, ...]] = {}
    settings: dict[str, ChannelSettings] = {}
    for row in st.mapping:
        names = tuple(t.strip() for t in row.shape_key.split(",") if t.strip())
        row.unmatched = not any(t in existing for t in names)
        targets[row.arkit_name] = names
        settings[row.arkit_name] = ChannelSettings(
            gain=row.gain,
            offset=row.offset,
            clamp_min=row.clamp_min,
            clamp_max=row.clamp_max,
            enabled=row.enabled,
        )
    return build_retarget_map(
        shape_key_names(obj), targets, settings=settings, mirror=st.mirror, neutral=get_neutral(obj)
    )


# ---------------------------------------------------------------- neutral


def store_neutral(obj: bpy.types.Object, weights: np.ndarray, source: str) -> None:
    """Keep the actor's resting weights on the object (saved with the .blend); every later solve subtracts them."""
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape[0] != NUM_BLENDSHAPES or not np.all(np.isfinite(w)):
        raise FacsimileError("the neutral capture did not produce 52 finite weights; try another photo")
    obj[NEUTRAL_PROP] = [float(v) for v in w]
    obj[NEUTRAL_SOURCE_PROP] = source


def get_neutral(obj: bpy.types.Object) -> np.ndarray | None:
    raw = obj.get(NEUTRAL_PROP)
    if raw is None:
        return None
    w = np.asarray(list(raw), dtype=np.float32)
    if w.shape != (NUM_BLENDSHAPES,):
        raise FacsimileError(
            f"'{obj.name}' holds a damaged neutral capture ({w.shape[0]} values); clear it and capture again"
        )
    return w


def clear_neutral(obj: bpy.types.Object) -> bool:
    found = NEUTRAL_PROP in obj
    for key in (NEUTRAL_PROP, NEUTRAL_SOURCE_PROP):
        if key in obj:
            del obj[key]
    return found


# ---------------------------------------------------------------- solver


_SOLVERS: dict[tuple[str, str], object] = {}


def solver_for(device: str):
    """One FaceSolver per (device, model folder): loading the models costs far more than a frame does.

    Keyed on the model folder so that pointing FACSIMILE_MODELS_DIR elsewhere re-verifies the files there.
    """
    from .core.models.store import models_dir

    key = (device, str(models_dir()))
    solver = _SOLVERS.get(key)
    if solver is None:
        from .core.face.pipeline import FaceSolver

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
    from .core.formats.image_io import load_image

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
    from .core.face.overlay import draw_landmarks

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


# ---------------------------------------------------------------- writing


def set_pose(obj: bpy.types.Object, weights: np.ndarray, key_frame: int | None = None) -> WriteReport:
    """(52,) ARKit weights -> the object's shape-key values through its mapping; optionally keyed at key_frame."""
    rmap = retarget_map(obj)
    w = np.asarray(weights, dtype=np.float32).reshape(NUM_BLENDSHAPES)
    report = set_values(obj, rmap, w)
    if key_frame is not None:
        bake_keyframes(obj, rmap, w[None, :], frames=np.array([key_frame], dtype=np.float64))
    return report


def weights_summary(weights: np.ndarray, top: int = 3) -> str:
    w = np.asarray(weights).reshape(-1)
    order = np.argsort(-w)[:top]
    return ", ".join(f"{ARKIT_NAMES[i]} {w[i]:.2f}" for i in order)


# ---------------------------------------------------------------- files, last solve, animation read-back

LAST_SOLVE_PROP = "facsimile_last_solve"
LAST_SOLVE_FPS_PROP = "facsimile_last_solve_fps"


def scene_fps(scene: bpy.types.Scene) -> float:
    return scene.render.fps / scene.render.fps_base


def output_path(raw: str, suffix: str) -> Path:
    """An absolute output path with the right extension, in a folder that exists and can be written."""
    from .core.atomic_io import check_writable_dir

    if not raw:
        raise FacsimileError("no output file given: choose where to save")
    path = Path(bpy.path.abspath(raw))
    if path.suffix.lower() != suffix:
        path = path.with_name(path.name + suffix)
    return check_writable_dir(path)


def store_last_solve(obj: bpy.types.Object, weights: np.ndarray, fps: float | None) -> None:
    """Keep the raw solved ARKit weights (before mapping) on the object, for Export Solved Weights."""
    w = np.asarray(weights, dtype=np.float64).reshape(-1, NUM_BLENDSHAPES)
    obj[LAST_SOLVE_PROP] = [float(v) for v in w.reshape(-1)]
    if fps is None:
        if LAST_SOLVE_FPS_PROP in obj:
            del obj[LAST_SOLVE_FPS_PROP]
    else:
        obj[LAST_SOLVE_FPS_PROP] = float(fps)


def last_solve(obj: bpy.types.Object) -> tuple[np.ndarray, float | None]:
    raw = obj.get(LAST_SOLVE_PROP)
    if raw is None:
        raise FacsimileError(f"'{obj.name}' has no solved weights yet: apply a photo or bake a clip first")
    w = np.asarray(list(raw), dtype=np.float32)
    if w.size == 0 or w.size % NUM_BLENDSHAPES:
        raise FacsimileError(f"'{obj.name}' holds damaged solved weights; solve again")
    fps = obj.get(LAST_SOLVE_FPS_PROP)
    return w.reshape(-1, NUM_BLENDSHAPES), None if fps is None else float(fps)


def import_livelink(
    obj: bpy.types.Object, path: Path, start_frame: int, scene: bpy.types.Scene
) -> tuple[int, list[str]]:
    """Key a Live Link Face take (resampled to the scene rate) through the object's mapping, neutral not applied:
    the take comes from another capture, not from the actor the neutral was taken of."""
    import dataclasses

    from .core.formats.weights_file import load_weights_file, scene_frames

    check_target(obj)
    seq = load_weights_file(path)
    rmap = dataclasses.replace(retarget_map(obj), neutral=None)
    frames, weights = scene_frames(seq, scene_fps(scene), start_frame)
    bake_keyframes(obj, rmap, weights, frames)
    return len(frames), []


def _key_fcurves(obj: bpy.types.Object) -> dict[str, object]:
    """data_path -> F-curve of the object's shape-key animation (slotted action on 4.4+, legacy before)."""
    key = obj.data.shape_keys
    ad = key.animation_data if key is not None else None
    action = ad.action if ad is not None else None
    if action is None:
        return {}
    curves = None
    if hasattr(action, "slots") and ad.action_slot is not None:
        from bpy_extras.anim_utils import action_get_channelbag_for_slot

        bag = action_get_channelbag_for_slot(action, ad.action_slot)
        curves = bag.fcurves if bag is not None else ()
    elif hasattr(action, "fcurves"):
        curves = action.fcurves
    return {fc.data_path: fc for fc in curves or ()}


def has_shape_key_animation(obj: bpy.types.Object) -> bool:
    return any(p.startswith("key_blocks[") for p in _key_fcurves(obj))


def read_channel_animation(obj: bpy.types.Object, frames: np.ndarray) -> np.ndarray:
    """(F, 52) per-ARKit-channel values as the character shows them at each frame: the mean of the channel's target
    keys (animated keys evaluated, static keys at their value); channels without a target are 0."""
    check_target(obj)
    rmap = retarget_map(obj)
    curves = _key_fcurves(obj)
    if not any(p.startswith("key_blocks[") for p in curves):
        raise FacsimileError(f"'{obj.name}' has no shape-key animation to export; bake or import a take first")
    blocks = obj.data.shape_keys.key_blocks
    frames = np.asarray(frames, dtype=np.float64)
    cache: dict[str, np.ndarray] = {}

    def values_of(name: str) -> np.ndarray:
        if name not in cache:
            fc = curves.get(f'key_blocks["{bpy.utils.escape_identifier(name)}"].value')
            if fc is None:
                cache[name] = np.full(len(frames), blocks[name].value, dtype=np.float32)
            else:
                cache[name] = np.array([fc.evaluate(f) for f in frames], dtype=np.float32)
        return cache[name]

    out = np.zeros((len(frames), NUM_BLENDSHAPES), dtype=np.float32)
    for i, b in enumerate(rmap.bindings):
        targets = [t for t in b.targets if t in blocks]
        if targets:
            out[:, i] = np.mean([values_of(t) for t in targets], axis=0)
    return out


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
    ):
        import itertools

        from .core.formats.video_io import VIDEO_EXTENSIONS, open_video

        if stride < 1:
            raise FacsimileError(f"stride must be 1 or more, got {stride}")
        if first < 0 or (last is not None and last < first):
            raise FacsimileError(f"source frame range {first}:{last} is empty; last must be >= first >= 0")
        if smoothing < 0:
            raise FacsimileError(f"smoothing must be >= 0 (0 = off), got {smoothing}")
        self.obj = check_target(obj)
        self.rmap = retarget_map(obj)  # a mapping that matches nothing fails here, before any solving
        self.path = Path(path)
        self.scene = scene or bpy.context.scene
        # An image sequence has no frame rate of its own: one image per scene frame. A video keeps its timing.
        is_file = self.path.suffix.lower() in VIDEO_EXTENSIONS and self.path.is_file()
        self.source = open_video(self.path, None if is_file else scene_fps(self.scene))
        self.stride = stride
        self.start_frame = start_frame
        count = self.source.frame_count
        stop = last + 1 if last is not None else None
        if count > 0:
            stop = count if stop is None else min(stop, count)
            self.total = len(range(first, stop, stride))
            if self.total == 0:
                raise FacsimileError(f"{self.path.name} has {count} frames; the range starting at {first} is empty")
        else:
            self.total = -1
        frames = itertools.islice(self.source.frames(), first, stop, stride)
        self.solver = solver_for(device)
        self._gen = self.solver.solve_video(frames, smoothing=smoothing, fps=self.source.fps / stride)
        self.weights: list[np.ndarray] = []
        self.found: list[bool] = []
        self.done = False

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
        return False

    def close(self) -> None:
        """Release the clip (and its decoder) without writing anything."""
        gen, self._gen = self._gen, iter(())
        close = getattr(gen, "close", None)
        if close is not None:
            close()

    def scene_frames(self, n: int) -> np.ndarray:
        """Scene frame of each solved frame: source timing kept (stride and a differing scene rate included)."""
        ratio = scene_fps(self.scene) / self.source.fps
        return self.start_frame + np.round(np.arange(n) * self.stride * ratio).astype(np.int64)

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
        report = bake_keyframes(self.obj, self.rmap, w, frames.astype(np.float64))
        store_last_solve(self.obj, w, scene_fps(self.scene))
        device = device_used(self.solver)
        missing = int((~found).sum())
        summary = (
            f"{self.obj.name}: {len(frames)} frames keyed ({int(frames[0])}-{int(frames[-1])}) on "
            f"{len(report.written)} shape keys from {self.path.name} on {device}"
        )
        if missing:
            summary += f"; {missing} frame(s) without a face"
        return BakeResult(
            frames=len(frames),
            missing=missing,
            first_frame=int(frames[0]),
            last_frame=int(frames[-1]),
            device=device,
            summary=summary,
        )


def run_bake(job: BakeJob, chunk: int = 16, progress=None) -> BakeResult:
    """Drive a BakeJob to the end synchronously (headless, scripts, tests); progress(job) after every chunk."""
    try:
        while not job.step(chunk):
            if progress is not None:
                progress(job)
        return job.finish()
    finally:
        job.close()
