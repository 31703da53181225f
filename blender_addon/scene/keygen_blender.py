"""Blender side of shape-key generation: find the face on a mesh by rendering it, ray-cast the landmarks, write keys.

Landmarks without a click: the head is rendered (Workbench, orthographic, in a temporary scene that is removed after)
from the six axis directions; the project's own face front-end runs on each render and the best face gives a first
set of 3-D points (ray casts against the rest shape). From those a face frame is built and the face is rendered again,
head-on, turned by +-20 and +-40 degrees and tipped by +-15; each landmark is the average of its hits, weighted by
how squarely each view sees the surface there.
Orthographic cameras make each landmark pixel one ray along the view direction.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import bpy
import numpy as np
from mathutils import Matrix, Vector
from mathutils.bvhtree import BVHTree

from ..core.arkit import ARKIT_NAMES
from ..core.errors import FacsimileError
from ..host.blender_compat import add_shape_key

SCAN_SIZE = 768
FACE_SIZE = 512
FACE_VIEWS_DEG = (
    (0.0, 0.0),
    (-20.0, 0.0),
    (20.0, 0.0),
    (-40.0, 0.0),
    (40.0, 0.0),
    (0.0, 15.0),
    (0.0, -15.0),
)  # yaw, pitch
MIN_CONFIDENCE = 0.5


@dataclass
class LandmarkHits:
    points: np.ndarray  # (478, 3) object space, nan where no hit
    valid: np.ndarray  # (478,) bool
    views: list[str] = field(default_factory=list)
    confidence: float = 0.0


def require_mesh(obj: bpy.types.Object | None, name: str, min_vertices: int = 100) -> bpy.types.Object:
    if obj is None:
        raise FacsimileError(f"no object named '{name}' in the scene")
    if obj.type != "MESH":
        raise FacsimileError(f"'{obj.name}' is a {obj.type.lower()}, not a mesh; choose the head mesh object")
    if len(obj.data.vertices) < min_vertices:
        raise FacsimileError(f"'{obj.name}' has only {len(obj.data.vertices)} vertices; it cannot be a head")
    return obj


def rest_coords(obj: bpy.types.Object) -> np.ndarray:
    """(N, 3) float64 object-space rest shape: the reference (Basis) key if there are shape keys."""
    n = len(obj.data.vertices)
    co = np.empty(n * 3, np.float32)
    keys = obj.data.shape_keys
    if keys is not None and keys.reference_key is not None:
        keys.reference_key.data.foreach_get("co", co)
    else:
        obj.data.vertices.foreach_get("co", co)
    return co.reshape(n, 3).astype(np.float64)


def triangles(obj: bpy.types.Object) -> np.ndarray:
    mesh = obj.data
    mesh.calc_loop_triangles()
    tris = np.empty(len(mesh.loop_triangles) * 3, np.int32)
    mesh.loop_triangles.foreach_get("vertices", tris)
    return tris.reshape(-1, 3).astype(np.int64)


def _world(obj: bpy.types.Object, pts: np.ndarray) -> np.ndarray:
    m = np.array(obj.matrix_world)
    return pts @ m[:3, :3].T + m[:3, 3]


def _local(obj: bpy.types.Object, pts: np.ndarray) -> np.ndarray:
    m = np.linalg.inv(np.array(obj.matrix_world))
    return pts @ m[:3, :3].T + m[:3, 3]


@dataclass
class _View:
    name: str
    direction: np.ndarray  # unit, world, camera looks along it
    up: np.ndarray
    centre: np.ndarray
    half: float  # half the ortho frame width, world units

    def basis(self) -> tuple[np.ndarray, np.ndarray]:
        up = self.up - (self.up @ self.direction) * self.direction
        up /= np.linalg.norm(up)
        right = np.cross(self.direction, up)
        return right, up

    def ray_origins(self, px: np.ndarray, size: int, far: float) -> np.ndarray:
        right, up = self.basis()
        u = (px[:, 0] / size - 0.5) * 2 * self.half
        v = (0.5 - px[:, 1] / size) * 2 * self.half
        return self.centre + u[:, None] * right + v[:, None] * up - far * self.direction


def _color_type(obj: bpy.types.Object) -> str:
    """Show what makes a face readable: an image texture, else colour attributes, else one skin tone (shading
    alone: cavity and studio light)."""
    for slot in obj.material_slots:
        mat = slot.material
        if mat is not None and mat.use_nodes and any(n.type == "TEX_IMAGE" and n.image for n in mat.node_tree.nodes):
            return "TEXTURE"
    if len(obj.data.color_attributes):
        return "VERTEX"
    return "SINGLE"


class _RenderRig:
    """A temporary scene holding the head (and the given helpers), an orthographic camera and Workbench settings."""

    def __init__(self, objects: Sequence[bpy.types.Object]) -> None:
        self.scene = bpy.data.scenes.new("FacsimileKeygenScan")
        for o in objects:
            self.scene.collection.objects.link(o)
        cam_data = bpy.data.cameras.new("FacsimileKeygenCam")
        cam_data.type = "ORTHO"
        self.cam = bpy.data.objects.new("FacsimileKeygenCam", cam_data)
        self.scene.collection.objects.link(self.cam)
        self.scene.camera = self.cam
        r = self.scene.render
        r.engine = "BLENDER_WORKBENCH"
        r.image_settings.file_format = "PNG"
        r.image_settings.color_mode = "RGB"
        r.resolution_percentage = 100
        r.use_compositing = False
        r.use_sequencer = False
        self.world = bpy.data.worlds.new("FacsimileKeygenWorld")
        self.world.color = (0.05, 0.05, 0.06)
        self.scene.world = self.world
        sh = self.scene.display.shading
        sh.light = "STUDIO"
        sh.color_type = _color_type(objects[0]) if objects else "SINGLE"
        sh.single_color = (0.8, 0.62, 0.52)
        sh.show_cavity = True
        sh.cavity_type = "WORLD"
        sh.show_specular_highlight = False
        self.scene.display.render_aa = "FXAA"
        self.tmp = tempfile.TemporaryDirectory(prefix="facsimile_keygen_")

    def render(self, view: _View, size: int, far: float) -> np.ndarray:
        import cv2

        right, up = view.basis()
        rot = Matrix(np.stack([right, up, -view.direction], 1).tolist())
        self.cam.matrix_world = Matrix.Translation(Vector(view.centre - far * view.direction)) @ rot.to_4x4()
        self.cam.data.ortho_scale = 2 * view.half
        self.cam.data.clip_start = 1e-3 * far
        self.cam.data.clip_end = 4 * far
        self.scene.render.resolution_x = self.scene.render.resolution_y = size
        path = Path(self.tmp.name) / f"{view.name}.png"
        self.scene.render.filepath = str(path)
        bpy.ops.render.render(write_still=True, scene=self.scene.name)
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise FacsimileError("Blender did not write the scan render")
        return img[:, :, ::-1].copy()

    def close(self) -> None:
        bpy.data.objects.remove(self.cam)
        bpy.data.scenes.remove(self.scene)
        bpy.data.worlds.remove(self.world)
        self.tmp.cleanup()


class _RestPose:
    """Show the rest shape during the scan: only the Basis key, modifiers off (restored after)."""

    def __init__(self, obj: bpy.types.Object) -> None:
        self.obj = obj

    def __enter__(self) -> None:
        o = self.obj
        self.saved = (o.show_only_shape_key, o.active_shape_key_index, [(m, m.show_render) for m in o.modifiers])
        if o.data.shape_keys is not None:
            o.show_only_shape_key = True
            o.active_shape_key_index = 0
        for m, _ in self.saved[2]:
            m.show_render = False

    def __exit__(self, *exc: object) -> None:
        o = self.obj
        o.show_only_shape_key, o.active_shape_key_index, mods = self.saved
        for m, flag in mods:
            m.show_render = flag


def _hits(bvh: BVHTree, view: _View, px: np.ndarray, size: int, far: float):
    origins = view.ray_origins(px, size, far)
    d = Vector(view.direction)
    pts = np.full((len(px), 3), np.nan)
    facing = np.zeros(len(px))
    for i, o in enumerate(origins):
        loc, normal, _, _ = bvh.ray_cast(Vector(o), d, 4 * far)
        if loc is not None:
            pts[i] = loc
            facing[i] = abs(float(normal.dot(d)))
    return pts, facing


def _best_face(tracker, img: np.ndarray):
    faces = tracker.detect(img)
    return max(faces, key=lambda f: f.confidence) if faces else None


def _search_face(tracker, img: np.ndarray):
    """The best face in a render, looking in overlapping windows of 1/2 and 1/4 of the frame when the whole frame
    finds none (a face on a full body is too small for the detector's 128 px input)."""
    best = _best_face(tracker, img)
    if best is not None and best.confidence > 0.9:
        return best
    size = img.shape[0]
    background = np.abs(img.astype(np.int16) - img[0, 0].astype(np.int16)).sum(2) < 12
    for frac in (2, 4):
        win = size // frac
        step = win // 2
        for y in range(0, size - win + 1, step):
            for x in range(0, size - win + 1, step):
                if background[y : y + win, x : x + win].mean() > 0.93:
                    continue  # (almost) empty: no face to find there
                f = _best_face(tracker, img[y : y + win, x : x + win])
                if f is not None and (best is None or f.confidence > best.confidence):
                    f.landmarks = f.landmarks.copy()
                    f.landmarks[:, 0] += x
                    f.landmarks[:, 1] += y
                    best = f
        if best is not None and best.confidence > 0.9:
            return best
    return best


def find_landmarks(
    obj: bpy.types.Object,
    helpers: Sequence[bpy.types.Object] = (),
    tracker=None,
    debug_dir: Path | None = None,
    views: Sequence[tuple[float, float]] = FACE_VIEWS_DEG,
) -> LandmarkHits:
    """478 landmarks on `obj`'s rest surface (object space) from renders; FacsimileError when no face is found.

    views: the (yaw, pitch) close-ups that vote for each landmark (fewer: faster, noisier)."""
    from ..core.face.tracking import FaceTracker

    tracker = tracker or FaceTracker(max_faces=2)
    verts_w = _world(obj, rest_coords(obj))
    tris = triangles(obj)
    bvh = BVHTree.FromPolygons(verts_w.tolist(), tris.tolist())
    lo, hi = verts_w.min(0), verts_w.max(0)
    centre = (lo + hi) / 2
    far = float(np.linalg.norm(hi - lo)) + 1e-6
    rig = _RenderRig([obj, *helpers])
    try:
        with _RestPose(obj):
            best = None
            for axis in (1, 0, 2):  # Blender's front view (looking along +Y) first
                for sign in (1.0, -1.0):
                    d = np.zeros(3)
                    d[axis] = sign
                    up = np.array([0.0, 0.0, 1.0]) if axis != 2 else np.array([0.0, 1.0, 0.0])
                    ext = np.delete(hi - lo, axis).max() / 2 * 1.05
                    view = _View(f"scan_{'xyz'[axis]}{'+' if sign > 0 else '-'}", d, up, centre, ext)
                    img = rig.render(view, SCAN_SIZE, far)
                    if debug_dir is not None:
                        import cv2

                        cv2.imwrite(str(Path(debug_dir) / f"{view.name}.png"), img[:, :, ::-1])
                    face = _search_face(tracker, img)
                    if face is not None and (best is None or face.confidence > best[1].confidence):
                        best = (view, face)
                    if best is not None and best[1].confidence > 0.9:
                        break
                if best is not None and best[1].confidence > 0.9:
                    break
            if best is None or best[1].confidence < MIN_CONFIDENCE:
                raise FacsimileError(
                    f"no face found on '{obj.name}' in renders from 6 directions; check it is the head mesh (and "
                    "not hidden behind other geometry), or give the landmarks with --landmarks FILE"
                )
            view, face = best
            pts, _ = _hits(bvh, view, face.landmarks[:, :2].astype(np.float64), SCAN_SIZE, far)
            frame = _face_frame(pts)
            if frame is None:
                raise FacsimileError(f"the face found on '{obj.name}' does not lie on the mesh; use --landmarks FILE")
            # A head-on close-up refines the frame; then every view votes for each landmark, weighted by how
            # squarely it sees the surface there (averaging several views evens out the detector's noise).
            front = _close_up(rig, bvh, tracker, frame, 0.0, far, debug_dir)
            if front is not None:
                frame = _face_frame(front[0]) or frame
            acc = np.zeros((478, 3))
            wsum = np.zeros(478)
            used, confs = [], []
            for yaw, pitch in views:
                got = _close_up(rig, bvh, tracker, frame, yaw, far, debug_dir, pitch)
                if got is None:
                    continue
                p, facing, name, conf = got
                used.append(name)
                confs.append(conf)
                ok = np.isfinite(p).all(1) & (facing > 0.3)
                w = np.where(ok, facing**2, 0.0)
                acc += np.where(ok[:, None], p, 0.0) * w[:, None]
                wsum += w
            if not used:
                raise FacsimileError(
                    f"no face found on '{obj.name}': a face-like shape seen from afar was not confirmed close up; "
                    "check it is the head mesh, or give the landmarks with --landmarks FILE"
                )
            best_pts = np.where((wsum > 0)[:, None], acc / np.maximum(wsum, 1e-12)[:, None], np.nan)
    finally:
        rig.close()
    valid = np.isfinite(best_pts).all(1)
    # Iris points ride on the eyeballs; a ray through an eye hole lands deep inside the head: drop those.
    local = np.full_like(best_pts, np.nan)
    local[valid] = _local(obj, best_pts[valid])
    return LandmarkHits(local, valid, used, float(np.mean(confs)))


def _close_up(
    rig: _RenderRig, bvh: BVHTree, tracker, frame, yaw: float, far: float, debug_dir: Path | None, pitch: float = 0.0
):
    """Render the face from its frame turned by `yaw` degrees and ray-cast the landmarks found there:
    (points (478, 3) world, facing (478,), view name, confidence), or None when no face is found."""
    f_centre, forward, up, iod = frame
    a = math.radians(yaw)
    right = np.cross(forward, up)
    b = math.radians(pitch)
    d = -(math.cos(b) * (math.cos(a) * forward + math.sin(a) * right) + math.sin(b) * up)  # camera looks at the face
    v = _View(f"face_{yaw:+.0f}_{pitch:+.0f}", d, up, f_centre, 1.7 * iod)
    img = rig.render(v, FACE_SIZE, far)
    if debug_dir is not None:
        import cv2

        cv2.imwrite(str(Path(debug_dir) / f"{v.name}.png"), img[:, :, ::-1])
    fc = _best_face(tracker, img)
    if fc is None:
        return None
    p, facing = _hits(bvh, v, fc.landmarks[:, :2].astype(np.float64), FACE_SIZE, far)
    return p, facing, v.name, fc.confidence


def _face_frame(pts: np.ndarray):
    need = [33, 263, 13, 14, 1]
    if not np.isfinite(pts[need]).all():
        return None
    eye_r, eye_l = pts[33], pts[263]
    mouth = (pts[13] + pts[14]) / 2
    right = eye_l - eye_r  # towards the subject's left
    iod = float(np.linalg.norm(right))
    right /= iod
    up = (eye_r + eye_l) / 2 - mouth
    up -= (up @ right) * right
    up /= np.linalg.norm(up)
    forward = np.cross(right, up)  # out of the face
    if (pts[1] - (eye_r + eye_l) / 2) @ forward < 0:  # the nose tip sticks out: keep forward pointing that way
        forward = -forward
    ok = np.isfinite(pts).all(1)
    centre = pts[ok].mean(0)
    return centre, forward, up, iod


def load_landmark_file(path: str | Path) -> LandmarkHits:
    """468 or 478 points (x, y, z) in the object's space: .npy, or JSON (a list, or {"landmarks": [...]})."""
    p = Path(path)
    if not p.is_file():
        raise FacsimileError(f"landmark file {p} does not exist")
    try:
        if p.suffix.lower() == ".npy":
            arr = np.load(p, allow_pickle=False)
        else:
            from ..core.formats.json_file import read_json_file

            try:
                data = read_json_file(p, "landmark file")
            except FacsimileError as exc:  # one wording for every unreadable landmark file
                detail = str(exc).removeprefix(f"landmark file {p} ")
                raise FacsimileError(f"cannot read landmark file {p}: {detail}") from None
            arr = np.asarray(data["landmarks"] if isinstance(data, dict) else data, dtype=np.float64)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FacsimileError(f"cannot read landmark file {p}: {exc}") from exc
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 3 or arr.shape[0] not in (468, 478):
        raise FacsimileError(f"landmark file {p} must hold 468 or 478 points (x, y, z); got shape {arr.shape}")
    if arr.shape[0] == 468:
        arr = np.vstack([arr, np.full((10, 3), np.nan)])
    return LandmarkHits(arr, np.isfinite(arr).all(1), [str(p)], 1.0)


def write_shape_keys(obj: bpy.types.Object, rest: np.ndarray, deltas: np.ndarray) -> tuple[list[str], list[str]]:
    """Add (or overwrite) the 52 ARKit keys relative to the rest shape; other keys and the Basis are kept.

    Returns (created, replaced) names."""
    if obj.data.shape_keys is None:
        add_shape_key(obj, "Basis")
    blocks = obj.data.shape_keys.key_blocks
    created, replaced = [], []
    for k, name in enumerate(ARKIT_NAMES):
        kb = blocks.get(name)
        if kb is None:
            kb = add_shape_key(obj, name)
            created.append(name)
        else:
            replaced.append(name)
        kb.relative_key = obj.data.shape_keys.reference_key
        kb.slider_min, kb.slider_max = 0.0, 1.0
        kb.value = 0.0
        kb.data.foreach_set("co", (rest + deltas[k]).astype(np.float32).ravel())
    obj.data.update()
    return created, replaced


def rigid_keys(obj: bpy.types.Object, deltas: dict[str, np.ndarray]) -> None:
    """Write per-key deltas (name -> (N, 3)) on a helper mesh (eyes, teeth); the other ARKit keys stay at rest."""
    rest = rest_coords(obj)
    full = np.zeros((len(ARKIT_NAMES), len(rest), 3), np.float32)
    for name, d in deltas.items():
        full[ARKIT_NAMES.index(name)] = d
    write_shape_keys(obj, rest, full)


def render_key_tiles(
    objects: Sequence[bpy.types.Object],
    frame: tuple[np.ndarray, np.ndarray, np.ndarray, float],
    names: Sequence[str],
    size: int = 160,
    yaw_deg: float = 20.0,
) -> list[np.ndarray]:
    """One orthographic Workbench render (RGB) of the face per shape-key name (that key at 1 on every object that has
    it, all others 0; "neutral" for none), from the face frame turned by yaw_deg so depth reads. Values restored."""
    centre, forward, up, iod = frame
    right = np.cross(forward, up)
    a = math.radians(yaw_deg)
    view = _View("tile", -(math.cos(a) * forward + math.sin(a) * right), up, centre, 1.15 * iod)
    saved = {(o.name, kb.name): kb.value for o in objects if o.data.shape_keys for kb in o.data.shape_keys.key_blocks}
    rig = _RenderRig(objects)
    rig.scene.display.shading.show_cavity = False
    tiles = []
    try:
        for name in names:
            for o in objects:
                if o.data.shape_keys:
                    for kb in o.data.shape_keys.key_blocks:
                        kb.value = 1.0 if kb.name == name or (name == "mouthClose" and kb.name == "jawOpen") else 0.0
            view.name = f"tile_{len(tiles):03d}"
            tiles.append(rig.render(view, size, 8 * iod))
    finally:
        rig.close()
        for o in objects:
            if o.data.shape_keys:
                for kb in o.data.shape_keys.key_blocks:
                    kb.value = saved[(o.name, kb.name)]
    return tiles
