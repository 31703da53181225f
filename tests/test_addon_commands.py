"""The headless commands (photo, bake, export-csv, batch) on the bpy module, as `facsimile ...` and as inside Blender."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil

import bpy
import numpy as np
import pytest
from addon_fixtures import (  # noqa: F401
    headless,
    key_counts,
    moving_frames,
    photo,
    unwritable_dir,
    write_sequence,
    write_video,
)

from blender_addon.core.formats.livelink_csv import read_livelink_csv
from blender_addon.host import cli
from blender_addon.usecases import batch

HEAD = "FacsimileHead"


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    """A saved demo-head scene (24 fps), a 6-image sequence and a 12-frame 24 fps video of real faces."""
    from blender_addon.demo.character import build_demo_character

    root = tmp_path_factory.mktemp("assets")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    build_demo_character(with_body=False)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 24, 1.0
    bpy.ops.wm.save_as_mainfile(filepath=str(root / "head.blend"), copy=True)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    write_sequence(root / "seq", moving_frames("happy-baby.jpeg", 6))
    write_video(root / "clip.mp4", moving_frames("neutral.jpeg", 12), fps=24.0)
    return root


def _scene(tmp_path, assets):
    """A private copy of the scene, so that every test can check its input was left alone."""
    path = tmp_path / "scene.blend"
    shutil.copy(assets / "head.blend", path)
    return path


def _open(path):
    bpy.ops.wm.open_mainfile(filepath=str(path), load_ui=False)
    return bpy.data.objects[HEAD]


def test_photo_command_writes_a_new_blend_and_a_preview(headless, tmp_path, assets, capsys):  # noqa: F811
    scene = _scene(tmp_path, assets)
    before = _digest(scene)
    out, png, js = tmp_path / "out.blend", tmp_path / "preview.png", tmp_path / "w.json"
    argv = ["photo", "--blend", str(scene), "--image", str(photo("happy-baby.jpeg")), "--object", HEAD]
    code = cli.main(argv + ["--out", str(out), "--key-frame", "3", "--preview", str(png), "--json", str(js)])
    assert code == 0, capsys.readouterr().err
    assert _digest(scene) == before
    assert png.stat().st_size > 1000 and "jawOpen" in json.loads(js.read_text())
    head = _open(out)
    assert set(key_counts(head).values()) == {1}
    assert "face 1 of 1" in capsys.readouterr().out


@pytest.mark.parametrize(
    "change, message",
    [
        (("--object", "Nope"), "no object named 'Nope'"),
        (("--image", "missing.jpg"), "does not exist"),
        (("--face", "3"), "face 3 asked for"),
        (("--preset", "cc4"), "no ARKit channel matches"),
        (("--out", "UNWRITABLE"), "not writable|cannot create output folder"),
        (("--out", "SCENE"), "is the input file"),
    ],
)
def test_photo_command_bad_input_is_one_clear_line(headless, tmp_path, assets, capsys, change, message):  # noqa: F811
    scene = _scene(tmp_path, assets)
    before = _digest(scene)
    args = {
        "--blend": str(scene),
        "--image": str(photo("neutral.jpeg")),
        "--object": HEAD,
        "--out": str(tmp_path / "out.blend"),
    }
    key, value = change
    if value == "UNWRITABLE":
        value = str(unwritable_dir(tmp_path) / "out.blend")
    elif value == "SCENE":
        value = str(scene)
    elif value == "missing.jpg":
        value = str(tmp_path / value)
    args[key] = value
    argv = ["photo"] + [x for kv in args.items() for x in kv]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith("facsimile photo: error:") and len(err.strip().splitlines()) == 1

    assert re.search(message, err), err
    assert _digest(scene) == before
    assert not (tmp_path / "out.blend").exists()


def test_bake_then_export_csv_round_trip(headless, tmp_path, assets, capsys):  # noqa: F811
    scene = _scene(tmp_path, assets)
    out = tmp_path / "baked.blend"
    argv = ["bake", "--blend", str(scene), "--video", str(assets / "seq"), "--object", HEAD, "--out", str(out)]
    assert cli.main(argv + ["--start-frame", "5", "--quiet"]) == 0, capsys.readouterr().err
    head = _open(out)
    assert set(key_counts(head).values()) == {6}
    take = tmp_path / "take.csv"
    code = cli.main(["export-csv", "--blend", str(out), "--object", HEAD, "--out", str(take), "--frames", "5:10"])
    assert code == 0, capsys.readouterr().err
    back = read_livelink_csv(take)
    assert back.weights.shape == (6, 52)
    head = _open(out)
    kb = head.data.shape_keys.key_blocks
    head.id_data  # noqa: B018 - keep the object alive while reading
    bpy.context.scene.frame_set(7)
    assert back.weights[2, 17] == pytest.approx(kb["jawOpen"].value, abs=1e-4)  # 17 = jawOpen in ARKit order


def test_bad_clip_and_bad_range_are_clear(headless, tmp_path, assets, capsys):  # noqa: F811
    scene = _scene(tmp_path, assets)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 4096)
    base = ["bake", "--blend", str(scene), "--object", HEAD, "--out", str(tmp_path / "o.blend")]
    assert cli.main(base + ["--video", str(bad)]) == 1
    assert "bad.mp4" in capsys.readouterr().err
    assert cli.main(base + ["--video", str(assets / "seq"), "--first", "50"]) == 1
    assert "is empty" in capsys.readouterr().err
    assert not (tmp_path / "o.blend").exists()
    export = ["export-csv", "--blend", str(scene), "--object", HEAD, "--out", str(tmp_path / "t.csv")]
    assert cli.main(export) == 1 and "no shape-key animation" in capsys.readouterr().err
    assert cli.main(export + ["--frames", "9:2"]) == 1 and "comes before" in capsys.readouterr().err
    assert cli.main(export + ["--frames", "abc"]) == 1 and "must look like A:B" in capsys.readouterr().err
    assert cli.main(export[:-1] + [str(tmp_path / "t.txt")]) == 1 and "must end in .csv" in capsys.readouterr().err
    assert not (tmp_path / "t.csv").exists()


def test_inside_blender_the_loaded_scene_is_used(headless, tmp_path, assets, capsys):  # noqa: F811
    """`blender -b scene.blend -P cli.py -- bake ...`: Blender has opened the file; the command has no --blend."""
    scene = _scene(tmp_path, assets)
    before = _digest(scene)
    bpy.ops.wm.open_mainfile(filepath=str(scene))
    out = tmp_path / "out.blend"
    code = cli.main(["bake", "--video", str(assets / "clip.mp4"), "--object", HEAD, "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert _digest(scene) == before
    assert set(key_counts(_open(out)).values()) == {12}
    bpy.ops.wm.read_factory_settings(use_empty=True)
    assert cli.main(["bake", "--video", str(assets / "clip.mp4"), "--object", HEAD, "--out", str(out)]) == 1
    assert "pass --blend" in capsys.readouterr().err


def _jobs(tmp_path, assets, scene) -> list[dict]:
    return [
        {"blend": str(scene), "object": HEAD, "image": str(photo("happy-baby.jpeg")), "output": "out/photo.blend"},
        {"blend": str(scene), "object": HEAD, "video": str(assets / "seq"), "output": "out/bake.blend", "stride": 2},
        {"blend": str(scene), "object": HEAD, "video": str(tmp_path / "nope.mp4"), "output": "out/missing.blend"},
        {"blend": str(scene), "object": "Ghost", "image": str(photo("neutral.jpeg")), "output": "out/ghost.blend"},
    ]


def test_batch_runs_every_job_reports_failures_and_resumes(headless, tmp_path, assets, capsys):  # noqa: F811
    scene = _scene(tmp_path, assets)
    before = _digest(scene)
    (tmp_path / "out").mkdir()
    jobs = tmp_path / "jobs.json"
    jobs.write_text(json.dumps(_jobs(tmp_path, assets, scene)))
    summary = tmp_path / "summary.json"
    assert cli.main(["batch", str(jobs), "--summary-json", str(summary)]) == 1
    text = capsys.readouterr().out
    assert "2 done, 0 skipped, 2 failed of 4 jobs" in text
    status = [r["status"] for r in json.loads(summary.read_text())]
    assert status == ["done", "done", "FAILED", "FAILED"]
    assert set(key_counts(_open(tmp_path / "out" / "bake.blend")).values()) == {3}
    assert (tmp_path / "out" / "photo.blend.facsimile.json").is_file()
    assert not (tmp_path / "out" / "ghost.blend").exists()
    assert _digest(scene) == before

    # A rerun skips the finished jobs; a changed setting redoes only its job.
    rows = _jobs(tmp_path, assets, scene)[:2]
    jobs.write_text(json.dumps(rows))
    assert cli.main(["batch", str(jobs)]) == 0
    assert "0 done, 2 skipped, 0 failed" in capsys.readouterr().out
    rows[1]["stride"] = 3
    jobs.write_text(json.dumps(rows))
    assert cli.main(["batch", str(jobs)]) == 0
    assert "1 done, 1 skipped, 0 failed" in capsys.readouterr().out
    assert set(key_counts(_open(tmp_path / "out" / "bake.blend")).values()) == {2}
    # A damaged output is redone, not trusted.
    (tmp_path / "out" / "photo.blend").write_bytes(b"truncated")
    assert cli.main(["batch", str(jobs)]) == 0
    assert "1 done, 1 skipped" in capsys.readouterr().out


def test_batch_csv_never_overwrites_an_input_unless_in_place(headless, tmp_path, assets, capsys):  # noqa: F811
    scene = _scene(tmp_path, assets)
    before = _digest(scene)
    jobs = tmp_path / "jobs.csv"
    with open(jobs, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["blend", "object", "video", "image", "output"])
        w.writerow(["scene.blend", HEAD, "", str(photo("neutral.jpeg")), "scene.blend"])
    assert cli.main(["batch", str(jobs)]) == 1
    assert "pass --in-place" in capsys.readouterr().err
    assert _digest(scene) == before
    assert cli.main(["batch", str(jobs), "--in-place"]) == 0
    assert _digest(scene) != before
    assert cli.main(["batch", str(jobs), "--in-place"]) == 0  # in place and done: not applied twice
    assert "0 done, 1 skipped" in capsys.readouterr().out


@pytest.mark.parametrize(
    "content, message",
    [
        ("not json", "not valid JSON"),
        ("[]", "holds no jobs"),
        ('[{"blend": "a.blend", "object": "X", "output": "o.blend"}]', "exactly one of 'video'"),
        ('[{"blend": "a.blend", "object": "X", "image": "p.jpg", "output": "o.blend", "colour": 1}]', "unknown field"),
        ('[{"blend": "a.blend", "object": "X", "image": "p.jpg", "output": "o.blend", "stride": "two"}]', "whole"),
    ],
)
def test_batch_bad_job_lists(headless, tmp_path, capsys, content, message):  # noqa: F811
    jobs = tmp_path / "jobs.json"
    jobs.write_text(content)
    assert cli.main(["batch", str(jobs)]) == 1
    captured = capsys.readouterr()
    assert message in captured.out + captured.err
    assert "Traceback" not in captured.err


def test_batch_rejects_two_jobs_writing_one_output(tmp_path):
    jobs = tmp_path / "jobs.json"
    row = {"blend": "a.blend", "object": "X", "image": "p.jpg", "output": "same.blend"}
    jobs.write_text(json.dumps([row, row]))
    parsed = batch.read_jobs(jobs)
    assert not parsed[0].problem and "job 1 output" in parsed[1].problem and "same file" in parsed[1].problem
    assert np.all([j.spec["blend"].startswith(str(tmp_path)) for j in parsed[:1]])


def test_blender_dash_p_cli_py_path_in_a_subprocess(headless, tmp_path, assets):  # noqa: F811
    """Emulates `blender -b scene.blend --python-exit-code 1 -P blender_addon/host/cli.py -- bake ...` with the bpy module:
    the scene is opened first (what `blender -b scene.blend` does), then cli.py runs as a script (__main__, no
    package) with Blender's own arguments before `--`."""
    import os
    import subprocess
    import sys

    from conftest import REPO_ROOT

    scene = _scene(tmp_path, assets)
    out = tmp_path / "out.blend"
    cli_py = REPO_ROOT / "blender_addon" / "host" / "cli.py"
    blender_argv = ["blender", "-b", str(scene), "--python-exit-code", "1", "-P", str(cli_py), "--"]
    code = (
        "import runpy, sys, bpy\n"
        f"bpy.ops.wm.open_mainfile(filepath={str(scene)!r})\n"
        f"sys.argv = {blender_argv!r} + sys.argv[1:]\n"
        f"runpy.run_path({str(cli_py)!r}, run_name='__main__')\n"
    )
    env = dict(os.environ, FACSIMILE_DEVICE="cpu", PYTHONPATH="")
    args = ["bake", "--video", str(assets / "seq"), "--object", HEAD, "--out", str(out), "--quiet"]
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "facsimile bake:" in done.stdout and out.is_file()
    bad = subprocess.run(
        [sys.executable, "-c", code, *args[:-1], "--object", "Ghost"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert bad.returncode == 1 and "no object named 'Ghost'" in bad.stderr
