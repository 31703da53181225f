"""Batch: many photo/bake jobs from a JSON or CSV job list in one process, with a summary.

A job is a row of blend / object / video or image / output (plus optional per-job settings). One failed job (a bad
row included: a wrong type, a cell too large, a path outside the job folder) never stops the others. Relative paths
are relative to the job file, and a job writes only inside the job file's folder (its outputs and their records;
`..` or an absolute path elsewhere is refused unless BatchOptions.allow_outside), so a job list can never replace an
unrelated file. Beside each output goes a record (OUTPUT.facsimile.json) of the sha256 of every input (scene, clip
or photo, models), of the settings and of the output written; a rerun skips a job whose output still matches its
record, redoes one whose inputs or settings changed, and refuses (one line, --force to replace) to replace an
output the user changed since Facsimile wrote it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import FacsimileError
from ..core.models.store import sha256_of
from ..core.output_guard import same_file
from ..core.write_record import SIDECAR_SUFFIX, sidecar_path

RECORD_SUFFIX = SIDECAR_SUFFIX
RECORD_VERSION = 1
MAX_CELL_BYTES = 128 * 1024  # csv's own field limit: a cell past it is a broken row, not a path
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


@dataclass(frozen=True)
class BatchOptions:
    jobs: Path  # the job list (.json or .csv)
    in_place: bool = False  # a job's output may be its input .blend
    force: bool = False  # redo every job, and replace outputs changed since Facsimile wrote them
    device: str | None = None  # explicit device; None = $FACSIMILE_DEVICE, then the preference
    summary_json: Path | None = None  # also write the summary here
    allow_outside: bool = False  # let jobs write outside the job file's folder


@dataclass
class Job:
    number: int
    spec: dict
    problem: str = ""  # set when the row itself is invalid

    @property
    def kind(self) -> str:
        from .capture import is_capture_job

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


@dataclass
class BatchResult:
    outcomes: list[Outcome]
    interrupted: bool = False

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def failed(self) -> int:
        return self.count("FAILED")


# ---------------------------------------------------------------- reading the job list


def _coerce(key: str, value: object, where: str) -> object:
    """A row's field as the type it means (core.validate): whole numbers for frames and counts (never a boolean or
    2.5), a finite number for smoothing, true/false for mirror, text for the rest."""
    from ..core import validate

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
        raise FacsimileError(f"{where}: {key} must be true or false, got {validate._show(value)}")
    if not isinstance(value, str):
        raise FacsimileError(f"{where}: {key} must be text, got {validate._show(value)}")
    if "\0" in value:
        raise FacsimileError(f"{where}: {key} holds a NUL character; it is not a path")
    return value.strip()


def _resolve(base: Path, value: str | None) -> str | None:
    """Relative to the job file; '~' expanded. A pattern stays a pattern (core.formats.video_io decides)."""
    if not value:
        return value
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (base / p))


def _inside(path: str, folder: Path) -> bool:
    """Whether `path` (symlinks and `..` resolved) lies inside `folder`."""
    from ..core.output_guard import file_key

    root = file_key(folder)
    key = file_key(path)
    return key == root or key.startswith(root.rstrip(os.sep) + os.sep)


def _csv_rows(text: str, path: Path) -> list[dict | str]:
    """The CSV's rows as dicts; a row that csv cannot read (a cell over MAX_CELL_BYTES) becomes its problem text, so
    only that job fails."""
    lines = text.splitlines()
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        header = []
    except csv.Error as exc:
        raise FacsimileError(f"job list {path}: its header row cannot be read ({exc})") from None
    if not header:
        raise FacsimileError(f"job list {path} is empty; it needs a header row: blend,object,video,image,output")
    rows: list[dict | str] = []
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            rows.append(f"the row cannot be read: {exc} (a cell is larger than {MAX_CELL_BYTES // 1024} KB?)")
            continue
        if not cells:
            continue
        row = dict(zip(header, cells))
        if len(cells) > len(header):
            row[None] = cells[len(header) :]
        rows.append(row)
    return rows


def read_jobs(path: str | Path, allow_outside: bool = False) -> list[Job]:
    """The job list; a file that cannot be read at all is an error, a bad row becomes a failed job."""
    from ..core.formats.json_file import parse_json_text
    from ..core.output_plan import check_input

    path = Path(path)
    check_input("job list", path)
    if not path.is_file():
        raise FacsimileError(f"job list {path} does not exist")
    suffix = path.suffix.lower()
    if suffix not in (".json", ".csv"):
        raise FacsimileError(f"job list {path} must be .json or .csv")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FacsimileError(f"job list {path} is not a text file") from exc
    rows: list
    if suffix == ".json":
        data = parse_json_text(text, f"job list {path}")
        rows = data.get("jobs") if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise FacsimileError(f"job list {path} must be a JSON list of jobs or an object with a 'jobs' list")
    else:
        rows = _csv_rows(text, path)
    if not rows:
        raise FacsimileError(f"job list {path} holds no jobs")
    base = path.resolve().parent
    jobs = [_read_row(n, row, path, base, allow_outside) for n, row in enumerate(rows, start=1)]
    _guard_jobs(jobs, path)
    return jobs


def _read_row(n: int, row: object, path: Path, base: Path, allow_outside: bool) -> Job:
    where = f"{path.name} job {n}"
    job = Job(number=n, spec={})
    try:
        if isinstance(row, str):  # a CSV row csv could not read
            raise FacsimileError(f"{where}: {row}")
        if not isinstance(row, dict):
            raise FacsimileError(f"{where}: expected an object with blend/object/video|image/output")
        spec = {}
        for key, value in row.items():
            if key is None:
                raise FacsimileError(f"{where}: more cells than the header has columns")
            k = str(key).strip().lower().replace("-", "_")
            if k not in _KNOWN:
                raise FacsimileError(f"{where}: unknown field {str(key)[:40]!r} (known: {', '.join(sorted(_KNOWN))})")
            spec[k] = _coerce(k, value, where)
        for k in ("blend", "object", "output"):
            if not spec.get(k):
                raise FacsimileError(f"{where}: '{k}' is missing")
        if bool(spec.get("video")) == bool(spec.get("image")):
            raise FacsimileError(f"{where}: give exactly one of 'video' (bake) or 'image' (photo)")
        for k in ("blend", "video", "image", "output"):
            spec[k] = _resolve(base, spec.get(k))
        for k in ("preset", "rig_map"):  # a user map file is relative to the job file; a preset name is not a path
            if spec.get(k) and str(spec[k]).lower().endswith(".json"):
                spec[k] = _resolve(base, spec[k])
        if not allow_outside:
            for role, target in (("output", spec["output"]), ("record", str(record_path(spec["output"])))):
                if not _inside(target, base):
                    raise FacsimileError(
                        f"{where}: {role} {target} is outside the job file's folder {base}; a job writes only "
                        "there (pass --allow-outside to let it write elsewhere)"
                    )
        job.spec = spec
    except FacsimileError as exc:
        job.problem = str(exc)
        job.spec = {str(k): str(v)[:200] for k, v in row.items()} if isinstance(row, dict) else {}
    return job


def _job_inputs(job: Job) -> list:
    from ..core.output_guard import Named, preset_input

    s, n = job.spec, job.number
    return [
        Named(f"job {n} blend", s["blend"]),
        Named(f"job {n} media", s.get("video") or s.get("image")),
        preset_input(s.get("preset")),
    ]


def _job_outputs(job: Job) -> list:
    from ..core.output_guard import Named

    return [Named(f"job {job.number} output", job.output), Named(f"job {job.number} record", record_path(job.output))]


def _guard_jobs(jobs: list[Job], job_list: Path) -> None:
    """One run, one rule (core.output_guard): no job's output or record may be the job list, any job's input (its own
    scene only with --in-place, checked when it runs) or another job's output. A job that breaks it fails alone."""
    from ..core.output_guard import FileIndex, Named, check_outputs, input_index
    from ..core.output_plan import check_input

    inputs: list = [Named("the job list", job_list)]
    for job in jobs:
        if job.problem:
            continue
        try:
            for named in _job_inputs(job):
                if named is not None:
                    check_input(named.role, named.path)
        except FacsimileError as exc:
            job.problem = str(exc)
            continue
        inputs += _job_inputs(job)
    index = input_index(inputs)  # built once: each job's check is then a lookup
    taken = FileIndex()
    for job in jobs:
        if job.problem:
            continue
        mine = _job_outputs(job)
        try:
            for out in mine:
                for other in taken.find(out.path):
                    raise FacsimileError(
                        f"{out.role} {out.path} and {other.role} {other.path} are the same file; give each its own"
                    )
            check_outputs(index, mine, writable=False, skip_inputs=[f"job {job.number} blend"], check_changes=False)
        except FacsimileError as exc:
            job.problem = str(exc)
            continue
        for out in mine:
            taken.add(out)


def check_summary_path(summary: str | os.PathLike, jobs: list[Job], job_list: Path) -> None:
    """--summary-json is an output of the whole run: never the job list, a job's input, output or record."""
    from ..core.output_guard import Named, check_outputs

    known: list = [Named("the job list", job_list)]
    for job in jobs:
        if job.spec and not job.problem:
            known += _job_inputs(job) + _job_outputs(job)
    check_outputs(known, [Named("--summary-json", summary)])


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
    return sidecar_path(output)


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


def is_finished(job: Job, record: dict) -> bool:
    """The output exists, is the file the record describes, and was made from exactly these inputs and settings."""
    from ..core.formats.json_file import parse_json_text

    out = Path(job.output)
    rec_path = record_path(out)
    if not out.is_file() or not rec_path.is_file():
        return False
    try:
        old = parse_json_text(rec_path.read_text(encoding="utf-8"), f"record {rec_path}")
    except (OSError, UnicodeDecodeError, FacsimileError):
        return False
    if not isinstance(old, dict) or old.get("output_sha256") != sha256_of(out):
        return False
    want = dict(record)
    if same_file(job.spec["blend"], job.output):
        # In place: the input now is the output, so compare against what the blend was before the first run.
        want["blend_sha256"] = old.get("blend_sha256")
    return all(old.get(k) == v for k, v in want.items())


# ---------------------------------------------------------------- running


def _damaged_output(output: str) -> bool:
    """An existing output that is no .blend at all (cut off by a crash outside Facsimile, overwritten with junk) is
    damaged, not edited: the job redoes it. A valid .blend that differs from its record is the user's edit."""
    try:
        with open(output, "rb") as f:
            head = f.read(8)
    except OSError:
        return False
    from ..host.blend_io import _BLEND_MAGIC

    return not head.startswith(_BLEND_MAGIC)


def job_options(job: Job, device: str):
    """A job's row as the use case's options: BakeOptions for a video, PhotoOptions for a photo."""
    s = job.spec
    common = dict(preset=s.get("preset"), mirror=True if s.get("mirror") else None, device=device)
    if job.kind == "capture":
        from .capture import options_from_job

        return options_from_job(s, common)
    if job.kind == "bake":
        from .bake import BakeOptions

        return BakeOptions(
            clip=s["video"],
            start_frame=s.get("start_frame"),
            stride=s.get("stride") or 1,
            first=s.get("first") or 0,
            last=s.get("last"),
            smoothing=1.0 if s.get("smoothing") is None else s["smoothing"],
            **common,
        )
    from .photo import PhotoOptions

    return PhotoOptions(photo=Path(s["image"]), face=s.get("face") or 0, key_frame=s.get("key_frame"), **common)


def _run_use_case(job: Job, device: str, in_place: bool) -> None:
    from ..host.blend_io import edit_blend

    opts = job_options(job, device)
    if job.kind == "capture":
        from .capture import capture as use_case
    elif job.kind == "bake":
        from .bake import bake as use_case
    else:
        from .photo import apply_photo as use_case
    opts.check()
    edit_blend(
        job.spec["blend"],
        job.spec["object"],
        job.output,
        in_place,
        lambda obj: use_case(obj, opts),
        opts,
    )


def run_job(job: Job, device: str, in_place: bool, force: bool) -> Outcome:
    """One job as one run of the output plan: a failure (or Ctrl-C) leaves no temporary and no folder it created."""
    from ..core import output_plan
    from ..core.atomic_io import atomic_output
    from ..core.formats.video_io import is_pattern

    if job.problem:
        return Outcome(job, "FAILED", message=job.problem)
    start = time.perf_counter()
    try:
        with output_plan.run_scope(force=force or _damaged_output(job.output)):
            for key in ("blend", "video", "image"):
                value = job.spec.get(key)
                if value and not is_pattern(value) and not Path(value).exists():
                    raise FacsimileError(f"{key} {value} does not exist")
            if same_file(job.spec["blend"], job.output) and not in_place:
                raise FacsimileError(f"output {job.output} is the input .blend; give another output or pass --in-place")
            record = job_record(job, device)
            if not force and is_finished(job, record):
                return Outcome(job, "skipped", message="output up to date with its inputs")
            _run_use_case(job, device, in_place)
            record["output_sha256"] = sha256_of(Path(job.output))
            with atomic_output(record_path(job.output), check_changes=False) as tmp:
                tmp.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        return Outcome(job, "done", time.perf_counter() - start, "")
    except Exception as exc:  # noqa: BLE001 - one broken job must not stop the batch
        from ..core import interrupt

        if interrupt.requested():  # a stop signal that surfaced as another error: stop the batch, not this job
            raise KeyboardInterrupt from None
        return Outcome(job, "FAILED", time.perf_counter() - start, _failure_message(exc))


def _failure_message(exc: Exception) -> str:
    """One line for a failed job: the user's problem as said, a bug as "internal error"."""
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror}: {exc.filename}"
    if isinstance(exc, (FacsimileError, OSError)):
        return str(exc)
    if isinstance(exc, RecursionError):
        return "an input is nested too deeply to read"
    if os.environ.get("FACSIMILE_DEBUG"):
        traceback.print_exception(exc, file=sys.stderr)
    return f"internal error {type(exc).__name__}: {exc}"


def run_batch(
    opts: BatchOptions,
    started: Callable[[Job, int], None] | None = None,
    finished: Callable[[Outcome], None] | None = None,
) -> BatchResult:
    """Read, check and run every job; started(job, total) before and finished(outcome) after each. Ctrl-C (SIGTERM,
    SIGHUP) ends the batch with the rest marked "not run"; the summary is still written, then KeyboardInterrupt is
    raised again for the caller."""
    from ..core.atomic_io import atomic_write_text
    from ..ui.preferences import requested_device

    jobs = read_jobs(opts.jobs, opts.allow_outside)
    if opts.summary_json:
        check_summary_path(opts.summary_json, jobs, Path(opts.jobs))
    device = requested_device(opts.device)  # once for every job, and recorded beside each output
    result = BatchResult([])
    try:
        for job in jobs:
            if started is not None:
                started(job, len(jobs))
            outcome = run_job(job, device, opts.in_place, opts.force)
            result.outcomes.append(outcome)
            if finished is not None:
                finished(outcome)
    except KeyboardInterrupt:
        # The running job's temporaries are already gone (atomic outputs); keep the summary of what ran and leave
        # the rest for a rerun, which skips the finished jobs.
        result.interrupted = True
        done_numbers = {o.job.number for o in result.outcomes}
        for job in jobs:
            if job.number not in done_numbers:
                result.outcomes.append(Outcome(job, "not run", message="interrupted; a rerun resumes here"))
    if opts.summary_json:
        atomic_write_text(opts.summary_json, json.dumps(summary_payload(result), indent=1) + "\n")
    if result.interrupted:
        raise KeyboardInterruptWithResult(result)
    return result


class KeyboardInterruptWithResult(KeyboardInterrupt):
    """Ctrl-C during a batch, carrying what ran so far (the command prints it before exiting 130)."""

    def __init__(self, result: BatchResult) -> None:
        super().__init__()
        self.result = result


def summary_payload(result: BatchResult) -> list[dict]:
    return [
        {"job": o.job.number, "status": o.status, "output": o.job.output, "seconds": o.seconds, "message": o.message}
        for o in result.outcomes
    ]


def format_table(outcomes: list[Outcome]) -> str:
    rows = [("#", "status", "kind", "output", "time", "message")]
    for o in outcomes:
        rows.append(
            (
                str(o.job.number),
                o.status,
                o.job.kind if o.job.spec else "?",
                os.path.basename(o.job.output)[:80] or "?",
                f"{o.seconds:.1f}s" if o.status == "done" else "",
                o.message,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:5], widths)) + "  " + r[5] for r in rows]
    lines.insert(1, "-" * min(120, max(len(line) for line in lines)))
    return "\n".join(line.rstrip() for line in lines)


def summary_line(result: BatchResult) -> str:
    c = {s: result.count(s) for s in ("done", "skipped", "FAILED", "not run")}
    line = f"{c['done']} done, {c['skipped']} skipped, {c['FAILED']} failed of {len(result.outcomes)} jobs"
    if result.interrupted:
        line += f"; interrupted, {c['not run']} not run (run the same command again to resume)"
    return line
