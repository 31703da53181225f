"""Build and write exported_models/lbs.onnx: the LBS deformer's graph (no learned weights), and record it in the manifest.

    python -m model_training.convert.lbs_onnx --out exported_models

Graph construction needs the `onnx` package, which the installed add-on does not bundle, so it lives here; the add-on
loads the written file (core/body/lbs_onnx.py through core.models.store.verified_model_path). Input and output names
and the bucket count come from the one contract, core/models/specs.py `LBS`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from blender_addon.core.models.specs import LBS, LBS_BUCKETS
from blender_addon.core.models.store import record_model

OPSET = 17


def lbs_onnx_inputs(buckets: int) -> tuple[str, ...]:
    """Input names of the graph with `buckets` bone-count buckets."""
    names = []
    for i in range(buckets):
        names += [f"blocks_{i}", f"bones_{i}"]
    return (*names, "inverse_order", "bone_table")


def build_lbs_onnx(buckets: int = LBS_BUCKETS, opset: int = OPSET, metadata: dict[str, str] | None = None) -> bytes:
    """The LBS graph for bindings with `buckets` bone-count buckets; every dimension is symbolic.

    Inputs: per bucket i, blocks_i (C_i, chunk, 4 J_i) float32 and bones_i (C_i, J_i) int64; inverse_order (V,)
    int64; bone_table (P, B+1, 3, 4) float32. Output: vertices (P, V, 3) float32. The graph depends only on the
    bucket count (not on the mesh, rig or pose count), so it is built in memory at run time rather than shipped.
    Each bucket is one batched MatMul of its chunks' blocks with their gathered bone matrices; a bucket may be empty
    (zero chunks). Needs the `onnx` package (export time: model_training/export_lbs_onnx.py writes exported_models/
    lbs.onnx); the add-on loads the shipped file.
    """
    import onnx
    from onnx import TensorProto, helper

    def const(name: str, values: list[int]) -> onnx.NodeProto:
        return helper.make_node(
            "Constant", [], [name], value=helper.make_tensor(name, TensorProto.INT64, [len(values)], values)
        )

    nodes = [
        const("c_m1", [-1]),
        const("c_3", [3]),
        const("c_4", [4]),
        # (P, B1, 3, 4) -> (B1, 4, P, 3) -> (B1, 4, P*3)
        helper.make_node("Transpose", ["bone_table"], ["t_bcpq"], perm=[1, 3, 0, 2]),
        helper.make_node("Shape", ["bone_table"], ["shape_p"], start=0, end=1),
        helper.make_node("Shape", ["t_bcpq"], ["shape_b4"], start=0, end=2),
        helper.make_node("Mul", ["shape_p", "c_3"], ["p3"]),
        helper.make_node("Concat", ["shape_b4", "p3"], ["shape_t"], axis=0),
        helper.make_node("Reshape", ["t_bcpq", "shape_t"], ["t"]),
    ]
    inputs = []
    results = []
    for i in range(buckets):
        inputs += [
            helper.make_tensor_value_info(f"blocks_{i}", TensorProto.FLOAT, [f"C{i}", "chunk", f"J4_{i}"]),
            helper.make_tensor_value_info(f"bones_{i}", TensorProto.INT64, [f"C{i}", f"J{i}"]),
        ]
        nodes += [
            # the chunks' bone matrices: (C_i, J_i, 4, P*3) -> (C_i, 4 J_i, P*3)
            helper.make_node("Gather", ["t", f"bones_{i}"], [f"tg4_{i}"], axis=0),
            helper.make_node("Shape", [f"bones_{i}"], [f"shape_c_{i}"], start=0, end=1),
            helper.make_node("Shape", [f"bones_{i}"], [f"shape_j_{i}"], start=1, end=2),
            helper.make_node("Mul", [f"shape_j_{i}", "c_4"], [f"shape_j4_{i}"]),
            helper.make_node("Concat", [f"shape_c_{i}", f"shape_j4_{i}", "p3"], [f"shape_tg_{i}"], axis=0),
            helper.make_node("Reshape", [f"tg4_{i}", f"shape_tg_{i}"], [f"tg_{i}"]),
            helper.make_node("MatMul", [f"blocks_{i}", f"tg_{i}"], [f"res_{i}"]),
        ]
        results.append(f"res_{i}")
    nodes += [
        helper.make_node("Concat", results, ["res"], axis=0)
        if buckets > 1
        else helper.make_node("Identity", results, ["res"]),
        # (C, chunk, P*3) -> (C*chunk, P, 3) -> original vertex order (V, P, 3) -> (P, V, 3)
        helper.make_node("Concat", ["c_m1", "shape_p", "c_3"], ["shape_r"], axis=0),
        helper.make_node("Reshape", ["res", "shape_r"], ["res3"]),
        helper.make_node("Gather", ["res3", "inverse_order"], ["vpc"], axis=0),
        helper.make_node("Transpose", ["vpc"], [LBS.outputs[0].name], perm=[1, 0, 2]),
    ]
    graph = helper.make_graph(
        nodes,
        "facsimile_lbs",
        [
            *inputs,
            helper.make_tensor_value_info("inverse_order", TensorProto.INT64, ["V"]),
            helper.make_tensor_value_info("bone_table", TensorProto.FLOAT, ["P", "B1", 3, 4]),
        ],
        [helper.make_tensor_value_info(LBS.outputs[0].name, TensorProto.FLOAT, ["P", "V", 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="facsimile")
    model.ir_version = min(model.ir_version, 10)
    helper.set_model_props(model, metadata or LBS.metadata())
    onnx.checker.check_model(model)
    return model.SerializeToString()


def export(out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / LBS.file_name
    data = build_lbs_onnx(LBS_BUCKETS, metadata=LBS.metadata())
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
