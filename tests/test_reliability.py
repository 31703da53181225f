"""Issue 12 regression tests: each finding fed to `facsimile ...` as a user would run it (a child process), checking
the exit code, the one-line message (no traceback) and that every input file is byte-identical afterwards."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from addon_fixtures import moving_frames, photo, write_sequence, write_video
from conftest import REPO_ROOT
from reliability_assets import (
    BODY,
    HEAD,
    build_scene,
    child_env,
    digests,
    facsimile,
    one_line_error,
    weights_json,
)

from blender_addon.core.atomic_io import TEMP_MARK, host_id


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    scene = build_scene(root / "scene.blend", driver=False)
    shutil.copy(photo("happy-baby.jpeg"), root / "p.jpg")
    write_video(root / "v.mp4", moving_frames("neutral.jpeg", 4, size=240), fps=24.0)
    write_sequence(root / "long", moving_frames("happy-baby.jpeg", 200, size=240))
    return root, scene


def _inputs(world):
    root, scene = world
    return [scene, root / "p.jpg", root / "v.mp4", root / "long"]


def _temporaries(folder) -> list[str]:
    return [str(p) for p in folder.rglob("*") if TEMP_MARK in p.name]


# ---------------------------------------------------------------- finding 1: an output never replaces an input


@pytest.mark.parametrize(
    "command, args, message",
    [
        ("photo", ["--image", "P", "--out", "O", "--json", "S"], "never replaces an input"),
        ("photo", ["--image", "P", "--out", "O", "--preview", "S"], "never replaces an input"),
        ("bake", ["--video", "V", "--out", "O", "--json", "S"], "never replaces an input"),
        ("solve", ["V", "--csv", "V"], "never replaces an input"),
        ("solve", ["P", "--json", "P"], "never replaces an input"),
        ("photo", ["--image", "P", "--out", "O", "--preview", "P"], "never replaces an input"),
        ("photo", ["--image", "P", "--out", "O", "--json", "LINK"], "never replaces an input"),
        ("photo", ["--image", "P", "--out", "O", "--json", "DOTDOT"], "never replaces an input"),
        ("photo", ["--image", "P", "--out", "O", "--json", "O"], "are the same file"),
        ("photo", ["--image", "P", "--out", "S"], "pass --in-place"),
        ("export-csv", ["--out", "S.csv"], None),  # a plain new CSV beside the scene is fine: control case
    ],
)
def test_finding1_outputs_never_replace_inputs(world, tmp_path, command, args, message):
    root, scene = world
    before = digests(_inputs(world))
    os.symlink(scene, tmp_path / "link.blend")
    subs = {
        "S": str(scene),
        "P": str(root / "p.jpg"),
        "V": str(root / "v.mp4"),
        "O": str(tmp_path / "o.blend"),
        "LINK": str(tmp_path / "link.blend"),
        "DOTDOT": str(root / "sub" / ".." / "scene.blend"),
        "S.csv": str(tmp_path / "take.csv"),
    }
    argv = [subs.get(a, a) for a in args]
    if command != "solve":
        argv = ["--blend", str(scene), "--object", HEAD, *argv]
    run = facsimile(command, *argv, timeout=180)
    if message is None:
        assert run.code == 0, run.err[-2000:]
    else:
        assert run.code == 1, run.err[-2000:]
        assert message in one_line_error(run, command)
        assert not (tmp_path / "o.blend").exists()
    assert digests(_inputs(world)) == before
    assert _temporaries(root) == [] and _temporaries(tmp_path) == []


# ---------------------------------------------------------------- findings 3 and 4


def test_finding3_two_videos_with_one_name_get_two_csvs(world, tmp_path):
    root, _ = world
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        shutil.copy(root / "v.mp4", tmp_path / sub / "clip.mp4")
    out = tmp_path / "w.json"
    run = facsimile("solve", str(tmp_path / "a" / "clip.mp4"), str(tmp_path / "b" / "clip.mp4"), "--csv",
                    str(tmp_path / "csvs"), "--json", str(out), timeout=180)  # fmt: skip
    assert run.code == 0, run.err[-2000:]
    csvs = [r["video"]["csv"] for r in json.loads(out.read_text())["results"]]
    assert len(set(csvs)) == 2 and all(os.path.isfile(c) for c in csvs)
    assert sorted(os.listdir(tmp_path / "csvs")) == ["a_clip.csv", "b_clip.csv"]


def test_finding4_an_existing_name_with_brackets_is_that_file(world, tmp_path):
    root, _ = world
    shutil.copy(root / "p.jpg", tmp_path / "face [1].jpg")
    cv2.imwrite(str(tmp_path / "face 1.jpg"), np.zeros((64, 64, 3), np.uint8))  # no face: the wrong photo
    out = tmp_path / "w.json"
    run = facsimile("solve", str(tmp_path / "face [1].jpg"), "--json", str(out), timeout=180)
    assert run.code == 0, run.err[-2000:]
    (result,) = json.loads(out.read_text())["results"]
    assert result["file"].endswith("face [1].jpg") and len(result["faces"]) >= 1


# ---------------------------------------------------------------- findings 5 and 6: bad numbers


def test_finding5_a_bad_batch_row_fails_alone(world, tmp_path):
    root, scene = world
    before = digests(_inputs(world))
    rows = [
        {"blend": str(scene), "object": HEAD, "image": str(root / "p.jpg"), "output": "bad.blend", "key_frame": 1e12},
        {"blend": str(scene), "object": HEAD, "image": str(root / "p.jpg"), "output": "bad2.blend", "face": True},
        {"blend": str(scene), "object": HEAD, "video": str(root / "v.mp4"), "output": "bad3.blend", "smoothing": "x"},
        {"blend": str(scene), "object": HEAD, "image": str(root / "p.jpg"), "output": "good.blend"},
        {"blend": str(scene), "object": HEAD, "image": str(root / "p.jpg"), "output": "jobs.json"},
    ]
    jobs = tmp_path / "jobs.json"
    jobs.write_text(json.dumps(rows))
    summary = tmp_path / "s.json"
    run = facsimile("batch", str(jobs), "--summary-json", str(summary), timeout=240)
    assert run.code == 1 and "Traceback" not in run.err, run.err[-2000:]
    got = json.loads(summary.read_text())
    assert [r["status"] for r in got] == ["FAILED", "FAILED", "FAILED", "done", "FAILED"]
    assert "at most 1048574" in got[0]["message"] and "whole number" in got[1]["message"]
    assert "smoothing must be a number" in got[2]["message"] and "the job list" in got[4]["message"]
    assert "1 done, 0 skipped, 4 failed of 5 jobs" in run.out
    assert json.loads(jobs.read_text()) == rows and digests(_inputs(world)) == before


@pytest.mark.parametrize(
    "command, args, message",
    [
        ("apply", ["--weights", "W", "--out", "O", "--start-frame", "2000000"], "at most 1048574"),
        ("apply", ["--weights", "W30", "--out", "O", "--start-frame", "1048570"], "past Blender's last frame"),
        ("apply", ["--weights", "W30", "--out", "O", "--source-fps", "nan"], "finite"),
        ("apply", ["--weights", "W30", "--out", "O", "--start-frame", "-5"], None),  # negative frames are fine
        ("photo", ["--image", "P", "--out", "O", "--key-frame", "99999999"], "at most 1048574"),
        ("photo", ["--image", "P", "--out", "O", "--face", "-1"], "at least 0"),
        ("bake", ["--video", "V", "--out", "O", "--smoothing", "nan"], "finite"),
        ("bake", ["--video", "V", "--out", "O", "--stride", "0"], "at least 1"),
        ("bake", ["--video", "V", "--out", "O", "--start-frame", "-9999999"], "at least -1048574"),
        ("export-csv", ["--out", "C", "--frames", "1:99999999"], "at most 1048574"),
        ("skin", ["--object", BODY, "--action", "Walk", "--out", "PC2", "--frames", "1:1e9"], "A:B"),
        ("solve", ["P", "--fps", "inf"], "finite"),
        ("solve", ["P", "--max-faces", "0"], "at least 1"),
    ],
)
def test_finding6_numbers_out_of_range_are_refused(world, tmp_path, command, args, message):
    root, scene = world
    before = digests(_inputs(world))
    subs = {
        "W": str(weights_json(tmp_path / "w.json")),
        "W30": str(weights_json(tmp_path / "w30.json", frames=30)),
        "P": str(root / "p.jpg"),
        "V": str(root / "v.mp4"),
        "O": str(tmp_path / "o.blend"),
        "C": str(tmp_path / "c.csv"),
        "PC2": str(tmp_path / "o.pc2"),
    }
    argv = [subs.get(a, a) for a in args]
    if command != "solve":
        argv = ["--blend", str(scene), *([] if "--object" in argv else ["--object", HEAD]), *argv]
    run = facsimile(command, *argv, timeout=180)
    if message is None:
        assert run.code == 0, run.err[-2000:]
    else:
        assert run.code == 1, run.err[-2000:]
        assert message in one_line_error(run, command)
        assert not any((tmp_path / n).exists() for n in ("o.blend", "c.csv", "o.pc2"))
    assert digests(_inputs(world)) == before


@pytest.mark.parametrize(
    "content, message",
    [
        ({"fps": "fast", "frames": [{"jawOpen": 0.5}]}, "'fps' must be a positive number"),
        ({"fps": float("inf"), "frames": [{"jawOpen": 0.5}]}, "finite"),
        ({"fps": -3, "frames": [{"jawOpen": 0.5}]}, "more than 0"),
        ({"jawOpen": "0.5"}, "must be a number"),
        ({"jawOpen": True}, "must be a number"),
        ({}, "names no ARKit channel"),
        ({"results": [{"file": "x", "faces": [1]}]}, "'faces' must be a list"),
    ],
)
def test_finding7_and_9_broken_weights_files(world, tmp_path, content, message):
    root, scene = world
    weights = tmp_path / "w.json"
    weights.write_text(json.dumps(content))
    before = digests([*_inputs(world), weights])
    run = facsimile("apply", "--blend", str(scene), "--object", HEAD, "--weights", str(weights), "--out",
                    str(tmp_path / "o.blend"), timeout=120)  # fmt: skip
    assert run.code == 1 and message in one_line_error(run, "apply")
    assert digests([*_inputs(world), weights]) == before and not (tmp_path / "o.blend").exists()


# ---------------------------------------------------------------- finding 7: tracebacks instead of a message


def test_finding7_skin_shape_key_action_and_truncated_bvh(world, tmp_path):
    root, scene = world
    bvh = tmp_path / "cut.bvh"
    bvh.write_text(
        "HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation "
        "Yrotation\n End Site\n {\n  OFFSET 0 1 0\n }\n}\nMOTION\nFrames: 5\nFrame Time: 0.0333\n0 0 0 0 0 0\n0 0 0\n"
    )
    before = digests([*_inputs(world), bvh])
    base = ["skin", "--blend", str(scene), "--object", BODY, "--out", str(tmp_path / "o.pc2")]
    run = facsimile(*base, "--action", "FacsimileHeadAction", timeout=120)
    assert run.code == 1 and "animates shape key data, not an armature" in one_line_error(run, "skin")
    run = facsimile(*base, "--bvh", str(bvh), timeout=120)
    assert run.code == 1 and "is truncated: its header promises 5 frames" in one_line_error(run, "skin")
    assert digests([*_inputs(world), bvh]) == before and not (tmp_path / "o.pc2").exists()


@pytest.mark.parametrize("command", ["solve", "photo"])
def test_finding7_invalid_device_variable(world, tmp_path, command):
    root, scene = world
    args = [str(root / "p.jpg")] if command == "solve" else ["--blend", str(scene), "--object", HEAD, "--image",
                                                              str(root / "p.jpg"), "--out", str(tmp_path / "o.blend")]  # fmt: skip
    run = facsimile(command, *args, env=child_env(FACSIMILE_DEVICE="gpu"), timeout=120)
    assert run.code == 1 and "$FACSIMILE_DEVICE 'gpu' is not a device" in one_line_error(run, command)


def _wait_for(stream, needle: str, limit_s: float = 120) -> str:
    seen = ""
    deadline = time.monotonic() + limit_s
    while needle not in seen:
        assert time.monotonic() < deadline, f"never saw {needle!r}: {seen[-2000:]}"
        ch = stream.read(1)
        assert ch, f"stream closed before {needle!r}: {seen[-2000:]}"
        seen += ch
    return seen


def test_finding7_ctrl_c_during_bake_leaves_nothing(world, tmp_path):
    root, scene = world
    before = digests(_inputs(world))
    out = tmp_path / "o.blend"
    child = subprocess.Popen(
        [sys.executable, "-m", "blender_addon.host.cli", "bake", "--blend", str(scene), "--object", HEAD, "--video",
         str(root / "long"), "--out", str(out)],  # fmt: skip
        env=child_env(), cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_for(child.stderr, "frames solved")
        child.send_signal(signal.SIGINT)
        err = child.stderr.read()
        assert child.wait(60) == 130, err[-2000:]
    finally:
        child.kill()
    assert "facsimile bake: interrupted" in err and "Traceback" not in err
    assert not out.exists() and _temporaries(tmp_path) == [] and digests(_inputs(world)) == before


def test_finding7_ctrl_c_during_batch_prints_summary_and_resumes(world, tmp_path):
    root, scene = world
    rows = [
        {"blend": str(scene), "object": HEAD, "image": str(root / "p.jpg"), "output": "one.blend"},
        {"blend": str(scene), "object": HEAD, "video": str(root / "long"), "output": "two.blend"},
        {"blend": str(scene), "object": HEAD, "image": str(root / "p.jpg"), "output": "three.blend", "face": 0},
    ]
    jobs = tmp_path / "jobs.json"
    jobs.write_text(json.dumps(rows))
    child = subprocess.Popen(
        [sys.executable, "-m", "blender_addon.host.cli", "batch", str(jobs)],
        env=child_env(), cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_for(child.stdout, "[2/3]")  # job 2 bakes 200 frames: a few seconds
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=120)
    finally:
        child.kill()
    assert child.returncode == 130, err[-2000:]
    assert "interrupted, 2 not run" in out and "1 done" in out and "Traceback" not in err
    assert (tmp_path / "one.blend").is_file() and not (tmp_path / "two.blend").exists()
    assert _temporaries(tmp_path) == []
    run = facsimile("batch", str(jobs), timeout=240)
    assert run.code == 0 and "2 done, 1 skipped, 0 failed of 3 jobs" in run.out, run.out + run.err


# ---------------------------------------------------------------- finding 8: litter


def test_finding8_no_temporaries_left_and_stale_ones_swept(world, tmp_path):
    root, scene = world
    (tmp_path / "dir.pc2").mkdir()
    run = facsimile("skin", "--blend", str(scene), "--object", BODY, "--action", "Walk", "--out",
                    str(tmp_path / "dir.pc2"), timeout=120)  # fmt: skip
    assert run.code == 1 and "is a folder" in one_line_error(run, "skin")
    assert _temporaries(tmp_path) == [] and os.listdir(tmp_path) == ["dir.pc2"]
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    # this machine's id and a dead PID: certainly stale (issue 21 finding 9: a PID alone is judged only by age)
    stale = tmp_path / f".o.blend.{host_id()}.{dead.pid}{TEMP_MARK}abc.blend"
    stale.write_bytes(b"half a blend")
    run = facsimile("apply", "--blend", str(scene), "--object", HEAD, "--weights",
                    str(weights_json(tmp_path / "w.json")), "--out", str(tmp_path / "o.blend"), timeout=120)  # fmt: skip
    assert run.code == 0, run.err[-2000:]
    assert not stale.exists() and _temporaries(tmp_path) == []


# ---------------------------------------------------------------- finding 9: silent outcomes


def test_finding9_photo_without_a_face_fails_like_a_video(tmp_path):
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((120, 160, 3), 127, np.uint8))
    run = facsimile("solve", str(blank), "--json", str(tmp_path / "w.json"), timeout=120)
    assert run.code == 1 and "blank.png: no face found" in run.err and "Traceback" not in run.err
    assert json.loads((tmp_path / "w.json").read_text())["results"][0]["error"].startswith("no face found")


def test_finding9_unusable_model_folder_is_an_error(world, tmp_path):
    root, _ = world
    run = facsimile("solve", str(root / "p.jpg"), env=child_env(FACSIMILE_MODELS_DIR=str(tmp_path)), timeout=120)
    assert run.code == 1 and "FACSIMILE_MODELS_DIR" in one_line_error(run, "solve")


def test_finding9_unwritable_json_fails_before_any_solving(world, tmp_path):
    root, _ = world
    blocker = tmp_path / "file"
    blocker.write_text("x")
    run = facsimile("solve", str(root / "p.jpg"), "--json", str(blocker / "sub" / "w.json"), timeout=120)
    assert run.code == 1 and "cannot create output folder" in one_line_error(run, "solve")
    assert "running on" not in run.err  # no model was loaded, nothing solved


def test_finding9_truncated_video_is_baked_with_a_warning(world, tmp_path):
    root, scene = world
    frames = moving_frames("neutral.jpeg", 12, size=240)
    h, w = frames[0].shape[:2]
    full = tmp_path / "full.avi"
    writer = cv2.VideoWriter(str(full), cv2.VideoWriter_fourcc(*"MJPG"), 24.0, (w, h))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])  # the header still promises 12 frames
    before = digests([scene, cut])
    run = facsimile("bake", "--blend", str(scene), "--object", HEAD, "--video", str(cut), "--out",
                    str(tmp_path / "o.blend"), "--quiet", timeout=180)  # fmt: skip
    assert run.code == 0, run.err[-2000:]
    assert "of the 12 frames its header promises" in run.out
    run = facsimile("solve", str(cut), "--csv", str(tmp_path / "c.csv"), "--json", str(tmp_path / "w.json"))
    assert "of the 12 frames its header promises" in run.err and "Traceback" not in run.err
    assert digests([scene, cut]) == before


def test_finding1_demo_never_writes_over_its_photo(world, tmp_path):
    root, _ = world
    shutil.copy(root / "p.jpg", tmp_path / "demo_photo.png")  # the name the demo writes its preview to
    before = digests([tmp_path / "demo_photo.png"])
    run = facsimile("demo", "--out", str(tmp_path), "--photo", str(tmp_path / "demo_photo.png"), timeout=120)
    assert run.code == 1 and "never replaces an input" in one_line_error(run, "demo")
    assert digests([tmp_path / "demo_photo.png"]) == before and not (tmp_path / "demo.blend").exists()
