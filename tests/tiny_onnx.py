"""Tiny real ONNX graphs for tests (one operator each), usable where the onnx package is not installed.

The Python 3.13 test environment mirrors Blender 5.x: no onnx package. The graphs are built with onnx.helper where
onnx is importable and read from tests/data/tiny_onnx/ otherwise; test_tiny_onnx_files_match_their_builder (run in the
3.11 environment, which has onnx) proves the committed files are exactly what the builder makes.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

FOLDER = Path(__file__).resolve().parent / "data" / "tiny_onnx"
# name -> (operator, input/output shape); None is a dynamic dimension.
GRAPHS: dict[str, tuple[str, list[int | None]]] = {
    "relu": ("Relu", [1, 4]),
    "sigmoid": ("Sigmoid", [1, 4]),
    "relu_dynamic": ("Relu", [None, 3]),
}


def have_onnx() -> bool:
    return importlib.util.find_spec("onnx") is not None


def build(name: str) -> bytes:
    """The graph built with onnx.helper (needs the onnx package)."""
    import onnx
    from onnx import TensorProto, helper

    op, shape = GRAPHS[name]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)
    graph = helper.make_graph([helper.make_node(op, ["x"], ["y"])], name, [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="facsimile-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def model_bytes(name: str) -> bytes:
    return build(name) if have_onnx() else (FOLDER / f"{name}.onnx").read_bytes()


def write_all() -> None:
    """Regenerate tests/data/tiny_onnx/ (python tests/tiny_onnx.py)."""
    FOLDER.mkdir(parents=True, exist_ok=True)
    for name in GRAPHS:
        (FOLDER / f"{name}.onnx").write_bytes(build(name))


if __name__ == "__main__":
    write_all()
