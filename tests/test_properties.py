"""Property-based tests of every entry point (issue 12): generated argument values and input files for solve, apply,
photo, bake, export-csv, batch and skin (each run as `python -m blender_addon.host.cli ...` in a child process, as a user
runs it) and for the face operators (in a child Blender session).

Generated: numbers at and past their limits (Blender's frame range, 0, negatives, 2**63), NaN and infinities, wrong
types (text where a number is meant, booleans and strings in batch rows and weights files), odd file names (spaces,
unicode, brackets, '*', '?', a leading '-'), empty, truncated and wrong-format files, and outputs that collide with an
input or with another output.

Invariants, for every run: the process ends within a bound; it exits 0, 1 or 2 (the documented codes); it prints no
traceback and no "internal error"; every input file is byte-identical afterwards; no temporary file is left.

The default profile is short and derandomised (a few minutes for the whole file, same examples every run);
`make test-slow` runs the `long` profile (FACSIMILE_HYPOTHESIS_PROFILE=long: many more, random examples).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from addon_fixtures import moving_frames, photo, write_sequence, write_video
from conftest import REPO_ROOT, shared_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_assets import BODY, HEAD, build_scene, child_env, digests, facsimile

from blender_addon.core.arkit import ARKIT_NAMES
from blender_addon.core.atomic_io import TEMP_MARK

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("default", max_examples=5, derandomize=True, **_COMMON)
settings.register_profile("long", max_examples=60, **_COMMON)
settings.load_profile(os.environ.get("FACSIMILE_HYPOTHESIS_PROFILE", "default"))

LIMIT_S = 180  # a run takes 2-10 s; anything near this is a hang

# ---------------------------------------------------------------- strategies

INT_EDGES = [-(2**63), -1048575, -1048574, -1, 0, 1, 2, 1048574, 1048575, 2**31, 10**12, 2**63]
FLOAT_EDGES = [float("nan"), float("inf"), float("-inf"), -0.0, 1e-300, 1e308, -1.0, 0.5, 24.0, 1000.5]
TEXT_JUNK = ["", "abc", "1.5", "true", "-1", "0x10", "1e400", "NaN", " 3 ", "1:2:3", "９"]
ODD_NAMES = ["a b", "ünïcødé", "[1]", "face [1]", "*", "x?y", "-leading", "--json", "a'b\"c", "日本"]


def number_text() -> st.SearchStrategy[str]:
    """What a user may type where a number is meant."""
    return st.one_of(
        st.sampled_from(INT_EDGES).map(str),
        st.sampled_from(FLOAT_EDGES).map(repr),
        st.sampled_from(TEXT_JUNK),
        st.integers(-(10**7), 10**7).map(str),
    )


def json_value() -> st.SearchStrategy[object]:
    """What a JSON job row or weights file may hold where a number is meant."""
    return st.one_of(
        st.sampled_from(INT_EDGES),
        st.sampled_from([v for v in FLOAT_EDGES if math.isfinite(v)]),
        st.sampled_from(TEXT_JUNK),
        st.booleans(),
        st.none(),
        st.just([1, 2]),
        st.just({"a": 1}),
    )


FILE_KINDS = ["good", "empty", "truncated", "text", "random"]


def make_file(path: Path, kind: str, good: Path) -> Path:
    """`good` copied, or an empty / truncated / wrong-format file with the same name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "good":
        if good.is_dir():
            shutil.copytree(good, path)
        else:
            shutil.copy(good, path)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        src = good if good.is_file() else sorted(good.iterdir())[0]
        data = src.read_bytes()
        path.write_bytes(data[: max(1, len(data) // 3)])
    elif kind == "text":
        path.write_text("this is not the file you are looking for\n")
    else:
        path.write_bytes(np.random.default_rng(len(str(path))).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return path


# ---------------------------------------------------------------- the world and the invariants


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("props")
    scene = build_scene(root / "scene.blend", driver=False)
    seq = write_sequence(root / "seq", moving_frames("happy-baby.jpeg", 3, size=200))
    video = write_video(root / "v.mp4", moving_frames("neutral.jpeg", 3, size=200), fps=24.0)
    shutil.copy(photo("happy-baby.jpeg"), root / "p.jpg")
    bvh = shared_path("mocap", "bvh", "cmu_subject02_walk.bvh")
    return {"root": root, "scene": scene, "seq": seq, "video": video, "photo": root / "p.jpg", "bvh": bvh}


class Case:
    """One generated run: a private folder, its inputs, and the checks every run must pass."""

    def __init__(self, world: dict):
        self.dir = Path(tempfile.mkdtemp(prefix="facsimile-prop-"))
        self.world = world
        self.inputs: list[Path] = []
        self.outputs: list[Path] = []

    def input(self, name: str, kind: str, good: Path) -> Path:
        p = make_file(self.dir / "in" / name, kind, good)
        self.inputs.append(p)
        return p

    def scene(self) -> Path:
        p = self.dir / "in" / "scene.blend"
        p.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.world["scene"], p)
        self.inputs.append(p)
        return p

    def output(self, choice: str, name: str) -> str:
        """A fresh output path, or one that collides with an input or an earlier output."""
        if choice == "input" and self.inputs:
            return str(self.inputs[0])
        if choice == "output" and self.outputs:
            return str(self.outputs[0])
        if choice == "dotdot" and self.inputs:
            return str(self.inputs[0].parent / ".." / self.inputs[0].parent.name / self.inputs[0].name)
        p = self.dir / "out" / name
        self.outputs.append(p)
        return str(p)

    def run(self, *args: str, env: dict | None = None):
        before = digests(self.inputs)
        result = facsimile(*args, timeout=LIMIT_S, cwd=self.dir, env=env)
        self.check(result, before)
        return result

    def check(self, result, before) -> None:
        assert result.code in (0, 1, 2), f"exit code {result.code}: {result.err[-2000:]}"
        assert "Traceback" not in result.err and "internal error" not in result.err, result.err[-3000:]
        assert digests(self.inputs) == before, "an input file changed"
        left = [str(p) for p in self.dir.rglob("*") if TEMP_MARK in p.name or p.name.endswith(".blend@")]
        assert left == [], f"temporaries left: {left}"
        if result.code == 1:
            assert result.err.strip(), "exit 1 without a message"

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


collide = st.sampled_from(["fresh", "fresh", "input", "output", "dotdot"])
kinds = st.sampled_from(FILE_KINDS)
odd = st.sampled_from(ODD_NAMES)


# ---------------------------------------------------------------- commands


@given(kind=kinds, name=odd, faces=number_text(), smoothing=number_text(), fps=number_text(), json_to=collide,
       csv_to=collide, use_video=st.booleans())  # fmt: skip
def test_solve(world, kind, name, faces, smoothing, fps, json_to, csv_to, use_video):
    case = Case(world)
    try:
        src = case.input(f"{name}.mp4" if use_video else f"{name}.jpg", kind, world["video" if use_video else "photo"])
        args = ["solve", str(src), "--max-faces", faces, "--smoothing", smoothing, "--fps", fps]
        args += ["--json", case.output(json_to, "w.json"), "--csv", case.output(csv_to, "c.csv")]
        case.run(*args)
    finally:
        case.close()


@given(content=st.one_of(st.dictionaries(st.sampled_from([*ARKIT_NAMES[:4], "jawOpen", "notAKey", "fps"]), json_value(),
                                          max_size=4),
                         st.fixed_dictionaries({"fps": json_value(), "frames": st.lists(
                             st.dictionaries(st.sampled_from(["jawOpen", "eyeBlinkLeft"]), json_value(), max_size=2),
                             max_size=3)})),
       kind=kinds, start=number_text(), source_fps=number_text(), out_to=collide, name=odd)  # fmt: skip
def test_apply(world, content, kind, start, source_fps, out_to, name):
    case = Case(world)
    try:
        scene = case.scene()
        good = case.dir / "good.json"
        good.write_text(json.dumps(content, allow_nan=True))
        weights = case.input(f"{name}.json", kind, good)
        args = ["apply", "--blend", str(scene), "--object", HEAD, "--weights", str(weights)]
        args += ["--start-frame", start, "--source-fps", source_fps, "--out", case.output(out_to, "o.blend")]
        case.run(*args)
    finally:
        case.close()


@given(kind=kinds, name=odd, face=number_text(), key=number_text(), out_to=collide, preview_to=collide,
       json_to=collide)  # fmt: skip
def test_photo(world, kind, name, face, key, out_to, preview_to, json_to):
    case = Case(world)
    try:
        scene = case.scene()
        image = case.input(f"{name}.jpg", kind, world["photo"])
        args = ["photo", "--blend", str(scene), "--object", HEAD, "--image", str(image), "--face", face]
        args += ["--key-frame", key, "--out", case.output(out_to, "o.blend")]
        args += ["--preview", case.output(preview_to, "p.png"), "--json", case.output(json_to, "w.json")]
        case.run(*args)
    finally:
        case.close()


@given(kind=kinds, name=odd, use_video=st.booleans(), stride=number_text(), first=number_text(),
       start=number_text(), smoothing=number_text(), out_to=collide)  # fmt: skip
def test_bake(world, kind, name, use_video, stride, first, start, smoothing, out_to):
    case = Case(world)
    try:
        scene = case.scene()
        clip = case.input(f"{name}.mp4" if use_video else name, kind if use_video else "good",
                          world["video" if use_video else "seq"])  # fmt: skip
        args = ["bake", "--blend", str(scene), "--object", HEAD, "--video", str(clip), "--stride", stride]
        args += ["--first", first, "--start-frame", start, "--smoothing", smoothing, "--quiet"]
        args += ["--out", case.output(out_to, "o.blend")]
        case.run(*args)
    finally:
        case.close()


@given(a=number_text(), b=number_text(), out_to=collide, name=odd)
def test_export_csv(world, a, b, out_to, name):
    case = Case(world)
    try:
        scene = case.scene()
        out = case.output(out_to, f"{name}.csv")
        case.run("export-csv", "--blend", str(scene), "--object", HEAD, "--frames", f"{a}:{b}", "--out", out)
    finally:
        case.close()


@given(rows=st.lists(st.fixed_dictionaries({"face": json_value(), "key_frame": json_value(), "stride": json_value(),
                                            "smoothing": json_value(), "mirror": json_value()}), min_size=1, max_size=2),
       use_video=st.booleans(), out_to=collide, csv=st.booleans())  # fmt: skip
def test_batch(world, rows, use_video, out_to, csv):
    case = Case(world)
    try:
        scene = case.scene()
        media = case.input("clip.mp4" if use_video else "p.jpg", "good", world["video" if use_video else "photo"])
        jobs = []
        for i, extra in enumerate(rows):
            row = {"blend": str(scene), "object": HEAD, "output": case.output(out_to, f"o{i}.blend")}
            row["video" if use_video else "image"] = str(media)
            row.update({k: v for k, v in extra.items() if not (use_video and k in ("face", "key_frame"))
                        and not (not use_video and k in ("stride", "smoothing"))})  # fmt: skip
            jobs.append(row)
        if csv:
            import csv as csv_module

            job_list = case.dir / "jobs.csv"  # beside in/ and out/: its jobs write inside its folder
            with open(job_list, "w", newline="", encoding="utf-8") as f:
                w = csv_module.DictWriter(f, fieldnames=sorted({k for r in jobs for k in r}))
                w.writeheader()
                w.writerows(jobs)
        else:
            job_list = case.dir / "jobs.json"
            job_list.write_text(json.dumps(jobs, allow_nan=True))
        case.inputs.append(job_list)
        case.run("batch", str(job_list), "--summary-json", case.output("fresh", "s.json"))
    finally:
        case.close()


@given(action=st.sampled_from(["Walk", "FacsimileHeadAction", "", "nope", "-x"]), a=number_text(), b=number_text(),
       bvh_kind=st.sampled_from([None, *FILE_KINDS]), out_to=collide, name=odd)  # fmt: skip
def test_skin(world, action, a, b, bvh_kind, out_to, name):
    case = Case(world)
    try:
        scene = case.scene()
        args = ["skin", "--blend", str(scene), "--object", BODY, "--frames", f"{a}:{b}"]
        if bvh_kind is not None and world["bvh"] is not None:
            args += ["--bvh", str(case.input(f"{name}.bvh", bvh_kind, world["bvh"]))]
        else:
            args += ["--action", action]
        case.run(*args, "--out", case.output(out_to, f"{name}.pc2"))
    finally:
        case.close()


# ---------------------------------------------------------------- operators (a child Blender session)

_OPERATOR_SCRIPT = r"""
import json, sys, bpy
import blender_addon
from blender_addon.host import process_exit
process_exit.install()
spec = json.loads(sys.argv[1])
bpy.ops.wm.open_mainfile(filepath=spec["scene"])
blender_addon.register()
try:
    head = bpy.data.objects[spec["object"]]
    bpy.context.view_layer.objects.active = head
    if spec.get("face_target", True):  # the face operators act on the panel's target; the LBS ones on the active mesh
        bpy.context.scene.facsimile.target = head
    results = []
    for op, kwargs in spec["calls"]:
        try:
            results.append(sorted(getattr(bpy.ops.facsimile, op)(**kwargs)))
        except (RuntimeError, TypeError, ValueError, OverflowError) as exc:  # Blender's own refusal of a value
            results.append(["REFUSED", type(exc).__name__])
    print("RESULTS", json.dumps(results))
finally:
    blender_addon.unregister()
"""


@given(kind=kinds, name=odd, face=st.sampled_from([-(2**31), -2, -1, 0, 1, 5, 2**31 - 1]), out_to=collide)
def test_face_operators(world, kind, name, face, out_to):
    case = Case(world)
    try:
        scene = case.scene()
        image = case.input(f"{name}.jpg", kind, world["photo"])
        take = case.input(f"{name}.json", "good", world["photo"])  # a JPEG named .json: a wrong-format take
        calls = [
            ["apply_photo", {"filepath": str(image), "face": face}],
            ["import_livelink", {"filepath": str(take)}],
            ["export_livelink", {"filepath": case.output(out_to, "take.csv")}],
            ["export_weights_json", {"filepath": case.output(out_to, "w.json")}],
        ]
        spec = {"scene": str(scene), "object": HEAD, "calls": calls}
        before = digests(case.inputs)
        done = subprocess.run([sys.executable, "-c", _OPERATOR_SCRIPT, json.dumps(spec)], env=child_env(),
                              cwd=REPO_ROOT, capture_output=True, text=True, timeout=LIMIT_S)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr[-3000:]
        assert "RESULTS" in done.stdout
        assert digests(case.inputs) == before
        assert [p for p in case.dir.rglob("*") if TEMP_MARK in p.name] == []
    finally:
        case.close()


def test_a_generated_bad_value_reaches_the_command():
    """Guard against a suite that cannot fail: the junk really arrives and is refused with exit code 1 or 2."""
    run = facsimile("solve", str(REPO_ROOT / "README.md"), "--max-faces", "nan", timeout=LIMIT_S)
    assert run.code in (1, 2) and "max-faces" in run.err


# ---------------------------------------------------------------- issue 21: paths, values, formats, writers, signals
# Invariants as above, plus: the run ends within its bound, nothing is left in the case folder but the inputs and
# the named outputs (and batch records), and an input file under 10 MB never costs more than 1.5 GB of memory.

_SHORT = (
    settings(max_examples=3)
    if os.environ.get("FACSIMILE_HYPOTHESIS_PROFILE", "default") == "default"
    else (settings(max_examples=40))
)
PATH_KINDS = [
    "fresh",
    "fifo",
    "read-only",
    "long-ok",
    "too-long",
    "loop",
    "dangling",
    "folder",
    "new-folder",
    "devnull",
]


def hostile_path(case: Case, kind: str, name: str) -> str:
    """An output path of the given kind inside the case folder (`devnull`: /dev/null, a character device)."""
    out = case.dir / "out"
    out.mkdir(parents=True, exist_ok=True)
    p = out / name
    if kind == "fifo":
        os.mkfifo(p)
    elif kind == "read-only":
        p.write_bytes(b"protected")
        os.chmod(p, 0o444)
        case.inputs.append(p)  # it must come back byte-identical
    elif kind == "long-ok":
        p = out / ("l" * (250 - len(name)) + name)
    elif kind == "too-long":
        p = out / ("l" * 260 + name)
    elif kind == "loop":
        os.symlink(name, p)
    elif kind == "dangling":
        os.symlink("nowhere/" + name, p)
    elif kind == "folder":
        p.mkdir()
    elif kind == "new-folder":
        p = out / "a" / "b" / name
    elif kind == "devnull":
        return os.devnull
    return str(p)


def _left_over(case: Case, named: list[str]) -> list[str]:
    """Files in the case folder that are neither inputs nor named outputs (nor a named output's batch record)."""
    allowed = {os.path.realpath(p) for p in [*map(str, case.inputs), *named]}
    allowed |= {a + ".facsimile.json" for a in allowed}
    left = []
    for p in case.dir.rglob("*"):
        if p.is_file() and not p.is_symlink() and os.path.realpath(p) not in allowed and "/in/" not in str(p):
            left.append(str(p))
    return left


@_SHORT
@given(command=st.sampled_from(["apply", "export-csv", "skin", "solve"]), kind=st.sampled_from(PATH_KINDS),
       input_fifo=st.booleans())  # fmt: skip
def test_hostile_output_paths(world, command, kind, input_fifo):
    case = Case(world)
    try:
        scene = case.scene()
        suffix = {"apply": ".blend", "export-csv": ".csv", "skin": ".pc2", "solve": ".json"}[command]
        out = hostile_path(case, kind, f"o{suffix}")
        weights = case.dir / "in" / "w.json"
        if input_fifo:
            os.mkfifo(weights)
        else:
            weights.write_text(json.dumps({"jawOpen": 0.5}))
            case.inputs.append(weights)
        args = {
            "apply": ["apply", "--blend", str(scene), "--object", HEAD, "--weights", str(weights), "--out", out],
            "export-csv": ["export-csv", "--blend", str(scene), "--object", HEAD, "--out", out],
            "skin": ["skin", "--blend", str(scene), "--object", BODY, "--action", "Walk", "--out", out, "--map",
                     str(weights)],
            "solve": ["solve", str(world["photo"]), "--json", out],
        }[command]  # fmt: skip
        result = case.run(*args)
        if kind in ("fifo", "read-only", "too-long", "loop", "folder", "devnull"):
            assert result.code == 1, f"{kind} output accepted: {result.err[-1000:]}"
        assert _left_over(case, [out]) == []
        if result.code != 0:
            assert not (case.dir / "out" / "a").exists(), "a failed run left the folders it created"
    finally:
        case.close()


def _deep_json(depth: int) -> str:
    return "[" * depth + "0" + "]" * depth


huge_values = st.one_of(
    st.integers(20, 20000).map(_deep_json),
    st.integers(300, 6000).map(lambda n: "9" * n),
    st.sampled_from(["1e39", "-1e39", "3.4e38", "1e308", "-1e-320", "1e6", '"' + "x" * 200_000 + '"']),
)


@_SHORT
@given(value=huge_values, where=st.sampled_from(["weight", "fps", "frames", "job face", "job stride", "job list"]))
def test_nested_and_huge_values(world, value, where):
    case = Case(world)
    try:
        scene = case.scene()
        f = case.dir / "in" / ("jobs.json" if where.startswith("job") else "w.json")
        if where == "weight":
            text = '{"jawOpen": ' + value + "}"
        elif where == "fps":
            text = '{"fps": ' + value + ', "frames": [{"jawOpen": 0.5}]}'
        elif where == "frames":
            text = '{"fps": 24, "frames": ' + value + "}"
        elif where == "job list":
            text = value
        else:
            field = where.split()[1]
            row = {"blend": str(scene), "object": HEAD, "image": str(world["photo"]), "output": "o.blend"}
            text = json.dumps([row])[:-2] + f', "{field}": {value}' + "}]"
        f.write_text(text)
        case.inputs.append(f)
        if f.name == "jobs.json":
            result = case.run("batch", str(f))
        else:
            result = case.run("apply", "--blend", str(scene), "--object", HEAD, "--weights", str(f), "--out",
                              str(case.dir / "out" / "o.blend"))  # fmt: skip
        assert "Warning" not in result.err, result.err[-1000:]
    finally:
        case.close()


@_SHORT
@given(fmt=st.sampled_from(["tiff", "bigtiff", "webp", "webp-lossless", "bmp", "ppm", "gif"]),
       side=st.sampled_from([9000, 16383, 30000, 65535]), other=st.integers(1, 65535))  # fmt: skip
def test_huge_dimension_images(world, fmt, side, other):
    from reliability_media import huge_bmp, huge_gif, huge_pnm, huge_tiff, huge_webp, peak_memory_run

    case = Case(world)
    try:
        p = case.dir / "in" / f"big.{fmt.split('-')[0]}"
        p.parent.mkdir(parents=True, exist_ok=True)
        w, h = side, min(other, 16384 if fmt.startswith("webp") else 65535)
        {"tiff": lambda: huge_tiff(p, w, h), "bigtiff": lambda: huge_tiff(p, w, h, big=True),
         "webp": lambda: huge_webp(p, min(w, 16384), h), "webp-lossless": lambda: huge_webp(p, min(w, 16384), h, "VP8L"),
         "bmp": lambda: huge_bmp(p, w, h), "ppm": lambda: huge_pnm(p, w, h), "gif": lambda: huge_gif(p, w, h)}[fmt]()  # fmt: skip
        case.inputs.append(p)
        before = digests(case.inputs)
        done, peak = peak_memory_run(["solve", str(p)], child_env(), case.dir, LIMIT_S)
        assert done.returncode in (0, 1) and "Traceback" not in done.stderr and "internal error" not in done.stderr
        assert digests(case.inputs) == before
        assert peak < 1500, f"{fmt} {w}x{h}: peak memory {peak:.0f} MB"
    finally:
        case.close()


@_SHORT
@given(delay=st.floats(0.0, 1.5), force=st.booleans())
def test_concurrent_writers(world, delay, force):
    """Two runs writing one output at once: each ends 0 or 1, the output is one whole scene, no temporary stays."""
    case = Case(world)
    try:
        scene = case.scene()
        weights = case.dir / "in" / "w.json"
        weights.write_text(json.dumps({"jawOpen": 0.5}))
        case.inputs.append(weights)
        out = case.dir / "out" / "o.blend"
        args = [sys.executable, "-m", "blender_addon.host.cli", "apply", "--blend", str(scene), "--object", HEAD,
                "--weights", str(weights), "--out", str(out)]  # fmt: skip
        before = digests(case.inputs)
        procs = []
        for i in range(2):
            extra = ["--force"] if force and i else []
            procs.append(subprocess.Popen(args + extra, env=child_env(), cwd=case.dir, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True))  # fmt: skip
            time.sleep(delay)
        for p in procs:
            _, err = p.communicate(timeout=LIMIT_S)
            assert p.returncode in (0, 1) and "Traceback" not in err and "internal error" not in err, err[-2000:]
        assert out.read_bytes()[:4] in (b"BLEN", b"\x28\xb5\x2f\xfd"), "the output is not one whole scene"
        assert digests(case.inputs) == before
        assert [p for p in case.dir.rglob("*") if TEMP_MARK in p.name or p.name.endswith("@")] == []
    finally:
        case.close()


@_SHORT
@given(sig=st.sampled_from([signal.SIGINT, signal.SIGTERM, signal.SIGHUP]), delay=st.floats(0.0, 6.0),
       command=st.sampled_from(["bake", "batch"]))  # fmt: skip
def test_signals(world, sig, delay, command):
    """A run stopped at any moment: exit 130 (or 0/1 when it was already done), nothing half-written, no temporary,
    the inputs intact, Blender's temp folder gone."""
    case = Case(world)
    try:
        scene = case.scene()
        tmpdir = case.dir / "tmp"
        tmpdir.mkdir()
        out = case.dir / "out" / "o.blend"
        if command == "bake":
            args = ["bake", "--blend", str(scene), "--object", HEAD, "--video", str(world["seq"]), "--out", str(out)]
        else:
            jobs = case.dir / "in" / "jobs.json"
            jobs.write_text(json.dumps([{"blend": str(scene), "object": HEAD, "image": str(world["photo"]),
                                         "output": f"../out/o{i}.blend"} for i in range(2)]))  # fmt: skip
            case.inputs.append(jobs)
            args = ["batch", str(jobs), "--allow-outside"]
        before = digests(case.inputs)
        proc = subprocess.Popen([sys.executable, "-m", "blender_addon.host.cli", *args], env=child_env(TMPDIR=str(tmpdir)),
                                cwd=case.dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        # From the moment Blender is up (its session folder appears; the command's handlers are set before that):
        # before it, the interpreter itself is still starting and a signal's default action is the OS's.
        deadline = time.monotonic() + LIMIT_S
        while proc.poll() is None and not any(tmpdir.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(delay)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=LIMIT_S)
        assert proc.returncode in (0, 1, 130), err[-2000:]
        assert "Traceback" not in err and "internal error" not in err, err[-2000:]
        assert digests(case.inputs) == before
        assert [p for p in case.dir.rglob("*") if TEMP_MARK in p.name or p.name.endswith("@")] == []
        assert list(tmpdir.iterdir()) == [], list(tmpdir.iterdir())
        if out.exists():
            assert out.read_bytes()[:4] in (b"BLEN", b"\x28\xb5\x2f\xfd")
    finally:
        case.close()


# ---------------------------------------------------------------- the LBS operators and the modal bake (Blender)


def _blender_child(script: str, spec: dict, case: Case) -> subprocess.CompletedProcess:
    before = digests(case.inputs)
    done = subprocess.run([sys.executable, "-c", script, json.dumps(spec)], env=child_env(), cwd=case.dir,
                          capture_output=True, text=True, timeout=LIMIT_S)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "internal error" not in done.stderr, done.stderr[-3000:]
    for line in done.stderr.splitlines():  # a user error is reported, never raised through the operator
        assert not line.startswith("Traceback"), done.stderr[-3000:]
    assert "RESULTS" in done.stdout, done.stdout[-2000:]
    assert digests(case.inputs) == before
    assert [p for p in case.dir.rglob("*") if TEMP_MARK in p.name or p.name.endswith("@")] == []
    return done


@_SHORT
@given(source=st.sampled_from(["ACTION", "BVH"]), action=st.sampled_from(["Walk", "", "nope", "FacsimileHeadAction"]),
       a=st.sampled_from([-1, 0, 1, 3, 1048574, 2**31 - 1]), b=st.sampled_from([-1, 0, 2, 4, 1048574]),
       bvh_kind=kinds, path_kind=st.sampled_from(PATH_KINDS), dqs=st.booleans(),
       device=st.sampled_from(["auto", "cpu", "cuda"]), joint_map=st.sampled_from(["", "cmu", "nope", "file"]))  # fmt: skip
def test_lbs_operators(world, source, action, a, b, bvh_kind, path_kind, dqs, device, joint_map):
    case = Case(world)
    try:
        scene = case.scene()
        bvh = case.input("walk.bvh", bvh_kind, world["bvh"]) if world["bvh"] is not None else case.dir / "no.bvh"
        if joint_map == "file":
            joint_map = str(case.dir / "in" / "map.json")
            Path(joint_map).write_text(json.dumps({"Hips": "hips"}))
            case.inputs.append(Path(joint_map))
        out = hostile_path(case, path_kind, "body.pc2")
        calls = [
            ["lbs_bake_pc2", {"filepath": out, "source": source, "action": action, "bvh_path": str(bvh),
                              "joint_map": joint_map, "frame_start": a, "frame_end": b, "dqs": dqs, "device": device,
                              "attach": False}],
            ["lbs_preview", {}],
            ["lbs_clear_preview", {}],
            ["lbs_pose_shape_keys", {"dqs": dqs}],
        ]  # fmt: skip
        spec = {"scene": str(scene), "object": BODY, "calls": calls, "face_target": False}
        done = _blender_child(_OPERATOR_SCRIPT, spec, case)
        results = json.loads(done.stdout.split("RESULTS", 1)[1].strip().splitlines()[0])
        if path_kind in ("fifo", "read-only", "too-long", "loop", "folder", "devnull"):
            assert results[0] != ["FINISHED"], f"{path_kind} output accepted"
    finally:
        case.close()


_MODAL_SCRIPT = r"""
import json, sys, bpy
import numpy as np
import blender_addon
from blender_addon.host import process_exit
from blender_addon.core.errors import FacsimileError
from blender_addon.usecases import bake as bake_uc
process_exit.install()
spec = json.loads(sys.argv[1])
bpy.ops.wm.open_mainfile(filepath=spec["scene"])
blender_addon.register()
try:
    head = bpy.data.objects[spec["object"]]
    keys = head.data.shape_keys
    def state():
        from blender_addon.host.blender_compat import assigned_fcurves

        return [sorted((fc.data_path, len(fc.keyframe_points)) for fc in assigned_fcurves(keys)),
                [round(k.value, 6) for k in keys.key_blocks]]
    before = state()
    opts = bake_uc.BakeOptions(clip=spec["clip"], first=spec["first"], stride=spec["stride"])
    result = "?"
    try:
        job = bake_uc.start_bake(head, opts)   # what the modal operator does on invoke
        steps = 0
        try:
            while not job.step(spec["chunk"]):   # one timer event each
                steps += 1
                assert 0.0 <= job.fraction <= 1.0
                if steps == spec["cancel_after"]:
                    break
            else:
                bake_uc.finish_bake(job, opts)
                result = "finished"
        finally:
            job.close()
        if result != "finished":
            result = "cancelled"
            assert state() == before, "a cancelled bake changed the object"
    except FacsimileError as exc:
        result = "refused: " + str(exc)[:200]
        assert state() == before, "a refused bake changed the object"
    print("RESULTS", json.dumps([result]))
finally:
    blender_addon.unregister()
"""


@_SHORT
@given(chunk=st.integers(1, 40), cancel_after=st.integers(0, 6), first=st.integers(0, 4), stride=st.integers(1, 3),
       use_video=st.booleans())  # fmt: skip
def test_modal_bake_steps(world, chunk, cancel_after, first, stride, use_video):
    """The modal bake's engine (start, a step per timer event, Esc = close without finish): any chunk size and any
    cancel point leaves the object untouched unless the bake finished."""
    case = Case(world)
    try:
        scene = case.scene()
        clip = world["video"] if use_video else world["seq"]
        spec = {"scene": str(scene), "object": HEAD, "clip": str(clip), "chunk": chunk, "cancel_after": cancel_after,
                "first": first, "stride": stride}  # fmt: skip
        _blender_child(_MODAL_SCRIPT, spec, case)
    finally:
        case.close()
