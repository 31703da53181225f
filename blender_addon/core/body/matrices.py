"""Bone matrices as the Armature modifier builds them (armature_deform.cc), with checks that name the broken input.

* A vertex is taken into armature space with premat = (mesh_world^-1 @ arm_world)^-1, deformed there and brought back
  with postmat = mesh_world^-1 @ arm_world.
* Each deforming bone contributes `chan_mat = pose_bone.matrix @ bone.matrix_local^-1`.
"""

from __future__ import annotations

import numpy as np

from .binding import SkinningError


def check_finite(name: str, m: np.ndarray) -> None:
    if not np.all(np.isfinite(m)):
        bad = np.argwhere(~np.isfinite(m).reshape(m.shape[0], -1).all(axis=1)).ravel() if m.ndim >= 3 else []
        where = f" (first bad entry index {int(bad[0])})" if len(bad) else ""
        raise SkinningError(f"{name} contain NaN or infinite values{where}; check the pose/rig for broken keys")


def _inverse(name: str, m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    check_finite(name, m[None] if m.ndim == 2 else m)
    det = np.linalg.det(m[..., :3, :3])
    if np.any(np.abs(det) < 1e-12):
        raise SkinningError(f"{name} is singular (zero scale on an axis) and cannot be inverted; fix its scale")
    return np.linalg.inv(m)


def object_space_matrices(arm_world: np.ndarray, mesh_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(premat, postmat) as armature_deform.cc builds them: postmat = mesh_world^-1 @ arm_world, premat its inverse.

    Either matrix may be (4, 4) or (P, 4, 4) when the objects move over the poses.
    """
    postmat = _inverse("the mesh object's world matrix", mesh_world) @ np.asarray(arm_world, dtype=np.float64)
    return _inverse("the armature-to-mesh matrix", postmat), postmat


def channel_matrices(pose_mats: np.ndarray, rest_mats: np.ndarray) -> np.ndarray:
    """chan_mat = pose_bone.matrix @ bone.matrix_local^-1 per pose and bone: (P, B, 4, 4) float64, armature space."""
    pose_mats = np.asarray(pose_mats, dtype=np.float64)
    if pose_mats.ndim != 4 or pose_mats.shape[-2:] != (4, 4):
        raise SkinningError(f"pose matrices must be (P, B, 4, 4), got {pose_mats.shape}")
    check_finite("pose matrices", pose_mats)
    det = np.linalg.det(pose_mats[..., :3, :3])
    bad = np.argwhere(np.abs(det) < 1e-12)
    if len(bad):
        p, bone = (int(x) for x in bad[0])
        raise SkinningError(
            f"pose {p} has a singular matrix for bone {bone} (zero scale); "
            f"{len(bad)} bone matrices are singular. Fix the scale keys of the pose"
        )
    return pose_mats @ _inverse("bone rest matrices (bone.matrix_local)", rest_mats)[None]


def mesh_space_matrices(chan: np.ndarray, premat: np.ndarray, postmat: np.ndarray) -> np.ndarray:
    """postmat @ chan @ premat: the bone transforms acting directly on mesh-space rest vertices."""
    post = np.asarray(postmat, dtype=np.float64)
    pre = np.asarray(premat, dtype=np.float64)
    if post.ndim == 3:
        post = post[:, None]
    if pre.ndim == 3:
        pre = pre[:, None]
    return post @ chan @ pre


def bone_table(mesh_mats: np.ndarray, num_bones: int) -> np.ndarray:
    """(P, B, 4, 4) -> (P, B+1, 3, 4) float32 with the identity bone appended; checks shape and finiteness once
    for every kernel (numpy and ONNX) that skins with it."""
    mesh_mats = np.asarray(mesh_mats)
    if mesh_mats.ndim != 4:
        raise SkinningError(f"bone matrices must be (P, B, 4, 4), got {mesh_mats.shape}")
    check_finite("bone matrices", mesh_mats)
    p = mesh_mats.shape[0]
    if mesh_mats.shape[1:] != (num_bones, 4, 4):
        raise SkinningError(f"expected matrices for {num_bones} deform bones, got shape {mesh_mats.shape}")
    table = np.empty((p, num_bones + 1, 3, 4), dtype=np.float32)
    table[:, :num_bones] = mesh_mats[:, :, :3, :]
    table[:, num_bones] = np.eye(4, dtype=np.float32)[:3]
    return table
