"""Skinning with the Armature modifier's semantics, batched over poses: the one import for callers.

The parts live in their own modules: binding.py (rest vertices + weights, prepared once per mesh), matrices.py (bone
matrices as armature_deform.cc builds them), lbs_kernel.py (the numpy LBS kernel, the CPU path), dqs.py (Preserve
Volume), lbs_onnx.py (the ONNX graph through onnxruntime, for the GPU). The graph itself is built training-side
(model_training/convert/lbs_onnx.py); its contract is core/models/specs.py `LBS`.
"""

from __future__ import annotations

from .binding import CONTRIB_THRESHOLD, LBSBinding, SkinningError, bind, weighted_rest
from .dqs import DualQuats, dual_quaternions, matrix_to_quat, quat_to_matrix, skin_dqs
from .lbs_kernel import skin_lbs, skin_lbs_reference
from .lbs_onnx import OnnxLBS, auto_runner
from .matrices import bone_table, channel_matrices, mesh_space_matrices, object_space_matrices

__all__ = [
    "CONTRIB_THRESHOLD",
    "DualQuats",
    "LBSBinding",
    "OnnxLBS",
    "SkinningError",
    "auto_runner",
    "bind",
    "bone_table",
    "channel_matrices",
    "dual_quaternions",
    "matrix_to_quat",
    "mesh_space_matrices",
    "object_space_matrices",
    "quat_to_matrix",
    "skin_dqs",
    "skin_lbs",
    "skin_lbs_reference",
    "weighted_rest",
]
