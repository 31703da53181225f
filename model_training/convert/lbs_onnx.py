"""Build and write exported_models/lbs.onnx: the LBS deformer's graph (no learned weights), and record it in the manifest.

    python -m model_training.convert.lbs_onnx --out exported_models

The graph is one dense matrix product over all poses at once (the GPU form, issue 11): weighted_rest (V, 4 (B+1))
times the bone matrices stacked as (4 (B+1), 3 P), reshaped and transposed to (P, V, 3). A GPU runs it at the speed of
its matrix units; the sparse block-gather form (kept as the numpy CPU kernel, core/body/lbs_kernel.py) moved 1.4 GB/s
on an H200. Graph construction needs the `onnx` package, which the installed add-on does not bundle, so it lives here;
the add-on loads the written file (core/body/lbs_onnx.py). Names and shapes come from the one contract,
core/models/specs.py `LBS`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from blender_addon.core.models.specs import LBS
from blender_addon.core.models.store import record_model

OPSET = 17


def build_lbs_onnx(opset: int = OPSET, metadata: dict[str, str] | None = None) -> bytes:
    """The dense LBS graph; every dimension is symbolic (any mesh, rig and pose count)."""
    import onnx
    from onnx import TensorProto, helper

    (rest_in, table_in), (out,) = (t.name for t in LBS.inputs), (t.name for t in LBS.outputs)

    def const(name: str, values: list[int]) -> onnx.NodeProto:
        return helper.make_node(
            "Constant", [], [name], value=helper.make_tensor(name, TensorProto.INT64, [len(values)], values)
        )

    nodes = [
        const("c_m1", [-1]),
        const("c_vp3", [0, -1, 3]),
        # (P, B1, 3, 4) -> (B1, 4, P, 3) -> (4 B1, 3 P): row = bone*4 + homogeneous coordinate, column = pose*3 + axis
        helper.make_node("Transpose", [table_in], ["t_bcpq"], perm=[1, 3, 0, 2]),
        helper.make_node("Shape", [rest_in], ["k4"], start=1, end=2),
        helper.make_node("Concat", ["k4", "c_m1"], ["shape_t"], axis=0),
        helper.make_node("Reshape", ["t_bcpq", "shape_t"], ["t"]),
        # the one product: (V, 4 B1) @ (4 B1, 3 P) -> (V, 3 P) -> (V, P, 3) -> (P, V, 3)
        helper.make_node("MatMul", [rest_in, "t"], ["vp3"]),
        helper.make_node("Reshape", ["vp3", "c_vp3"], ["vpc"]),
        helper.make_node("Transpose", ["vpc"], [out], perm=[1, 0, 2]),
    ]
    shapes = {t.name: [d if isinstance(d, int) else str(d) for d in t.shape] for t in (*LBS.inputs, *LBS.outputs)}
    graph = helper.make_graph(
        nodes,
        "facsimile_lbs_dense",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, shapes[n]) for n in (rest_in, table_in)],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, shapes[out])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="facsimile")
    model.ir_version = min(model.ir_version, 10)
    helper.set_model_props(model, metadata or LBS.metadata())
    onnx.checker.check_model(model)
    return model.SerializeToString()


def export(out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / LBS.file_name
    data = build_lbs_onnx(metadata=LBS.metadata())
    tmp = path.with_suffix(".onnx.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    record_model(path, opset=OPSET, license="GPL-3.0-or-later", source="model_training/convert/lbs_onnx.py")
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
