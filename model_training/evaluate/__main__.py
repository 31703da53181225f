"""`python -m model_training.evaluate [--model X.onnx] [--json OUT.json] [--markdown OUT.md]`: every issue-10 target of
an exported expression generator (default: the shipped exported_models/expression_generator.onnx, through
blender_addon.core.face.expression_generator.ExpressionGenerator), beside MediaPipe FaceLandmarker, pass/miss."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from blender_addon.core.atomic_io import atomic_write_text

from . import evaluate, markdown_report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--model", default=None, help="ONNX expression generator (default: the shipped one)")
    ap.add_argument("--json", default=None, help="write the full result (targets, details) here")
    ap.add_argument("--markdown", default=None, help="write the markdown tables here")
    ap.add_argument("--stride", type=int, default=None, help="frame stride of the real training/val clips")
    ap.add_argument("--render-n", type=int, default=None, help="held-out renders per style (default: the cached size)")
    ap.add_argument("--styles", nargs="+", default=None, choices=("workbench", "photo"))
    args = ap.parse_args(argv)

    from blender_addon.core.face.expression_generator import ExpressionGenerator

    gen = ExpressionGenerator(device="cpu", model_path=args.model)
    t0 = time.perf_counter()
    kw = {"stride": args.stride, "render_n": args.render_n}
    if args.styles:
        kw["render_styles"] = tuple(args.styles)
    result = evaluate(lambda lm: gen.predict(lm).weights, **kw)
    result["meta"]["model"] = str(gen.model_path)
    result["meta"]["seconds"] = time.perf_counter() - t0
    width = max(len(r["target"]) for r in result["targets"])
    print(f"model {gen.model_path}; front-end key {result['meta']['frontend_key']}")
    print(f"{'target':<{width}}  {'ours':>7}  {'MP':>7}  goal")
    for r in result["targets"]:
        mp = "-" if r["mediapipe"] is None else f"{r['mediapipe']:7.3f}"
        print(f"{r['target']:<{width}}  {r['ours']:7.3f}  {mp:>7}  {r['goal']}  {'PASS' if r['pass'] else 'MISS'}")
    n_pass = sum(r["pass"] for r in result["targets"])
    print(f"{n_pass} of {len(result['targets'])} targets met ({result['meta']['seconds']:.0f}s)")
    for path, text in (
        (args.json, lambda: json.dumps(result, indent=1)),
        (args.markdown, lambda: markdown_report(result)),
    ):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
