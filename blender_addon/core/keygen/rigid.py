"""Keys of the rigid helper meshes: eyes that turn (eyeLook*) and lower teeth/tongue that follow the chin (jaw*).

ARKit's eyeLook* turn the eyes while the lids follow on the head; the jaw keys carry the lower teeth with the chin.
Both are rigid motions computed here on arrays in the head's object space; usecases/keys.py only moves them between
Blender objects' spaces and writes them.
"""

from __future__ import annotations

import numpy as np

from ..arkit import ARKIT_NAMES
from ..errors import FacsimileError
from .geometry import umeyama
from .pipeline import KeygenResult

EYE_ANGLES_DEG = {"Up": 25.0, "Down": 30.0, "In": 30.0, "Out": 30.0}
JAW_KEYS = ("jawOpen", "jawLeft", "jawRight", "jawForward")


def rotate(points: np.ndarray, centre: np.ndarray, axis: np.ndarray, deg: float) -> np.ndarray:
    """Points turned by `deg` degrees about the line through `centre` along `axis` (right-handed, Rodrigues)."""
    axis = axis / np.linalg.norm(axis)
    a = np.radians(deg)
    p = points - centre
    rot = p * np.cos(a) + np.cross(axis, p) * np.sin(a) + np.outer(p @ axis, axis) * (1 - np.cos(a))
    return rot + centre


def eye_look_deltas(rest: np.ndarray, right: np.ndarray, up: np.ndarray, side: str) -> dict[str, np.ndarray]:
    """eyeLook{Up,Down,In,Out}{side} of one eye mesh as turns about its bounding-box centre.

    rest: (N, 3) the eye's vertices; right (towards the subject's left) and up: the face axes in the same space;
    side: "Left" or "Right" (the subject's)."""
    centre = (rest.min(0) + rest.max(0)) / 2
    # Right-handed turns: about `up`, +angle swings the gaze towards `right` (the subject's left); about `right`,
    # +angle swings it down.
    nose = -1.0 if side == "Left" else 1.0  # sign of the turn about `up` that looks towards the nose
    turns = {
        "Up": (right, -EYE_ANGLES_DEG["Up"]),
        "Down": (right, EYE_ANGLES_DEG["Down"]),
        "In": (up, nose * EYE_ANGLES_DEG["In"]),
        "Out": (up, -nose * EYE_ANGLES_DEG["Out"]),
    }
    return {f"eyeLook{what}{side}": rotate(rest, centre, axis, deg) - rest for what, (axis, deg) in turns.items()}


def chin_vertices(rest: np.ndarray, result: KeygenResult) -> np.ndarray:
    """(N,) bool: head vertices of the chin (fully on the face, well below the mouth, off the upper lip), whose rigid
    motion in each jaw key the lower teeth copy."""
    up = result.gaps.up
    mouth = rest[result.gaps.pairs["mouth"]].reshape(-1, 3)
    mouth_h = float((mouth @ up).mean())
    width = result.gaps.scale["mouth"]
    chin = (result.weight > 0.99) & ((rest @ up) < mouth_h - 0.7 * width) & (result.labels != 0)
    chin &= np.linalg.norm(rest - mouth.mean(0), axis=1) < 1.2 * width
    if chin.sum() < 10:
        raise FacsimileError("could not find the chin to move the teeth with; generate without --teeth")
    return chin


def lower_jaw(points: np.ndarray, comp: np.ndarray, result: KeygenResult, rest: np.ndarray) -> np.ndarray:
    """(M,) bool: the teeth/tongue vertices (head space) that belong to the lower jaw: whole connected parts whose
    centre is below the mouth line (teeth rows, the tongue; not the tips of upper teeth that reach below it); a
    single-piece mesh falls back to a per-vertex split."""
    up = result.gaps.up
    mouth_h = float((rest[result.gaps.pairs["mouth"]].reshape(-1, 3) @ up).mean())
    height = points @ up
    if len(np.unique(comp)) > 1:
        centre_h = np.bincount(comp, weights=height) / np.maximum(np.bincount(comp), 1)
        return centre_h[comp] < mouth_h
    return height < mouth_h


def jaw_follow_deltas(rest: np.ndarray, result: KeygenResult, points: np.ndarray, lower: np.ndarray):
    """Per jaw key, the displacement (head space) of `points` that rigidly follows the chin (scale dropped: the jaw
    does not grow; the translation is the chin centroid's, so a head far from its origin gets no drift); points
    outside `lower` stay."""
    chin = chin_vertices(rest, result)
    out = {}
    for name in JAW_KEYS:
        src = rest[chin]
        dst = src + result.deltas[ARKIT_NAMES.index(name)][chin]
        _, r, _ = umeyama(src, dst)
        t = dst.mean(0) - src.mean(0) @ r.T  # the chin's centroid moves as it does (umeyama's t assumes its scale)
        d = np.zeros_like(points)
        d[lower] = points[lower] @ r.T + t - points[lower]
        out[name] = d
    return out
