"""A small reader for TFLite flatbuffers (the subset MediaPipe's face models use).

The `tflite` schema package is not a project dependency, so the few tables we need are read with the `flatbuffers`
runtime directly, by field index as declared in TensorFlow Lite's schema.fbs (vtable slot = 4 + 2 * field index).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import flatbuffers
import numpy as np
from flatbuffers import number_types as nt

# BuiltinOperator codes (schema.fbs) for the ops the converter understands, plus a few for clear error messages.
BUILTIN_OPS = {
    0: "ADD",
    1: "AVERAGE_POOL_2D",
    2: "CONCATENATION",
    3: "CONV_2D",
    4: "DEPTHWISE_CONV_2D",
    6: "DEQUANTIZE",
    9: "FULLY_CONNECTED",
    14: "LOGISTIC",
    17: "MAX_POOL_2D",
    18: "MUL",
    19: "RELU",
    21: "RELU6",
    22: "RESHAPE",
    23: "RESIZE_BILINEAR",
    25: "SOFTMAX",
    28: "TANH",
    34: "PAD",
    5: "DEPTH_TO_SPACE",
    54: "PRELU",
    117: "HARD_SWISH",
    124: "DENSIFY",
}
# TensorType -> numpy dtype.
TENSOR_TYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 9: np.int8}
PADDING = {0: "SAME", 1: "VALID"}
ACTIVATION = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH"}


class _Table:
    """Field access on one flatbuffer table by schema field index."""

    def __init__(self, buf: bytes, pos: int) -> None:
        self.buf = buf
        self.t = flatbuffers.table.Table(buf, pos)

    def _off(self, index: int) -> int:
        return self.t.Offset(4 + 2 * index)

    def scalar(self, index: int, flags, default=0):
        o = self._off(index)
        return self.t.Get(flags, o + self.t.Pos) if o else default

    def string(self, index: int) -> str:
        o = self._off(index)
        return self.t.String(o + self.t.Pos).decode("utf-8") if o else ""

    def table(self, index: int) -> _Table | None:
        o = self._off(index)
        return _Table(self.buf, self.t.Indirect(o + self.t.Pos)) if o else None

    def tables(self, index: int) -> list[_Table]:
        o = self._off(index)
        if not o:
            return []
        start, n = self.t.Vector(o), self.t.VectorLen(o)
        return [_Table(self.buf, self.t.Indirect(start + 4 * j)) for j in range(n)]

    def array(self, index: int, dtype) -> np.ndarray:
        o = self._off(index)
        if not o:
            return np.zeros(0, dtype=dtype)
        start, n = self.t.Vector(o), self.t.VectorLen(o)
        return np.frombuffer(self.buf, dtype=np.dtype(dtype).newbyteorder("<"), count=n, offset=start).copy()


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: type
    data: np.ndarray | None  # constant contents (reshaped), None for activations


@dataclass
class Operator:
    op: str
    inputs: list[int]
    outputs: list[int]
    options: dict = field(default_factory=dict)


@dataclass
class Graph:
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]


def _options(op: str, t: _Table | None) -> dict:
    """Decode the builtin options table of the ops we convert (field order from schema.fbs)."""
    if t is None:
        return {}
    i32, i8 = nt.Int32Flags, nt.Int8Flags
    if op == "CONV_2D":
        return {
            "padding": PADDING[t.scalar(0, i8)],
            "stride_w": t.scalar(1, i32),
            "stride_h": t.scalar(2, i32),
            "activation": ACTIVATION[t.scalar(3, i8)],
            "dilation_w": t.scalar(4, i32, 1),
            "dilation_h": t.scalar(5, i32, 1),
        }
    if op == "DEPTHWISE_CONV_2D":
        return {
            "padding": PADDING[t.scalar(0, i8)],
            "stride_w": t.scalar(1, i32),
            "stride_h": t.scalar(2, i32),
            "depth_multiplier": t.scalar(3, i32),
            "activation": ACTIVATION[t.scalar(4, i8)],
            "dilation_w": t.scalar(5, i32, 1),
            "dilation_h": t.scalar(6, i32, 1),
        }
    if op in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        return {
            "padding": PADDING[t.scalar(0, i8)],
            "stride_w": t.scalar(1, i32),
            "stride_h": t.scalar(2, i32),
            "filter_w": t.scalar(3, i32),
            "filter_h": t.scalar(4, i32),
            "activation": ACTIVATION[t.scalar(5, i8)],
        }
    if op in ("ADD", "MUL"):
        return {"activation": ACTIVATION[t.scalar(0, i8)]}
    if op == "CONCATENATION":
        return {"axis": t.scalar(0, i32), "activation": ACTIVATION[t.scalar(1, i8)]}
    if op == "RESHAPE":
        return {"new_shape": tuple(int(v) for v in t.array(0, np.int32))}
    if op == "RESIZE_BILINEAR":  # field 0 (new_height, new_width) is deprecated
        return {"align_corners": bool(t.scalar(2, nt.BoolFlags)), "half_pixel_centers": bool(t.scalar(3, nt.BoolFlags))}
    if op == "DEPTH_TO_SPACE":
        return {"block_size": t.scalar(0, i32)}
    return {}


_INDEX_VECTOR = {1: np.int32, 2: np.uint16, 3: np.uint8}  # SparseIndexVector union: Int32/Uint16/Uint8Vector


def _densify(values: np.ndarray, sparsity: _Table, shape: tuple[int, ...]) -> np.ndarray:
    """A sparse constant (TFLite SparsityParameters, as the pose detector's weights use) -> dense array. Handles
    dense dimensions and CSR dimensions in traversal order without block maps (what MediaPipe's models contain)."""
    order = [int(v) for v in sparsity.array(0, np.int32)]
    if sparsity.array(1, np.int32).size or order != list(range(len(shape))):
        raise ValueError("sparse TFLite tensor with block map or permuted traversal order is not supported")
    dims = sparsity.tables(2)
    # Walk the dimensions: `rows` holds the flat dense offset of each entry at the current depth.
    rows = np.zeros(1, dtype=np.int64)
    for d, dm in enumerate(dims):
        if dm.scalar(0, nt.Int8Flags) == 0:  # DENSE
            size = dm.scalar(1, nt.Int32Flags)
            rows = (rows[:, None] * size + np.arange(size)[None, :]).ravel()
        else:  # SPARSE_CSR: segments per parent entry, indices into this dimension
            seg_t, idx_t = _INDEX_VECTOR[dm.scalar(2, nt.Uint8Flags)], _INDEX_VECTOR[dm.scalar(4, nt.Uint8Flags)]
            seg = dm.table(3).array(0, seg_t).astype(np.int64)
            idx = dm.table(5).array(0, idx_t).astype(np.int64)
            counts = np.diff(seg)
            rows = np.repeat(rows, counts) * shape[d] + idx[: seg[-1]]
    if rows.size != values.size:
        raise ValueError(f"sparse TFLite tensor: {values.size} values for {rows.size} positions")
    dense = np.zeros(int(np.prod(shape)), dtype=values.dtype)
    dense[rows] = values
    return dense.reshape(shape)


def read_tflite(path: str | Path | bytes) -> Graph:
    """Parse subgraph 0 of a .tflite file (or its bytes): tensors (with constant data), operators and options."""
    buf = bytes(path) if isinstance(path, (bytes, bytearray)) else Path(path).read_bytes()
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        name = "these bytes" if isinstance(path, (bytes, bytearray)) else str(path)
        raise ValueError(f"{name} is not a TFLite flatbuffer (missing TFL3 identifier)")
    root = _Table(buf, flatbuffers.encode.Get(flatbuffers.packer.uoffset, buf, 0))
    opcodes = []
    for oc in root.tables(1):
        code = max(oc.scalar(0, nt.Int8Flags), oc.scalar(3, nt.Int32Flags))
        custom = oc.string(1)
        opcodes.append(BUILTIN_OPS.get(code, f"custom:{custom}" if custom else f"builtin:{code}"))
    buffers = [b.array(0, np.uint8) for b in root.tables(4)]
    sub = root.tables(2)[0]
    tensors = []
    for i, t in enumerate(sub.tables(0)):
        shape = tuple(int(v) for v in t.array(0, np.int32))
        dtype = TENSOR_TYPES[t.scalar(1, nt.Int8Flags)]
        raw = buffers[t.scalar(2, nt.Uint32Flags)]
        data = raw.view(np.dtype(dtype).newbyteorder("<")).astype(dtype) if raw.size else None
        if data is not None:
            sparsity = t.table(6)
            data = _densify(data, sparsity, shape) if sparsity is not None else data.reshape(shape)
        tensors.append(Tensor(i, t.string(3), shape, dtype, data))
    ops = []
    for o in sub.tables(3):
        name = opcodes[o.scalar(0, nt.Uint32Flags)]
        ops.append(
            Operator(
                name,
                [int(v) for v in o.array(1, np.int32)],
                [int(v) for v in o.array(2, np.int32)],
                _options(name, o.table(4)),
            )
        )
    return Graph(tensors, ops, [int(v) for v in sub.array(1, np.int32)], [int(v) for v in sub.array(2, np.int32)])
