"""LBS through onnxruntime: runs the shipped exported_models/lbs.onnx (built by model_training/convert/lbs_onnx.py).

The graph's contract (input/output names, bucket count) is declared once, in core/models/specs.py (`LBS`); the add-on
only loads the file, since it has no `onnx` package.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..models.specs import LBS, LBS_BUCKETS
from .binding import LBSBinding
from .matrices import bone_table, check_finite


def _onnx_buckets(binding: LBSBinding, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The binding's buckets as n graph inputs: extra buckets merge into the last one (padded to its largest bone
    count, the padding pointing at the identity bone with zero weight); missing ones are empty."""
    buckets = [(blk, bones.astype(np.int64)) for _, _, blk, bones in binding.buckets]
    if len(buckets) > n:
        tail = buckets[n - 1 :]
        j = max(bones.shape[1] for _, bones in tail)
        blk = np.concatenate([np.pad(b, ((0, 0), (0, 0), (0, 4 * j - b.shape[2]))) for b, _ in tail])
        bones = np.concatenate(
            [np.pad(o, ((0, 0), (0, j - o.shape[1])), constant_values=binding.num_bones) for _, o in tail]
        )
        buckets = buckets[: n - 1] + [(blk, bones)]
    chunk = binding.blocks.shape[1]
    while len(buckets) < n:
        buckets.append((np.zeros((0, chunk, 4), dtype=np.float32), np.zeros((0, 1), dtype=np.int64)))
    return buckets


class OnnxLBS:
    """LBS through onnxruntime (CUDA when present, via core.models.onnx_session.create_session).

    Runs the shipped exported_models/lbs.onnx (checked against its manifest sha256 and its ModelSpec); `model` may
    name another file or pass serialized bytes (tests).
    """

    def __init__(
        self, binding: LBSBinding, device: str = "auto", threads: int | None = None, model: str | bytes | None = None
    ) -> None:
        from ..models.onnx_session import create_session
        from ..models.specs import check_session

        if model is None:
            from ..models.store import verified_model_path

            model = verified_model_path(LBS.file_name)
        self.binding = binding
        self.session, self.info = create_session(model, device=device, threads=threads)
        check_session(self.session, LBS)
        self._static = {"inverse_order": binding.inverse_order}
        for i, (blk, bones) in enumerate(_onnx_buckets(binding, LBS_BUCKETS)):
            self._static[f"blocks_{i}"] = blk
            self._static[f"bones_{i}"] = bones

    def __call__(
        self,
        mesh_mats: np.ndarray,
        *,
        pose_batch: int | None = None,
        out: np.ndarray | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        mesh_mats = np.asarray(mesh_mats)
        check_finite("bone matrices", mesh_mats)
        table = bone_table(mesh_mats, self.binding.num_bones)
        p_count = table.shape[0]
        if pose_batch is None:
            pose_batch = 256 if self.info.device == "cuda" else 8
        if out is None:
            out = np.empty((p_count, self.binding.num_vertices, 3), dtype=np.float32)
        for p0 in range(0, p_count, pose_batch):
            p1 = min(p_count, p0 + pose_batch)
            feeds = dict(self._static, bone_table=table[p0:p1])
            out[p0:p1] = self.session.run([LBS.outputs[0].name], feeds)[0]
            if progress is not None:
                progress(p1, p_count)
        return out
