"""Run in a FRESH Python process with bpy: install a Facsimile extension zip the way Blender does, use it, remove it.

    BLENDER_USER_RESOURCES=<empty tmp folder> python tests/packaging_install_check.py ZIP RESULT_JSON [PHOTO]

It installs with bpy.ops.extensions.package_install_files (Blender's Install from Disk / drag and drop operator) into
the user_default repository, enables the add-on, loads every shipped model from the installed copy, applies PHOTO to
the demo character when the add-on has both, then disables and uninstalls it. Facts (not verdicts) go to RESULT_JSON
so tests/test_packaging.py makes the assertions; a step that raises records its traceback and stops there.
"""

from __future__ import annotations

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


def run(zip_path: str, photo: str, res: dict) -> None:
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
    ret = bpy.ops.extensions.package_install_files(filepath=zip_path, repo=REPO_MODULE, enable_on_install=True)
    res["install"] = sorted(ret)
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

    if res["wheel_site_packages"]:
        res["step"] = "bundled_wheels"
        res["bundled_wheels_run"] = _run_bundled_wheels(site, folder)

    res["step"] = "photo"
    try:
        has_demo = importlib.util.find_spec(f"{MODULE}.demo.character") is not None
        demo = importlib.import_module(f"{MODULE}.demo.character") if has_demo else None
        builder = getattr(demo, "build_demo_character", None) if demo else None
        if demo is None:
            res["photo"] = {"skipped": "the add-on has no demo.character module"}
        elif builder is None:
            res["photo"] = {"skipped": "demo_character has no build_demo_character() function"}
        elif "apply_photo" not in res["operators"]:
            res["photo"] = {"skipped": "the enabled add-on registers no facsimile.apply_photo operator"}
        elif not photo:
            res["photo"] = {"skipped": "no photo given"}
        else:
            obj = builder(with_body=False).head
            for other in bpy.context.view_layer.objects:
                other.select_set(False)
            bpy.context.view_layer.objects.active = obj
            obj.select_set(True)
            if hasattr(bpy.context.scene, "facsimile"):
                bpy.context.scene.facsimile.target = obj
            keys = obj.data.shape_keys.key_blocks
            before = {k.name: k.value for k in keys}
            ret = bpy.ops.facsimile.apply_photo(filepath=photo)
            after = {k.name: k.value for k in keys}
            res["photo"] = {
                "result": sorted(ret),
                "object": obj.name,
                "shape_keys": len(keys),
                "changed": sorted(n for n in after if abs(after[n] - before.get(n, 0.0)) > 1e-4),
                "values": after,
                "module_file": sys.modules[f"{MODULE}.operators"].__file__,
            }
    except Exception:  # recorded, and the add-on is still disabled and removed below
        res["photo"] = {"error": traceback.format_exc()}

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
    repo_index = [r.module for r in prefs.extensions.repos].index(REPO_MODULE)
    ret = bpy.ops.extensions.package_uninstall(repo_index=repo_index, pkg_id=PKG_ID)
    res["uninstall"] = sorted(ret)
    res["addon_left"] = MODULE in prefs.addons
    res["files_left"] = [f for f in _files_under(ext_root) if not f.startswith(".cache/")]
    res["repo_checkout_imported"] = sorted(k for k in sys.modules if k.split(".")[0] == "blender_addon")
    res["step"] = "done"


def main() -> int:
    zip_path, result_path = sys.argv[1], sys.argv[2]
    photo = sys.argv[3] if len(sys.argv) > 3 else ""
    if not os.environ.get("BLENDER_USER_RESOURCES"):
        print("set BLENDER_USER_RESOURCES to an empty temporary folder", file=sys.stderr)
        return 2
    res: dict = {}
    try:
        run(zip_path, photo, res)
    except Exception:
        res["error"] = traceback.format_exc()
    Path(result_path).write_text(json.dumps(res, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
