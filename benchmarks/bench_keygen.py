"""Benchmark: generated ARKit shape keys against artist-made ones, and the time of a whole run.

Heads:
- MakeHuman base mesh (19,158 vertices, CC0; ../shared/data/makehuman_arkit) with its hand-made ARKit targets (MIT):
  the whole body mesh as MakeHuman writes it (Y up, facing +Z, decimetres: a body lying on its back in Blender),
  eyes and teeth as separate meshes. Its keys are generated with `--landmarks auto` and compared per key over the face
  vertices of the skin (vertices the artist's keys or ours move): cosine similarity of the displacement fields and
  relative error |gen - ref| / |ref|. The artist's eyeLook* targets also turn the eye meshes: compared separately.
- The demo character's head (blender_addon.demo), its 52 keys removed then generated, compared over its skin part.
- A glTF character from ../shared/data/mocap/models (no reference keys: quality checks only).
One contact sheet shows every key of every head (neutral first).

    .venv/bin/python benchmarks/bench_keygen.py [--out out/keygen] [--heads makehuman,demo,gltf] [--no-sheet]

Targets (issue 14): median cosine >= 0.8 over the 52 keys, every eye and jaw key >= 0.7, eyeBlink gap <= 10% of
rest, the whole MakeHuman run < 60 s on 2 cores. Timings are of this run on this machine; the reference for "fast" is
the 60 s budget, printed beside ours.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
SHARED = Path(os.environ.get("FACSIMILE_SHARED", ROOT.parent / "shared")) / "data"

EYE_JAW = lambda n: n.startswith(("eye", "jaw"))  # noqa: E731


def _keys_array(obj, names) -> np.ndarray:
    from blender_addon.scene.keygen_blender import rest_coords

    rest = rest_coords(obj)
    out = np.zeros((len(names), len(rest), 3), np.float32)
    n = len(rest)
    for k, name in enumerate(names):
        co = np.empty(n * 3, np.float32)
        obj.data.shape_keys.key_blocks[name].data.foreach_get("co", co)
        out[k] = co.reshape(n, 3) - rest
    return out


def _summary(label: str, cos: np.ndarray, rel: np.ndarray, names) -> dict:
    eyejaw = [i for i, n in enumerate(names) if EYE_JAW(n)]
    k51 = [i for i, n in enumerate(names) if n != "tongueOut"]
    worst = eyejaw[int(np.argmin(cos[eyejaw]))]
    s = {
        "median_cos_52": float(np.median(cos)),
        "median_cos_51_no_tongue": float(np.median(cos[k51])),
        "median_rel": float(np.median(rel[k51])),
        "min_eye_jaw_cos": float(cos[worst]),
        "min_eye_jaw_key": names[worst],
        "eye_jaw_below_0.7": [names[i] for i in eyejaw if cos[i] < 0.7],
    }
    print(
        f"{label}: median cosine {s['median_cos_52']:.3f} over 52 keys ({s['median_cos_51_no_tongue']:.3f} without "
        f"tongueOut; target >= 0.8), median relative error {s['median_rel']:.3f}, worst eye/jaw key "
        f"{s['min_eye_jaw_key']} {s['min_eye_jaw_cos']:.3f} (target >= 0.7); eye/jaw keys below 0.7: "
        f"{len(s['eye_jaw_below_0.7'])}"
    )
    return s


def bench_makehuman(out: Path):
    import bpy
    from keygen_fixtures import build_object, build_subset, load_makehuman

    from blender_addon.core.arkit import ARKIT_NAMES
    from blender_addon.core.keygen.quality import compare
    from blender_addon.usecases.keys import KeysOptions, generate_keys

    bpy.ops.wm.read_factory_settings(use_empty=True)
    v, f, ref, helpers = load_makehuman(SHARED / "makehuman_arkit")
    head = build_object("MakeHuman", v, f)
    eyes, eye_ids = zip(
        *(build_subset(n, v, helpers[g]) for n, g in (("EyeL", "helper-l-eye"), ("EyeR", "helper-r-eye"))),
        strict=True,
    )
    teeth, teeth_ids = build_subset("Teeth", v, helpers["helper-lower-teeth"] + helpers["helper-upper-teeth"])
    t = time.perf_counter()
    rep = generate_keys(head, KeysOptions(eyes=("EyeL", "EyeR"), teeth="Teeth"))
    wall = time.perf_counter() - t
    gen = _keys_array(head, ARKIT_NAMES)
    skin = np.zeros(len(v), bool)
    skin[np.unique(np.concatenate([np.asarray(q) for q in f]))] = True
    moved = (np.abs(ref).max(-1).max(0) > 1e-6) | (np.abs(gen).max(-1).max(0) > 1e-6)
    mask = skin & moved
    cos, rel = compare(gen, ref, mask)
    print(f"MakeHuman: {len(v)} vertices, {int(mask.sum())} face vertices compared; generate_keys {wall:.1f} s "
          f"(budget 60 s): {', '.join(f'{k} {s:.1f} s' for k, s in rep.seconds.items())}")  # fmt: skip
    for i, n in enumerate(ARKIT_NAMES):
        c = rep.checks[i]
        print(f"  {n:20s} cos {cos[i]:6.3f} rel {rel[i]:5.2f} {'ok' if c.ok else 'CHECK'} {c.checks or ''}")
    s = _summary("MakeHuman", cos, rel, ARKIT_NAMES)
    s["socket_lining"] = _socket_lining(v, eye_ids, mask, rep.face_frame, gen, ref)
    blinks = {c.name: c.checks.get("gap_ratio") for c in rep.checks if c.name.startswith("eyeBlink")}
    print(f"MakeHuman eyeBlink gap left after the blink (fraction of rest, target <= 0.10): {blinks}")
    # Eye meshes: our rigid turns against the artist's eyeLook targets on the eye vertices.
    eye_keys = [i for i, n in enumerate(ARKIT_NAMES) if n.startswith("eyeLook")]
    eye_gen = np.zeros_like(ref[eye_keys])
    for e, ids in zip(eyes, eye_ids, strict=True):
        eye_gen[:, ids] = _keys_array(e, [ARKIT_NAMES[i] for i in eye_keys])
    emask = np.zeros(len(v), bool)
    emask[np.concatenate(eye_ids)] = True
    ecos, _ = compare(eye_gen, ref[eye_keys], emask)
    print(
        "MakeHuman eye meshes, eyeLook* cosine: "
        + ", ".join(f"{ARKIT_NAMES[i]} {c:.2f}" for i, c in zip(eye_keys, ecos, strict=True))
    )
    # The whole face rig: skin + the eye and teeth meshes the command keyed, against the artist's keys on the same.
    full = gen.copy()
    for o, ids in ((eyes[0], eye_ids[0]), (eyes[1], eye_ids[1]), (teeth, teeth_ids)):
        full[:, ids] = _keys_array(o, ARKIT_NAMES)
    rig = skin.copy()
    for ids in (*eye_ids, teeth_ids):
        rig[ids] = True
    rig &= (np.abs(ref).max(-1).max(0) > 1e-6) | (np.abs(full).max(-1).max(0) > 1e-6)
    fcos, frel = compare(full, ref, rig)
    tmask = np.zeros(len(v), bool)
    tmask[teeth_ids] = True
    tcos, _ = compare(full, ref, tmask)
    jaw = [i for i, n in enumerate(ARKIT_NAMES) if n.startswith("jaw")]
    print("MakeHuman teeth mesh, jaw keys cosine: " + ", ".join(f"{ARKIT_NAMES[i]} {tcos[i]:.2f}" for i in jaw))
    s["skin_eyes_teeth"] = _summary("MakeHuman skin + eye and teeth meshes", fcos, frel, ARKIT_NAMES)
    s.update(seconds=wall, per_key={n: [float(cos[i]), float(rel[i])] for i, n in enumerate(ARKIT_NAMES)},
             blink_gap=blinks, eye_mesh_cos=[float(c) for c in ecos], failed_checks=[c.name for c in rep.checks if not c.ok])  # fmt: skip
    return s, [head, *eyes, teeth], rep


def _socket_lining(v, eye_ids, mask, frame, gen, ref) -> dict:
    """Where the gap lies: the skin that lines the eye sockets behind the eyeballs (within 1.1 radii of an eye mesh's
    sphere, behind its front third; no render sees it) carries much of the artist's eye and brow motion, which the
    transfer leaves still (it lies beyond the falloff from the ICT face). A diagnostic, not the target figure."""
    from blender_addon.core.arkit import ARKIT_NAMES
    from blender_addon.core.keygen.pipeline import sphere_fit
    from blender_addon.core.keygen.quality import compare

    _, forward, _, iod = frame  # the body is not moved: world = object space
    lining = np.zeros(len(v), bool)
    for ids in eye_ids:
        fit = sphere_fit(v[ids], iod)
        if fit is None:
            return {}
        c, r, _ = fit
        lining |= (np.linalg.norm(v - c, axis=1) < 1.1 * r) & ((v - c) @ forward < 0.3 * r)
    lining &= mask
    e_ref = (ref[:, mask] ** 2).sum((1, 2))
    share = (ref[:, lining] ** 2).sum((1, 2)) / np.maximum(e_ref, 1e-30)
    cos_out, _ = compare(gen, ref, mask & ~lining)
    top = np.argsort(-share)[:6]
    print(
        f"MakeHuman socket lining ({int(lining.sum())} skin vertices hidden behind the eyeballs): share of the artist's "
        "motion there: "
        + ", ".join(f"{ARKIT_NAMES[i]} {share[i]:.0%}" for i in top)
        + f"; ours there at most {np.abs(gen[:, lining]).max():.3g}; median cosine over the skin without them "
        f"{np.median(cos_out):.3f} (diagnostic, not the target)"
    )
    return {"vertices": int(lining.sum()), "share": {ARKIT_NAMES[i]: float(share[i]) for i in top},
            "median_cos_without": float(np.median(cos_out))}  # fmt: skip


def bench_demo():
    import bpy

    from blender_addon.core.arkit import ARKIT_NAMES
    from blender_addon.core.keygen.quality import compare
    from blender_addon.demo.character import build_demo_character
    from blender_addon.demo.head import PART
    from blender_addon.usecases.keys import KeysOptions, generate_keys

    bpy.ops.wm.read_factory_settings(use_empty=True)
    ch = build_demo_character(with_body=False)
    head = ch.head
    head.shape_key_clear()
    ref = ch.head_geometry.deltas
    t = time.perf_counter()
    rep = generate_keys(head, KeysOptions())
    wall = time.perf_counter() - t
    gen = _keys_array(head, ARKIT_NAMES)
    skin = np.isin(ch.head_geometry.part, [PART[p] for p in PART if p == "skin" or p.startswith("lid_")])
    mask = skin & ((np.abs(ref).max(-1).max(0) > 1e-6) | (np.abs(gen).max(-1).max(0) > 1e-6))
    cos, rel = compare(gen, ref, mask)
    print(
        f"demo head: {len(skin)} vertices, {int(mask.sum())} skin and lid vertices compared; generate_keys {wall:.1f} s"
    )
    s = _summary("demo head", cos, rel, ARKIT_NAMES)
    s.update(seconds=wall, per_key={n: [float(cos[i]), float(rel[i])] for i, n in enumerate(ARKIT_NAMES)},
             failed_checks=[c.name for c in rep.checks if not c.ok])  # fmt: skip
    print(f"demo head quality checks failing: {s['failed_checks']}")
    return s, [head], rep


def bench_ict_sample():
    """ICT-FaceKit's own sample identity (all 100 modes; the generator ships 40) with eyeballs, in metres and Z up:
    an unseen face shape whose true expressions are known (ICT's deltas), reached through the whole auto path."""
    import bpy

    from blender_addon.core.arkit import ARKIT_NAMES
    from blender_addon.core.keygen.ict_data import ict_to_arkit
    from blender_addon.core.keygen.quality import compare
    from blender_addon.usecases.keys import KeysOptions, generate_keys

    bpy.ops.wm.read_factory_settings(use_empty=True)
    d = np.load(SHARED / "ict_facekit" / "ict_face_full_f16.npz")
    coeffs = np.asarray(json.loads((SHARED / "ict_facekit" / "sample_identity_coeffs.json").read_text())[
        "identity_coefficients"], np.float32)  # fmt: skip
    modes = d["id_deltas"].astype(np.float32)
    verts = d["neutral"] + np.tensordot(coeffs[: len(modes)], modes, axes=(0, 0))
    rot = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])
    verts = 0.01 * verts @ rot.T
    faces = d["faces"]
    objs = []
    for name, (p0, p1) in {"ICTHead": (0, 11144), "ICTEyeL": (21496, 23094), "ICTEyeR": (23094, 24692)}.items():
        f = faces[p0:p1]
        ids = np.unique(f[f >= 0])
        remap = np.full(len(verts), -1)
        remap[ids] = np.arange(len(ids))
        mesh = bpy.data.meshes.new(name)
        mesh.from_pydata(verts[ids].tolist(), [], [[int(remap[i]) for i in q if i >= 0] for q in f])
        obj = bpy.data.objects.new(name, mesh)
        bpy.context.scene.collection.objects.link(obj)
        objs.append((obj, ids))
    head, head_ids = objs[0]
    t = time.perf_counter()
    rep = generate_keys(head, KeysOptions(eyes=("ICTEyeL", "ICTEyeR")))
    wall = time.perf_counter() - t
    names = [str(n) for n in d["expr_names"]]
    ref = np.tensordot(ict_to_arkit(names), d["expr_deltas"].astype(np.float32), axes=(1, 0))[:, head_ids]
    ref = 0.01 * ref @ rot.T
    gen = _keys_array(head, ARKIT_NAMES)
    mask = (np.abs(ref).max(-1).max(0) > 1e-6) | (np.abs(gen).max(-1).max(0) > 1e-6)
    cos, rel = compare(gen, ref, mask)
    print(f"ICT sample identity: {len(head_ids)} vertices, {int(mask.sum())} compared; generate_keys {wall:.1f} s")
    s = _summary("ICT sample identity (truth: ICT's own deltas)", cos, rel, ARKIT_NAMES)
    s.update(seconds=wall, per_key={n: [float(cos[i]), float(rel[i])] for i, n in enumerate(ARKIT_NAMES)},
             failed_checks=[c.name for c in rep.checks if not c.ok])  # fmt: skip
    print(f"ICT sample quality checks failing: {s['failed_checks']}")
    return s, [o for o, _ in objs], rep


def bench_gltf(name: str):
    import bpy

    from blender_addon.core.errors import FacsimileError
    from blender_addon.usecases.keys import KeysOptions, generate_keys

    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_scene.gltf(filepath=str(SHARED / "mocap" / "models" / name))
    meshes = sorted((o for o in bpy.data.objects if o.type == "MESH"), key=lambda o: -len(o.data.vertices))
    head = meshes[0]
    t = time.perf_counter()
    try:
        rep = generate_keys(head, KeysOptions())
    except FacsimileError as exc:
        print(f"glTF {name} ('{head.name}', {len(head.data.vertices)} vertices): refused: {exc}")
        return {"error": str(exc)}, None, None
    wall = time.perf_counter() - t
    failed = [c.name for c in rep.checks if not c.ok]
    print(f"glTF {name} ('{head.name}', {len(head.data.vertices)} vertices): generate_keys {wall:.1f} s; "
          f"{rep.landmarks_used} landmarks kept; blink gaps "
          f"{[c.checks.get('gap_ratio') for c in rep.checks if c.name.startswith('eyeBlink')]}; failing checks {failed}")  # fmt: skip
    return {"seconds": wall, "failed_checks": failed}, [o for o in meshes], rep


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out/keygen")
    ap.add_argument("--heads", default="makehuman,demo,ict,gltf")
    ap.add_argument("--gltf", default="quaternius_human_male_m2m.glb")
    ap.add_argument("--no-sheet", action="store_true")
    ap.add_argument("--tile", type=int, default=160)
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    from blender_addon.core.arkit import ARKIT_NAMES
    from blender_addon.core.formats.image_io import write_png
    from blender_addon.demo.contact_sheet import make_contact_sheet
    from blender_addon.scene.keygen_blender import render_key_tiles

    results, tiles, labels = {}, [], []
    names = ("neutral", *ARKIT_NAMES)
    for head in a.heads.split(","):
        if head == "makehuman":
            s, objs, rep = bench_makehuman(out)
        elif head == "demo":
            s, objs, rep = bench_demo()
        elif head == "ict":
            s, objs, rep = bench_ict_sample()
        else:
            s, objs, rep = bench_gltf(a.gltf)
        results[head] = s
        if objs and not a.no_sheet:
            tiles += render_key_tiles(objs, rep.face_frame, names, size=a.tile)
            labels += [f"{head[:2]} {n}" for n in names]
            tiles.append(np.full_like(tiles[-1], 40))  # 53 + 1 blank = two rows of 27: each head on its own rows
            labels.append("")
    (out / "bench_keygen.json").write_text(json.dumps(results, indent=1))
    if tiles:
        sheet = make_contact_sheet([t[:, :, ::-1] for t in tiles], labels, cols=27)
        write_png(out / "keygen_contact_sheet.png", sheet)
        print(f"contact sheet: {out / 'keygen_contact_sheet.png'} ({len(tiles)} tiles)")


if __name__ == "__main__":
    main()
