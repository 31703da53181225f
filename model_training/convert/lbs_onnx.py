"""Write exported_models/lbs.onnx: the LBS deformer's graph (no learned weights), and record it in the manifest.

    python -m model_training.convert.lbs_onnx --out exported_models

The graph is built by blender_addon/core/body/lbs.py (build_lbs_onnx) with the `onnx` package, which the installed add-on
does not bundle; the add-on loads this file through core.models.store.verified_model_path.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from blender_addon.core.body import lbs
from blender_addon.core.models.specs import LBS
from blender_addon.core.models.store import record_model


def export(out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / LBS.file_name
    data = lbs.build_lbs_onnx(lbs.ONNX_MAX_BUCKETS, metadata=LBS.metadata())
    tmp = path.with_suffix(".onnx.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    record_model(path, opset=17, license="GPL-3.0-or-later", source="blender_addon/core/body/lbs.py build_lbs_onnx")
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="exported_models", type=Path)
    args = ap.parse_args()
    path = export(args.out)
    print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
