"""Heads for the shape-key generator tests and benchmark: the MakeHuman base mesh with its artist ARKit targets.

Only the "body" group's faces are built (the helper geometry - tights, skirt, hair, joint cubes - would hide the
skin), but every vertex is kept so the targets' vertex ids still apply. Coordinates stay as MakeHuman writes them
(decimetres, Y up, facing +Z), which in Blender is a head lying on its back: the generator must cope.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from blender_addon.core.arkit import ARKIT_NAMES


def load_makehuman(folder: Path) -> tuple[np.ndarray, list[list[int]], np.ndarray, dict[str, list[list[int]]]]:
    """(verts (N, 3), body faces, reference deltas (52, N, 3) in ARKit order, helper faces by group)."""
    verts, faces, helpers = [], [], {}
    group = ""
    with open(folder / "base.obj", encoding="utf-8") as f:
        for line in f:
            if line.startswith("v "):
                verts.append([float(x) for x in line.split()[1:4]])
            elif line.startswith("g "):
                group = line.split()[1]
            elif line.startswith("f "):
                face = [int(tok.split("/")[0]) - 1 for tok in line.split()[1:]]
                (faces if group == "body" else helpers.setdefault(group, [])).append(face)
    v = np.asarray(verts, dtype=np.float64)
    ref = np.zeros((len(ARKIT_NAMES), len(v), 3), np.float32)
    with zipfile.ZipFile(folder / "talkinghead-targets.zip") as z:
        for info in z.infolist():
            name = info.filename.rsplit("/", 1)[-1]
            if info.filename.startswith("__MACOSX") or not name.endswith(".target"):
                continue
            key = name[: -len(".target")]
            if key not in ARKIT_NAMES:
                continue  # visemes
            text = z.read(info).decode()
            if not text.strip():
                continue
            rows = np.loadtxt(io.StringIO(text), comments="#", ndmin=2)
            ref[ARKIT_NAMES.index(key), rows[:, 0].astype(int)] = rows[:, 1:4]
    return v, faces, ref, helpers


def build_object(name: str, verts: np.ndarray, faces: list[list[int]]):
    import bpy

    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(verts.tolist(), [], faces)
    mesh.update()
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def build_subset(name: str, verts: np.ndarray, faces: list[list[int]]):
    """A mesh of only the vertices `faces` use (a separate eye or teeth mesh); returns (object, original ids)."""
    ids = np.unique(np.concatenate([np.asarray(f) for f in faces]))
    remap = {int(o): i for i, o in enumerate(ids)}
    return build_object(name, verts[ids], [[remap[i] for i in f] for f in faces]), ids
