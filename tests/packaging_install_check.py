"""Run in a FRESH Python process with bpy: install a Facsimile extension zip the way Blender does, use it, remove it.

    BLENDER_USER_RESOURCES=<empty tmp folder> python tests/packaging_install_check.py ZIP RESULT_JSON \
        [--photo PHOTO] [--video VIDEO] [--skin]

It installs with bpy.ops.extensions.package_install_files (Blender's Install from Disk / drag and drop operator) into
the user_default repository, enables the add-on, loads every shipped model from the installed copy, applies PHOTO to
the demo character, bakes VIDEO onto it, skins a pose of the demo body into a PC2 cache (--skin) and compares it with
Blender's own Armature modifier, then disables and uninstalls it. Run in a fresh venv holding only bpy, every module
the add-on uses must come from Blender, the extension or its bundled wheels. Facts (not verdicts) go to RESULT_JSON
so tests/test_packaging.py makes the assertions; a step that raises records its traceback and stops there.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
import traceback
from pathlib import Path

PKG_ID = "facsimile"
REPO_MODULE = "user_default"
MODULE = f"bl_ext.{REPO_MODULE}.{PKG_ID}"


def _blender_compat():
    """The add-on's blender_compat.py, loaded by path under another name: its install/uninstall helpers are the one
    implementation, and nothing is imported as `blender_addon` (the check proves the repository is never imported)."""
    path = Path(__file__).resolve().parent.parent / "blender_addon" / "host" / "blender_compat.py"
    spec = importlib.util.spec_from_file_location("facsimile_install_check_compat", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _files_under(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir())


def _run_bundled_wheels(site: Path, models: Path) -> dict:
    """Import the wheels Blender installed, in an isolated Python that sees only them and numpy (as in Blender).

    In this bpy-as-a-module setup the venv's own onnxruntime would win the import inside this process, so the
    bundled copies are proven in a child process with no site-packages but the extension's and a numpy-only folder.
    """
    import subprocess
    import tempfile

    import numpy

    numpy_dir = Path(numpy.__file__).parent
    with tempfile.TemporaryDirectory() as only_numpy:
        for src in (numpy_dir, numpy_dir.parent / "numpy.libs"):
            if src.exists():
                os.symlink(src, Path(only_numpy) / src.name)
        model = sorted(models.glob("*.onnx"))[0]
        code = (
            "import sys, json; sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
            "import numpy as np, onnxruntime as ort, cv2\n"
            "s = ort.InferenceSession(sys.argv[3], providers=['CPUExecutionProvider'])\n"
            "i = s.get_inputs()[0]\n"
            "shape = [d if isinstance(d, int) else 1 for d in i.shape]\n"
            "out = s.run(None, {i.name: np.zeros(shape, np.float32)})\n"
            "print(json.dumps({'onnxruntime': ort.__file__, 'cv2': cv2.__file__, 'outputs': len(out),"
            " 'providers': ort.get_available_providers()}))\n"
        )
        proc = subprocess.run(
            [sys.executable, "-I", "-S", "-c", code, str(site), only_numpy, str(model)],
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        return {"error": proc.stderr[-2000:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _key_frames(obj) -> dict[str, int]:
    """Shape-key name -> keyframe count, read through the installed add-on's blender_compat (slotted actions)."""
    compat = importlib.import_module(f"{MODULE}.host.blender_compat")
    out = {}
    for fc in compat.assigned_fcurves(obj.data.shape_keys):
        if fc.data_path.startswith('key_blocks["'):
            out[fc.data_path[len('key_blocks["') : fc.data_path.index('"]')]] = len(fc.keyframe_points)
    return out


def _select_only(bpy, obj) -> None:
    for other in bpy.context.view_layer.objects:
        other.select_set(False)
    bpy.context.view_layer.objects.active = obj
    obj.select_set(True)


def _skin(bpy, demo, character, out_dir: Path) -> dict:
    """Key one body pose, bake it to PC2 with the installed add-on's operator, and compare with Blender's modifier."""
    import numpy as np

    pc2 = importlib.import_module(f"{MODULE}.core.formats.pc2")
    frame = 4
    demo.animate_demo_body(character.rig, ("smile",), np.array([frame - 1]), end_frame=frame + 4)
    body = character.body
    _select_only(bpy, body)
    path = out_dir / "pose.pc2"
    ret = bpy.ops.facsimile.lbs_bake_pc2(
        filepath=str(path), source="ACTION", frame_start=frame, frame_end=frame, device="cpu", attach=False
    )
    header, samples = pc2.read_pc2(path)
    scene = bpy.context.scene
    scene.frame_set(frame)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    evaluated = body.evaluated_get(depsgraph)
    mesh = evaluated.to_mesh()
    blender = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", blender)
    evaluated.to_mesh_clear()
    rest = np.empty(len(body.data.vertices) * 3, np.float32)
    body.data.vertices.foreach_get("co", rest)
    blender, rest = blender.reshape(-1, 3), rest.reshape(-1, 3)
    return {
        "result": sorted(ret),
        "samples": int(header.num_samples),
        "vertices": int(samples.shape[1]),
        "body_vertices": len(rest),
        "max_diff_vs_blender": float(np.abs(samples[0] - blender).max()),
        "max_pose_displacement": float(np.abs(blender - rest).max()),
        "bbox_diagonal": float(np.linalg.norm(rest.max(0) - rest.min(0))),
    }


def run(zip_path: str, photo: str, video: str, skin: bool, res: dict) -> None:
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    prefs = bpy.context.preferences
    ext_root = Path(bpy.utils.user_resource("EXTENSIONS"))
    repo_dir = ext_root / REPO_MODULE
    res["extensions_root"] = str(ext_root)
    res["repo_dir"] = str(repo_dir)
    res["files_before"] = _files_under(repo_dir)
    types_before = set(dir(bpy.types))
    scene_props_before = {p.identifier for p in bpy.types.Scene.bl_rna.properties}
    object_props_before = {p.identifier for p in bpy.types.Object.bl_rna.properties}

    res["step"] = "install"
    compat = _blender_compat()
    res["install"] = sorted(compat.install_extension(zip_path, repo=REPO_MODULE, enable=True))
    res["enabled"] = MODULE in prefs.addons
    package = sys.modules.get(MODULE)
    res["package_file"] = getattr(package, "__file__", None)
    res["installed_files"] = _files_under(repo_dir / PKG_ID)
    res["registered_types"] = sorted(set(dir(bpy.types)) - types_before)
    site = ext_root / ".local" / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    res["wheel_site_packages"] = sorted(p.name for p in site.iterdir()) if site.is_dir() else []
    res["wheel_site_on_path"] = str(site) in sys.path
    res["operators"] = sorted(op for op in dir(bpy.ops.facsimile)) if hasattr(bpy.ops, "facsimile") else []

    res["step"] = "models"
    store = importlib.import_module(f"{MODULE}.core.models.store")
    onnx_session = importlib.import_module(f"{MODULE}.core.models.onnx_session")
    folder = store.models_dir()
    res["models_dir"] = str(folder)
    loaded = {}
    for name in sorted(store.read_manifest(folder)["models"]):
        if not name.endswith(".onnx"):  # data files (the shape-key generator's ICT data): checked and loaded
            keygen = importlib.import_module(f"{MODULE}.core.keygen.ict_data")
            data = keygen.load_model()
            loaded[name] = {"inputs": [], "device": "none", "vertices": len(data.neutral)}
            continue
        session, info = onnx_session.create_session(store.verified_model_path(name), "cpu")
        loaded[name] = {"inputs": [i.name for i in session.get_inputs()], "device": info.device}
    res["models_loaded"] = loaded
    res["onnxruntime_file"] = sys.modules["onnxruntime"].__file__
    build_info = importlib.import_module(f"{MODULE}.core.models.build_info")
    build = build_info.runtime_build()
    res["runtime_build"] = {"distribution": build.distribution, "cuda": build.is_cuda_build, "line": build.summary()}

    if res["wheel_site_packages"]:
        res["step"] = "bundled_wheels"
        res["bundled_wheels_run"] = _run_bundled_wheels(site, folder)

    res["step"] = "photo"
    character = demo = None
    try:
        demo = importlib.import_module(f"{MODULE}.demo.character")
        character = demo.build_demo_character(with_body=skin)
        obj = character.head
        _select_only(bpy, obj)
        bpy.context.scene.facsimile.target = obj
        keys = obj.data.shape_keys.key_blocks
        if photo:
            before = {k.name: k.value for k in keys}
            ret = bpy.ops.facsimile.apply_photo(filepath=photo)
            after = {k.name: k.value for k in keys}
            res["photo"] = {
                "result": sorted(ret),
                "object": obj.name,
                "shape_keys": len(keys),
                "changed": sorted(n for n in after if abs(after[n] - before.get(n, 0.0)) > 1e-4),
                "values": after,
                "module_file": sys.modules[f"{MODULE}.ui.operators"].__file__,
            }
        else:
            res["photo"] = {"skipped": "no photo given"}
    except Exception:  # recorded, and the add-on is still disabled and removed below
        res["photo"] = {"error": traceback.format_exc()}

    if video and character is not None:
        res["step"] = "video"
        try:
            st = bpy.context.scene.facsimile
            st.start_frame = 1
            ret = bpy.ops.facsimile.bake_clip(filepath=video, synchronous=True)
            res["video"] = {"result": sorted(ret), "key_frames": _key_frames(character.head), "report": st.last_report}
        except Exception:
            res["video"] = {"error": traceback.format_exc()}

    if skin and character is not None:
        res["step"] = "skin"
        try:
            res["skin"] = _skin(bpy, demo, character, Path(zip_path).parent)
        except Exception:
            res["skin"] = {"error": traceback.format_exc()}

    # Where every third-party module the add-on used came from (the bundled wheels in a fresh venv).
    res["modules_used"] = {
        name: getattr(sys.modules.get(name), "__file__", None) for name in ("onnxruntime", "cv2", "numpy")
    }
    res["forbidden_loaded"] = sorted(
        k for k in sys.modules if k.split(".")[0] in {"onnx", "torch", "mediapipe", "skimage", "scipy"}
    )

    res["step"] = "disable"
    bpy.ops.preferences.addon_disable(module=MODULE)
    res["types_after_disable"] = sorted(set(dir(bpy.types)) - types_before)
    res["scene_props_after_disable"] = sorted(
        {p.identifier for p in bpy.types.Scene.bl_rna.properties} - scene_props_before
    )
    res["object_props_after_disable"] = sorted(
        {p.identifier for p in bpy.types.Object.bl_rna.properties} - object_props_before
    )

    res["step"] = "uninstall"
    res["uninstall"] = sorted(compat.uninstall_extension(PKG_ID, repo=REPO_MODULE))
    res["addon_left"] = MODULE in prefs.addons
    res["files_left"] = [f for f in _files_under(ext_root) if not f.startswith(".cache/")]
    res["repo_checkout_imported"] = sorted(k for k in sys.modules if k.split(".")[0] == "blender_addon")
    res["step"] = "done"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("zip")
    parser.add_argument("result")
    parser.add_argument("--photo", default="")
    parser.add_argument("--video", default="")
    parser.add_argument("--skin", action="store_true")
    args = parser.parse_args()
    if not os.environ.get("BLENDER_USER_RESOURCES"):
        print("set BLENDER_USER_RESOURCES to an empty temporary folder", file=sys.stderr)
        return 2
    res: dict = {"python": list(sys.version_info[:3])}
    try:
        import bpy

        res["blender"] = list(bpy.app.version)
        run(args.zip, args.photo, args.video, args.skin, res)
    except Exception:
        res["error"] = traceback.format_exc()
    Path(args.result).write_text(json.dumps(res, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
