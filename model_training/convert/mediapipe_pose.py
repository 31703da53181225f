"""Convert MediaPipe's pose detector and BlazePose full landmark model (TFLite) to ONNX (`make models`).

Sources: modules/pose_detection/pose_detection.tflite and modules/pose_landmark/pose_landmark_full.tflite from the
pinned mediapipe wheel (the very files mp.solutions.pose and PoseLandmarker's "full" bundle run).

The face converter's machinery (mediapipe_face._Builder: NHWC -> NCHW, float16 weights widened, SAME pads) is reused;
this module adds the few ops the pose graphs have beyond the face ones: DENSIFY (the detector stores its 1x1
convolution weights sparse; tflite_reader densifies them, so DENSIFY is a constant pass-through), DEPTH_TO_SPACE and
RESIZE_BILINEAR (the detector's and landmark model's upsampling). The landmark model's segmentation mask is
dropped (not used by the runtime; onnxruntime would compute it on every call otherwise); its 64x64x39 heatmap, which
MediaPipe uses to refine the image x, y, is kept, flattened in NHWC order.

Usage: python -m model_training.convert.mediapipe_pose [--out exported_models]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from blender_addon.core.models.specs import POSE_DETECTOR, POSE_LANDMARKS, ModelSpec
from blender_addon.core.models.store import record_model

from .mediapipe_face import MEDIAPIPE_VERSION, OPSET, REPO_ROOT, UnsupportedGraphError, _Builder, mediapipe_dir
from .tflite_reader import read_tflite

# (path inside the mediapipe package, spec, TFLite output name -> spec output, input value range)
MODELS: tuple[tuple[str, ModelSpec, dict[str, str], tuple[float, float]], ...] = (
    (
        "modules/pose_detection/pose_detection.tflite",
        POSE_DETECTOR,
        {"Identity": "regressors", "Identity_1": "classificators"},
        (-1.0, 1.0),
    ),
    (
        # Identity_2 (the 256x256 segmentation mask) is not exported.
        "modules/pose_landmark/pose_landmark_full.tflite",
        POSE_LANDMARKS,
        {"Identity": "landmarks", "Identity_1": "pose_flag", "Identity_4": "world_landmarks", "Identity_3": "heatmap"},
        (0.0, 1.0),
    ),
)


class _PoseBuilder(_Builder):
    """The face builder plus the pose graphs' extra ops, and spatial (heatmap) outputs flattened in NHWC order."""

    def __init__(self, graph, output_names: dict[str, str]) -> None:
        super().__init__(graph, output_names)
        # 4-D graph outputs with a spatial size (the landmark heatmap): flattened to (batch, H*W*C) in TFLite's
        # NHWC element order, so the runtime reads them as TFLite lays them out.
        self.flatten: dict[int, tuple[int, ...]] = {}
        for i in graph.outputs:
            t = graph.tensors[i]
            if t.name in output_names and len(t.shape) == 4 and t.shape[1:3] != (1, 1):
                self.flatten[i] = t.shape
                t.shape = (t.shape[0], int(np.prod(t.shape[1:])))

    def convert_op(self, op) -> None:
        out_idx = op.outputs[0]
        if out_idx in self.flatten:
            saved = self.g.tensors[out_idx].shape
            self.g.tensors[out_idx].shape = self.flatten[out_idx]  # the op itself sees the 4-D shape
            self._convert_op(op)
            self.g.tensors[out_idx].shape = saved
            nhwc, flat = self.uniq("nhwc"), self.uniq("flat")
            self.nodes.append(helper.make_node("Transpose", [self.names[out_idx]], [nhwc], perm=[0, 2, 3, 1]))
            shape = self.init("shape", np.array([0, -1], dtype=np.int64))
            self.nodes.append(helper.make_node("Reshape", [nhwc, shape], [flat]))
            self.names[out_idx] = flat
            return
        self._convert_op(op)

    def _convert_op(self, op) -> None:
        kind, out_idx = op.op, op.outputs[0]
        if kind == "DENSIFY":  # the reader already densified the sparse constant
            self.consts[out_idx] = self.const(op.inputs[0])
            return
        if kind == "DEPTH_TO_SPACE":
            out = self.out_name(out_idx)
            # TensorFlow's NHWC depth_to_space orders the channels (block row, block column, channel): ONNX's DCR.
            self.nodes.append(
                helper.make_node(
                    "DepthToSpace", [self.value(op.inputs[0])], [out], blocksize=op.options["block_size"], mode="DCR"
                )
            )
            self.names[out_idx] = out
            return
        if kind == "RESIZE_BILINEAR":
            out = self.out_name(out_idx)
            _, ih, iw, _ = self.shape(op.inputs[0])
            _, oh, ow, _ = self.shape(out_idx)
            o = op.options
            mode = "align_corners" if o["align_corners"] else "half_pixel" if o["half_pixel_centers"] else "asymmetric"
            scales = self.init("scales", np.array([1.0, 1.0, oh / ih, ow / iw], dtype=np.float32))
            self.nodes.append(
                helper.make_node(
                    "Resize",
                    [self.value(op.inputs[0]), "", scales],
                    [out],
                    mode="linear",
                    coordinate_transformation_mode=mode,
                )
            )
            self.names[out_idx] = out
            return
        if kind.startswith(("builtin:", "custom:")) or kind == "HARD_SWISH":
            raise UnsupportedGraphError(f"TFLite op {kind} is not supported by this converter")
        super().convert_op(op)


def convert(tflite: Path | bytes, spec: ModelSpec, output_names: dict[str, str]) -> onnx.ModelProto:
    """TFLite file (or its bytes) -> checked ONNX model (weights float32, metadata from spec)."""
    model = _PoseBuilder(read_tflite(tflite), output_names).build(spec)
    model.producer_name = "facsimile.model_training.convert_mediapipe_pose"
    onnx.checker.check_model(model, full_check=True)
    return model


def source_label(source: str) -> str:
    return f"mediapipe=={MEDIAPIPE_VERSION}:{source}"


NOTICE_SECTION = """\
== MediaPipe pose models (pose_detector.onnx, pose_landmarks.onnx) ==
These files are format conversions (TFLite -> ONNX, sparse float16 weights densified and widened to float32, no
retraining) of pose_detection.tflite and pose_landmark_full.tflite (BlazePose GHUM 3D) from the MediaPipe {version}
Python wheel (https://github.com/google-ai-edge/mediapipe, https://pypi.org/project/mediapipe/{version}/).
Copyright The MediaPipe Authors. Licensed under the Apache License, Version 2.0 (the "License"); you may not use
these files except in compliance with the License. You may obtain a copy of the License at
http://www.apache.org/licenses/LICENSE-2.0 . Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND,
either express or implied. See the License for the specific language governing permissions and limitations under
the License. Changes made: converted to ONNX by model_training/convert/mediapipe_pose.py (layout NHWC -> NCHW inside
the graph, renamed inputs/outputs, symbolic batch dimension; the landmark model keeps its landmark, pose-presence
world-landmark and heatmap outputs; the segmentation mask is dropped).
"""
NOTICE_MARK = "== MediaPipe pose models"


def write_notice(out_dir: Path) -> None:
    """Add (or refresh) the pose section of NOTICE, keeping every other section."""
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
    for source, spec, names, _ in MODELS:
        model = convert((mediapipe_dir() / source).read_bytes(), spec, names)
        dst = args.out / spec.file_name
        tmp = dst.with_suffix(".onnx.tmp")
        onnx.save(model, tmp)
        tmp.replace(dst)
        record_model(dst, source=source_label(source), license="Apache-2.0", opset=OPSET)
        print(f"wrote {dst} ({dst.stat().st_size / 1e6:.2f} MB, {len(model.graph.node)} nodes) from {source}")
    write_notice(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
