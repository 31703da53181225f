"""LBS through onnxruntime, the GPU path: runs the shipped exported_models/lbs.onnx (model_training/convert/lbs_onnx.py).

The graph is one dense matrix product over all poses of a batch (contract: core/models/specs.py `LBS`). On CUDA the
weighted rest positions go to the device once per binding, poses run in batches of POSE_BATCH, and each batch's
vertices are copied from the device straight into the caller's output array (page-locked when the caller took it
from `empty_output`: one DMA transfer instead of the driver's staged copy into pageable memory). On an H200 (benchmarks/gpu_check.py) the
product itself took 0.004 ms per pose (63k vertices) and the copy back to host memory the rest: the copy, not the
arithmetic, sets the speed, so a short last batch is not padded (padding would add bytes to copy, and the graph has
no convolutions whose plan a new shape would reset). On the CPU the numpy kernel (lbs_kernel.py) is faster than this
graph; the graph runs there only for checks.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..models.onnx_session import DeviceUnavailableError, cuda_worth_it
from ..models.specs import LBS
from .binding import LBSBinding, SkinningError, weighted_rest
from .matrices import bone_table

# Poses per CUDA run, capped so that the output and the (V, 3P) product together stay under DEVICE_BATCH_BYTES on the
# device. Measured on two H200 machines (63k vertices, benchmarks/gpu_check.py): 64 poses per run 0.105 and 0.059
# ms/pose, 256 poses 0.160 and 0.054: 64 was never far from the best and keeps the buffers small.
POSE_BATCH = 64
DEVICE_BATCH_BYTES = 1 << 30
# The dense weighted rest matrix is V x 4 (B+1) floats; beyond this the GPU path is refused (auto uses numpy).
DENSE_MAX_BYTES = 2 << 30
_CPU_POSE_BATCH = 8


def dense_bytes(binding: LBSBinding) -> int:
    """Bytes of the binding's weighted rest matrix on the device."""
    return binding.num_vertices * 4 * (binding.num_bones + 1) * 4


class OnnxLBS:
    """Runs lbs.onnx for one binding on one device ("cuda" or "cpu"; via core.models.onnx_session.create_session).

    Loads the shipped exported_models/lbs.onnx (checked against its manifest sha256 and its ModelSpec); `model` may
    name another file or pass serialized bytes (tests). `info` says where it really runs.
    """

    def __init__(
        self, binding: LBSBinding, device: str = "cuda", threads: int | None = None, model: str | bytes | None = None
    ) -> None:
        from ..models.onnx_session import create_session
        from ..models.specs import check_session

        if device not in ("cuda", "cpu"):
            raise ValueError(f"OnnxLBS runs on 'cuda' or 'cpu' (auto_runner chooses); got {device!r}")
        if device == "cuda" and dense_bytes(binding) > DENSE_MAX_BYTES:
            raise SkinningError(
                f"the mesh is too large for the GPU path ({dense_bytes(binding) / 2**30:.1f} GiB of weighted rest "
                f"positions, limit {DENSE_MAX_BYTES / 2**30:.0f} GiB); use device cpu"
            )
        if model is None:
            from ..models.store import verified_model_path

            model = verified_model_path(LBS.file_name)
        self.binding = binding
        self.session, self.info = create_session(model, device=device, threads=threads, batch=POSE_BATCH)
        check_session(self.session, LBS)
        (self._rest_name, self._table_name), (self._out_name,) = (t.name for t in LBS.inputs), (LBS.outputs[0].name,)
        rest = weighted_rest(binding)
        self._rest = rest
        self._rest_device = None
        self.last_output_pinned = False
        per_pose = binding.num_vertices * 3 * 4 * 2  # output + the (V, 3P) product
        self.pose_batch = max(1, min(POSE_BATCH, DEVICE_BATCH_BYTES // per_pose))
        if self.info.device == "cuda":
            from ..models.onnx_session import ort

            self._rest_device = ort.OrtValue.ortvalue_from_numpy(rest, "cuda", 0)

    def empty_output(self, num_poses: int) -> np.ndarray:
        """A (num_poses, V, 3) float32 array to pass as `out` and reuse across calls: page-locked host memory on CUDA
        (the copy back from the device is one DMA transfer, 2.7x faster on an H200, see core/body/pinned_host.py),
        ordinary memory otherwise. `last_output_pinned` says which one it gave."""
        shape = (int(num_poses), self.binding.num_vertices, 3)
        if self.info.device == "cuda":
            from .pinned_host import empty_pinned

            arr, self.last_output_pinned = empty_pinned(shape)
            return arr
        self.last_output_pinned = False
        return np.empty(shape, dtype=np.float32)

    def __call__(
        self,
        mesh_mats: np.ndarray,
        *,
        pose_batch: int | None = None,
        out: np.ndarray | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        """(P, B, 4, 4) mesh-space bone matrices -> (P, V, 3) float32 vertices (written into `out` when given)."""
        table = bone_table(mesh_mats, self.binding.num_bones)
        p_count = table.shape[0]
        v_count = self.binding.num_vertices
        if out is None:
            out = np.empty((p_count, v_count, 3), dtype=np.float32)
        if out.shape != (p_count, v_count, 3) or out.dtype != np.float32 or not out.flags.c_contiguous:
            raise SkinningError(f"out must be a C-contiguous float32 array of shape {(p_count, v_count, 3)}")
        cuda = self._rest_device is not None
        step = pose_batch or (self.pose_batch if cuda else _CPU_POSE_BATCH)
        for p0 in range(0, p_count, step):
            p1 = min(p_count, p0 + step)
            if cuda:
                self._run_cuda(table[p0:p1], out[p0:p1])
            else:
                feeds = {self._rest_name: self._rest, self._table_name: table[p0:p1]}
                out[p0:p1] = self.session.run([self._out_name], feeds)[0]
            if progress is not None:
                progress(p1, p_count)
        return out

    def _run_cuda(self, table: np.ndarray, dest: np.ndarray) -> None:
        """One run on CUDA: the weighted rest already on the device, the poses' vertices copied into dest."""
        io = self.session.io_binding()
        io.bind_ortvalue_input(self._rest_name, self._rest_device)
        io.bind_cpu_input(self._table_name, np.ascontiguousarray(table))
        io.bind_output(self._out_name, "cpu", 0, np.float32, list(dest.shape), dest.ctypes.data)
        self.session.run_with_iobinding(io)


def auto_runner(binding: LBSBinding, num_poses: int, threads: int | None = None) -> OnnxLBS | None:
    """The "auto" device for LBS: the graph on CUDA when the measured policy says CUDA pays for this many poses, the
    mesh fits, and CUDA works; else None (the numpy kernel on the CPU)."""
    if not cuda_worth_it(LBS.file_name, num_poses) or dense_bytes(binding) > DENSE_MAX_BYTES:
        return None
    try:
        return OnnxLBS(binding, device="cuda", threads=threads)
    except DeviceUnavailableError:
        return None
