"""Input/output contract of every ONNX model Facsimile ships: the one place these shapes and names are declared.

Exporters write `spec.metadata()` into the model (onnx metadata_props); the runtime checks a loaded session against
the same spec, so a model exported against an old contract fails loudly at load time, not with wrong numbers later.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field

import numpy as np

from ..arkit import ARKIT_NAMES
from ..errors import FacsimileError


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int | str, ...]  # str = symbolic (batch) dimension
    dtype: str = "float32"
    doc: str = ""


@dataclass(frozen=True)
class ModelSpec:
    file_name: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    doc: str = ""
    extra: dict = field(default_factory=dict)

    def metadata(self) -> dict[str, str]:
        """String key/values to embed in the ONNX file (metadata_props)."""
        meta = {
            "facsimile.model": self.file_name,
            "facsimile.inputs": json.dumps([asdict(t) for t in self.inputs]),
            "facsimile.outputs": json.dumps([asdict(t) for t in self.outputs]),
        }
        meta.update({f"facsimile.{k}": v if isinstance(v, str) else json.dumps(v) for k, v in self.extra.items()})
        return meta


class ModelContractError(FacsimileError, RuntimeError):
    """A loaded model does not match the contract this version of Facsimile expects."""


def check_session(session, spec: ModelSpec) -> None:
    """Raise ModelContractError when a session's inputs/outputs differ from spec (names, ranks, fixed dims)."""

    def _cmp(kind: str, got, want: tuple[TensorSpec, ...]) -> None:
        if len(got) != len(want):
            raise ModelContractError(
                f"{spec.file_name}: expected {len(want)} {kind}s, model has {len(got)}; re-export the model"
            )
        for g, w in zip(got, want):
            if g.name != w.name or len(g.shape) != len(w.shape):
                raise ModelContractError(
                    f"{spec.file_name}: {kind} {g.name}{list(g.shape)} does not match contract "
                    f"{w.name}{list(w.shape)}; re-export the model"
                )
            for gd, wd in zip(g.shape, w.shape):
                if isinstance(wd, int) and isinstance(gd, int) and gd != wd:
                    raise ModelContractError(
                        f"{spec.file_name}: {kind} {g.name} has shape {list(g.shape)}, contract says {list(w.shape)}"
                    )

    _cmp("input", session.get_inputs(), spec.inputs)
    _cmp("output", session.get_outputs(), spec.outputs)


SPECS: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    SPECS[spec.file_name] = spec
    return spec


ARKIT_ORDER_JSON = json.dumps(list(ARKIT_NAMES))


# Each model's spec follows, one block per model, declared as NAME = register(ModelSpec(...)).

# --- Face front-end (issue 15): MediaPipe's face detector and FaceLandmarker's landmark model, converted to ONNX. ---
# Image inputs stay NHWC float like the TFLite originals, so parity tests feed both the very same tensors.

FACE_DETECTOR = register(
    ModelSpec(
        file_name="face_detector.onnx",
        inputs=(TensorSpec("image", ("batch", 128, 128, 3), doc="RGB, letterboxed to 128x128, scaled to [-1, 1]"),),
        outputs=(
            TensorSpec("regressors", ("batch", 896, 16), doc="per anchor: box dx, dy, w, h + 6 keypoints (x, y)"),
            TensorSpec("classificators", ("batch", 896, 1), doc="per anchor face logit"),
        ),
        doc="MediaPipe face_detection_short_range (BlazeFace), converted from TFLite.",
        extra={"source": "mediapipe==0.10.21 face_detection_short_range.tflite", "license": "Apache-2.0"},
    )
)

FACE_LANDMARKS = register(
    ModelSpec(
        file_name="face_landmarks.onnx",
        inputs=(TensorSpec("image", ("batch", 256, 256, 3), doc="RGB rotated face crop, scaled to [0, 1]"),),
        outputs=(
            TensorSpec(
                "landmarks",
                ("batch", 1434),
                doc="478 x (x, y, z) in 256-pixel crop units: 468 face mesh points, then 5 iris points per eye",
            ),
            TensorSpec("face_flag", ("batch", 1), doc="face presence logit (sigmoid -> score)"),
        ),
        doc="MediaPipe FaceLandmarker's face_landmarks_detector (478 points with iris, one pass), converted from TFLite.",
        extra={"source": "mediapipe face_landmarker.task face_landmarks_detector.tflite", "license": "Apache-2.0"},
    )
)

# --- Body (issue 19): MediaPipe's pose detector and BlazePose full landmark model, converted to ONNX. ---
# core/body/pose_landmarker.py runs them; the 39 landmark rows are MediaPipe's 33 body points then 6 auxiliary ones
# (hips/upper-body alignment points used for tracking the next region).

POSE_DETECTOR = register(
    ModelSpec(
        file_name="pose_detector.onnx",
        inputs=(TensorSpec("image", ("batch", 224, 224, 3), doc="RGB, letterboxed to 224x224, scaled to [-1, 1]"),),
        outputs=(
            TensorSpec(
                "regressors",
                ("batch", 2254, 12),
                doc="per anchor: box dx, dy, w, h + 4 keypoints (x, y): hips centre, full-body circle point, "
                "shoulders centre, upper-body circle point; 224-pixel units relative to the anchor",
            ),
            TensorSpec("classificators", ("batch", 2254, 1), doc="per anchor person logit"),
        ),
        doc="MediaPipe pose_detection (BlazePose detector), converted from TFLite.",
        extra={"source": "mediapipe==0.10.21 pose_detection.tflite", "license": "Apache-2.0"},
    )
)

POSE_LANDMARKS = register(
    ModelSpec(
        file_name="pose_landmarks.onnx",
        inputs=(TensorSpec("image", ("batch", 256, 256, 3), doc="RGB rotated body crop, scaled to [0, 1]"),),
        outputs=(
            TensorSpec(
                "landmarks",
                ("batch", 195),
                doc="39 x (x, y, z, visibility logit, presence logit), x y z in 256-pixel crop units",
            ),
            TensorSpec("pose_flag", ("batch", 1), doc="pose presence score (already a sigmoid)"),
            TensorSpec(
                "world_landmarks",
                ("batch", 117),
                doc="39 x (x, y, z) metres, origin between the hips, in the crop's rotated frame",
            ),
            TensorSpec(
                "heatmap",
                ("batch", 159744),
                doc="64 x 64 x 39 landmark heatmap logits, NHWC order (MediaPipe refines x, y with it)",
            ),
        ),
        doc="MediaPipe BlazePose GHUM 3D full landmark model (pose_landmark_full), converted from TFLite; the "
        "segmentation head is not exported.",
        extra={"source": "mediapipe==0.10.21 pose_landmark_full.tflite", "license": "Apache-2.0"},
    )
)

# --- Expression generator: normalised landmarks -> ARKit-52 weights (issue 7). ---
# Input = core.face.landmark_normalize.normalize_landmarks(landmarks)[0]; the feature standardisation is inside the graph.

EXPRESSION_GENERATOR = register(
    ModelSpec(
        file_name="expression_generator.onnx",
        inputs=(
            TensorSpec(
                "features",
                ("batch", 1434),
                doc="core.face.landmark_normalize features: 478 landmarks x (x, y, z) in the face frame / eye distance",
            ),
        ),
        outputs=(
            TensorSpec("weights", ("batch", 52), doc="ARKit-52 weights in [0, 1], contract order; tongueOut is 0"),
        ),
        doc="MLP trained on synthetic ICT-FaceKit landmarks and real frames (model_training/train, make train).",
        extra={"arkit_order": ARKIT_ORDER_JSON, "license": "GPL-3.0-or-later; training data ICT-FaceKit (MIT)"},
    )
)

# The generator's feature standardisation (mean, 1/std), also inside the graph, is repeated in its metadata so the
# runtime's out-of-distribution score can read it with onnxruntime alone (the extension ships no `onnx` package).
STANDARDISATION_KEY = "facsimile.feature_standardisation"


def encode_standardisation(mean: np.ndarray, inv_std: np.ndarray) -> str:
    """JSON {"mean", "inv_std"}: base64 of little-endian float32 arrays (exact, a third of decimal text)."""

    def b64(a: np.ndarray) -> str:
        return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode("ascii")

    return json.dumps({"mean": b64(mean), "inv_std": b64(inv_std)})


def decode_standardisation(raw: str) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of encode_standardisation; a malformed entry is a contract error, not a silent skip."""
    try:
        d = json.loads(raw)
        mean, inv = (np.frombuffer(base64.b64decode(d[k]), dtype="<f4").astype(np.float32) for k in ("mean", "inv_std"))
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelContractError(
            f"model metadata {STANDARDISATION_KEY} is malformed ({exc}); re-export the model"
        ) from exc
    if mean.shape != inv.shape or not (np.isfinite(mean).all() and np.isfinite(inv).all()):
        raise ModelContractError(f"model metadata {STANDARDISATION_KEY} is malformed; re-export the model")
    return mean, inv


# --- LBS body deformer (issue 5, GPU form issue 11): built by model_training/convert/lbs_onnx.py, run by
# core/body/lbs_onnx.py. Not a learned model: the graph holds no weights, only the skinning maths, so the same file
# serves every mesh, rig and pose count. One dense matrix product over all poses at once: the per-vertex weighted rest
# positions (V, 4 (B+1)) times the stacked bone matrices (4 (B+1), 3 P), then a transpose to (P, V, 3). Bone B (the
# last) is the identity "rest" bone that carries the undeformed share of a vertex (armature weight < 1, no weight).
# The CPU path is the numpy block kernel (core/body/lbs_kernel.py); this graph is the GPU path.

LBS = register(
    ModelSpec(
        file_name="lbs.onnx",
        inputs=(
            TensorSpec(
                "weighted_rest",
                ("V", "B1x4"),
                doc="per vertex and bone b: normalised weight x [x y z 1] in columns 4b..4b+3 (binding.weighted_rest)",
            ),
            TensorSpec("bone_table", ("P", "B1", 3, 4), doc="per pose: mesh-space 3x4 bone matrices + identity"),
        ),
        outputs=(TensorSpec("vertices", ("P", "V", 3), doc="deformed vertices, mesh space"),),
        doc="Linear blend skinning as in Blender's Armature modifier, all poses in one matrix product (no weights).",
        extra={"license": "GPL-3.0-or-later", "form": "dense"},
    )
)
