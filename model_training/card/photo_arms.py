"""Real-photo direction checks for every ablation arm of a training run (not only the kept one).

`python -m model_training.card.photo_arms [RUN_DIR]` loads each arm_<name>.pt saved by the train stage, runs the photos in
../shared/data/photos through the ONNX face front-end and prints the weights the issue's direction checks are about.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from blender_addon.core.arkit import INDEX
from blender_addon.core.face.landmark_normalize import normalize_landmarks

from ..data.photo_lists import FOCUS, PHOTOS
from ..paths import RUNS_DIR, shared_data_dir
from ..train.networks import load_arm


def arm_photo_table(run_dir: Path) -> dict[str, dict[str, dict[str, float]]]:
    """{arm: {photo: {channel: weight}}} for the largest face of each photo."""
    from blender_addon.core.face.tracking import FaceTracker
    from blender_addon.core.formats.image_io import load_image

    cfg = json.loads((run_dir / "metrics.json").read_text())["config"]
    tracker = FaceTracker(device="cpu", max_faces=1)
    feats = {}
    for name in PHOTOS:
        faces = tracker.detect(load_image(shared_data_dir() / "photos" / name))
        if faces:
            feats[name] = normalize_landmarks(faces[0].landmarks)[0]
    out: dict[str, dict[str, dict[str, float]]] = {}
    for pt in sorted(run_dir.glob("arm_*.pt")):
        model = load_arm(pt, cfg["hidden"])
        arm = pt.stem[len("arm_") :]
        out[arm] = {}
        for name, f in feats.items():
            with torch.no_grad():
                w = model(torch.from_numpy(f)).numpy()[0]
            out[arm][name] = {ch: round(float(w[INDEX[ch]]), 2) for ch in FOCUS[name]}
    return out


def main() -> int:
    run_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else RUNS_DIR / "generator"
    for arm, photos in arm_photo_table(run_dir).items():
        print(arm)
        for name, w in photos.items():
            print(f"  {name}: {w}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
