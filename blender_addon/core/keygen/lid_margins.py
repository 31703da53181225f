"""Lid-margin landmarks that sank into the eye: found, and left to the fit.

On a render the detector puts the lid margin at the edge of the dark eye opening; a ray cast there can pass the lid
and land inside the socket (an eye hole, or an eyeball that is another object). Measured along the face's forward
axis, a true margin lies about level with the ring-1 landmark just outside it (ICT's own: -0.12 to +0.04 eye widths;
the demo head's lid shells in front of the eyeball: up to +0.30), a sunken one well behind (MakeHuman rendered without
eye meshes: down to -0.89; ICT's head rendered with its eyeballs: -3). A margin landmark more than SUNK_LIMIT eye
widths behind its partner is marked invalid: the fit places it from the face model and the registration warp does not pull the lid into the socket.
"""

from __future__ import annotations

import numpy as np

from .landmark_sets import EYE_L_CORNERS, EYE_R_CORNERS, LID_MARGIN_ROWS

SUNK_LIMIT = 0.15  # eye widths behind the ring-1 landmark just outside the margin


def face_forward(landmarks: np.ndarray) -> np.ndarray | None:
    """Unit vector out of the face from the eye corners, the lips and the nose tip (None if any is missing)."""
    need = [33, 263, 13, 14, 1]
    if not np.isfinite(landmarks[need]).all():
        return None
    right = landmarks[263] - landmarks[33]
    up = (landmarks[33] + landmarks[263]) / 2 - (landmarks[13] + landmarks[14]) / 2
    fwd = np.cross(right, up)
    fwd /= np.linalg.norm(fwd)
    if (landmarks[1] - (landmarks[33] + landmarks[263]) / 2) @ fwd < 0:  # the nose sticks out
        fwd = -fwd
    return fwd


def sunken_margins(landmarks: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(468,) bool: lid-margin landmarks lying behind the skin just outside them (see module docstring)."""
    out = np.zeros(len(landmarks), bool)
    fwd = face_forward(np.where(valid[:, None], landmarks, np.nan))
    if fwd is None:
        return out
    for k, (margin, ring) in enumerate(LID_MARGIN_ROWS):
        corners = EYE_R_CORNERS if k < 2 else EYE_L_CORNERS
        if not valid[list(corners)].all():
            continue
        width = float(np.linalg.norm(landmarks[corners[0]] - landmarks[corners[1]]))
        for i, j in zip(margin, ring, strict=True):  # both rows run from the outer corner to the inner one
            if valid[i] and valid[j] and (landmarks[i] - landmarks[j]) @ fwd < -SUNK_LIMIT * width:
                out[i] = True
    return out
