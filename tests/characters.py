"""Real test characters built in bpy from ../shared data, with shape keys named in any preset's style.

ICT-FaceKit (26,719 vertices, ICT naming with halves for browInnerUp/cheekPuff) and the MakeHuman base mesh with its
ARKit targets (19,158 vertices, camelCase) give two characters of different topology; each can be renamed into every
preset's convention so the retargeting round trip is checked on real geometry.
"""

from __future__ import annotations

import io
import zipfile

import bpy
import numpy as np
from conftest import shared_path

from blender_addon.core.arkit import ARKIT_NAMES, canonical_name
from blender_addon.core.retarget import preset_targets
from blender_addon.host.blender_compat import add_shape_key


def _ict_arkit_deltas() -> tuple[np.ndarray, list[list[int]], dict[str, np.ndarray]]:
    data = np.load(shared_path("ict_facekit", "ict_face_full_f16.npz"))
    verts = data["neutral"].astype(np.float32) * 0.01  # cm -> m
    faces = [[int(i) for i in f if i >= 0] for f in data["faces"]]
    names = [str(n) for n in data["expr_names"]]
    deltas = data["expr_deltas"].astype(np.float32) * 0.01
    by_arkit: dict[str, np.ndarray] = {}
    for i, n in enumerate(names):
        base = n[:-2] if n.endswith(("_L", "_R")) else n
        side = {"_L": "Left", "_R": "Right"}.get(n[-2:], "")
        arkit = canonical_name(base + side) or canonical_name(base)
        if arkit is None:
            continue
        by_arkit[arkit] = by_arkit.get(arkit, 0) + deltas[i]
    return verts, faces, by_arkit


def _makehuman_arkit_deltas() -> tuple[np.ndarray, list[list[int]], dict[str, np.ndarray]]:
    verts, faces = [], []
    with open(shared_path("makehuman_arkit", "base.obj"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("v "):
                verts.append([float(x) for x in line.split()[1:4]])
            elif line.startswith("f "):
                faces.append([int(tok.split("/")[0]) - 1 for tok in line.split()[1:]])
    v = np.asarray(verts, dtype=np.float32) * 0.1
    by_arkit: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(shared_path("makehuman_arkit", "talkinghead-targets.zip")) as z:
        for info in z.infolist():
            name = info.filename.rsplit("/", 1)[-1]
            if info.filename.startswith("__MACOSX") or not name.endswith(".target"):
                continue
            arkit = canonical_name(name[: -len(".target")])
            if arkit is None:
                continue  # visemes
            rows = np.loadtxt(io.StringIO(z.read(info).decode()), comments="#", ndmin=2)
            d = np.zeros_like(v)
            d[rows[:, 0].astype(int)] = rows[:, 1:4] * 0.1
            by_arkit[arkit] = d
    return v, faces, by_arkit


SOURCES = {"ict": _ict_arkit_deltas, "makehuman": _makehuman_arkit_deltas}
_cache: dict[str, tuple] = {}


def build_character(source: str, style: str, name: str = "Face") -> bpy.types.Object:
    """A mesh object named `name` whose shape keys are named per preset `style`, one per target of each channel."""
    if source not in _cache:
        _cache[source] = SOURCES[source]()
    verts, faces, deltas = _cache[source]
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(verts.tolist(), [], faces)
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    add_shape_key(obj, "Basis")
    targets = preset_targets(style)
    flat = verts.ravel()
    for arkit in ARKIT_NAMES:
        names = targets[arkit]
        for t in names:
            kb = add_shape_key(obj, t)
            d = deltas.get(arkit)
            co = flat if d is None else (verts + d / len(names)).ravel()
            kb.data.foreach_set("co", co)
    return obj
