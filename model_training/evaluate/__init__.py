"""The evaluation on the test split: one function scores any landmarks -> weights model on every target of issues 10
and 18, beside MediaPipe.

`evaluate(predict)` takes predict((N, 478, 3) pixel landmarks of our front-end) -> (N, 52) weights in ARKit order and
returns {"targets": [rows], "details": {...}, "meta": {...}}; each row is {target, ours, mediapipe, goal, pass} with
MediaPipe FaceLandmarker's figure from the same images. `markdown_report(result)` renders it for the model card.
Sets, all of the test split (data/splits.py: none of them chose anything; model_training.data.real_faces,
model_training.render.heldout):
  rest        photos_rest + the rest frames (splits.REST_FRAMES) of the test clips
  astronaut   the `make demo` photo
  mead        the 9 MEAD clips (every frame): emotion channels above the other emotions' clips, and per emotion the
              rise over the clip's own rest (issue 18's read)
  renders     held-out ICT renders with known weights: "workbench" (the project's look, unseen identities) and
              "photo" (the held-out Cycles + real-background + camera-effects look), paired faces
  real clips  the test clips (splits.TEST_CLIPS), on the channels MediaPipe is trusted on (fit/mediapipe_trust:
              measured on the training renders, so the test data does not pick the channels)
Only frames where both front-ends found the face are scored (the found rates are in details).
`python -m model_training.evaluate` scores the shipped exported_models/expression_generator.onnx.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from blender_addon.core.arkit import ARKIT_NAMES

from . import metrics

PredictFn = Callable[[np.ndarray], np.ndarray]
RENDER_STYLES = ("workbench", "photo")


def _predict(predict: PredictFn, landmarks: np.ndarray) -> np.ndarray:
    if len(landmarks) == 0:
        return np.zeros((0, len(ARKIT_NAMES)), np.float32)
    out = np.asarray(predict(landmarks), np.float32)
    if out.shape != (len(landmarks), len(ARKIT_NAMES)):
        raise ValueError(f"predict returned shape {out.shape}, expected ({len(landmarks)}, {len(ARKIT_NAMES)})")
    return out


def _found(s) -> dict:
    return {"n": len(s), "ours_found": float(s.ours_found.mean()), "mediapipe_found": float(s.mp_found.mean())}


def evaluate(
    predict: PredictFn,
    stride: int | None = None,
    render_n: int | None = None,
    render_styles: tuple[str, ...] = RENDER_STYLES,
    log: Callable[[str], None] | None = print,
) -> dict:
    """Every issue-10 target for `predict`, each beside MediaPipe's figure on the same images."""
    from ..data import real_faces as rf
    from ..fit.mediapipe_trust import mediapipe_trust, trusted_channels
    from ..paths import CACHE_DIR
    from ..render.heldout import load_render_set

    targets: list[dict] = []
    details: dict = {}
    meta: dict = {"frontend_key": rf.frontend_key(), "found": {}}

    # Resting faces.
    photos = rf.load_set("photos_rest", log=log)
    test = rf.load_set("test", stride=stride, log=log)
    lm, mp = [photos.ours[photos.both_found]], [photos.mp_blendshapes[photos.both_found]]
    for c in (test,):
        sel = c.is_rest_frame() & c.both_found
        lm.append(c.ours[sel])
        mp.append(c.mp_blendshapes[sel])
    rows, det = metrics.rest_targets(_predict(predict, np.concatenate(lm)), np.concatenate(mp))
    det["photos"], det["clip_frames"] = int(photos.both_found.sum()), int(sum(len(x) for x in lm[1:]))
    targets += rows
    details["rest"] = det
    meta["found"]["photos_rest"] = _found(photos)

    # The astronaut.
    astro = rf.load_set("astronaut", log=log)
    if astro.both_found.all():
        rows, det = metrics.astronaut_targets(_predict(predict, astro.ours), astro.mp_blendshapes)
        targets += rows
        details["astronaut"] = det
    else:
        targets.append(metrics._row("astronaut: a face is found by both", 0, 1, "found", False))

    # MEAD.
    mead = rf.load_set("mead", log=log)
    ok = mead.both_found
    rows, det = metrics.mead_targets(
        _predict(predict, mead.ours[ok]), mead.mp_blendshapes[ok], mead.clip_names, mead.clip[ok]
    )
    targets += rows
    details["mead"] = det
    rows, det = metrics.emotion_reads(
        _predict(predict, mead.ours[ok]), mead.mp_blendshapes[ok], mead.clip_names, mead.clip[ok]
    )
    targets += rows
    details["emotion_reads"] = det
    meta["found"]["mead"] = _found(mead)

    # Held-out renders with known weights.
    details["renders"] = {}
    for style in render_styles:
        d = load_render_set(style, render_n, log=log)
        ok = d["ours_found"] & d["mp_found"]
        ours = _predict(predict, d["ours"][ok])
        rows, det = metrics.render_targets(style, ours, d["mp_blendshapes"][ok], d["weights"][ok])
        det["found"] = {
            "n": len(ok),
            "ours_found": float(d["ours_found"].mean()),
            "mediapipe_found": float(d["mp_found"].mean()),
        }
        targets += rows
        details["renders"][style] = det

    # Test clips, on the channels MediaPipe is trusted on (its Pearson on the training renders: the one definition).
    trust = mediapipe_trust(CACHE_DIR / "renders", log=log or (lambda _m: None))
    if trust is None:
        raise FileNotFoundError("MediaPipe's trust needs the training renders: run make train's render stage")
    trusted = [ARKIT_NAMES[i] for i in trusted_channels(trust["trust"])]
    details["mediapipe_pearson_on_train_renders"] = {
        n: metrics._f(trust["pearson"][i]) for i, n in enumerate(ARKIT_NAMES)
    }
    ok = test.both_found
    rows, det = metrics.real_clip_targets(_predict(predict, test.ours[ok]), test.mp_blendshapes[ok], trusted)
    det["clips"] = list(test.clip_names)
    targets += rows
    details["real_clips"] = det
    meta["found"]["test"] = _found(test)
    return {"targets": targets, "details": details, "meta": meta}


def _fmt(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and not np.isfinite(x):
        return "n/a"
    return f"{x:.3f}" if isinstance(x, float) else str(x)


def markdown_report(result: dict, per_channel: bool = True) -> str:
    """The targets as a markdown table (ours | MediaPipe | goal | pass), then per-channel render Pearson tables."""
    passed = sum(r["pass"] for r in result["targets"])
    lines = [
        f"Targets on the test split: {passed} of {len(result['targets'])} met (front-end key "
        f"{result['meta']['frontend_key']}).",
        "",
        "| target | ours | MediaPipe | goal | |",
        "|---|---|---|---|---|",
    ]
    for r in result["targets"]:
        lines.append(
            f"| {r['target']} | {_fmt(r['ours'])} | {_fmt(r['mediapipe'])} | {r['goal']} | "
            f"{'pass' if r['pass'] else '**miss**'} |"
        )
    renders = result["details"].get("renders", {})
    if per_channel and renders:
        styles = list(renders)
        lines += ["", "Per-channel Pearson on the held-out renders (ours / MediaPipe):", ""]
        lines.append("| channel | " + " | ".join(styles) + " |")
        lines.append("|---|" + "---|" * len(styles))
        for n in ARKIT_NAMES:
            cells = [
                f"{_fmt(renders[s]['pearson']['ours'][n])} / {_fmt(renders[s]['pearson']['mediapipe'][n])}"
                for s in styles
            ]
            lines.append(f"| {n} | " + " | ".join(cells) + " |")
    rc = result["details"].get("real_clips")
    if rc:
        lines += [
            "",
            "Channels MediaPipe is trusted on (its Pearson on the training renders at full trust): "
            f"{', '.join(rc['trusted_channels']) or 'none'}; test clips {', '.join(rc['clips'])}: mean "
            f"Pearson with MediaPipe {_fmt(rc['mean_pearson_trusted'])} on those, {_fmt(rc['mean_pearson_all_channels'])} "
            "on every channel.",
        ]
    return "\n".join(lines) + "\n"
