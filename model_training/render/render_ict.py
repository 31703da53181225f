"""Render ICT-FaceKit heads with known ARKit weights (Blender Workbench) and run the ONNX face front-end on them.

Why: the synthetic landmarks are ideal geometry; the real detector sees pixels. Rendering ICT faces with known
weights, identity, head pose and camera gives (a) a rendered held-out set scored through the whole photo pipeline
(render -> FaceTracker -> ExpressionGenerator), and (b) the detector's residuals against the ideal projected landmarks
on *training* identities, which fit/detector_model.py turns into a bias + noise model for the synthetic features.

Appearance: vertex colours only (skin tone per identity, painted brows and lips, white sclera with a dark iris and
pupil, teeth, dark mouth socket) under Workbench studio light; eyeballs rotate with the eyeLook weights (ICT's eyeLook
shapes move only the lids). Eyelashes, lacrimal and occlusion shells are left out (they are transparency effects).

`python -m model_training.render.render_ict --split train|test --n N --out DIR` writes DIR/<split>.npz with weights, ids,
pose, camera, ideal landmarks and detected landmarks (NaN rows where no face was found).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from ..data.ict_facekit import (
    EYEBALL_LEFT,
    EYEBALL_RIGHT,
    FACE_VERTS,
    SCLERA_LEFT,
    SCLERA_RIGHT,
    ICTModel,
    arkit_to_ict_matrix,
    load_ict,
)
from ..data.landmark_embedding import LandmarkBasis, embed
from ..data.synth import _rotation, gaze_angles, sample_expressions
from ..paths import CACHE_DIR

RENDER_POLYS_END = 21496  # face, head, mouth socket, eye sockets, gums/tongue, teeth (eyeballs added separately)
SPLIT_SEEDS = {"train": 9101, "test": 9202, "check": 9303}  # check: the test suite's small set
BROW_IDS = ((70, 63, 105, 66, 107, 55, 65, 52, 53, 46), (300, 293, 334, 296, 336, 285, 295, 282, 283, 276))
OUTER_LIP = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146)


def _colours(model: ICTModel, basis: LandmarkBasis, emb_eyes, skin: np.ndarray, iris_rgb: np.ndarray) -> np.ndarray:
    """(V, 4) RGBA per vertex: skin, brows, lips, mouth, teeth, sclera/iris/pupil."""
    import cv2

    v = model.neutral
    col = np.tile(np.r_[skin, 1.0], (len(v), 1)).astype(np.float32)
    col[11248:13294, :3] = (0.35, 0.08, 0.08)  # mouth socket
    col[14062:17039, :3] = (0.75, 0.35, 0.35)  # gums and tongue
    col[17039:21451, :3] = (0.92, 0.9, 0.82)  # teeth
    lm = basis.neutral
    face = v[:FACE_VERTS]
    front = face[:, 2] > 5.0
    for ids in BROW_IDS:  # brow band: vertices within 0.35 cm (in x, y) of the brow landmark polyline
        pts = lm[list(ids), :2]
        d = np.full(len(face), np.inf)
        for a, b in zip(pts[:5], pts[1:5], strict=False):
            ab = b - a
            t = np.clip(((face[:, :2] - a) @ ab) / (ab @ ab), 0, 1)
            d = np.minimum(d, np.linalg.norm(face[:, :2] - (a + t[:, None] * ab), axis=1))
        brow = (d < 0.35) & front
        col[:FACE_VERTS][brow, :3] = skin * 0.35
    poly = lm[list(OUTER_LIP), :2].astype(np.float32)
    inside = np.array([cv2.pointPolygonTest(poly, (float(x), float(y)), False) >= 0 for x, y in face[:, :2]])
    col[:FACE_VERTS][inside & front, :3] = skin * np.array([0.85, 0.5, 0.5])
    for (s0, s1), eye in zip((SCLERA_RIGHT, SCLERA_LEFT), emb_eyes, strict=True):
        d = v[s0:s1] - eye.centre
        axis = eye.offsets[0] / np.linalg.norm(eye.offsets[0])
        ang = np.degrees(np.arccos(np.clip((d @ axis) / np.linalg.norm(d, axis=1), -1, 1)))
        c = np.tile([0.92, 0.9, 0.88], (len(d), 1))
        c[ang < 25] = iris_rgb
        c[ang < 9] = (0.02, 0.02, 0.02)
        col[s0:s1, :3] = c
    return col


def _polys(model: ICTModel) -> list[list[int]]:
    faces = np.concatenate(
        [model.faces[:RENDER_POLYS_END], model.faces[21496 : 21496 + 800], model.faces[23094 : 23094 + 800]]
    )
    return [[int(i) for i in f if i >= 0] for f in faces]


def new_scene(size: int):
    """A fresh Blender scene of size x size px with a world and a perspective camera: (scene, world, camera data).
    Shared by this module's Workbench renders and render/heldout.py's looks."""
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.resolution_x = scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    world = bpy.data.worlds.new("bg")
    scene.world = world
    cam_data = bpy.data.cameras.new("cam")
    cam_data.sensor_fit = "HORIZONTAL"
    cam_data.clip_start, cam_data.clip_end = 1.0, 2000.0
    cam = bpy.data.objects.new("cam", cam_data)
    scene.collection.objects.link(cam)
    scene.camera = cam
    return scene, world, cam_data


def use_workbench(scene) -> None:
    """The project's render look: Workbench, studio light, vertex colours, specular highlights."""
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.display.shading.light = "STUDIO"
    scene.display.shading.color_type = "VERTEX"
    scene.display.shading.show_specular_highlight = True


def face_mesh(scene, model: ICTModel):
    """The ICT head's render polygons as one mesh in the scene with a per-vertex colour attribute "Col":
    (mesh, used vertex indices of the model, colour attribute)."""
    import bpy

    polys = _polys(model)
    used = np.unique(np.concatenate([np.asarray(p) for p in polys]))
    remap = np.full(len(model.neutral), -1)
    remap[used] = np.arange(len(used))
    mesh = bpy.data.meshes.new("ict")
    mesh.from_pydata(model.neutral[used].tolist(), [], [[int(remap[i]) for i in p] for p in polys])
    mesh.update()
    scene.collection.objects.link(bpy.data.objects.new("ict", mesh))
    attr = mesh.color_attributes.new("Col", "FLOAT_COLOR", "POINT")
    mesh.color_attributes.active_color = attr
    return mesh, used, attr


def render_split(split: str, n: int, out: Path, size: int = 384, ict_path: str | None = None, log=print) -> Path:
    """Render n samples of a split, detect landmarks with the ONNX front-end, save everything to out/<split>.npz."""
    import bpy
    import cv2

    from blender_addon.core.face.tracking import FaceTracker

    model = load_ict(ict_path)
    emb = embed(model)
    basis = LandmarkBasis.build(model, emb)
    a2i = arkit_to_ict_matrix(model.expr_names)
    rng = np.random.default_rng(SPLIT_SEEDS[split])
    tracker = FaceTracker(device="cpu", max_faces=1)
    stamp = frontend_stamp()  # the front-end this run detects with (taken before any detection)

    scene, world, cam_data = new_scene(size)
    use_workbench(scene)
    mesh, used, attr = face_mesh(scene, model)
    eye_ranges = (EYEBALL_RIGHT, EYEBALL_LEFT)

    rec = {k: [] for k in ("weights", "ids", "pose", "cam", "ideal", "detected", "confidence")}
    pngs: list[bytes] = []  # every render, kept so a new front-end (or MediaPipe) can re-read the same pixels
    tmp = tempfile.TemporaryDirectory(prefix="ict_render_")  # Blender writes each render here; removed below
    tmpdir = Path(tmp.name)
    t0 = time.time()
    for i in range(n):
        w = sample_expressions(rng, 1)[0]
        ids = np.clip(rng.normal(0, 0.8, model.id_deltas.shape[0]), -3, 3).astype(np.float32)
        verts = model.neutral + np.tensordot(ids, model.id_deltas, 1) + np.tensordot(w @ a2i, model.expr_deltas, 1)
        gaze = gaze_angles(w[None])[0]
        lm = basis.landmarks(ids[None], (w @ a2i)[None], gaze[None])[0]
        for e, (r0, r1) in enumerate(eye_ranges):  # rotate eyeballs exactly as the iris landmarks rotate
            c = basis.eye_centre[e] + np.tensordot(ids, basis.eye_id[:, e], 1)
            yaw, pitch = gaze[e]
            rot = _rotation(np.array([yaw]), np.array([pitch]), np.array([0.0]))[0]
            verts[r0:r1] = (verts[r0:r1] - c) @ rot.T + c
        pose = np.array(
            [
                np.clip(rng.normal(0, 15), -40, 40),
                np.clip(rng.normal(0, 10), -25, 25),
                np.clip(rng.normal(0, 8), -25, 25),
            ]
        )
        rot = _rotation(*np.radians(pose)[:, None])[0]
        pivot = lm[:468].mean(0) + np.array([0, 0, -6.0])
        fov = np.radians(rng.uniform(30, 55))
        f = size / (2 * np.tan(fov / 2))
        dist = f * 15.0 / (rng.uniform(0.35, 0.6) * size)
        shift = rng.uniform(-0.08, 0.08, 2) * size * dist / f  # cm at the face's depth
        world_v = (verts - pivot) @ rot.T + np.array([shift[0], shift[1], -dist])
        world_lm = (lm - pivot) @ rot.T + np.array([shift[0], shift[1], -dist])
        skin = np.array([rng.uniform(0.45, 0.95), 0, 0])
        skin[1] = skin[0] * rng.uniform(0.62, 0.8)
        skin[2] = skin[1] * rng.uniform(0.7, 0.9)
        iris_rgb = rng.uniform(0.05, 0.45, 3) * np.array([1.0, 0.8, 0.6])
        mesh.vertices.foreach_set("co", world_v[used].astype(np.float32).ravel())
        mesh.update()
        attr.data.foreach_set("color", _colours(model, basis, emb.eyes, skin, iris_rgb)[used].ravel())
        world.color = tuple(rng.uniform(0.05, 0.8, 3))
        cam_data.angle = fov
        scene.render.filepath = str(tmpdir / "r.png")
        bpy.ops.render.render(write_still=True)
        img = cv2.cvtColor(cv2.imread(str(tmpdir / "r.png")), cv2.COLOR_BGR2RGB)
        # Ideal landmarks in MediaPipe's pixel convention (x right, y down, z pixel-scaled depth, nearer < 0).
        zc = -world_lm[:, 2]
        ideal = np.stack(
            [f * world_lm[:, 0] / zc + size / 2, -f * world_lm[:, 1] / zc + size / 2, (zc - dist) * f / dist], 1
        )
        pngs.append(cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))[1].tobytes())
        faces = tracker.detect(img)
        det = faces[0].landmarks if faces else np.full((478, 3), np.nan, np.float32)
        rec["weights"].append(w)
        rec["ids"].append(ids)
        rec["pose"].append(pose)
        rec["cam"].append([f, dist, size])
        rec["ideal"].append(ideal)
        rec["detected"].append(det)
        rec["confidence"].append(faces[0].confidence if faces else 0.0)
        if i < 6:
            cv2.imwrite(str(out / f"{split}_{i:03d}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        if (i + 1) % 50 == 0:
            log(f"{split}: {i + 1}/{n} rendered, {time.time() - t0:.0f}s")
    tmp.cleanup()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{split}.npz"
    np.savez_compressed(path, **{k: np.asarray(v, np.float32) for k, v in rec.items()})
    save_images(out / f"{split}_images.npz", pngs)
    found = np.isfinite(np.asarray(rec["detected"])[:, 0, 0]).mean()
    log(f"{split}: {n} renders in {time.time() - t0:.0f}s, face found in {found:.1%}; wrote {path}")
    (out / f"{split}.json").write_text(
        json.dumps({"n": n, "size": size, "found": float(found), "seconds": time.time() - t0, "frontend": stamp})
    )
    return path


def save_images(path: Path, pngs: list[bytes]) -> None:
    """PNG bytes of every render in one npz (concatenated bytes + offsets: no pickled objects)."""
    offsets = np.cumsum([0] + [len(b) for b in pngs]).astype(np.int64)
    np.savez(path, data=np.frombuffer(b"".join(pngs), np.uint8), offsets=offsets)


def load_images(path: Path) -> list[np.ndarray]:
    """The renders saved by save_images, as RGB uint8 arrays."""
    import cv2

    d = np.load(path)
    data, off = d["data"], d["offsets"]
    return [
        cv2.cvtColor(cv2.imdecode(data[off[i] : off[i + 1]], cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        for i in range(len(off) - 1)
    ]


def redetect(split: str, out: Path, log=print) -> Path:
    """Run the current face front-end again on a split's saved renders (a new front-end needs no new renders)."""
    from blender_addon.core.face.tracking import FaceTracker

    path = out / f"{split}.npz"
    rec = dict(np.load(path))
    tracker = FaceTracker(device="cpu", max_faces=1)
    stamp = frontend_stamp()
    t0 = time.time()
    det, conf = [], []
    for img in load_images(out / f"{split}_images.npz"):
        faces = tracker.detect(img)
        det.append(faces[0].landmarks if faces else np.full((478, 3), np.nan, np.float32))
        conf.append(faces[0].confidence if faces else 0.0)
    rec["detected"], rec["confidence"] = np.asarray(det, np.float32), np.asarray(conf, np.float32)
    np.savez_compressed(path, **rec)
    found = float(np.isfinite(rec["detected"][:, 0, 0]).mean())
    info = json.loads((out / f"{split}.json").read_text())
    info.update({"found": found, "frontend": stamp, "redetect_seconds": time.time() - t0})
    (out / f"{split}.json").write_text(json.dumps(info))
    log(f"{split}: re-detected {len(det)} renders in {time.time() - t0:.0f}s, face found in {found:.1%}")
    return path


def frontend_stamp() -> str:
    """The face front-end's key (data/real_faces.frontend_key: its ONNX files and tracking code, the one hash of the
    project): renders detected with another front-end need redetect."""
    from ..data.real_faces import frontend_key

    return frontend_key()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=sorted(SPLIT_SEEDS), required=True)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--out", default=str(CACHE_DIR / "renders"))
    ap.add_argument("--reuse", action="store_true", help="skip when OUT/<split>.npz already holds N renders")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    info = out / f"{args.split}.json"
    if args.reuse and info.is_file() and (out / f"{args.split}.npz").is_file():
        meta = json.loads(info.read_text())
        if meta.get("n") == args.n and meta.get("size") == args.size:
            if meta.get("frontend") == frontend_stamp():
                print(f"{args.split}: reusing {out / args.split}.npz ({args.n} renders)")
                return 0
            if (out / f"{args.split}_images.npz").is_file():
                redetect(args.split, out)
                return 0
    render_split(args.split, args.n, out, args.size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
