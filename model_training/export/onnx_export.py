"""Export the kept generator to ONNX under the EXPRESSION_GENERATOR contract and record it in the manifest.

Input/output names come from blender_addon/core/models/specs.py (the one source of the contract); the feature
standardisation is written into the metadata (STANDARDISATION_KEY) so the runtime reads it with onnxruntime alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from blender_addon.core.face.landmark_normalize import FEATURE_SIZE
from blender_addon.core.models.specs import EXPRESSION_GENERATOR, STANDARDISATION_KEY, encode_standardisation

INPUT = EXPRESSION_GENERATOR.inputs[0].name
OUTPUT = EXPRESSION_GENERATOR.outputs[0].name


def export_onnx(model: torch.nn.Module, path: Path, meta: dict[str, str]) -> float:
    """Write the ONNX file with metadata and return the max |torch - onnxruntime| on random features. The model is a
    Generator or an Ensemble (train/networks.py): anything with `mean` and `inv_std` buffers and (N, 1434) -> (N, 52)."""
    import onnx
    import onnxruntime as ort

    model.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(1, FEATURE_SIZE)
    torch.onnx.export(
        model,
        (dummy,),
        str(path),
        input_names=[INPUT],
        output_names=[OUTPUT],
        dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    m = onnx.load(str(path))
    meta = {**meta, STANDARDISATION_KEY: encode_standardisation(model.mean.numpy(), model.inv_std.numpy())}
    for k, v in meta.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    onnx.checker.check_model(m)
    onnx.save(m, str(path))
    x = (torch.from_numpy(np.asarray(model.mean)) + torch.randn(64, FEATURE_SIZE) / model.inv_std).float()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run([OUTPUT], {INPUT: x.numpy()})[0]
    with torch.no_grad():
        want = model(x).numpy()
    return float(np.abs(got - want).max())


def record_model(onnx_path: Path, **fields) -> None:
    """The sha256 manifest entry of the exported file (core/models/store.py), with the run's headline figures."""
    from blender_addon.core.models.store import record_model as record

    record(onnx_path, **fields)
