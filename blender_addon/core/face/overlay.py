"""Draw tracked faces on a photo (add-on preview, and test images a person can look at)."""

from __future__ import annotations

import cv2
import numpy as np

from ..formats.image_io import to_rgb_uint8
from .tracking import NUM_MESH, Face

MESH_COLOR = (80, 220, 120)
IRIS_COLOR = (255, 60, 200)
BOX_COLOR = (255, 200, 40)
ROI_COLOR = (90, 140, 255)


def draw_landmarks(image_rgb: np.ndarray, faces: list[Face], show_roi: bool = False) -> np.ndarray:
    """A new RGB uint8 image with each face's mesh points, iris circles, box and label (index: confidence)."""
    out = to_rgb_uint8(image_rgb).copy()
    h, w = out.shape[:2]
    scale = max(h, w) / 1000.0
    radius = max(1, round(1.5 * scale))
    thick = max(1, round(2 * scale))
    for i, face in enumerate(faces):
        lm = np.asarray(face.landmarks, dtype=np.float32)
        for x, y in lm[:NUM_MESH, :2]:
            cv2.circle(out, (round(float(x)), round(float(y))), radius, MESH_COLOR, -1, cv2.LINE_AA)
        if lm.shape[0] >= NUM_MESH + 10:
            for start in (NUM_MESH, NUM_MESH + 5):
                iris = lm[start : start + 5, :2]
                r = float(np.linalg.norm(iris[1:] - iris[0], axis=1).mean())
                c = (round(float(iris[0, 0])), round(float(iris[0, 1])))
                cv2.circle(out, c, max(1, round(r)), IRIS_COLOR, thick, cv2.LINE_AA)
                cv2.circle(out, c, radius + 1, IRIS_COLOR, -1, cv2.LINE_AA)
        x, y, bw, bh = face.box
        p0, p1 = (round(x), round(y)), (round(x + bw), round(y + bh))
        cv2.rectangle(out, p0, p1, BOX_COLOR, thick, cv2.LINE_AA)
        if show_roi:
            r = face.roi
            pts = cv2.boxPoints(((r.center[0], r.center[1]), r.size, float(np.degrees(r.rotation))))
            cv2.polylines(out, [np.round(pts).astype(np.int32)], True, ROI_COLOR, thick, cv2.LINE_AA)
        label = f"{i}: {face.confidence:.2f}"
        cv2.putText(
            out,
            label,
            (p0[0], max(12, p0[1] - 6)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.6 * scale + 0.2,
            BOX_COLOR,
            thick,
            cv2.LINE_AA,
        )
    return out
