"""Reading a character back out: its shape-key animation per ARKit channel as a Live Link Face CSV, and its last
solved (raw, unmapped) ARKit weights as JSON."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np

from ..core.errors import FacsimileError
from ..scene.character import last_solve, mapping_for, read_channel_animation, scene_fps


@dataclass(frozen=True)
class ExportCsvOptions:
    out: Path  # .csv, written atomically
    frames: tuple[int, int] | None = None  # inclusive range; None = the scene's range
    preset: str | None = None  # override the object's preset; None = the object's

    def check(self) -> None:
        from ..core import validate
        from ..core.output_guard import check_outputs

        if Path(self.out).suffix.lower() != ".csv":
            raise FacsimileError(f"output {self.out} must end in .csv")
        if self.frames is not None:
            validate.frame(self.frames[0], "first frame")
            validate.frame(self.frames[1], "last frame")
        check_outputs(self.inputs(), self.outputs())

    def inputs(self) -> list:
        from ..core.output_guard import preset_input

        return [preset_input(self.preset)]

    def outputs(self) -> list:
        from ..core.output_guard import Named

        return [Named("output", self.out)]


@dataclass
class ExportResult:
    out: Path
    frames: int
    first_frame: int | None = None
    last_frame: int | None = None
    fps: float | None = None


def export_csv(obj: bpy.types.Object, opts: ExportCsvOptions, scene: bpy.types.Scene | None = None) -> ExportResult:
    """Evaluate the object's shape-key animation at every frame of the range and write one CSV row per frame."""
    from ..core.formats.livelink_csv import write_livelink_csv

    opts.check()
    scene = scene or bpy.context.scene
    a, b = opts.frames if opts.frames is not None else (scene.frame_start, scene.frame_end)
    if b < a:
        raise FacsimileError(f"frame range {a}:{b} is empty")
    rmap = mapping_for(obj, opts.preset, None)
    weights = read_channel_animation(obj, rmap, np.arange(a, b + 1))
    fps = scene_fps(scene)
    from ..scene.head_capture import head_take_livelink

    head = head_take_livelink(obj, np.arange(a, b + 1))  # the captured head and eyes, when the take had them
    write_livelink_csv(
        opts.out, weights, fps, head=None if head is None else head[0], eyes=None if head is None else head[1]
    )
    return ExportResult(out=Path(opts.out), frames=b - a + 1, first_frame=a, last_frame=b, fps=fps)


def export_solved_json(obj: bpy.types.Object, out: Path) -> ExportResult:
    """The last solve as JSON: one pose for a photo, every frame (with its rate) for a bake."""
    from ..core.formats.weights_file import write_weights_json

    weights, fps = last_solve(obj)
    write_weights_json(out, weights[0] if len(weights) == 1 and fps is None else weights, fps)
    return ExportResult(out=Path(out), frames=len(weights), fps=fps)


def output_path(raw: str, suffix: str) -> Path:
    """A file-browser path made absolute with the right extension, in a folder that exists and can be written."""
    from ..core.atomic_io import check_writable_dir
    from ..core.output_guard import Named, check_outputs

    if not raw:
        raise FacsimileError("no output file given: choose where to save")
    path = Path(bpy.path.abspath(raw))
    if path.suffix.lower() != suffix:
        path = path.with_name(path.name + suffix)
    check_outputs(open_inputs(), [Named("output", path)], writable=False)
    return check_writable_dir(path)


def open_inputs() -> list:
    from ..core.output_guard import Named

    """What the panel reads, which no operator output may replace: the open .blend, the photo, the clip, the map
    file (core.output_guard)."""
    inputs = [Named("open .blend file", bpy.data.filepath) if bpy.data.filepath else None]
    st = getattr(bpy.context.scene, "facsimile", None)
    for role, attr in (("photo", "photo_path"), ("clip", "clip_path")):
        raw = getattr(st, attr, "") if st is not None else ""
        if raw:
            inputs.append(Named(role, bpy.path.abspath(raw)))
    return inputs
