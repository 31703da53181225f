"""`facsimile capture` and `facsimile apply --head` as a user runs them (child processes): one clear line on bad
input, inputs byte-identical, nothing written, the process ends."""

from __future__ import annotations

import shutil

import pytest
from addon_fixtures import photo
from reliability_assets import HEAD, build_scene, digests, facsimile, one_line_error, weights_json


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("capture_world")
    scene = build_scene(root / "scene.blend", driver=False)
    shutil.copy(photo("lisa3.jpg"), root / "p.jpg")
    weights_json(root / "w.json")
    return root, scene


@pytest.mark.parametrize(
    "args, message",
    [
        (["--source", "MISSING.jpg"], "does not exist"),
        (["--head-gain", "1,2"], "--head-gain must be three numbers"),
        (["--head-neutral", "sideways"], "--head-neutral must be three numbers"),
        (["--neck-ratio", "2"], "neck ratio must be between 0 and 1"),
        (["--no-face", "--no-head", "--eyes", "off"], "nothing to capture"),
        (["--body", "--no-face", "--no-head", "--eyes", "off", "--rig-map", "cc4"], "no bone for hips, leftUpperLeg"),
        (["--eyes", "on"], "no bone for leftEye, rightEye"),
        (["--rig-map", "MISSING.json"], "does not exist"),
        (["--rig", "Nope"], "rig 'Nope' is no object"),
        (["--head-bone", "Skull"], "has no bone head -> Skull"),
    ],
)
def test_bad_capture_input_is_one_line(world, args, message):
    root, scene = world
    args = [a.replace("MISSING", str(root / "missing")) for a in args]
    if "--source" not in args:
        args = ["--source", str(root / "p.jpg"), *args]
    before = digests([scene, root / "p.jpg"])
    out = root / "out.blend"
    run = facsimile("capture", "--blend", str(scene), "--object", HEAD, "--out", str(out), *args)
    assert run.code != 0
    assert message in one_line_error(run, "capture")
    assert digests([scene, root / "p.jpg"]) == before
    assert not out.exists()


def test_capture_photo_reports_every_stage(world):
    root, scene = world
    out = root / "captured.blend"
    run = facsimile(
        "capture", "--blend", str(scene), "--object", HEAD, "--out", str(out), "--source", str(root / "p.jpg")
    )
    assert run.code == 0, run.err[-2000:]
    assert out.is_file()
    assert "facsimile capture: face:" in run.err and "facsimile capture: head:" in run.err
    assert "roll +" in run.err and "cpu" in run.err


def test_apply_head_needs_head_columns(world):
    root, scene = world
    out = root / "applied.blend"
    before = digests([scene, root / "w.json"])
    run = facsimile(
        "apply", "--blend", str(scene), "--object", HEAD, "--out", str(out), "--weights", str(root / "w.json"), "--head"
    )
    assert run.code != 0 and "no head columns" in one_line_error(run, "apply")
    assert digests([scene, root / "w.json"]) == before and not out.exists()


def test_batch_capture_jobs(world):
    """A batch row with head/eyes/body columns is a capture job; a bad row fails alone with its one line."""
    import json

    root, scene = world
    jobs = root / "jobs.json"
    good, bad = root / "batch_good.blend", root / "batch_bad.blend"
    rows = [
        {"blend": str(scene), "object": HEAD, "image": str(root / "p.jpg"), "output": str(good), "head": True},
        {"blend": str(scene), "object": HEAD, "image": str(root / "p.jpg"), "output": str(bad), "head": True,
         "head_neutral": "sideways"},
    ]  # fmt: skip
    jobs.write_text(json.dumps(rows))
    before = digests([scene, root / "p.jpg", jobs])
    summary = root / "summary.json"
    run = facsimile("batch", str(jobs), "--summary-json", str(summary), timeout=300)
    assert run.code == 1 and "Traceback" not in run.err
    table = json.loads(summary.read_text())
    rows_out = table["jobs"] if isinstance(table, dict) else table
    status = [r["status"] for r in rows_out]
    assert status[0] == "done" and status[1] == "FAILED", rows_out
    assert run.out.count("capture") >= 2  # the table's kind column
    assert "head_neutral must be none, first or median" in json.dumps(rows_out[1])
    assert good.is_file() and not bad.exists()
    assert digests([scene, root / "p.jpg", jobs]) == before
