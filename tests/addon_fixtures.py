"""Fixtures for the add-on tests: a registered add-on in a fresh scene, the demo head, and small real clips.

The bpy module hangs at interpreter exit while add-on classes are still registered, so every fixture that registers
unregisters in a finally, whatever the test did.
"""

from __future__ import annotations

import os
from pathlib import Path

import bpy
import cv2
import numpy as np
import pytest
from conftest import shared_path

import blender_addon
from blender_addon.host.headless import release_properties
from blender_addon.scene import character
from blender_addon.usecases import face_session


def _unregister_all() -> None:
    blender_addon.unregister()
    release_properties()
    face_session.forget_solvers()


@pytest.fixture
def addon(monkeypatch):
    """Fresh empty scene with the add-on registered; CPU inference (CUDA here only adds console noise)."""
    monkeypatch.setenv("FACSIMILE_DEVICE", "cpu")
    _unregister_all()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    blender_addon.register()
    try:
        yield bpy.context
    finally:
        _unregister_all()
        bpy.ops.wm.read_factory_settings(use_empty=True)


@pytest.fixture
def headless(monkeypatch):
    """For the CLI commands: nothing registered before, and what they register released after."""
    monkeypatch.setenv("FACSIMILE_DEVICE", "cpu")
    _unregister_all()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    try:
        yield
    finally:
        _unregister_all()
        bpy.ops.wm.read_factory_settings(use_empty=True)


def demo_head(context) -> bpy.types.Object:
    """The demo character's head (52 ARKit keys), made the panel's target and the active object."""
    from blender_addon.demo.character import build_demo_character

    head = build_demo_character(with_body=False).head
    context.scene.facsimile.target = head
    context.view_layer.objects.active = head
    return head


def photo(name: str) -> Path:
    return shared_path("photos", name)


def moving_frames(name: str, n: int, size: int = 480) -> list[np.ndarray]:
    """n RGB frames of a shared photo drifting slowly (a real face, tracked from frame to frame)."""
    from blender_addon.core.formats.image_io import load_image

    img = load_image(photo(name))
    h, w = img.shape[:2]
    s = size / max(h, w)
    img = cv2.resize(img, (round(w * s) // 2 * 2, round(h * s) // 2 * 2), interpolation=cv2.INTER_AREA)
    h, w = img.shape[:2]
    frames = []
    for i in range(n):
        m = np.float32([[1, 0, 1.5 * i], [0, 1, 0.8 * i]])
        frames.append(cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REFLECT))
    return frames


def write_sequence(folder: Path, frames: list[np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / f"frame_{i:04d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    return folder


def write_video(path: Path, frames: list[np.ndarray], fps: float = 30.0) -> Path:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    assert path.stat().st_size > 0
    return path


def key_counts(obj: bpy.types.Object) -> dict[str, int]:
    """Shape-key name -> number of keyframes on its F-curve (slotted action)."""
    curves = character.shape_key_fcurves(obj)
    out = {}
    for path, fc in curves.items():
        if path.startswith('key_blocks["'):
            out[path[len('key_blocks["') : path.index('"]')]] = len(fc.keyframe_points)
    return out


def unwritable_dir(tmp_path: Path) -> Path:
    """A folder nobody can write into: mode 500, or, as root (who ignores modes), a path below a regular file."""
    d = tmp_path / "locked"
    d.mkdir()
    d.chmod(0o500)
    if not os.access(d, os.W_OK):
        return d
    d.chmod(0o700)
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the output folder should be")
    return blocker / "out"
