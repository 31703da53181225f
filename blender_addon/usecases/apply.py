"""Put ARKit weights from a file (JSON or Live Link Face CSV) onto a character: values for one weight set, keyframes
for a sequence (resampled to the scene's rate when the file carries timing).

By default the character's stored mapping, tuning and neutral are honoured, exactly as a photo or a bake would;
raw_preset=True uses the preset alone (no tuning, no neutral): `facsimile apply --raw-preset`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import bpy

from ..core.formats.weights_file import WeightsSequence, load_weights_file, scene_frames
from ..scene.character import mapping_for, scene_fps
from ..scene.shape_keys import WriteReport, bake_keyframes, set_values


@dataclass(frozen=True)
class ApplyOptions:
    weights: Path  # .json (one frame, a sequence, solve output) or Live Link Face .csv
    start_frame: int | None = None  # first keyed frame; None = the scene's start
    source_fps: float | None = None  # Live Link timecode rate when it cannot be inferred
    preset: str | None = None  # override the object's preset; None = the object's
    mirror: bool | None = None
    raw_preset: bool = False  # the preset alone: ignore the object's tuning and neutral
    use_neutral: bool = True  # False: a take captured from someone else (Live Link import) keeps its own zero
    always_key: bool = False  # key even a single untimed weight set (instead of setting values)
    head: object | None = (
        None  # head_capture.HeadTargetOptions: also put a Live Link take's head/eye columns on the rig
    )
    head_rig: object | None = None  # core.rig.head_rig.HeadRigOptions (neutral, gain, limits, neck ratio)
    head_neutral: str = "none"  # 'first' / 'median' head angle of the take is the actor's rest

    def load(self) -> WeightsSequence:
        """Read and check the weights (before touching Blender, so bad input costs nothing)."""
        from ..core import validate

        validate.optional_frame(self.start_frame, "start frame")
        if self.source_fps is not None:
            validate.fps(self.source_fps, "source fps")
        return load_weights_file(self.weights, source_fps=self.source_fps)

    def inputs(self) -> list:
        from ..core.output_guard import Named, preset_input

        return [Named("weights file", self.weights), preset_input(self.preset)]

    def outputs(self) -> list:
        return []


@dataclass
class ApplyResult:
    report: WriteReport
    keyed: bool
    first_frame: int | None = None
    last_frame: int | None = None
    head: str = ""  # what the head/eye columns were written to ("" when not asked)

    @property
    def summary(self) -> str:
        if not self.keyed:
            text = f"set {len(self.report.written)} shape keys"
        else:
            text = f"keyed {len(self.report.written)} shape keys on frames {self.first_frame}-{self.last_frame}"
        return text + (f"; {self.head}" if self.head else "")


def apply_weights(
    obj: bpy.types.Object,
    opts: ApplyOptions,
    seq: WeightsSequence | None = None,
    scene: bpy.types.Scene | None = None,
) -> ApplyResult:
    """Write the weights (loaded from opts.weights unless `seq` is given) through the object's one mapping."""
    seq = opts.load() if seq is None else seq
    scene = scene or bpy.context.scene
    rmap = mapping_for(obj, opts.preset, opts.mirror, raw_preset=opts.raw_preset, with_neutral=opts.use_neutral)
    head_job = None
    if opts.head is not None:
        from ..scene.head_capture import livelink_head_job

        head_job = livelink_head_job(
            obj, seq, opts.head, opts.head_rig, opts.head_neutral
        )  # a rig without the bones fails here
    if seq.weights.shape[0] == 1 and seq.fps is None and not opts.always_key:
        return ApplyResult(report=set_values(obj, rmap, seq.weights[0]), keyed=False)
    start = scene.frame_start if opts.start_frame is None else opts.start_frame
    frames, weights = scene_frames(seq, scene_fps(scene), start)
    report = bake_keyframes(obj, rmap, weights, frames)
    head = head_job(scene_fps(scene), start) if head_job is not None else ""
    return ApplyResult(report=report, keyed=True, first_frame=int(frames[0]), last_frame=int(frames[-1]), head=head)
