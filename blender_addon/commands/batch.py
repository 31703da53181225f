"""`facsimile batch JOBS.json|JOBS.csv`: many photo/bake jobs in one process, with a summary table.

Parses the options, runs the use case (usecases/batch.py: reading and checking the job list, the records beside each
output, running each job) and prints its progress and summary. Exit code 1 when any job failed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._options import add_device_option


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "batch",
        help="run many photo/bake jobs from a JSON or CSV job list; skip finished ones on a rerun",
        description='JOBS is a JSON list of objects (or {"jobs": [...]}) or a CSV with a header, each job giving '
        "blend, object, video or image, output, and optionally preset, mirror, face, key_frame, start_frame, stride, "
        "first, last, smoothing. Relative paths are relative to the job file, and jobs write only inside the job "
        "file's folder (see --allow-outside). Exit code 1 when any job failed.",
    )
    p.add_argument("jobs", help="job list (.json or .csv)")
    p.add_argument("--in-place", action="store_true", help="allow a job's output to be its input .blend")
    p.add_argument(
        "--force",
        action="store_true",
        help="redo every job, even those whose record says done, and replace outputs changed since Facsimile wrote "
        "them",
    )
    p.add_argument(
        "--allow-outside",
        action="store_true",
        help="let jobs write outputs outside the job file's folder (an absolute path or one with '..')",
    )
    add_device_option(p, "inference device for every job")
    p.add_argument("--summary-json", default=None, help="also write the summary table as JSON here")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..usecases.batch import (
        BatchOptions,
        KeyboardInterruptWithResult,
        format_table,
        run_batch,
        summary_line,
    )

    opts = BatchOptions(
        jobs=Path(args.jobs),
        in_place=args.in_place,
        force=args.force,
        device=args.device,
        summary_json=Path(args.summary_json) if args.summary_json else None,
        allow_outside=args.allow_outside,
    )

    def started(job, total: int) -> None:
        print(f"[{job.number}/{total}] {job.kind} -> {job.output or '?'}", flush=True)

    def finished(outcome) -> None:
        if outcome.status == "FAILED":
            print(f"  FAILED: {outcome.message}", file=sys.stderr, flush=True)

    try:
        result = run_batch(opts, started, finished)
    except KeyboardInterruptWithResult as stop:
        _print_summary(stop.result, format_table, summary_line)
        raise KeyboardInterrupt from None  # the command line says so in one line and exits 130
    _print_summary(result, format_table, summary_line)
    return 1 if result.failed else 0


def _print_summary(result, format_table, summary_line) -> None:
    print()
    print(format_table(result.outcomes))
    print(f"\n{summary_line(result)}", flush=True)
