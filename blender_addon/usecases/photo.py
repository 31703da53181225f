"""Apply from Photo and Capture Neutral: solve the chosen face of a photo, then pose the character or store it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np

from ..core.errors import FacsimileError
from ..scene.character import mapping_for, store_last_solve, store_neutral, write_pose
from ..scene.shape_keys import WriteReport
from ..ui.preferences import requested_device
from .face_session import PhotoSolve, pick_face, preview_pixels, show_preview, solve_photo


@dataclass(frozen=True)
class PhotoOptions:
    photo: Path
    face: int = 0  # 0 = the largest
    key_frame: int | None = None  # also key the pose at this frame
    device: str | None = None  # explicit device; None = $FACSIMILE_DEVICE, then the preference
    preset: str | None = None  # override the object's preset (saved with it); None = the object's
    mirror: bool | None = None
    show_preview: bool = False  # put the landmark preview in Blender's "Facsimile Preview" image
    preview_png: Path | None = None  # also write the landmark preview here
    json_out: Path | None = None  # also write the solved ARKit weights here

    def check(self) -> None:
        """What costs nothing, so bad input fails before a scene or a model is loaded: numbers in range, the photo
        exists, no output is an input or another output, every output folder is writable."""
        from ..core import validate
        from ..core.output_guard import check_outputs

        validate.whole(self.face, "face", 0, 999)
        validate.optional_frame(self.key_frame, "key frame")
        from ..core.output_plan import check_input

        check_input("photo", self.photo)  # a named pipe: said so, never opened
        if not Path(self.photo).is_file():
            raise FacsimileError(f"photo {self.photo} does not exist")
        check_outputs(self.inputs(), self.outputs())

    def inputs(self) -> list:
        from ..core.output_guard import Named, preset_input

        return [Named("photo", self.photo), preset_input(self.preset)]

    def outputs(self) -> list:
        from ..core.output_guard import named

        return [named("preview", self.preview_png), named("JSON", self.json_out)]


@dataclass
class PhotoResult:
    solved: PhotoSolve
    face: object  # the chosen SolvedFace
    report: WriteReport | None  # None for a neutral capture

    @property
    def weights(self) -> np.ndarray:
        return np.asarray(self.face.weights, dtype=np.float32)


def _solve(opts: PhotoOptions) -> tuple[PhotoSolve, object]:
    solved = solve_photo(Path(opts.photo), requested_device(opts.device))
    return solved, pick_face(solved, opts.face, opts.photo)


def apply_photo(obj: bpy.types.Object, opts: PhotoOptions) -> PhotoResult:
    """Set (and optionally key) the object's shape keys from the photo's chosen face, through its mapping, tuning and
    neutral; keep the raw solve for export. Nothing is written when the photo has no such face."""
    opts.check()
    rmap = mapping_for(obj, opts.preset, opts.mirror)  # a mapping that matches nothing fails before any solving
    solved, face = _solve(opts)
    pixels = preview_pixels(solved, opts.face) if (opts.show_preview or opts.preview_png) else None
    report = write_pose(obj, rmap, face.weights, key_frame=opts.key_frame)
    store_last_solve(obj, np.asarray(face.weights)[None, :], None)
    if opts.show_preview:
        show_preview(pixels)
    if opts.preview_png is not None:
        import cv2

        from ..core.formats.image_io import write_png

        write_png(opts.preview_png, cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR))
    if opts.json_out is not None:
        from ..core.formats.weights_file import write_weights_json

        write_weights_json(opts.json_out, face.weights)
    return PhotoResult(solved=solved, face=face, report=report)


def capture_neutral(obj: bpy.types.Object, opts: PhotoOptions) -> PhotoResult:
    """Store the photo's chosen face as the object's neutral; every later apply and bake subtracts it."""
    opts.check()
    mapping_for(obj, opts.preset, opts.mirror)  # the same target checks as an apply
    solved, face = _solve(opts)
    store_neutral(obj, face.weights, str(opts.photo))
    return PhotoResult(solved=solved, face=face, report=None)
