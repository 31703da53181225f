"""Convert MediaPipe's face detector and FaceLandmarker's landmark model (TFLite) to ONNX (`make models`).

Sources: face_detection_short_range.tflite from the pinned mediapipe wheel, face_landmarks_detector.tflite read from
inside ../shared/data/real_faces/models/face_landmarker.task (a zip; read by path, never copied into the repository).
The task's own face_detector.tflite has the same operators and weights as the wheel's short-range detector (only the
flatbuffer metadata differs; tests/test_face_models.py checks this), so it is not converted twice.

Why our own converter: tflite2onnx fails on face_landmark.tflite, and these graphs use only a dozen ops. The TFLite
graph (NHWC) is rewritten op by op with onnx.helper in NCHW, the layout onnxruntime's CPU kernels prefer: one Transpose
after the NHWC input, float16 weights (DEQUANTIZE) widened to float32 constants, TFLite SAME padding turned into
explicit (asymmetric) pads, channel PADs and PReLU slopes moved to the channel axis (PReLU written as
a*x + (1-a)*relu(x) with 1x1 depthwise convs, which onnxruntime runs ~4x faster than its PRelu kernel). The batch
dimension is symbolic so the runtime can run several faces in one call.

Usage: python -m model_training.convert.mediapipe_face [--out exported_models]
"""

from __future__ import annotations

import argparse
import os
import zipfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from blender_addon.core.models.specs import FACE_DETECTOR, FACE_LANDMARKS, ModelSpec
from blender_addon.core.models.store import record_model

from .tflite_reader import Graph, read_tflite

OPSET = 17
IR_VERSION = 8  # opset 17 is IR 8: loadable by older onnxruntime builds users may have inside Blender
REPO_ROOT = Path(__file__).resolve().parents[2]
MEDIAPIPE_VERSION = "0.10.21"

TASK_REL = "real_faces/models/face_landmarker.task"  # under the shared data folder
TASK_PREFIX = "face_landmarker.task:"  # source names below starting with it are members of that zip

# (source: path inside the mediapipe package, or TASK_PREFIX + zip member; spec; TFLite output name -> spec output)
MODELS: tuple[tuple[str, ModelSpec, dict[str, str]], ...] = (
    (
        "modules/face_detection/face_detection_short_range.tflite",
        FACE_DETECTOR,
        {"regressors": "regressors", "classificators": "classificators"},
    ),
    (
        # Outputs: Identity = 478 x (x, y, z) in 256-pixel crop units, Identity_1 = face presence logit. Identity_2,
        # a sigmoid of a third head FaceLandmarker never reads, is dropped from the graph (build() prunes it).
        TASK_PREFIX + "face_landmarks_detector.tflite",
        FACE_LANDMARKS,
        {"Identity": "landmarks", "Identity_1": "face_flag"},
    ),
)

NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1}


class UnsupportedGraphError(ValueError):
    """The TFLite graph uses an op or layout this converter does not handle."""


def _same_pads(in_size: int, out_size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow SAME padding: total padding split with the extra pixel at the end."""
    total = max((out_size - 1) * stride + (kernel - 1) * dilation + 1 - in_size, 0)
    return total // 2, total - total // 2


class _Builder:
    def __init__(self, graph: Graph, output_names: dict[str, str]) -> None:
        self.g = graph
        self.output_names = output_names
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.consts: dict[int, np.ndarray] = {}  # tflite tensor index -> float32/int constant (TFLite layout)
        self.names: dict[int, str] = {}  # tflite tensor index -> onnx value name
        self.counter = 0

    def uniq(self, base: str) -> str:
        self.counter += 1
        return f"{base}_{self.counter}"

    def init(self, base: str, value: np.ndarray) -> str:
        name = self.uniq(base)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def const(self, idx: int) -> np.ndarray:
        if idx in self.consts:
            return self.consts[idx]
        t = self.g.tensors[idx]
        if t.data is None:
            raise UnsupportedGraphError(f"tensor {t.name} was expected to be constant")
        data = t.data.astype(np.float32) if t.data.dtype == np.float16 else t.data
        self.consts[idx] = data
        return data

    def is_const(self, idx: int) -> bool:
        return idx in self.consts or self.g.tensors[idx].data is not None

    def shape(self, idx: int) -> tuple[int, ...]:
        return self.g.tensors[idx].shape

    def activation(self, value: str, act: str, out_idx: int) -> str:
        """Append the fused activation (if any); returns the final value name."""
        if act == "NONE":
            return value
        out = self.uniq(self.g.tensors[out_idx].name + "_act")
        if act == "RELU":
            self.nodes.append(helper.make_node("Relu", [value], [out]))
        elif act == "RELU6":
            lo, hi = self.init("zero", np.float32(0)), self.init("six", np.float32(6))
            self.nodes.append(helper.make_node("Clip", [value, lo, hi], [out]))
        else:
            raise UnsupportedGraphError(f"fused activation {act} is not supported")
        return out

    def value(self, idx: int) -> str:
        if idx not in self.names:
            raise UnsupportedGraphError(f"tensor {self.g.tensors[idx].name} is used before it is produced")
        return self.names[idx]

    def out_name(self, idx: int) -> str:
        return self.uniq(self.g.tensors[idx].name.replace("/", "_").replace(";", "_"))

    def pool_or_conv_pads(self, op, in_idx: int, out_idx: int, kh: int, kw: int, dh: int = 1, dw: int = 1) -> list[int]:
        o = op.options
        if o["padding"] == "VALID":
            return [0, 0, 0, 0]
        _, ih, iw, _ = self.shape(in_idx)
        _, oh, ow, _ = self.shape(out_idx)
        t, b = _same_pads(ih, oh, kh, o["stride_h"], dh)
        left, r = _same_pads(iw, ow, kw, o["stride_w"], dw)
        return [t, left, b, r]

    def _channel_scale(self, x: str, scale: np.ndarray, out: str) -> None:
        """out = x * scale[c] as a 1x1 depthwise convolution (onnxruntime keeps it in its fast conv layout)."""
        ch = scale.size
        w = self.init("chscale", scale.reshape(ch, 1, 1, 1).astype(np.float32))
        self.nodes.append(helper.make_node("Conv", [x, w], [out], kernel_shape=[1, 1], group=ch))

    def convert_op(self, op) -> None:  # noqa: C901 - one branch per TFLite op, kept together on purpose
        out_idx = op.outputs[0]
        kind = op.op
        if kind == "DEQUANTIZE":
            self.consts[out_idx] = self.const(op.inputs[0]).astype(np.float32)
            return
        out = self.out_name(out_idx)
        if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            x, w = self.value(op.inputs[0]), self.const(op.inputs[1])
            bias = self.const(op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
            o = op.options
            if kind == "CONV_2D":
                weight, group = w.transpose(0, 3, 1, 2), 1
            else:
                if w.shape[0] != 1:
                    raise UnsupportedGraphError("depthwise weights must be 1 x H x W x C")
                weight, group = w.transpose(3, 0, 1, 2), self.shape(op.inputs[0])[3]
                if o["depth_multiplier"] != 1 and w.shape[3] != group * o["depth_multiplier"]:
                    raise UnsupportedGraphError("unexpected depthwise multiplier")
            kh, kw = weight.shape[2], weight.shape[3]
            pads = self.pool_or_conv_pads(op, op.inputs[0], out_idx, kh, kw, o["dilation_h"], o["dilation_w"])
            ins = [x, self.init("w", weight.astype(np.float32))]
            if bias is not None:
                ins.append(self.init("b", bias.astype(np.float32)))
            conv_out = out if o["activation"] == "NONE" else self.uniq("conv")
            self.nodes.append(
                helper.make_node(
                    "Conv",
                    ins,
                    [conv_out],
                    kernel_shape=[kh, kw],
                    strides=[o["stride_h"], o["stride_w"]],
                    dilations=[o["dilation_h"], o["dilation_w"]],
                    pads=pads,
                    group=group,
                )
            )
            out = self.activation(conv_out, o["activation"], out_idx)
        elif kind == "MAX_POOL_2D":
            o = op.options
            pads = self.pool_or_conv_pads(op, op.inputs[0], out_idx, o["filter_h"], o["filter_w"])
            self.nodes.append(
                helper.make_node(
                    "MaxPool",
                    [self.value(op.inputs[0])],
                    [out],
                    kernel_shape=[o["filter_h"], o["filter_w"]],
                    strides=[o["stride_h"], o["stride_w"]],
                    pads=pads,
                )
            )
            out = self.activation(out, o["activation"], out_idx)
        elif kind == "PRELU":
            alpha = self.const(op.inputs[1]).astype(np.float32)
            channels = self.shape(out_idx)[-1]
            if alpha.size != channels:
                raise UnsupportedGraphError(f"PReLU slope of shape {alpha.shape} is not per-channel")
            # onnxruntime's PRelu kernel broadcasts the per-channel slope element by element (4x slower here than
            # all the face mesh's convolutions). PReLU(y) = a*y + (1-a)*relu(y), with the per-channel products as
            # 1x1 depthwise convolutions, stays in onnxruntime's blocked NCHWc conv path; when every 1-a >= 0 the
            # relu moves after the scaling ((1-a)*relu(y) = relu((1-a)*y)) and fuses into that convolution.
            x = self.value(op.inputs[0])
            keep = (1.0 - alpha).ravel()
            lin, pos = self.uniq("lin"), self.uniq("pos")
            self._channel_scale(x, alpha.ravel(), lin)
            if (keep >= 0).all():
                scaled = self.uniq("scaled")
                self._channel_scale(x, keep, scaled)
                self.nodes.append(helper.make_node("Relu", [scaled], [pos]))
            else:
                relu = self.uniq("relu")
                self.nodes.append(helper.make_node("Relu", [x], [relu]))
                self._channel_scale(relu, keep, pos)
            self.nodes.append(helper.make_node("Add", [lin, pos], [out]))
        elif kind == "RELU":
            self.nodes.append(helper.make_node("Relu", [self.value(op.inputs[0])], [out]))
        elif kind == "LOGISTIC":
            self.nodes.append(helper.make_node("Sigmoid", [self.value(op.inputs[0])], [out]))
        elif kind == "ADD":
            ins = []
            for i in op.inputs:
                if self.is_const(i):
                    c = self.const(i).astype(np.float32)
                    if c.ndim == 4:
                        c = c.transpose(0, 3, 1, 2)
                    elif c.ndim in (1, 3) and c.shape[-1] > 1:
                        c = c.reshape(-1, 1, 1)
                    ins.append(self.init("addc", c))
                else:
                    ins.append(self.value(i))
            add_out = out if op.options["activation"] == "NONE" else self.uniq("add")
            self.nodes.append(helper.make_node("Add", ins, [add_out]))
            out = self.activation(add_out, op.options["activation"], out_idx)
        elif kind == "PAD":
            paddings = self.const(op.inputs[1]).astype(np.int64)
            if paddings.shape != (4, 2):
                raise UnsupportedGraphError("only 4-D PAD is supported")
            order = [0, 3, 1, 2]  # NHWC rows -> NCHW
            pads = np.concatenate([paddings[order, 0], paddings[order, 1]])
            self.nodes.append(helper.make_node("Pad", [self.value(op.inputs[0]), self.init("pads", pads)], [out]))
        elif kind == "RESHAPE":
            new_shape = list(op.options.get("new_shape") or [])
            if not new_shape and len(op.inputs) > 1:
                new_shape = [int(v) for v in self.const(op.inputs[1])]
            in_shape = self.shape(op.inputs[0])
            # Batch-leading: an explicit 1, or -1 when the other dims hold exactly one batch item's elements.
            batch_leading = bool(new_shape) and (
                new_shape[0] == 1
                or (new_shape[0] == -1 and in_shape[0] == 1 and np.prod(in_shape[1:]) == np.prod(new_shape[1:]))
            )
            if not batch_leading:
                raise UnsupportedGraphError(f"RESHAPE to {new_shape} is not batch-leading")
            new_shape[0] = 0  # keep the (symbolic) batch dimension
            x = self.value(op.inputs[0])
            if len(in_shape) == 4:  # back to NHWC so the element order matches TFLite's
                nhwc = self.uniq("nhwc")
                self.nodes.append(helper.make_node("Transpose", [x], [nhwc], perm=[0, 2, 3, 1]))
                x = nhwc
            shape = self.init("shape", np.array(new_shape, dtype=np.int64))
            self.nodes.append(helper.make_node("Reshape", [x, shape], [out]))
        elif kind == "CONCATENATION":
            axis = op.options["axis"]
            rank = len(self.shape(out_idx))
            axis = axis % rank
            if rank == 4:
                axis = NHWC_TO_NCHW_AXIS[axis]
            cat_out = out if op.options["activation"] == "NONE" else self.uniq("cat")
            self.nodes.append(helper.make_node("Concat", [self.value(i) for i in op.inputs], [cat_out], axis=axis))
            out = self.activation(cat_out, op.options["activation"], out_idx)
        else:
            raise UnsupportedGraphError(f"TFLite op {kind} is not supported by this converter")
        self.names[out_idx] = out

    def _drop_unused(self, outputs: list[str]) -> None:
        """Keep only the nodes (and weights) some output depends on: TFLite heads the runtime never reads (the iris
        model's eye contour) would otherwise be computed on every call, onnxruntime does not prune them."""
        needed, kept = set(outputs), []
        for node in reversed(self.nodes):
            if any(o in needed for o in node.output):
                kept.append(node)
                needed.update(i for i in node.input if i)
        self.nodes = kept[::-1]
        self.inits = [t for t in self.inits if t.name in needed]

    def build(self, spec: ModelSpec) -> onnx.ModelProto:
        if len(self.g.inputs) != 1 or len(spec.inputs) != 1:
            raise UnsupportedGraphError("expected exactly one image input")
        in_idx = self.g.inputs[0]
        _, h, w, c = self.shape(in_idx)
        in_name = spec.inputs[0].name
        nchw = self.uniq("nchw")
        self.nodes.append(helper.make_node("Transpose", [in_name], [nchw], perm=[0, 3, 1, 2]))
        self.names[in_idx] = nchw
        for op in self.g.operators:
            self.convert_op(op)
        outputs = []
        by_name = {self.g.tensors[i].name: i for i in self.g.outputs}
        for ospec in spec.outputs:
            src = next((k for k, v in self.output_names.items() if v == ospec.name), None)
            if src not in by_name:
                raise UnsupportedGraphError(f"TFLite graph has no output {src!r} for {ospec.name}")
            idx = by_name[src]
            tshape = self.shape(idx)
            x = self.value(idx)
            if len(tshape) == 4:  # (1, 1, 1, C) heads -> (batch, C)
                if tshape[1:3] != (1, 1):
                    raise UnsupportedGraphError(f"4-D output {src} with spatial size {tshape[1:3]}")
                shape = self.init("shape", np.array([0, tshape[3]], dtype=np.int64))
                self.nodes.append(helper.make_node("Reshape", [x, shape], [ospec.name]))
            else:
                self.nodes.append(helper.make_node("Identity", [x], [ospec.name]))
            dims = ["batch"] + [int(d) for d in ospec.shape[1:]]
            outputs.append(helper.make_tensor_value_info(ospec.name, TensorProto.FLOAT, dims))
        self._drop_unused([o.name for o in spec.outputs])
        inp = helper.make_tensor_value_info(in_name, TensorProto.FLOAT, ["batch", h, w, c])
        graph = helper.make_graph(self.nodes, spec.file_name.removesuffix(".onnx"), [inp], outputs, self.inits)
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name="facsimile.model_training.convert_mediapipe_face",
        )
        model.ir_version = IR_VERSION
        for k, v in spec.metadata().items():
            model.metadata_props.append(onnx.StringStringEntryProto(key=k, value=v))
        return model


def convert(tflite: Path | bytes, spec: ModelSpec, output_names: dict[str, str]) -> onnx.ModelProto:
    """TFLite file (or its bytes) -> checked ONNX model (weights float32, metadata from spec)."""
    model = _Builder(read_tflite(tflite), output_names).build(spec)
    onnx.checker.check_model(model, full_check=True)
    return model


def mediapipe_dir() -> Path:
    """The installed mediapipe package (the pinned wheel carries the .tflite files)."""
    import mediapipe

    if getattr(mediapipe, "__version__", "") != MEDIAPIPE_VERSION:
        print(f"warning: mediapipe {mediapipe.__version__} installed; models were validated with {MEDIAPIPE_VERSION}")
    return Path(mediapipe.__file__).resolve().parent


def task_path() -> Path:
    """FaceLandmarker's .task bundle in the shared data ($FACSIMILE_SHARED/data, default ../shared/data)."""
    root = Path(os.environ.get("FACSIMILE_SHARED", REPO_ROOT.parent / "shared"))
    return root / "data" / TASK_REL


def source_bytes(source: str) -> bytes:
    """The .tflite bytes of one MODELS source: a file of the mediapipe wheel or a member of the .task zip."""
    if not source.startswith(TASK_PREFIX):
        return (mediapipe_dir() / source).read_bytes()
    task = task_path()
    if not task.is_file():
        raise FileNotFoundError(f"{task} is missing; set FACSIMILE_SHARED to the folder holding data/{TASK_REL}")
    with zipfile.ZipFile(task) as z:
        return z.read(source.removeprefix(TASK_PREFIX))


def source_label(source: str) -> str:
    """Provenance written into the manifest."""
    if source.startswith(TASK_PREFIX):
        return f"mediapipe face_landmarker.task (shared data {TASK_REL}):{source.removeprefix(TASK_PREFIX)}"
    return f"mediapipe=={MEDIAPIPE_VERSION}:{source}"


NOTICE_SECTION = """\
== MediaPipe face models (face_detector.onnx, face_landmarks.onnx) ==
These files are format conversions (TFLite -> ONNX, float16 weights widened to float32, no retraining) of
face_detection_short_range.tflite from the MediaPipe {version} Python wheel
(https://github.com/google-ai-edge/mediapipe, https://pypi.org/project/mediapipe/{version}/) and of
face_landmarks_detector.tflite from MediaPipe's FaceLandmarker bundle face_landmarker.task
(https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/face_landmarker.task).
Copyright The MediaPipe Authors. Licensed under the Apache License, Version 2.0 (the "License"); you may not use
these files except in compliance with the License. You may obtain a copy of the License at
http://www.apache.org/licenses/LICENSE-2.0 . Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND,
either express or implied. See the License for the specific language governing permissions and limitations under
the License. Changes made: converted to ONNX by model_training/convert/mediapipe_face.py (layout NHWC -> NCHW inside
the graph, renamed inputs/outputs, symbolic batch dimension; the landmark model keeps its landmark and face-presence
outputs only).
"""
NOTICE_MARK = "== MediaPipe face models"


def write_notice(out_dir: Path) -> None:
    """Add (or refresh) the MediaPipe section of NOTICE, keeping other engineers' sections."""
    path = out_dir / "NOTICE"
    text = path.read_text(encoding="utf-8") if path.exists() else "Third-party notices for the models in this folder.\n"
    section = NOTICE_SECTION.format(version=MEDIAPIPE_VERSION)
    if NOTICE_MARK in text:
        start = text.index(NOTICE_MARK)
        nxt = text.find("\n== ", start + 1)
        text = text[:start] + section + (text[nxt + 1 :] if nxt >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "exported_models")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for source, spec, names in MODELS:
        model = convert(source_bytes(source), spec, names)
        dst = args.out / spec.file_name
        onnx.save(model, dst)
        record_model(dst, source=source_label(source), license="Apache-2.0", opset=OPSET)
        print(f"wrote {dst} ({dst.stat().st_size / 1e6:.2f} MB, {len(model.graph.node)} nodes) from {source}")
    write_notice(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
