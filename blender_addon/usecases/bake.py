"""Bake from Video: solve a clip (video file, image folder or glob) and key the character's shape keys.

start_bake() returns the chunked BakeJob (the modal operator steps it from a timer); bake() drives it to the end
(the CLI, batch, the operator in background mode). Until the job finishes the object is untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import bpy

from ..scene.character import last_solve, mapping_for
from ..ui.preferences import requested_device
from .face_session import BakeJob, BakeResult


@dataclass(frozen=True)
class BakeOptions:
    clip: str | Path  # video file, image folder or glob
    first: int = 0  # first source frame, 0-based
    last: int | None = None  # last source frame, inclusive; None = the end
    stride: int = 1
    start_frame: int | None = None  # scene frame of the first key; None = the scene's start
    smoothing: float = 1.0  # One Euro strength; 0 = off
    device: str | None = None  # explicit device; None = $FACSIMILE_DEVICE, then the preference
    preset: str | None = None  # override the object's preset (saved with it); None = the object's
    mirror: bool | None = None
    json_out: Path | None = None  # also write the solved ARKit weights (every frame) here

    def check(self) -> None:
        """What costs little, so bad input fails before a scene or a model is loaded: numbers in range, the clip
        opens, no output is an input or another output, every output folder is writable."""
        from ..core import validate
        from ..core.formats.video_io import open_video
        from ..core.output_guard import check_outputs

        first = validate.whole(self.first, "first source frame", 0, validate.MAX_SOURCE_FRAME)
        if self.last is not None:
            validate.whole(self.last, "last source frame", first, validate.MAX_SOURCE_FRAME)
        validate.whole(self.stride, "stride", 1, validate.MAX_SOURCE_FRAME)
        validate.optional_frame(self.start_frame, "start frame")
        validate.number(self.smoothing, "smoothing", 0.0, 1000.0)
        open_video(self.clip)
        check_outputs(self.inputs(), self.outputs())

    def inputs(self) -> list:
        from ..core.output_guard import Named, preset_input

        return [Named("clip", self.clip), preset_input(self.preset)]

    def outputs(self) -> list:
        from ..core.output_guard import named

        return [named("JSON", self.json_out)]


def start_bake(obj: bpy.types.Object, opts: BakeOptions, scene: bpy.types.Scene | None = None) -> BakeJob:
    """A BakeJob over the clip with the object's one mapping (tuning and neutral) and the resolved device."""
    scene = scene or bpy.context.scene
    rmap = mapping_for(obj, opts.preset, opts.mirror)
    return BakeJob(
        obj,
        opts.clip,
        device=requested_device(opts.device),
        first=opts.first,
        last=opts.last,
        stride=opts.stride,
        start_frame=scene.frame_start if opts.start_frame is None else opts.start_frame,
        smoothing=opts.smoothing,
        scene=scene,
        rmap=rmap,
    )


def finish_bake(job: BakeJob, opts: BakeOptions) -> BakeResult:
    """Write the keys of a job that has solved every frame, and the solved weights when asked."""
    result = job.finish()
    if opts.json_out is not None:
        from ..core.formats.weights_file import write_weights_json

        weights, fps = last_solve(job.obj)
        write_weights_json(opts.json_out, weights, fps)
    return result


def bake(
    obj: bpy.types.Object,
    opts: BakeOptions,
    *,
    scene: bpy.types.Scene | None = None,
    chunk: int = 32,
    progress: Callable[[BakeJob], None] | None = None,
) -> BakeResult:
    """The whole bake synchronously; progress(job) after every chunk."""
    job = start_bake(obj, opts, scene)
    try:
        while not job.step(chunk):
            if progress is not None:
                progress(job)
        return finish_bake(job, opts)
    finally:
        job.close()
