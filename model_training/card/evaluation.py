"""Every arm of a training run on every issue-10 evaluation set (model_training/evaluate), for the model card.

Evaluation sets only report: none of them chose anything (the selection used render_val and the real val clips).
The kept model is scored through the exported ONNX file (what ships); the other arms through their torch weights.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from blender_addon.core.arkit import ARKIT_NAMES
from blender_addon.core.face.landmark_normalize import normalize_landmarks

from ..train.networks import load_arm


def torch_predict(model: torch.nn.Module):
    def predict(landmarks: np.ndarray) -> np.ndarray:
        feats = normalize_landmarks(landmarks)[0]
        with torch.no_grad():
            return model(torch.from_numpy(feats)).numpy()

    return predict


def onnx_predict(model_path: Path):
    from blender_addon.core.face.expression_generator import ExpressionGenerator

    gen = ExpressionGenerator(device="cpu", model_path=model_path)
    return lambda lm: gen.predict(lm).weights


def summary(result: dict) -> dict:
    """The headline figures of one evaluate() result (ours, MediaPipe) for the every-arm table."""
    t = {r["target"]: r for r in result["targets"]}
    out: dict = {"met": sum(r["pass"] for r in result["targets"]), "of": len(result["targets"])}
    rest = [r for r in result["targets"] if r["target"].startswith("rest mean ")]
    if rest:
        worst = max(rest, key=lambda r: r["ours"])
        out["rest_worst"] = (worst["target"][len("rest mean ") :], worst["ours"], worst["mediapipe"])
        out["rest_met"] = sum(r["pass"] for r in rest)
        out["rest_of"] = len(rest)
    for style in result["details"].get("renders", {}):
        p = f"renders[{style}]"
        pear = t.get(f"{p} mean Pearson")
        rmse = next((r for k, r in t.items() if k.startswith(f"{p} RMSE")), None)
        if pear and rmse:
            out[style] = (pear["ours"], pear["mediapipe"], rmse["ours"], rmse["mediapipe"])
        wink = next((r for k, r in t.items() if k.startswith(f"{p} winks")), None)
        if wink:
            out[f"{style}_winks"] = (wink["ours"], wink["mediapipe"])
    mead = next((r for k, r in t.items() if k.startswith("MEAD mean fraction")), None)
    if mead:
        out["mead"] = (mead["ours"], mead["mediapipe"])
    rc = result["details"].get("real_clips")
    if rc:
        out["real_clips_trusted"] = rc["mean_pearson_trusted"]
    astro = next((r for k, r in t.items() if k.startswith("astronaut max")), None)
    if astro:
        out["astronaut"] = (astro["ours"], astro["mediapipe"])
    return out


def per_channel_render_table(predict) -> dict[str, dict[str, list[float | None]]]:
    """{style: {"ours_pearson", "mp_pearson", "ours_rmse", "mp_rmse": 52 values}} on the held-out renders."""
    from ..evaluate.metrics import pearson_per_channel
    from ..render.heldout import STYLES, load_render_set

    out = {}
    for style in STYLES:
        try:
            d = load_render_set(style, log=None)
        except (FileNotFoundError, OSError):
            continue
        ok = d["ours_found"] & d["mp_found"]
        ours, mp, true = np.asarray(predict(d["ours"][ok]), np.float32), d["mp_blendshapes"][ok], d["weights"][ok]

        def clean(a):
            return [None if not np.isfinite(v) else float(v) for v in a]

        out[style] = {
            "ours_pearson": clean(pearson_per_channel(ours, true)),
            "mp_pearson": clean(pearson_per_channel(mp, true)),
            "ours_rmse": clean(np.sqrt(((ours - true) ** 2).mean(0))),
            "mp_rmse": clean(np.sqrt(((mp - true) ** 2).mean(0))),
            "n": int(ok.sum()),
        }
    return out


def evaluate_run(run_dir: Path, model_path: Path, log=print) -> dict:
    """{"arms": {name: summary}, "kept": full evaluate() result of the ONNX, "per_channel": ...}; also written to
    run_dir/evaluation.json."""
    from ..evaluate import evaluate

    m = json.loads((run_dir / "metrics.json").read_text())
    hidden = m["config"]["hidden"]
    arms = {}
    for pt in sorted(run_dir.glob("arm_*.pt")):
        name = pt.stem[len("arm_") :]
        arms[name] = summary(evaluate(torch_predict(load_arm(pt, hidden)), log=None))
        log(f"evaluated {name}: {arms[name]['met']} of {arms[name]['of']} targets")
    kept_pred = onnx_predict(model_path)
    kept = evaluate(kept_pred, log=None)
    out = {"arms": arms, "kept": kept, "per_channel": per_channel_render_table(kept_pred), "names": list(ARKIT_NAMES)}
    (run_dir / "evaluation.json").write_text(json.dumps(out, indent=1))
    return out
