"""Retarget body motion (e.g. a BVH clip) onto another skeleton through a joint-name map.

The map pairs source joints with target bones through humanoid roles: each skeleton's naming is one of the rig
conventions of core/rig/conventions/*.json (CMU/MotionBuilder, 3ds Max, Daz BVH; UE mannequin, Rigify, Mixamo, ...;
a user can add a convention file), with short preset names in bvh_presets.json; a user map is a JSON object
{"SourceJoint": "target_bone", ...}.

Transfer is by world-space rotation change, with the rest poses reconciled:
* a yaw Y turns the target to face the way the source faces (from the left-right hip or shoulder axis);
* per mapped bone, A rotates the target's rest aim (head -> next mapped joint) onto the source's rest aim, so an
  A-posed character follows a T-posed clip without its arms drifting by the rest difference;
* the bone's world rotation is then Y^T D(f) A Y G_rest, with D(f) the source joint's world rotation change since its
  rest; unmapped bones follow their parent rigidly; the root moves with the source hips, scaled by leg length, with
  the ground taken from the clip's lowest foot.
Everything is numpy, vectorised over frames; the loop is over the target hierarchy only (parents before children).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import FacsimileError

PRESETS_FILE = Path(__file__).with_name("bvh_presets.json")
MIN_MAPPED = 4


def presets() -> dict[str, dict[str, str]]:
    """{"sources": {alias: convention}, "targets": {alias: convention}} from bvh_presets.json: the short names --map
    accepts (cmu, 3dsmax, daz; ue, rigify, ...) for rig naming conventions (core/rig/conventions/*.json)."""
    data = json.loads(PRESETS_FILE.read_text(encoding="utf-8"))
    return {"sources": dict(data["sources"]), "targets": dict(data["targets"])}


def _convention(key: str, side: str):
    """A --map preset (an alias, a built-in convention name or a convention JSON file) as a Convention."""
    from ..rig.conventions import builtin_conventions, convention_named, load_convention

    table = presets()["sources" if side == "source" else "targets"]
    if key in table:
        return convention_named(table[key])
    if key.lower().endswith(".json"):
        return load_convention(key)
    if any(c.name == key for c in builtin_conventions()):
        return convention_named(key)
    other = presets()["targets" if side == "source" else "sources"]
    names = ", ".join(table) + " or a rig convention name"
    if side == "source":
        raise FacsimileError(
            f"unknown joint map preset '{key}'; use one of {names} (optionally SRC:TGT with TGT in "
            f"{', '.join(other)}), or a JSON map file"
        )
    raise FacsimileError(f"unknown target naming '{key}'; use one of {names}")


def _role_map(names, convention=None):
    from ..rig.conventions import match_rig

    return match_rig(list(names), convention=convention)


def load_user_map(path: str | Path) -> dict[str, str]:
    """A JSON joint map: {"SourceJoint": "target_bone"} (or {"map": {...}})."""
    from ..formats.json_file import read_json_file

    path = Path(path)
    try:
        data = read_json_file(path, "joint map")
    except OSError as exc:
        raise FacsimileError(f"cannot read joint map {path}: {exc.strerror or exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("map"), dict):
        data = data["map"]
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise FacsimileError(f"joint map {path} must be a JSON object of source joint name -> target bone name")
    return dict(data)


def build_joint_map(
    source_names: list[str] | tuple[str, ...],
    target_names: list[str] | tuple[str, ...],
    spec: str | dict[str, str] | None = None,
) -> dict[str, str]:
    """Source joint -> target bone pairs present in both skeletons.

    The namings are the rig conventions of core/rig (JSON files a user can add to or pass): both skeletons' bones
    are matched to humanoid roles and paired role by role. spec: None/"auto" (detect both namings), a source preset
    (bvh_presets.json: cmu, 3dsmax, daz, or any convention name; target detected), "SRC:TGT", a path to a JSON joint
    map {"SourceJoint": "target_bone"}, a rig convention JSON ({"roles": {...}}: the target's naming), or a dict.
    """
    src, tgt = set(source_names), set(target_names)
    if isinstance(spec, dict):
        pairs = dict(spec)
    elif spec and (spec.endswith(".json") or Path(spec).is_file()) and not _is_convention_file(spec):
        pairs = load_user_map(spec)
    else:
        s_conv = t_conv = None
        if spec and _is_convention_file(spec):
            t_conv = _convention(spec, "target")
        elif spec and spec != "auto":
            s_key, _, t_key = spec.partition(":")
            s_conv = _convention(s_key, "source")
            t_conv = _convention(t_key, "target") if t_key else None
        s_map, t_map = _role_map(source_names, s_conv), _role_map(target_names, t_conv)
        for conv, rmap, which in ((s_conv, s_map, "the motion's joints"), (t_conv, t_map, "the rig's bones")):
            if conv is None and len(rmap.bones) < MIN_MAPPED:
                raise FacsimileError(
                    f"cannot tell the naming of {which}: source joints {_preview(source_names)}; target bones "
                    f"{_preview(target_names)}. Pass --map with a preset ({', '.join(presets()['sources'])}) "
                    'or a JSON map {"SourceJoint": "target_bone"}'
                )
        # with a named convention, roles its bones lack keep the convention's name (the error below lists them)
        s_names = {r: s_map.bones.get(r, c[0]) for r, c in s_conv.roles.items()} if s_conv else dict(s_map.bones)
        t_names = {r: t_map.bones.get(r, c[0]) for r, c in t_conv.roles.items()} if t_conv else dict(t_map.bones)
        pairs = {s_names[r]: t_names[r] for r in s_names if r in t_names}
    found = {s: t for s, t in pairs.items() if s in src and t in tgt}
    if len(found) < MIN_MAPPED:
        missing_s = sorted(s for s in pairs if s not in src)[:8]
        missing_t = sorted(t for t in pairs.values() if t not in tgt)[:8]
        raise FacsimileError(
            f"the motion's joints do not match the rig: only {len(found)} of {len(pairs)} mapped joints exist on "
            f"both sides (need {MIN_MAPPED}). Missing in the motion: {missing_s or 'none'}; missing on the rig: "
            f"{missing_t or 'none'}. Motion joints: {_preview(source_names)}; rig bones: {_preview(target_names)}. "
            "Use --map with the right preset or a JSON map"
        )
    return found


def _is_convention_file(spec: str) -> bool:
    """A JSON file holding a rig convention ({"roles": {...}}) rather than a joint map."""
    p = Path(spec)
    if not (spec.lower().endswith(".json") and p.is_file()):
        return False
    from ..formats.json_file import read_json_file

    try:
        data = read_json_file(p, "joint map")
    except FacsimileError:
        return False  # not readable as a convention: read_joint_map says why
    return isinstance(data, dict) and isinstance(data.get("roles"), dict)


def _preview(names, n: int = 10) -> str:
    names = list(names)
    return ", ".join(names[:n]) + (", ..." if len(names) > n else "") if names else "(none)"


@dataclass
class Skeleton:
    """Bone names, parent index (-1 for roots, parents listed before children), rest matrices (armature space,
    bone.matrix_local) and the armature object's world matrix."""

    names: tuple[str, ...]
    parents: np.ndarray
    rest: np.ndarray  # (B, 4, 4)
    world: np.ndarray  # (4, 4)

    def index(self, name: str) -> int:
        return self.names.index(name)


def _rot(m: np.ndarray) -> np.ndarray:
    """Rotation part of (..., 4, 4) or (..., 3, 3) matrices (orthonormalised by SVD, scale removed)."""
    m3 = np.asarray(m)[..., :3, :3]
    u, _, vt = np.linalg.svd(m3)
    r = u @ vt
    det = np.linalg.det(r)
    fix = np.where(det < 0, -1.0, 1.0)
    u[..., :, 2] *= fix[..., None]
    return u @ vt


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation matrix taking unit vector a onto unit vector b."""
    v = np.cross(a, b)
    c = float(np.dot(a, b))
    if c < -1 + 1e-9:  # opposite: half turn about any axis perpendicular to a
        axis = np.cross(a, [1.0, 0.0, 0.0])
        if np.linalg.norm(axis) < 1e-6:
            axis = np.cross(a, [0.0, 1.0, 0.0])
        axis /= np.linalg.norm(axis)
        return 2 * np.outer(axis, axis) - np.eye(3)
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1 + c)


def _descendant(parents: np.ndarray, node: int, ancestor: int) -> bool:
    while node >= 0:
        if node == ancestor:
            return True
        node = int(parents[node])
    return False


def _depth(parents: np.ndarray, node: int) -> int:
    d = 0
    while parents[node] >= 0:
        node = int(parents[node])
        d += 1
    return d


def _yaw_between(src_lateral: np.ndarray, tgt_lateral: np.ndarray) -> np.ndarray:
    """Rotation about world Z taking the target's horizontal left-right axis onto the source's."""
    a = np.array([tgt_lateral[0], tgt_lateral[1], 0.0])
    b = np.array([src_lateral[0], src_lateral[1], 0.0])
    if np.linalg.norm(a) < 1e-9 or np.linalg.norm(b) < 1e-9:
        return np.eye(3)
    return _rotation_between(a / np.linalg.norm(a), b / np.linalg.norm(b))


def retarget(
    source: Skeleton,
    source_pose: np.ndarray,
    target: Skeleton,
    joint_map: dict[str, str],
) -> np.ndarray:
    """Target armature-space pose matrices (P, Bt, 4, 4) from source armature-space pose matrices (P, Bs, 4, 4)."""
    source_pose = np.asarray(source_pose, dtype=np.float64)
    if source_pose.ndim != 4 or source_pose.shape[1] != len(source.names):
        raise FacsimileError(f"source pose must be (P, {len(source.names)}, 4, 4), got {source_pose.shape}")
    if not np.all(np.isfinite(source_pose)):
        raise FacsimileError("the motion contains NaN or infinite values")
    p_count = source_pose.shape[0]
    pairs = [(source.index(s), target.index(t)) for s, t in joint_map.items()]
    t_to_s = {t: s for s, t in pairs}

    cs, ct = _rot(source.world), _rot(target.world)
    sw, tw = source.world, target.world

    def heads_world(world: np.ndarray, mats: np.ndarray) -> np.ndarray:
        return mats[..., :3, 3] @ world[:3, :3].T + world[:3, 3]

    s_rest_head = heads_world(sw, source.rest)
    t_rest_head = heads_world(tw, target.rest)
    s_pose_head = heads_world(sw, source_pose)  # (P, Bs, 3)

    # Root: the mapped target bone nearest the top of the hierarchy.
    root_t = min(t_to_s, key=lambda t: _depth(target.parents, t))
    root_s = t_to_s[root_t]

    # Facing: left-right axis from mapped side pairs (thighs, else upper arms, else clavicles), else identity.
    roles = _roles(joint_map)
    yaw = np.eye(3)
    for canon_l, canon_r in (
        ("leftUpperLeg", "rightUpperLeg"),
        ("leftUpperArm", "rightUpperArm"),
        ("leftShoulder", "rightShoulder"),
    ):
        if canon_l in roles and canon_r in roles:
            (sl, tl), (sr, tr) = roles[canon_l], roles[canon_r]
            src_lat = s_rest_head[source.index(sl)] - s_rest_head[source.index(sr)]
            tgt_lat = t_rest_head[target.index(tl)] - t_rest_head[target.index(tr)]
            yaw = _yaw_between(src_lat, tgt_lat)
            break

    # Per mapped bone: rest alignment A (target aim onto source aim, in the source-facing frame).
    align: dict[int, np.ndarray] = {}
    order = list(range(len(target.names)))
    for t in order:
        if t not in t_to_s:
            continue
        s = t_to_s[t]
        if t == root_t:
            align[t] = np.eye(3)
            continue
        bone_y = _rot(target.rest[t])[:, 1]
        cands = [
            (t2, s2)
            for t2, s2 in t_to_s.items()
            if t2 != t and _descendant(target.parents, t2, t) and _descendant(source.parents, s2, s)
        ]
        best = None
        if cands:
            depth = min(_depth(target.parents, t2) for t2, _ in cands)
            near = [(t2, s2) for t2, s2 in cands if _depth(target.parents, t2) == depth]
            best = max(near, key=lambda c: float(np.dot(target.rest[c[0]][:3, 3] - target.rest[t][:3, 3], bone_y)))
        a = None
        if best is not None:
            t2, s2 = best
            vt = yaw @ (t_rest_head[t2] - t_rest_head[t])
            vs = s_rest_head[s2] - s_rest_head[s]
            if np.linalg.norm(vt) > 1e-6 and np.linalg.norm(vs) > 1e-6:
                a = _rotation_between(vt / np.linalg.norm(vt), vs / np.linalg.norm(vs))
        if a is None and best is None and not np.any(source.parents == s):
            # A source leaf (its bone ends at the BVH End Site, a real point): align the bones' own axes, so a
            # head or a toe keeps its own rest orientation instead of taking its parent segment's correction.
            vt = yaw @ (_rot(tw)[:3, :3] @ _rot(target.rest[t])[:, 1])
            vs = _rot(sw)[:3, :3] @ _rot(source.rest[s])[:, 1]
            a = _rotation_between(vt / np.linalg.norm(vt), vs / np.linalg.norm(vs))
        if a is None:  # end of a chain or zero-length joint: inherit the nearest mapped ancestor's alignment
            p = int(target.parents[t])
            while p >= 0 and p not in align:
                p = int(target.parents[p])
            a = align.get(p, np.eye(3))
        align[t] = a

    # Root translation: leg-length scale, clip ground from the lowest foot/toe over all frames.
    leg_s = _leg_height(source, s_rest_head, joint_map, side="source")
    leg_t = _leg_height(target, t_rest_head, joint_map, side="target")
    k = leg_t / leg_s if leg_s > 1e-9 and leg_t > 1e-9 else 1.0
    feet_s = [source.index(s) for s in _feet(joint_map, "source")]
    ground_s = float(s_pose_head[:, feet_s, 2].min()) if feet_s else float(s_pose_head[:, :, 2].min())
    lowest_t = min((t_rest_head[target.index(t)][2] for t in _feet(joint_map, "target")), default=0.0)
    root_rest_t = t_rest_head[root_t]
    hip_s = s_pose_head[:, root_s]  # (P, 3)
    delta = np.empty((p_count, 3))
    delta[:, :2] = (hip_s[:, :2] - hip_s[:1, :2]) * k
    delta[:, 2] = (hip_s[:, 2] - ground_s) * k - (root_rest_t[2] - lowest_t)
    root_world = root_rest_t + delta @ yaw  # yaw^T applied to row vectors

    # World rotations of mapped target bones: Y^T D A Y G_rest.
    s_rot_rest = cs @ _rot(source.rest)  # (Bs, 3, 3)
    s_rot_pose = cs @ _rot(source_pose)  # (P, Bs, 3, 3)
    t_rot_rest = ct @ _rot(target.rest)
    out = np.empty((p_count, len(target.names), 4, 4))
    inv_tw = np.linalg.inv(tw)
    for t in order:
        p = int(target.parents[t])
        if t in t_to_s:
            s = t_to_s[t]
            d = s_rot_pose[:, s] @ s_rot_rest[s].T
            g = yaw.T @ d @ align[t] @ yaw @ t_rot_rest[t]  # (P, 3, 3) world
            m = np.zeros((p_count, 4, 4))
            m[:, :3, :3] = ct.T @ g
            m[:, 3, 3] = 1.0
            if t == root_t:
                m[:, :3, 3] = root_world @ inv_tw[:3, :3].T + inv_tw[:3, 3]
            elif p >= 0:
                local = np.linalg.inv(target.rest[p]) @ target.rest[t]
                m[:, :3, 3] = (out[:, p] @ local)[:, :3, 3]
            else:
                m[:, :3, 3] = target.rest[t][:3, 3]
            # keep the bone's rest scale (the rotation part above is unit)
            m[:, :3, :3] = m[:, :3, :3] * np.linalg.norm(target.rest[t][:3, :3], axis=0)[None, None, :]
            out[:, t] = m
        elif p >= 0:
            out[:, t] = out[:, p] @ (np.linalg.inv(target.rest[p]) @ target.rest[t])
        else:
            out[:, t] = target.rest[t]

    # Feet on the floor: shift the root's subtree vertically so that the lowest foot/toe joint is, in the lower tenth
    # of the frames, as high as it is in the target's rest pose (clips differ in where their ground is).
    feet_t = [target.index(t) for t in _feet(joint_map, "target")]
    if feet_t:
        lowest = heads_world(tw, out[:, feet_t])[..., 2].min(axis=1)
        shift = lowest_t - float(np.percentile(lowest, 10))
        moved = [b for b in range(len(target.names)) if _descendant(target.parents, b, root_t)]
        out[:, moved, :3, 3] += inv_tw[:3, :3] @ np.array([0.0, 0.0, shift])
    return out


def _roles(joint_map: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Humanoid role -> (source joint, target bone) for the map's pairs, from whichever naming is recognised."""
    rev = {t: s for s, t in joint_map.items()}
    roles: dict[str, tuple[str, str]] = {}
    for role, name in _role_map(list(joint_map)).bones.items():
        roles[role] = (name, joint_map[name])
    for role, name in _role_map(list(rev)).bones.items():
        roles.setdefault(role, (rev[name], name))
    return roles


def _feet(joint_map: dict[str, str], side: str) -> list[str]:
    roles = _roles(joint_map)
    pick = 0 if side == "source" else 1
    return sorted({roles[c][pick] for c in ("leftToes", "rightToes", "leftFoot", "rightFoot") if c in roles})


def _leg_height(skel: Skeleton, heads: np.ndarray, joint_map: dict[str, str], side: str) -> float:
    """Rest height of the mapped root above the lowest mapped foot/toe joint (world Z)."""
    names = list(joint_map) if side == "source" else list(joint_map.values())
    idx = [skel.index(n) for n in names]
    root = min(idx, key=lambda i: _depth(skel.parents, i))
    feet = [skel.index(n) for n in _feet(joint_map, side)] or idx
    return float(heads[root][2] - heads[feet][:, 2].min())


def basis_from_pose(target: Skeleton, pose: np.ndarray) -> np.ndarray:
    """pose_bone.matrix_basis (P, B, 4, 4) that makes Blender evaluate `pose` (armature space), for bones that
    inherit rotation and scale (the default): basis = (rest_p^-1 rest)^-1 pose_p^-1 pose."""
    out = np.empty_like(pose)
    rest_inv = np.linalg.inv(target.rest)
    for b in range(len(target.names)):
        p = int(target.parents[b])
        if p < 0:
            out[:, b] = rest_inv[b] @ pose[:, b]
        else:
            local = rest_inv[p] @ target.rest[b]
            out[:, b] = np.linalg.inv(local) @ np.linalg.inv(pose[:, p]) @ pose[:, b]
    return out
