"""Write exported_models/MODEL_CARD.md for the expression generator from the last training run's metrics.json.

Every number in the card comes from metrics.json (written by the train stage, model_training/train/pipeline.py) or is measured here (ONNX latency, the
real-photo weights). The prose that interprets the photos lives in model_training/card/notes.md, written by a
person who looked at the numbers; it is pasted in as is.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from blender_addon.core.arkit import ARKIT_NAMES, INDEX
from blender_addon.core.models.specs import EXPRESSION_GENERATOR

from ..data.photo_lists import FOCUS, PHOTOS, SELECTION_PHOTOS
from ..data.splits import RENDER_FIT_FRACTION
from ..paths import CARD_PATH, ONNX_PATH, REPO_ROOT, RUNS_DIR, shared_data_dir


def _fmt(v) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def photo_checks(model_path: Path) -> list[str]:
    from blender_addon.core.face.pipeline import FaceSolver

    solver = FaceSolver(device="cpu", model_path=model_path)
    lines = [
        "| photo | face | in range | pose yaw/pitch/roll | weights of interest | top 4 |",
        "|---|---|---|---|---|---|",
    ]
    for name in PHOTOS + SELECTION_PHOTOS:
        path = shared_data_dir() / "photos" / name
        if not path.is_file():
            continue
        for k, face in enumerate(solver.solve_file(path)[:2]):
            w = face.weights
            focus = ", ".join(f"{n} {w[INDEX[n]]:.2f}" for n in FOCUS[name])
            top = ", ".join(f"{ARKIT_NAMES[i]} {w[i]:.2f}" for i in np.argsort(-w)[:4])
            pose = "/".join(f"{v:+.0f}" for v in face.pose_deg)
            label = f"{name} (selection set)" if name in SELECTION_PHOTOS else name
            lines.append(
                f"| {label} | {k} | {'yes' if face.in_range else 'no: ' + face.reason} | {pose} | {focus} | {top} |"
            )
    return lines


def latency_ms(model_path: Path) -> float:
    from blender_addon.core.models.onnx_session import create_session

    sess, _ = create_session(model_path, "cpu", threads=1)
    x = np.zeros((1, 1434), np.float32)
    for _ in range(20):
        sess.run(None, {EXPRESSION_GENERATOR.inputs[0].name: x})
    t = time.perf_counter()
    n = 500
    for _ in range(n):
        sess.run(None, {EXPRESSION_GENERATOR.inputs[0].name: x})
    return (time.perf_counter() - t) / n * 1000


def write_card(metrics_path: Path, model_path: Path, out: Path, notes: Path) -> None:
    m = json.loads(metrics_path.read_text())
    arms = m["arms"]
    keep = m["kept"]
    cfg = m["config"]
    L = ["# Expression generator: model card", ""]
    L += [
        "`exported_models/expression_generator.onnx`: 478 face landmarks (normalised by `core/face/landmark_normalize.py`) ->",
        "the 52 ARKit weights in [0, 1]. Produced by `make train` (model_training/ stages: render, fit, train, select, export; this",
        f"card by card/model_card.py). Kept variant: **{keep}** (rule: {m['selection_rule']}).",
        f"Training-data SHA-256: `{m['data_hash']}`. ONNX vs torch max abs difference: {m['onnx_parity_max_abs']:.1e}.",
        f"Latency: {latency_ms(model_path):.3f} ms per face, onnxruntime CPU, 1 thread (this machine, at card time).",
        "",
        "## Data",
        "",
        "- ICT-FaceKit Light (MIT): 100 identity modes, 53 expression shapes (browInnerUp_L/R and cheekPuff_L/R both",
        "  driven by the single ARKit channel). **tongueOut is always 0**: ICT has no tongue shape.",
        "- Landmark embedding: MediaPipe's canonical mesh fitted to the ICT neutral face (similarity from 51 brow/nose/eye/",
        "  lip correspondences, thin-plate-spline warp, projection to the ICT surface, barycentric). Fit numbers (cm):",
        "  "
        + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in m["embedding_stats"].items()),
        "  Iris points sit on the ICT eyeballs and rotate with the eyeLook weights (30 deg yaw, 25 deg pitch at 1.0).",
        f"- Synthetic samples ({cfg['n_train']} train, {cfg['n_val']} val, {cfg['n_test']} test x 2): identities ~ N(0, 0.8)",
        "  on the modes (every sample its own identity: test identities are disjoint draws), a sparse expression prior",
        "  (mostly symmetric pairs, full range to 1, templates for smile/laugh/surprise/anger/sadness/disgust/fear/pucker/",
        "  puff, blinks and winks, conjugate gaze; for training also one-sided smirk/sneer/wink templates, data/synth.py",
        "  ONE_SIDED_TEMPLATES), head pose yaw/pitch/roll sigma 20/12/12 deg clipped at 50/35/40,",
        "  perspective camera (35-75 deg FOV), detector-like jitter and a smooth per-face distortion.",
        "- Rendered samples: ICT heads rendered with Blender Workbench (vertex colours, painted brows/lips, iris and",
        "  pupil on the eyeballs, eyeballs rotated for gaze), 384 px, run through the project's own ONNX face front-end",
        f"  (core/face/tracking.py). Test renders: {m.get('render_test_n')} with their own identities (face found in",
        f"  {_fmt(m.get('render_test_found'))} of them); training renders: fit the detector model",
        f"  ({json.dumps(m.get('detector_model_stats'))}) and, the last {1 - RENDER_FIT_FRACTION:.0%}, render_val (select).",
        "- Splits (model_training/data/splits.py): train / select / test, disjoint by clip and by person for real clips,",
        "  by identity for renders (every render its own random identity per split seed). The test split decides nothing;",
        "  every figure below names its split.",
        *real_data_lines(m),
        "",
        "## Method",
        "",
        f"MLP {FEATURE_DESC} -> {' -> '.join(str(h) for h in cfg['hidden'])} -> 51 (SiLU, sigmoid), tongueOut appended as 0;",
        "feature standardisation inside the graph. Loss: MSE, plus for the critic arms the WGAN-GP adversarial term of the",
        f"seed paper (critic on 51-d weight vectors, weight {cfg['critic_weight']}, gradient penalty {cfg['gp_weight']}).",
        "Detector model (model_training/fit/detector_model.py): ridge regression of the front-end's feature residuals on",
        "renders of training identities against the weights and pose, plus PCA noise of what is left; added to the",
        "synthetic features during training.",
        f"AdamW, one-cycle LR {cfg['lr']}, {cfg['epochs']} epochs, batch {cfg['batch']}, seed {cfg['seed']}, {cfg['threads']} CPU thread(s).",
        *ARM_LINES,
        "",
        "## Ablation (same split, same seed; mean Pearson over varying blendshapes / overall RMSE)",
        "",
    ]
    sets = [
        k
        for k in (
            "val",
            "val_geometric",
            "render_val",
            "test_geometric_noisy",
            "test_geometric_clean",
            "render_test",
            "render_test_ideal",
        )
        if any(k in a for a in arms.values())
    ]
    rv = any("select" in a for a in arms.values())
    extra = " | select clips M / F / S | selection score" if rv else ""
    L.append("| arm | " + " | ".join(sets) + extra + " | train s |")
    L.append("|---|" + "---|" * (len(sets) + 1 + 2 * rv))
    for name, a in arms.items():
        cells = [f"{a[s]['pearson_mean']:.3f} / {a[s]['rmse_overall']:.3f}" if s in a else "-" for s in sets]
        if rv:
            r = a.get("select")
            cells.append(f"{r['M']:.3f} / {r['F']:.3f} / {r['S']:.3f}" if r else "-")
            cells.append(f"{a['selection_score']:.3f}" if "selection_score" in a else "-")
        L.append(
            f"| {name}{' (kept)' if name == keep else ''} | " + " | ".join(cells) + f" | {a['train_seconds']:.0f} |"
        )
    L += [
        "",
        "Sets (split in brackets): val = synthetic validation, detector-model augmented for those arms (select);",
        "val_geometric = the same without the detector model (select); render_val = the last 20% of the training-identity",
        "renders (select); test_geometric_noisy/clean = synthetic faces with/without detector-like noise (test);",
        "render_test = the Workbench test renders through the ONNX front-end (test); render_test_ideal = the same renders'",
        "exact landmarks (test). select clips M / F / S = the selection rule's terms on the select clips (M: mean Pearson",
        "with MediaPipe on its trusted channels; F: resting excess over 0.10 on the clips' rest frames; S: shortfall of the",
        "rise over each clip's rest against MediaPipe's, where MediaPipe rises >= 0.15); score = (R + M) / 2 - F - S.",
        "ensemble_B_browsW_X = one graph: the brow channels mix arm X at weight W into arm B, every other channel is B's",
        "(no extra training).",
        "",
    ]
    ev_path = metrics_path.parent / "evaluation.json"
    ev = json.loads(ev_path.read_text()) if ev_path.is_file() else None
    if ev is not None:
        L += evaluation_lines(ev, keep)
    L += ["## Per-blendshape metrics of the kept model (Pearson / RMSE)", ""]
    a = arms[keep]
    cols = [s for s in ("test_geometric_noisy", "render_test") if s in a]
    pc = ev["per_channel"] if ev is not None else {}
    heads = cols + [f"held-out {st}: ours / MediaPipe" for st in pc]
    L.append("| blendshape | " + " | ".join(heads) + " |")
    L.append("|---|" + "---|" * len(heads))
    for i, n in enumerate(ARKIT_NAMES):
        cells = []
        for s in cols:
            pb = a[s]["per_blendshape"][n]
            cells.append(f"{_fmt(pb['pearson'])} / {pb['rmse']:.3f}")
        for st in pc:
            t = pc[st]
            cells.append(
                f"{_fmt(t['ours_pearson'][i])} / {_fmt(t['ours_rmse'][i])} | "
                f"{_fmt(t['mp_pearson'][i])} / {_fmt(t['mp_rmse'][i])}"
            )
        L.append(f"| {n} | " + " | ".join(cells) + " |")
    if pc:
        L += [
            "",
            "held-out columns: Pearson / RMSE of ours, then of MediaPipe FaceLandmarker, on the same held-out renders ("
            + ", ".join(f"{st}: {pc[st]['n']} images" for st in pc)
            + "; model_training/render/heldout.py). render_test: the project's 400 Workbench test renders (ours only).",
        ]
    L += ["", "## Real photos (no ground truth: direction checks)", "", "Kept model, through `FaceSolver`:", ""]
    L += [*photo_checks(model_path), ""]
    if any(metrics_path.parent.glob("arm_*.pt")):
        from .photo_arms import arm_photo_table

        table = arm_photo_table(metrics_path.parent)
        L += ["Every arm on the same photos (largest face; the channels each check is about):", ""]
        photos = [p for p in PHOTOS + SELECTION_PHOTOS if any(p in v for v in table.values())]
        L.append("| photo | " + " | ".join(table) + " |")
        L.append("|---|" + "---|" * len(table))
        for p in photos:
            cells = [", ".join(f"{k} {v:.2f}" for k, v in table[a].get(p, {}).items()) for a in table]
            L.append(f"| {p} | " + " | ".join(cells) + " |")
        L.append("")
    if notes.is_file():
        L += [notes.read_text().strip(), ""]
    out.write_text("\n".join(L) + "\n")


FEATURE_DESC = "1434 features (478 x 3)"

ARM_LINES = (
    "Arms (model_training/train/arms.py; same split, seed and synthetic batches): geometric_noise_only (synthetic",
    "geometry with detector-like noise); real_pseudo_mirror_floor (plus the detector model with a random offset scale,",
    "64 real train-split frames per step, loss = MediaPipe's blendshapes weighted per channel by its trust, untrusted",
    "channels at weight 0.25, left/right mirror augmentation on half of every batch); real_pseudo_mirror_floor_browtrust",
    "(the same with MediaPipe's brow channels at full trust: its render trust of 0 measures painted render brows);",
    "geometric_real_pseudo_mirror_floor_browtrust (the same without the detector model); the channel-wise brow",
    "ensembles of train/arms.py. Issue-10 arms (critic, take critic, no mirror, no floor) stay runnable with --arms.",
)


def real_data_lines(m: dict) -> list[str]:
    rf, tr = m.get("real_frames"), m.get("mediapipe_trust")
    if not rf or not tr:
        return ["- Real frames: none (real-face cache or saved training renders missing)."]
    trusted = [f"{n} {p:.2f}" for n, p, t in zip(ARKIT_NAMES, tr["pearson_on_train_renders"], tr["trust"]) if t >= 1.0]
    flat = [n for n, t in zip(ARKIT_NAMES, tr["trust"]) if t == 0]
    return [
        f"- Real frames (model_training/data/real_faces.py cache): {rf['train']} frames of the train clips",
        f"  ({', '.join(rf['train_clips'])}); select clips ({', '.join(rf['select_clips'])}: {rf['select']} frames, selection",
        f"  only); test clips ({', '.join(rf['test_clips'])}: never trained on or selected with); our front-end's",
        "  landmarks with MediaPipe FaceLandmarker's blendshapes on the same frames as pseudo-labels.",
        f"- MediaPipe trust per channel = its Pearson with the known weights of the {tr['n']} training renders (train",
        "  rows only), mapped linearly from 0 (Pearson <= 0.3) to 1 (>= 0.6). Trusted (trust 1; the one definition, used",
        "  by the selection and the evaluation) (channel, MediaPipe's Pearson): " + ", ".join(trusted) + ".",
        f"  Trust 0 (taught by synthetic geometry alone): {', '.join(flat)}.",
        "- Real ARKit take (arkit_takes/, 1,848 frames of one person): the real distribution of the take-critic arm.",
    ]


def _pair(v) -> str:
    return "-" if v is None else f"{v[0]:.3f} / {_fmt(v[1])}"


def evaluation_lines(ev: dict, keep: str) -> list[str]:
    """The every-arm table on the evaluation sets and the kept model's issue-10 targets, each beside MediaPipe."""
    from ..evaluate import markdown_report

    arms = ev["arms"]
    styles = [s for s in ("workbench", "photo") if any(s in a for a in arms.values())]
    L = [
        "## Every arm on the test split (ours / MediaPipe on the same images; none of these chose anything)",
        "",
        "| arm | targets met | rest: worst channel mean | rest channels met | "
        + " | ".join(f"held-out {s}: Pearson | held-out {s}: RMSE | {s} winks" for s in styles)
        + " | MEAD how often | test clips (trusted) | astronaut max other |",
        "|---|---|---|---|" + "---|---|---|" * len(styles) + "---|---|---|",
    ]
    for name, a in arms.items():
        rw = a.get("rest_worst")
        cells = [
            f"{a['met']} / {a['of']}",
            f"{rw[0]} {rw[1]:.3f} / {_fmt(rw[2])}" if rw else "-",
            f"{a.get('rest_met', '-')} / {a.get('rest_of', '-')}",
        ]
        for s in styles:
            v = a.get(s)
            cells += [
                f"{v[0]:.3f} / {v[1]:.3f}" if v else "-",
                f"{v[2]:.3f} / {v[3]:.3f}" if v else "-",
                _pair(a.get(f"{s}_winks")),
            ]
        cells += [_pair(a.get("mead")), _fmt(a.get("real_clips_trusted")), _pair(a.get("astronaut"))]
        L.append(f"| {name}{' (kept)' if name == keep else ''} | " + " | ".join(cells) + " |")
    L += [
        "",
        "## Targets of the kept model on the test split (the shipped ONNX file; `python -m model_training.evaluate`)",
        "",
        markdown_report(ev["kept"], per_channel=False).strip(),
        "",
    ]
    return L


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--metrics", default=str(RUNS_DIR / "generator" / "metrics.json"))
    ap.add_argument("--model", default=str(ONNX_PATH))
    ap.add_argument("--out", default=str(CARD_PATH))
    ap.add_argument("--notes", default=str(REPO_ROOT / "model_training" / "card" / "notes.md"))
    ap.add_argument("--no-eval", action="store_true", help="reuse the run's evaluation.json (no re-evaluation)")
    args = ap.parse_args(argv)
    if not args.no_eval:
        from .evaluation import evaluate_run

        evaluate_run(Path(args.metrics).parent, Path(args.model))
    write_card(Path(args.metrics), Path(args.model), Path(args.out), Path(args.notes))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
