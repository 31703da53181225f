"""The whole training stage: data -> ablation arms -> selection (select/) -> ONNX export (export/) -> metrics.json.

`python -m model_training.train` (what `make train` runs after the render stage) trains the arms on the same seeded
split, keeps one by the fixed selection rule, exports exported_models/expression_generator.onnx (metadata: ARKit order,
input spec, training-data hash, metrics), records it in the manifest and writes metrics.json next to the run.
`--tiny` is the test-suite config (seconds, not minutes).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

import torch

from blender_addon.core.models.specs import EXPRESSION_GENERATOR

from ..data.splits import SELECT_CLIPS, TEST_CLIPS
from ..data.synth import POSE_LIMITS
from ..export.onnx_export import export_onnx, record_model
from ..paths import ONNX_PATH, RUNS_DIR
from ..select.render_rule import first_stage_pick
from .arms import EXTRA_ARMS, arm_plan, evaluate_candidate, real_selection
from .config import TINY, TrainConfig
from .dataset import build_data
from .loop import train_one


def run(
    cfg: TrainConfig,
    out_dir: Path,
    onnx_path: Path,
    ict_path: str | None = None,
    record: bool = True,
    only: list[str] | None = None,
) -> dict:
    """The whole pipeline: data -> ablation (critic on/off) -> pick -> ONNX -> manifest. Returns the report dict.
    `only`: train just these arms of the plan (a partial rerun; the selection rule then chooses among them)."""
    torch.set_num_threads(cfg.threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    logf = open(out_dir / "train.log", "w")

    def log(msg: str) -> None:
        print(msg, flush=True)
        logf.write(msg + "\n")
        logf.flush()

    t0 = time.time()
    log(f"config: {json.dumps(asdict(cfg))}")
    data = build_data(cfg, ict_path, log)
    if data["detector"] is not None:
        data["detector"].save(out_dir / "detector_model.npz")
    arms = {}
    plan = arm_plan(cfg, data)
    if only:
        plan += [s for s in EXTRA_ARMS if data.get("real_train") is not None and data["detector"] is not None]
        unknown = set(only) - {s.name for s in plan}
        if unknown:
            raise SystemExit(f"unknown arm(s) {sorted(unknown)}; the plan has {[s.name for s in plan]}")
        plan = [s for s in plan if s.name in only]
    for spec in plan:
        t = time.time()
        model, hist = train_one(
            cfg, data, spec.critic_weight, log, spec.detector(data), real=spec.real_term(cfg, data), mirror=spec.mirror
        )
        arm = {"model": model, **asdict(spec), "history": hist}
        arm.update(evaluate_candidate(model, data, spec.uses_detector))
        arm["train_seconds"] = time.time() - t
        arms[spec.name] = arm
        torch.save(model.state_dict(), out_dir / f"arm_{spec.name}.pt")  # every arm, for photo checks of the others
        summary = {
            k: round(v["pearson_mean"], 4) for k, v in arm.items() if isinstance(v, dict) and "pearson_mean" in v
        }
        log(f"{spec.name}: mean Pearson {json.dumps(summary)}")
    if data.get("real_select") is not None and "render_val" in data:
        keep, sel, rule = real_selection(data, arms, out_dir, log)
    else:  # --tiny: no renders, no real frames
        keep, sel, rule = first_stage_pick(arms, data)
    best = arms[keep]["model"]
    report = {
        "config": asdict(cfg),
        "data_hash": data["data_hash"],
        "embedding_stats": data["embedding_stats"],
        "kept": keep,
        "selected_on": sel,
        "selection_rule": rule,
        "detector_model_stats": data["detector"].fit_stats if data["detector"] is not None else None,
        "mediapipe_trust": (
            {
                "pearson_on_train_renders": [float(v) for v in data["trust"]["pearson"]],
                "trust": [float(v) for v in data["trust"]["trust"]],
                "n": data["trust"]["n"],
            }
            if data.get("trust") is not None
            else None
        ),
        "real_frames": (
            {
                "train": len(data["real_train"]),
                "select": len(data["real_select"]),
                "train_clips": data["real_train"].clip_names,
                "select_clips": list(SELECT_CLIPS),
                "test_clips": list(TEST_CLIPS),
            }
            if data.get("real_train") is not None
            else None
        ),
        "render_test_found": data.get("render_test_found"),
        "render_test_n": data.get("render_test_n"),
        "pose_limits_deg": POSE_LIMITS,
        "ood_threshold": data["ood_threshold"],
        "arms": {k: {kk: vv for kk, vv in v.items() if kk != "model"} for k, v in arms.items()},
    }
    t_metrics = arms[keep]["test_geometric_noisy"]
    meta = EXPRESSION_GENERATOR.metadata()
    meta.update(
        {
            "facsimile.training_data_sha256": data["data_hash"],
            "facsimile.variant": keep,
            "facsimile.pose_limits_deg": json.dumps(POSE_LIMITS),
            "facsimile.ood_threshold": json.dumps(data["ood_threshold"]),
            "facsimile.metrics": json.dumps(
                {
                    "test_geometric_noisy": {
                        "pearson_mean": t_metrics["pearson_mean"],
                        "rmse_overall": t_metrics["rmse_overall"],
                    },
                    **{
                        k: {
                            "pearson_mean": arms[keep][k]["pearson_mean"],
                            "rmse_overall": arms[keep][k]["rmse_overall"],
                        }
                        for k in ("test_geometric_clean", "render_test")
                        if k in arms[keep]
                    },
                }
            ),
            "facsimile.feature_mean_std": "inside the graph",
            "facsimile.tongueOut": "always 0: ICT-FaceKit has no tongue shape to learn from",
        }
    )
    parity = export_onnx(best, onnx_path, meta)
    report["onnx_parity_max_abs"] = parity
    torch.save(best.state_dict(), out_dir / "generator.pt")
    if record:
        record_model(
            onnx_path,
            training_data_sha256=data["data_hash"],
            variant=keep,
            pearson_geometric_test=round(t_metrics["pearson_mean"], 4),
            rmse_geometric_test=round(t_metrics["rmse_overall"], 4),
            **(
                {
                    "pearson_render_test": round(arms[keep]["render_test"]["pearson_mean"], 4),
                    "rmse_render_test": round(arms[keep]["render_test"]["rmse_overall"], 4),
                }
                if "render_test" in arms[keep]
                else {}
            ),
        )
    report["total_seconds"] = time.time() - t0
    (out_dir / "metrics.json").write_text(json.dumps(report, indent=1))
    log(f"kept {keep}; parity {parity:.2e}; total {report['total_seconds']:.0f}s; wrote {onnx_path}")
    logf.close()
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="the test config: tiny data, tiny net")
    ap.add_argument("--out", default=str(RUNS_DIR / "generator"))
    ap.add_argument("--onnx", default=str(ONNX_PATH))
    ap.add_argument("--ict", default=None, help="ICT-FaceKit npz or FaceXModel folder (default: ../shared)")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--n-train", type=int, default=None)
    ap.add_argument("--arms", default="", help="comma-separated arm names: train only these (default: every arm)")
    args = ap.parse_args(argv)
    cfg = TINY if args.tiny else TrainConfig()
    if args.epochs:
        cfg.epochs = args.epochs
    if args.n_train:
        cfg.n_train = args.n_train
    run(
        cfg,
        Path(args.out),
        Path(args.onnx),
        args.ict,
        record=not args.tiny,
        only=[a for a in args.arms.split(",") if a] or None,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
