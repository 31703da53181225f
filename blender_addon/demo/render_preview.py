"""Headless preview renders of a face: a camera framing the head, Workbench (fast) or Cycles on the CPU, PNG out.

EEVEE needs a GPU to be quick, so previews default to Workbench with material colours and studio light (about 0.05 s a
frame at 320 px here); Cycles with a few samples is the option when shading matters.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from pathlib import Path

import bpy
from mathutils import Vector

from ..core.arkit import ARKIT_NAMES
from ..core.errors import FacsimileError
from ..core.formats.image_io import write_png
from ..host.blender_compat import assigned_slot, restore_slot, uses_nodes
from .contact_sheet import make_contact_sheet

ENGINES = ("workbench", "cycles")
CAMERA_NAME = "FacsimileFaceCamera"


def face_camera(head: bpy.types.Object, distance: float = 0.95, lens_mm: float = 85.0) -> bpy.types.Object:
    """A camera in front of the head (looking down +Y at it), framing the face; made the scene camera."""
    scene = bpy.context.scene
    bpy.context.view_layer.update()
    corners = [head.matrix_world @ Vector(c) for c in head.bound_box]
    centre = sum(corners, Vector()) / 8.0
    cam = bpy.data.objects.get(CAMERA_NAME)
    if cam is None:
        cam = bpy.data.objects.new(CAMERA_NAME, bpy.data.cameras.new(CAMERA_NAME))
        scene.collection.objects.link(cam)
    cam.data.lens = lens_mm
    cam.data.sensor_fit = "AUTO"
    cam.location = centre + Vector((0.0, -distance, 0.01))
    cam.rotation_euler = (math.radians(90.0), 0.0, 0.0)
    scene.camera = cam
    return cam


def body_camera(objects: Sequence[bpy.types.Object], lens_mm: float = 50.0) -> bpy.types.Object:
    """A camera in front of the whole character (the objects' rest bounding box), made the scene camera."""
    bpy.context.view_layer.update()
    pts = [o.matrix_world @ Vector(c) for o in objects for c in o.bound_box]
    lo = Vector((min(p.x for p in pts), min(p.y for p in pts), min(p.z for p in pts)))
    hi = Vector((max(p.x for p in pts), max(p.y for p in pts), max(p.z for p in pts)))
    centre = (lo + hi) / 2
    half = max(hi.z - lo.z, hi.x - lo.x) / 2 * 1.15
    distance = half / math.tan(math.atan(18.0 / lens_mm))
    cam = face_camera(objects[0])
    cam.data.lens = lens_mm
    cam.location = centre + Vector((0.0, -distance, 0.0))
    return cam


def configure_render(
    engine: str = "workbench", resolution: tuple[int, int] = (320, 320), samples: int = 16
) -> bpy.types.Scene:
    """Set the current scene's engine and output for previews (PNG, RGB, no compositing)."""
    engine = engine.lower()
    if engine not in ENGINES:
        raise FacsimileError(f"unknown render engine '{engine}'; use one of: {', '.join(ENGINES)}")
    scene = bpy.context.scene
    r = scene.render
    r.resolution_x, r.resolution_y = resolution
    r.resolution_percentage = 100
    r.image_settings.file_format = "PNG"
    r.image_settings.color_mode = "RGB"
    r.film_transparent = False
    r.use_compositing = False
    r.use_sequencer = False
    world = scene.world or bpy.data.worlds.new("FacsimileWorld")
    scene.world = world
    world.color = (0.42, 0.45, 0.5)
    if engine == "workbench":
        r.engine = "BLENDER_WORKBENCH"
        shading = scene.display.shading
        shading.light = "STUDIO"
        meshes = [o for o in scene.objects if o.type == "MESH"]
        # The demo meshes carry smooth colours as a colour attribute; other characters show their material colours.
        with_colors = bool(meshes) and all(len(o.data.color_attributes) for o in meshes)
        shading.color_type = "VERTEX" if with_colors else "MATERIAL"
        shading.show_cavity = False
        shading.show_specular_highlight = True
        scene.display.render_aa = "8"
    else:
        r.engine = "CYCLES"
        scene.view_settings.view_transform = "Standard"  # keep the material colours (AgX washes them out)
        world.color = (0.12, 0.13, 0.15)  # background and soft fill; the sun is the key light
        scene.cycles.device = "CPU"
        scene.cycles.samples = samples
        scene.cycles.use_denoising = False
        scene.cycles.max_bounces = 4
        if uses_nodes(world) and world.node_tree and "Background" in world.node_tree.nodes:
            world.node_tree.nodes["Background"].inputs["Color"].default_value = (*world.color, 1.0)
        if not any(o.type == "LIGHT" for o in scene.objects):
            light = bpy.data.objects.new("FacsimileKeyLight", bpy.data.lights.new("FacsimileKeyLight", "SUN"))
            light.data.energy = 2.5
            light.rotation_euler = (math.radians(60), math.radians(-15), math.radians(-25))
            scene.collection.objects.link(light)
    return scene


def render_png(path: str | Path) -> Path:
    """Render the current scene's camera view to a PNG file."""
    scene = bpy.context.scene
    if scene.camera is None:
        raise FacsimileError("the scene has no camera to render from; call face_camera() first")
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    if not Path(path).is_file():
        raise FacsimileError(f"Blender did not write the render {path}")
    return Path(path)


def render_frames(frames: Sequence[int], folder: str | Path) -> list[Path]:
    """Render each frame of the scene's animation to folder/frame_NNNN.png."""
    scene = bpy.context.scene
    out = []
    for f in frames:
        scene.frame_set(int(f))
        out.append(render_png(Path(folder) / f"frame_{int(f):04d}.png"))
    return out


def render_shape_grid(head: bpy.types.Object, out_png: str | Path, tile: int = 200, cols: int = 8) -> Path:
    """Render the head with each ARKit key at 1 (all others 0) into one labelled grid PNG, plus the neutral face.

    mouthClose means "lips sealed while the jaw is open" in ARKit, so its tile shows jawOpen + mouthClose.
    Animation on the shape keys is detached for the duration and restored after.
    """
    keys = head.data.shape_keys
    if keys is None:
        raise FacsimileError(f"'{head.name}' has no shape keys to render")
    blocks = keys.key_blocks
    missing = [n for n in ARKIT_NAMES if n not in blocks]
    if missing:
        raise FacsimileError(f"'{head.name}' lacks ARKit shape keys: {', '.join(missing)}")
    ad = keys.animation_data
    saved_action = ad.action if ad else None
    saved_slot = assigned_slot(ad)
    saved_values = {kb.name: kb.value for kb in blocks}
    scene = bpy.context.scene
    saved_res = (scene.render.resolution_x, scene.render.resolution_y)
    scene.render.resolution_x = scene.render.resolution_y = tile
    try:
        if ad:
            ad.action = None
        for kb in blocks:
            kb.value = 0.0
        images, labels = [], []
        with tempfile.TemporaryDirectory(prefix="facsimile_grid_") as tmp:
            for k, name in enumerate(("neutral",) + ARKIT_NAMES):
                for kb in blocks:
                    kb.value = 0.0
                if name != "neutral":
                    blocks[name].value = 1.0
                if name == "mouthClose":
                    blocks["jawOpen"].value = 1.0
                images.append(render_png(Path(tmp) / f"shape_{k:02d}.png"))
                labels.append("mouthClose+jawOpen" if name == "mouthClose" else name)
            sheet = make_contact_sheet(images, labels, cols=cols)
        return write_png(out_png, sheet)
    finally:
        if ad:
            ad.action = saved_action
            restore_slot(ad, saved_slot)
        for name, value in saved_values.items():
            blocks[name].value = value
        scene.render.resolution_x, scene.render.resolution_y = saved_res
