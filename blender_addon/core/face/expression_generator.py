"""Landmarks -> ARKit-52 weights through exported_models/expression_generator.onnx.

The model was trained on synthetic ICT-FaceKit faces inside a known head-pose range; faces outside that range, or whose
normalised landmarks look unlike anything in training, are returned with in_range False and a reason instead of
silently trusted. tongueOut is always 0: ICT-FaceKit has no tongue shape, so there is nothing to learn it from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..arkit import ARKIT_NAMES, NUM_BLENDSHAPES
from ..errors import FacsimileError
from ..models.specs import (
    EXPRESSION_GENERATOR,
    STANDARDISATION_KEY,
    check_session,
    decode_standardisation,
)
from .landmark_normalize import FEATURE_SIZE, normalize_landmarks

DEFAULT_POSE_LIMITS = {"yaw": 50.0, "pitch": 35.0, "roll": 40.0}
# The pose estimate from landmarks errs by a few degrees (perspective, expressions): flag only clearly beyond training.
POSE_MARGIN_DEG = 8.0


@dataclass
class GeneratorResult:
    """weights (N, 52) float32 in [0, 1] (contract order); in_range (N,) bool; reasons[i] says why face i is not."""

    weights: np.ndarray
    in_range: np.ndarray
    reasons: list[str] = field(default_factory=list)
    pose_deg: np.ndarray | None = None  # (N, 3) estimated yaw, pitch, roll


class ExpressionGenerator:
    """The trained landmark -> weights network, with the input checks that make its output trustworthy."""

    def __init__(self, device: str = "auto", model_path: str | Path | None = None, threads: int | None = None):
        from ..models.onnx_session import create_session
        from ..models.store import verified_model_path

        path = Path(model_path) if model_path is not None else verified_model_path(EXPRESSION_GENERATOR.file_name)
        if not path.is_file():
            raise FacsimileError(f"expression generator model not found: {path}")
        self.session, self.session_info = create_session(path, device, threads)
        check_session(self.session, EXPRESSION_GENERATOR)
        meta = self.session.get_modelmeta().custom_metadata_map
        order = json.loads(meta.get("facsimile.arkit_order", "null") or "null")
        if order is not None and list(order) != list(ARKIT_NAMES):
            raise FacsimileError(f"{path}: the model's ARKit order differs from this version's; re-export the model")
        self.pose_limits = dict(DEFAULT_POSE_LIMITS)
        if "facsimile.pose_limits_deg" in meta:
            self.pose_limits.update(json.loads(meta["facsimile.pose_limits_deg"]))
        self.ood_threshold = float(json.loads(meta.get("facsimile.ood_threshold", "inf") or "inf"))
        self.metadata = dict(meta)
        self.model_path = path
        self._mean, self._inv_std = self._standardisation(meta)

    @staticmethod
    def _standardisation(meta: dict[str, str]) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The feature mean and 1/std the network standardises with, for the out-of-distribution score.

        They travel in the model's metadata (written by the exporter), so reading them needs only onnxruntime: the
        installed extension has no `onnx` package.
        """
        raw = meta.get(STANDARDISATION_KEY)
        if not raw:
            return None, None
        mean, inv_std = decode_standardisation(raw)
        if mean.shape != (FEATURE_SIZE,):
            raise FacsimileError(f"the model's feature standardisation has {mean.size} values, not {FEATURE_SIZE}")
        return mean, inv_std

    @property
    def device_info(self) -> str:
        """The device the session really runs on (and why, when it fell back)."""
        info = self.session_info
        return info.device + (f" ({info.note})" if info.note else "")

    def predict(self, landmarks: np.ndarray) -> GeneratorResult:
        """(N, 478|468, 3) or (478|468, 3) pixel landmarks -> GeneratorResult. NaN / wrong shape -> FacsimileError."""
        feats, pose = normalize_landmarks(landmarks)
        out = self.session.run(None, {"features": feats})[0].astype(np.float32)
        if out.shape != (len(feats), NUM_BLENDSHAPES) or not np.isfinite(out).all():
            raise FacsimileError("the expression generator returned invalid values; re-export or reinstall the model")
        weights = np.clip(out, 0.0, 1.0)
        pose_arr = np.stack([pose.yaw, pose.pitch, pose.roll], 1).astype(np.float32)
        in_range = np.ones(len(feats), bool)
        reasons = [""] * len(feats)
        for i in range(len(feats)):
            why = []
            for k, (name, lim) in enumerate(self.pose_limits.items()):
                if abs(pose_arr[i, k]) > lim + POSE_MARGIN_DEG:
                    why.append(f"head {name} {pose_arr[i, k]:+.0f} deg is outside the trained range +-{lim:.0f} deg")
            if self._mean is not None and np.isfinite(self.ood_threshold):
                score = float(np.sqrt((((feats[i] - self._mean) * self._inv_std) ** 2).mean()))
                if score > self.ood_threshold:
                    why.append(
                        f"landmarks unlike any training face (score {score:.2f} > {self.ood_threshold:.2f}); "
                        "the detection may be wrong"
                    )
            if why:
                in_range[i] = False
                reasons[i] = "; ".join(why)
        return GeneratorResult(weights=weights, in_range=in_range, reasons=reasons, pose_deg=pose_arr)
