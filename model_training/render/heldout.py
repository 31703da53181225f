"""Held-out renders with known ARKit weights, in two looks, through our front-end and MediaPipe FaceLandmarker.

Why: a figure measured on one renderer's look says little about photos (issue 10: 0.374 mean Pearson on the project's
Workbench renders, 0.24 on another style). This module renders ICT-FaceKit heads with unseen identities (a seed no
training split uses) in
  - "workbench": the project's own training look (render_ict's Workbench studio light, vertex colours), and
  - "photo": a look no training run may use (kept out of training by rule): Cycles path tracing with a skin shader
    (subsurface, per-identity skin mottling), sun + fill + ambient light of random colour temperature, the face
    composited over a real photo (scikit-image's bundled non-face photos), then camera effects: exposure and white
    balance, defocus blur, sensor noise and JPEG compression.
Both looks draw the very same faces (identity, expression, pose, camera) from one seed, so the style's effect is
paired; one sample in WINK_SHARE is a one-eyed wink. Images are cached under model_training/cache/heldout_renders/
<style>_n<N>_s<size>/ with their labels; the front-end outputs (ours: photo detection; MediaPipe: IMAGE mode with
blendshapes) are cached per front-end key, so a new front-end re-reads the same images without re-rendering.

`python -m model_training.render.heldout --style photo --n 300` renders (and prints seconds per image).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from blender_addon.core.arkit import INDEX

from ..paths import CACHE_DIR

HELDOUT_SEED = 10501  # no training split uses it (render_ict.SPLIT_SEEDS: 9101/9202/9303)
STYLES = ("workbench", "photo")
DEFAULT_N = 150  # per style; `make heldout-renders-full` renders FULL_N
FULL_N = 300
# Workbench at render_ict's 384 px; Cycles at 320 px keeps it near 10 s per image on 2 loaded cores (measured).
DEFAULT_SIZE = {"workbench": 384, "photo": 320}
WINK_SHARE = 0.12
CYCLES_SAMPLES = 4
CACHE = CACHE_DIR / "heldout_renders"
# scikit-image's bundled photos without faces, used as real-photo backgrounds.
BACKGROUNDS = (
    "brick.png",
    "coffee.png",
    "grass.png",
    "gravel.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "hubble_deep_field.jpg",
    "horse.png",
    "coins.png",
    "page.png",
    "text.png",
    "chessboard_RGB.png",
)


@dataclass
class Sample:
    weights: np.ndarray  # (52,)
    ids: np.ndarray
    pose: np.ndarray  # yaw, pitch, roll degrees
    fov: float
    face_frac: float
    shift: np.ndarray


def draw_samples(n: int, n_ids: int, seed: int = HELDOUT_SEED) -> list[Sample]:
    """The held-out faces: the training prior's expressions (model_training.synth), WINK_SHARE of them turned into
    one-eyed winks, fresh Gaussian identities, head pose and camera as render_ict draws them."""
    from ..data.synth import sample_expressions

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        w = sample_expressions(rng, 1)[0]
        if rng.random() < WINK_SHARE:
            closed, opened = ("Left", "Right") if rng.random() < 0.5 else ("Right", "Left")
            w[INDEX["eyeBlink" + closed]] = rng.uniform(0.75, 1.0)
            w[INDEX["eyeBlink" + opened]] = rng.uniform(0.0, 0.1)
            w[INDEX["eyeWide" + closed]] = 0.0
            w[INDEX["eyeSquint" + closed]] = max(w[INDEX["eyeSquint" + closed]], rng.uniform(0.0, 0.3))
        ids = np.clip(rng.normal(0, 0.8, n_ids), -3, 3).astype(np.float32)
        pose = np.array(
            [
                np.clip(rng.normal(0, 15), -40, 40),
                np.clip(rng.normal(0, 10), -25, 25),
                np.clip(rng.normal(0, 8), -25, 25),
            ]
        )
        out.append(
            Sample(
                w,
                ids,
                pose,
                float(np.radians(rng.uniform(30, 55))),
                rng.uniform(0.35, 0.6),
                rng.uniform(-0.08, 0.08, 2),
            )
        )
    return out


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random crop of a bundled real photo, (size, size, 3) float in [0, 1], a little defocused."""
    import cv2

    from ..paths import skimage_data_dir

    folder = skimage_data_dir()
    img = cv2.imread(str(folder / BACKGROUNDS[rng.integers(len(BACKGROUNDS))]), cv2.IMREAD_COLOR)
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    h, w = img.shape[:2]
    side = int(min(h, w) * rng.uniform(0.4, 1.0))
    y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    crop = cv2.resize(img[y : y + side, x : x + side], (size, size), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return cv2.GaussianBlur(crop, (0, 0), rng.uniform(0.5, 3.0))


def camera_effects(rgba: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rendered RGBA (float, premultiplied-free) over a photo background, then exposure/white balance, blur, noise
    and JPEG: (size, size, 3) uint8 as a camera would save it."""
    import cv2

    size = rgba.shape[0]
    alpha = rgba[..., 3:4]
    img = rgba[..., :3] * alpha + _background(rng, size) * (1 - alpha)
    img = img * rng.uniform(0.75, 1.25) * rng.uniform(0.88, 1.12, 3)  # exposure and white balance
    img = np.clip(img, 0, 1) ** rng.uniform(0.85, 1.15)
    sigma = rng.uniform(0.0, 1.2)
    if sigma > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    img = img + rng.normal(0, rng.uniform(0.005, 0.03), img.shape)  # sensor noise
    out = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
    q = int(rng.integers(40, 92))
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, q])
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _skin_material(bpy, rng: np.random.Generator):
    """Principled BSDF skin: the vertex colours, mottled by noise, with subsurface scattering and a soft sheen."""
    mat = bpy.data.materials.new("skin")
    mat.use_nodes = True
    nt = mat.node_tree
    bsdf = nt.nodes["Principled BSDF"]
    attr = nt.nodes.new("ShaderNodeAttribute")
    attr.attribute_name = "Col"
    noise = nt.nodes.new("ShaderNodeTexNoise")
    noise.inputs["Scale"].default_value = 0.6
    noise.inputs["Detail"].default_value = 8.0
    mix = nt.nodes.new("ShaderNodeMix")
    mix.data_type = "RGBA"
    mix.blend_type = "MULTIPLY"
    mix.inputs["Factor"].default_value = 0.25
    nt.links.new(attr.outputs["Color"], mix.inputs["A"])
    nt.links.new(noise.outputs["Color"], mix.inputs["B"])
    nt.links.new(mix.outputs["Result"], bsdf.inputs["Base Color"])
    bsdf.inputs["Subsurface Weight"].default_value = 0.15
    bsdf.subsurface_method = "BURLEY"
    bsdf.inputs["Subsurface Radius"].default_value = (1.0, 0.35, 0.2)
    bsdf.inputs["Subsurface Scale"].default_value = 0.15
    bsdf.inputs["Roughness"].default_value = 0.5
    return mat, bsdf, noise


def _kelvin_rgb(k: float) -> tuple[float, float, float]:
    """Rough colour of a light of k kelvin (3000 warm .. 7500 cool), normalised to max 1."""
    t = (k - 3000) / 4500
    rgb = np.array([1.0, 0.78 + 0.2 * t, 0.55 + 0.45 * t])
    return tuple((rgb / rgb.max()).tolist())


class _Scene:
    """One Blender scene reused for every sample of a style."""

    def __init__(self, style: str, size: int, model, seed: int):
        import bpy

        from .render_ict import face_mesh, new_scene, use_workbench

        self.bpy, self.style, self.size = bpy, style, size
        self.rng = np.random.default_rng(seed + 7)
        scene, self.world, self.cam_data = new_scene(size)
        self.scene = scene
        if style == "workbench":  # render_ict's look
            use_workbench(scene)
        else:
            scene.render.engine = "CYCLES"
            scene.cycles.device = "CPU"
            # Few samples + OpenImageDenoise, short paths: ~N s per 384 px image on 2 loaded cores (measured).
            scene.cycles.samples = CYCLES_SAMPLES
            scene.cycles.use_denoising = True
            scene.cycles.denoiser = "OPENIMAGEDENOISE"
            scene.cycles.max_bounces = 2
            scene.cycles.diffuse_bounces = 1
            scene.cycles.glossy_bounces = 1
            scene.cycles.transmission_bounces = 0
            scene.cycles.volume_bounces = 0
            scene.cycles.use_light_tree = False
            scene.cycles.sample_clamp_indirect = 1.0
            scene.render.film_transparent = True
            scene.render.image_settings.file_format = "PNG"
            scene.render.image_settings.color_mode = "RGBA"
            scene.render.image_settings.color_depth = "16"
            scene.view_settings.view_transform = "Standard"
            self.world.use_nodes = True
            self.suns = []
            for name in ("key", "fill"):
                sun = bpy.data.objects.new(name, bpy.data.lights.new(name, "SUN"))
                scene.collection.objects.link(sun)
                self.suns.append(sun)
        mesh, self.used, self.attr = face_mesh(scene, model)
        self.mesh = mesh
        if style == "photo":
            for p in mesh.polygons:
                p.use_smooth = True
            self.mat, self.bsdf, self.noise = _skin_material(bpy, self.rng)
            mesh.materials.append(self.mat)

    def render(self, verts: np.ndarray, colours: np.ndarray, fov: float, path: Path) -> np.ndarray:
        """Render one face; RGB uint8 (workbench) or composited photo-like uint8 (photo)."""
        import cv2

        bpy, rng = self.bpy, self.rng
        self.mesh.vertices.foreach_set("co", verts[self.used].astype(np.float32).ravel())
        self.mesh.update()
        self.attr.data.foreach_set("color", colours[self.used].ravel())
        self.cam_data.angle = fov
        if self.style == "workbench":
            self.world.color = tuple(rng.uniform(0.05, 0.8, 3))
            self.scene.render.filepath = str(path.with_suffix(".png"))
            bpy.ops.render.render(write_still=True)
            return cv2.cvtColor(cv2.imread(str(path.with_suffix(".png"))), cv2.COLOR_BGR2RGB)
        # Lights: a key sun from the front half-space, a weaker fill, ambient world light; random colour temperature.
        for sun, (lo, hi) in zip(self.suns, ((1.2, 3.0), (0.2, 1.0)), strict=True):
            sun.data.energy = rng.uniform(lo, hi)
            sun.data.angle = np.radians(rng.uniform(2, 40))
            sun.data.color = _kelvin_rgb(rng.uniform(3000, 7500))
            sun.rotation_euler = (np.radians(rng.uniform(-50, 50)), np.radians(rng.uniform(-60, 60)), 0.0)
        bg = self.world.node_tree.nodes["Background"]
        bg.inputs["Color"].default_value = (*_kelvin_rgb(rng.uniform(4000, 9000)), 1.0)
        bg.inputs["Strength"].default_value = rng.uniform(0.2, 0.8)
        self.noise.inputs["Scale"].default_value = rng.uniform(0.3, 1.5)
        self.bsdf.inputs["Roughness"].default_value = rng.uniform(0.35, 0.65)
        raw = path.with_name(path.name + "_rgba.png")
        self.scene.render.filepath = str(raw)
        bpy.ops.render.render(write_still=True)
        rgba = cv2.imread(str(raw), cv2.IMREAD_UNCHANGED)  # 16-bit, display (sRGB) values
        raw.unlink()
        rgba = np.concatenate([rgba[..., 2::-1], rgba[..., 3:4]], -1).astype(np.float32) / 65535.0
        img = camera_effects(rgba, rng)
        cv2.imwrite(
            str(path.with_suffix(".jpg")), cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 100]
        )
        return img


class _Palette:
    """render_ict's vertex colours for any skin and iris colour without redoing its per-vertex masks: each vertex's
    colour there is a constant, a multiple of the skin colour or the iris colour, so three probes give it exactly."""

    def __init__(self, model, basis, eyes):
        from .render_ict import _colours

        z = np.zeros(3)
        self.base = _colours(model, basis, eyes, z, z)
        self.skin = _colours(model, basis, eyes, np.ones(3), z) - self.base
        self.iris = _colours(model, basis, eyes, z, np.ones(3)) - self.base

    def __call__(self, skin: np.ndarray, iris: np.ndarray) -> np.ndarray:
        out = self.base.copy()
        out[:, :3] += self.skin[:, :3] * skin + self.iris[:, :3] * iris
        return out


def check_draws(folder: Path, n: int) -> None:
    """Cached renders must be the faces draw_samples gives now: the held-out set never moves silently (a change of
    the expression prior in data/synth.py would otherwise leave old images under new expectations)."""
    labels = np.load(folder / "labels.npz")
    now = np.array([s.weights for s in draw_samples(n, labels["ids"].shape[1])], np.float32)
    if not np.array_equal(now, labels["weights"]):
        raise RuntimeError(
            f"{folder}: the cached held-out renders were drawn from another expression prior than "
            "model_training/data/synth.py's current one; delete the folder to render the set again"
        )


def render_dir(style: str, n: int, size: int) -> Path:
    return CACHE / f"{style}_n{n}_s{size}"


def render_set(style: str, n: int, size: int | None = None, log=print) -> Path:
    """Render (or reuse) n held-out faces in a style; labels.npz beside the images."""
    from ..data.ict_facekit import EYEBALL_LEFT, EYEBALL_RIGHT, arkit_to_ict_matrix, load_ict
    from ..data.landmark_embedding import LandmarkBasis, embed
    from ..data.synth import _rotation, gaze_angles

    size = size or DEFAULT_SIZE[style]
    out = render_dir(style, n, size)
    if (out / "labels.npz").is_file():
        check_draws(out, n)
        return out
    out.mkdir(parents=True, exist_ok=True)
    model = load_ict()
    emb = embed(model)
    basis = LandmarkBasis.build(model, emb)
    a2i = arkit_to_ict_matrix(model.expr_names)
    samples = draw_samples(n, model.id_deltas.shape[0])
    palette = _Palette(model, basis, emb.eyes)
    look_rng = np.random.default_rng(HELDOUT_SEED + 1)  # skin and iris colours: same per sample in both styles
    scene = _Scene(style, size, model, HELDOUT_SEED)
    rec = {k: [] for k in ("weights", "ids", "pose", "cam", "ideal")}
    t0 = time.perf_counter()
    for i, s in enumerate(samples):
        w = s.weights
        verts = model.neutral + np.tensordot(s.ids, model.id_deltas, 1) + np.tensordot(w @ a2i, model.expr_deltas, 1)
        gaze = gaze_angles(w[None])[0]
        lm = basis.landmarks(s.ids[None], (w @ a2i)[None], gaze[None])[0]
        for e, (r0, r1) in enumerate((EYEBALL_RIGHT, EYEBALL_LEFT)):
            c = basis.eye_centre[e] + np.tensordot(s.ids, basis.eye_id[:, e], 1)
            rot = _rotation(np.array([gaze[e][0]]), np.array([gaze[e][1]]), np.array([0.0]))[0]
            verts[r0:r1] = (verts[r0:r1] - c) @ rot.T + c
        rot = _rotation(*np.radians(s.pose)[:, None])[0]
        pivot = lm[:468].mean(0) + np.array([0, 0, -6.0])
        f = size / (2 * np.tan(s.fov / 2))
        dist = f * 15.0 / (s.face_frac * size)
        shift = s.shift * size * dist / f
        world_v = (verts - pivot) @ rot.T + np.array([shift[0], shift[1], -dist])
        world_lm = (lm - pivot) @ rot.T + np.array([shift[0], shift[1], -dist])
        skin = np.array([look_rng.uniform(0.45, 0.95), 0, 0])
        skin[1] = skin[0] * look_rng.uniform(0.62, 0.8)
        skin[2] = skin[1] * look_rng.uniform(0.7, 0.9)
        iris_rgb = look_rng.uniform(0.05, 0.45, 3) * np.array([1.0, 0.8, 0.6])
        scene.render(world_v, palette(skin, iris_rgb), s.fov, out / f"{i:04d}")
        zc = -world_lm[:, 2]
        ideal = np.stack(
            [f * world_lm[:, 0] / zc + size / 2, -f * world_lm[:, 1] / zc + size / 2, (zc - dist) * f / dist], 1
        )
        rec["weights"].append(w)
        rec["ids"].append(s.ids)
        rec["pose"].append(s.pose)
        rec["cam"].append([f, dist, size])
        rec["ideal"].append(ideal)
        if (i + 1) % 20 == 0 and log:
            log(f"{style}: {i + 1}/{n} rendered, {(time.perf_counter() - t0) / (i + 1):.2f} s per image")
    seconds = time.perf_counter() - t0
    np.savez_compressed(out / "labels.npz", **{k: np.asarray(v, np.float32) for k, v in rec.items()})
    (out / "render.json").write_text(json.dumps({"style": style, "n": n, "size": size, "seconds": seconds}))
    if log:
        log(f"{style}: {n} renders in {seconds:.0f}s ({seconds / n:.2f} s per image) -> {out}")
    return out


def image_paths(folder: Path, n: int) -> list[Path]:
    return [next(p for p in (folder / f"{i:04d}.png", folder / f"{i:04d}.jpg") if p.is_file()) for i in range(n)]


def cached_n(style: str, size: int | None = None) -> int | None:
    """The largest complete held-out set of a style already rendered (what `make heldout-renders` left), or None."""
    size = size or DEFAULT_SIZE[style]
    done = [int(p.parent.name.split("_n")[1].split("_s")[0]) for p in CACHE.glob(f"{style}_n*_s{size}/labels.npz")]
    return max(done) if done else None


def load_render_set(style: str, n: int | None = None, size: int | None = None, log=print) -> dict[str, np.ndarray]:
    """Labels plus both front-ends on the held-out renders (rendering and running them once, then cached):
    weights (N, 52), ours (N, 478, 3), ours_found, mp_blendshapes (N, 52), mp_landmarks, mp_found, ideal."""
    from ..data.real_faces import frontend_key, process_photos

    n = n or cached_n(style, size) or DEFAULT_N
    folder = render_set(style, n, size, log=log)
    cache = CACHE / frontend_key() / f"{folder.name}.npz"
    if not cache.is_file():
        t0 = time.perf_counter()
        data = process_photos(image_paths(folder, n))
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cache, **data)
        if log:
            log(f"{style}: both front-ends on {n} renders in {time.perf_counter() - t0:.0f}s")
    data = dict(np.load(cache))
    labels = dict(np.load(folder / "labels.npz"))
    return {**labels, **data, "style": np.array(style)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Render the held-out ICT sets and run both front-ends on them.")
    ap.add_argument("--style", choices=STYLES, nargs="+", default=list(STYLES))
    ap.add_argument("--n", type=int, default=None, help=f"renders per style (default {DEFAULT_N}; full {FULL_N})")
    ap.add_argument("--size", type=int, default=None, help=f"image size (default {DEFAULT_SIZE})")
    args = ap.parse_args(argv)
    for style in args.style:
        d = load_render_set(style, args.n, args.size)
        print(
            f"{style}: {len(d['weights'])} renders, ours found {d['ours_found'].mean():.1%}, MediaPipe {d['mp_found'].mean():.1%}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
