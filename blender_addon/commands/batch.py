"""`facsimile batch JOBS.json|JOBS.csv`: many photo/bake jobs in one process, with a summary table.

A job is a row of blend / object / video or image / output (plus optional per-job settings). One failed job never
stops the others; the exit code is 1 when any failed. Outputs are written atomically and an input is never
overwritten unless --in-place. Beside each output goes a record (OUTPUT.facsimile.json) of the sha256 of every input
(scene, clip or photo, models) and of the settings; a rerun skips a job whose output still matches its record, so an
interrupted batch resumes where it stopped and a changed input or setting redoes only the jobs it affects.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from ..core.models.store import sha256_of
from ._options import add_device_option, edit_blend

RECORD_SUFFIX = ".facsimile.json"
RECORD_VERSION = 1
_KNOWN = {
    "blend",
    "object",
    "video",
    "image",
    "output",
    "preset",
    "mirror",
    "face",
    "key_frame",
    "start_frame",
    "stride",
    "first",
    "last",
    "smoothing",
    *("head", "eyes", "body", "rig", "rig_map", "neck_ratio", "head_neutral"),  # capture jobs (usecases/capture.py)
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "batch",
        help="run many photo/bake jobs from a JSON or CSV job list; skip finished ones on a rerun",
        description='JOBS is a JSON list of objects (or {"jobs": [...]}) or a CSV with a header, each job giving '
        "blend, object, video or image, output, and optionally preset, mirror, face, key_frame, start_frame, stride, "
        "first, last, smoothing. Relative paths are relative to the job file. Exit code 1 when any job failed.",
    )
    p.add_argument("jobs", help="job list (.json or .csv)")
    p.add_argument("--in-place", action="store_true", help="allow a job's output to be its input .blend")
    p.add_argument("--force", action="store_true", help="redo every job, even those whose record says done")
    add_device_option(p, "inference device for every job")
    p.add_argument("--summary-json", default=None, help="also write the summary table as JSON here")
    p.set_defaults(run=run)


@dataclass
class Job:
    number: int
    spec: dict
    problem: str = ""  # set when the row itself is invalid

    @property
    def kind(self) -> str:
        from ..usecases.capture import is_capture_job

        if is_capture_job(self.spec):
            return "capture"
        return "bake" if self.spec.get("video") else "photo"

    @property
    def output(self) -> str:
        return str(self.spec.get("output", ""))


@dataclass
class Outcome:
    job: Job
    status: str  # done | skipped | FAILED | not run (after Ctrl-C)
    seconds: float = 0.0
    message: str = ""
    extra: dict = field(default_factory=dict)


# ---------------------------------------------------------------- reading the job list


def _coerce(key: str, value: object, where: str) -> object:
    """A row's field as the type it means (core.validate): whole numbers for frames and counts (never a boolean or
    2.5), a finite number for smoothing, true/false for mirror, text for the rest."""
    from ..core import validate
    from ..core.errors import FacsimileError

    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if key in ("start_frame", "key_frame"):
        return validate.frame(value, f"{where}: {key}")
    if key in ("first", "last"):
        return validate.whole(value, f"{where}: {key}", 0, validate.MAX_SOURCE_FRAME)
    if key == "stride":
        return validate.whole(value, f"{where}: stride", 1, validate.MAX_SOURCE_FRAME)
    if key == "face":
        return validate.whole(value, f"{where}: face", 0, 999)
    if key == "smoothing":
        return validate.number(value, f"{where}: smoothing", 0.0, 1000.0)
    if key == "neck_ratio":
        return validate.number(value, f"{where}: neck_ratio", 0.0, 1.0)
    if key == "eyes" and isinstance(value, bool):
        return "on" if value else "off"
    if key in ("mirror", "head", "body"):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "y"):
            return True
        if text in ("0", "false", "no", "n"):
            return False
        raise FacsimileError(f"{where}: {key} must be true or false, got {value!r}")
    if not isinstance(value, str):
        raise FacsimileError(f"{where}: {key} must be text, got {value!r}")
    return value.strip()


def _resolve(base: Path, value: str | None) -> str | None:
    """Relative to the job file; '~' expanded. A pattern stays a pattern (core.formats.video_io decides)."""
    if not value:
        return value
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (base / p))


def read_jobs(path: str | Path) -> list[Job]:
    """The job list; a file that cannot be read at all is an error, a bad row becomes a failed job."""
    from ..core.errors import FacsimileError

    path = Path(path)
    if not path.is_file():
        raise FacsimileError(f"job list {path} does not exist")
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FacsimileError(f"job list {path} is not a text file") from exc
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FacsimileError(f"job list {path} is not valid JSON: {exc}") from exc
        rows = data.get("jobs") if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise FacsimileError(f"job list {path} must be a JSON list of jobs or an object with a 'jobs' list")
    elif suffix == ".csv":
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames:
            raise FacsimileError(f"job list {path} is empty; it needs a header row: blend,object,video,image,output")
        rows = [dict(r) for r in reader]
    else:
        raise FacsimileError(f"job list {path} must be .json or .csv")
    if not rows:
        raise FacsimileError(f"job list {path} holds no jobs")
    base = path.resolve().parent
    jobs: list[Job] = []
    for n, row in enumerate(rows, start=1):
        where = f"{path.name} job {n}"
        job = Job(number=n, spec={})
        try:
            if not isinstance(row, dict):
                raise FacsimileError(f"{where}: expected an object with blend/object/video|image/output")
            spec = {}
            for key, value in row.items():
                k = str(key).strip().lower().replace("-", "_")
                if k not in _KNOWN:
                    raise FacsimileError(f"{where}: unknown field {key!r} (known: {', '.join(sorted(_KNOWN))})")
                spec[k] = _coerce(k, value, where)
            for k in ("blend", "object", "output"):
                if not spec.get(k):
                    raise FacsimileError(f"{where}: '{k}' is missing")
            if bool(spec.get("video")) == bool(spec.get("image")):
                raise FacsimileError(f"{where}: give exactly one of 'video' (bake) or 'image' (photo)")
            for k in ("blend", "video", "image", "output"):
                spec[k] = _resolve(base, spec.get(k))
            if spec.get("preset", "") and str(spec["preset"]).lower().endswith(".json"):
                spec["preset"] = _resolve(base, spec["preset"])
            job.spec = spec
        except FacsimileError as exc:
            job.problem = str(exc)
            job.spec = {k: str(v) for k, v in row.items()} if isinstance(row, dict) else {}
        jobs.append(job)
    _guard_jobs(jobs, path)
    return jobs


def _guard_jobs(jobs: list[Job], job_list: Path) -> None:
    """One run, one rule (core.output_guard): no job's output or record may be the job list, any job's input (its own
    scene only with --in-place, checked when it runs) or another job's output. A job that breaks it fails alone."""
    from ..core.errors import FacsimileError
    from ..core.output_guard import FileIndex, Named, check_outputs, input_index, preset_input

    inputs: list[Named | None] = [Named("the job list", job_list)]
    for job in jobs:
        if not job.problem:
            s, n = job.spec, job.number
            media = s.get("video") or s.get("image")
            inputs += [
                Named(f"job {n} blend", s["blend"]),
                Named(f"job {n} media", media),
                preset_input(s.get("preset")),
            ]
    index = input_index(inputs)  # built once: each job's check is then a lookup
    taken = FileIndex()
    for job in jobs:
        if job.problem:
            continue
        mine = [
            Named(f"job {job.number} output", job.output),
            Named(f"job {job.number} record", record_path(job.output)),
        ]
        try:
            for out in mine:
                for other in taken.find(out.path):
                    raise FacsimileError(
                        f"{out.role} {out.path} and {other.role} {other.path} are the same file; give each its own"
                    )
            check_outputs(index, mine, writable=False, skip_inputs=[f"job {job.number} blend"])
        except FacsimileError as exc:
            job.problem = str(exc)
            continue
        for out in mine:
            taken.add(out)


# ---------------------------------------------------------------- the record beside each output


def _media_digest(path: str) -> str:
    """sha256 of a photo or video file; for an image sequence, of its file names and contents in order."""
    p = Path(path)
    if p.is_file():
        return sha256_of(p)
    from ..core.formats.video_io import open_video

    source = open_video(path)
    files = getattr(source, "files", None)
    if not files:
        return sha256_of(Path(source.path))
    h = hashlib.sha256()
    for f in files:
        h.update(os.path.basename(f).encode() + b"\0" + sha256_of(Path(f)).encode())
    return h.hexdigest()


def _models_digest() -> dict[str, str]:
    from ..core.models.store import models_dir, read_manifest

    return {name: entry.get("sha256", "") for name, entry in read_manifest(models_dir())["models"].items()}


def record_path(output: str | Path) -> Path:
    output = Path(output)
    return output.with_name(output.name + RECORD_SUFFIX)


def job_record(job: Job, device: str) -> dict:
    """What the output depends on. The blend's hash is taken before the job runs."""
    spec = job.spec
    settings = {k: v for k, v in sorted(spec.items()) if k not in ("blend", "video", "image", "output")}
    settings["device"] = device
    return {
        "version": RECORD_VERSION,
        "kind": job.kind,
        "blend_sha256": sha256_of(Path(spec["blend"])),
        "media_sha256": _media_digest(spec.get("video") or spec["image"]),
        "models_sha256": _models_digest(),
        "settings": settings,
    }


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))


def is_finished(job: Job, record: dict) -> bool:
    """The output exists, is the file the record describes, and was made from exactly these inputs and settings."""
    out = Path(job.output)
    rec_path = record_path(out)
    if not out.is_file() or not rec_path.is_file():
        return False
    try:
        old = json.loads(rec_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    if old.get("output_sha256") != sha256_of(out):
        return False
    want = dict(record)
    if _same_file(job.spec["blend"], job.output):
        # In place: the input now is the output, so compare against what the blend was before the first run.
        want["blend_sha256"] = old.get("blend_sha256")
    return all(old.get(k) == v for k, v in want.items())


# ---------------------------------------------------------------- running


def job_options(job: Job, device: str):
    """A job's row as the use case's options: BakeOptions for a video, PhotoOptions for a photo."""
    s = job.spec
    common = dict(preset=s.get("preset"), mirror=True if s.get("mirror") else None, device=device)
    if job.kind == "capture":
        from ..usecases.capture import options_from_job

        return options_from_job(s, common)
    if job.kind == "bake":
        from ..usecases.bake import BakeOptions

        return BakeOptions(
            clip=s["video"],
            start_frame=s.get("start_frame"),
            stride=s.get("stride") or 1,
            first=s.get("first") or 0,
            last=s.get("last"),
            smoothing=1.0 if s.get("smoothing") is None else s["smoothing"],
            **common,
        )
    from ..usecases.photo import PhotoOptions

    return PhotoOptions(photo=Path(s["image"]), face=s.get("face") or 0, key_frame=s.get("key_frame"), **common)


def _run_use_case(job: Job, device: str, in_place: bool) -> None:
    opts = job_options(job, device)
    if job.kind == "capture":
        from ..usecases.capture import capture as use_case
    elif job.kind == "bake":
        from ..usecases.bake import bake as use_case
    else:
        from ..usecases.photo import apply_photo as use_case
    opts.check()
    edit_blend(job.spec["blend"], job.spec["object"], job.output, in_place, lambda obj: use_case(obj, opts), opts)


def run_job(job: Job, device: str, in_place: bool, force: bool) -> Outcome:
    from ..core.atomic_io import atomic_write_text
    from ..core.errors import FacsimileError
    from ..core.formats.video_io import is_pattern

    if job.problem:
        return Outcome(job, "FAILED", message=job.problem)
    start = time.perf_counter()
    try:
        for key in ("blend", "video", "image"):
            value = job.spec.get(key)
            if value and not is_pattern(value) and not Path(value).exists():
                raise FacsimileError(f"{key} {value} does not exist")
        if _same_file(job.spec["blend"], job.output) and not in_place:
            raise FacsimileError(f"output {job.output} is the input .blend; give another output or pass --in-place")
        record = job_record(job, device)
        if not force and is_finished(job, record):
            return Outcome(job, "skipped", message="output up to date with its inputs")
        _run_use_case(job, device, in_place)
        record["output_sha256"] = sha256_of(Path(job.output))
        atomic_write_text(record_path(job.output), json.dumps(record, indent=1) + "\n")
        return Outcome(job, "done", time.perf_counter() - start, "")
    except (FacsimileError, OSError) as exc:
        msg = str(exc) if not isinstance(exc, OSError) or not exc.filename else f"{exc.strerror}: {exc.filename}"
        return Outcome(job, "FAILED", time.perf_counter() - start, msg)
    except Exception as exc:  # noqa: BLE001 - one broken job must not stop the batch
        if os.environ.get("FACSIMILE_DEBUG"):
            traceback.print_exc(file=sys.stderr)
        return Outcome(job, "FAILED", time.perf_counter() - start, f"internal error {type(exc).__name__}: {exc}")


def format_table(outcomes: list[Outcome]) -> str:
    rows = [("#", "status", "kind", "output", "time", "message")]
    for o in outcomes:
        rows.append(
            (
                str(o.job.number),
                o.status,
                o.job.kind if o.job.spec else "?",
                os.path.basename(o.job.output) or "?",
                f"{o.seconds:.1f}s" if o.status == "done" else "",
                o.message,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:5], widths)) + "  " + r[5] for r in rows]
    lines.insert(1, "-" * min(120, max(len(line) for line in lines)))
    return "\n".join(line.rstrip() for line in lines)


def run(args: argparse.Namespace) -> int:
    from ..core.atomic_io import atomic_write_text
    from ..preferences import requested_device

    jobs = read_jobs(args.jobs)
    device = requested_device(args.device)  # once for every job, and recorded beside each output
    outcomes = []
    interrupted = False
    try:
        for job in jobs:
            print(f"[{job.number}/{len(jobs)}] {job.kind} -> {job.output or '?'}", flush=True)
            outcome = run_job(job, device, args.in_place, args.force)
            if outcome.status == "FAILED":
                print(f"  FAILED: {outcome.message}", file=sys.stderr, flush=True)
            outcomes.append(outcome)
    except KeyboardInterrupt:
        # Ctrl-C: the running job's temporaries are already gone (atomic outputs); say where it stopped, keep the
        # summary of what ran, and leave the rest for a rerun, which skips the finished jobs.
        interrupted = True
        done_numbers = {o.job.number for o in outcomes}
        for job in jobs:
            if job.number not in done_numbers:
                outcomes.append(Outcome(job, "not run", message="interrupted (Ctrl-C); a rerun resumes here"))
    print()
    print(format_table(outcomes))
    counts = {s: sum(o.status == s for o in outcomes) for s in ("done", "skipped", "FAILED", "not run")}
    line = f"{counts['done']} done, {counts['skipped']} skipped, {counts['FAILED']} failed of {len(outcomes)} jobs"
    if interrupted:
        line += f"; interrupted, {counts['not run']} not run (run the same command again to resume)"
    print(f"\n{line}", flush=True)
    if args.summary_json:
        payload = [
            {
                "job": o.job.number,
                "status": o.status,
                "output": o.job.output,
                "seconds": o.seconds,
                "message": o.message,
            }
            for o in outcomes
        ]
        atomic_write_text(args.summary_json, json.dumps(payload, indent=1) + "\n")
    if interrupted:
        raise KeyboardInterrupt  # the command line says so in one line and exits 130
    return 1 if counts["FAILED"] else 0
