"""Finding 2 of issue 12: every command ends on its own, with the right exit code, when the .blend holds a Python driver
that is not a simple expression (bpy 4.5.4 used to hang in its exit after the work was done)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from addon_fixtures import moving_frames, photo, write_sequence
from conftest import REPO_ROOT
from reliability_assets import BODY, HEAD, build_scene, child_env, digests, facsimile, one_line_error, weights_json

LIMIT_S = 120  # a command here takes 2-10 s; a hang is caught long before the suite's own limit


@pytest.fixture(scope="module")
def driven(tmp_path_factory):
    root = tmp_path_factory.mktemp("driven")
    scene = build_scene(root / "driven.blend", driver=True)
    seq = write_sequence(root / "seq", moving_frames("happy-baby.jpeg", 3))
    return root, scene, seq


def test_bare_open_of_a_driven_file_exits(driven):
    """The cause itself: the driver namespace keeps the bpy module alive, so Blender's shutdown never ran."""
    root, scene, _ = driven
    code = (
        "import sys, bpy\n"
        f"bpy.ops.wm.open_mainfile(filepath={str(scene)!r})\n"
        "assert 'bpy' in bpy.app.driver_namespace\n"
        "from blender_addon.host import process_exit\n"
        "process_exit.install()\n"
        "sys.exit(3)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=child_env(), capture_output=True, text=True, timeout=LIMIT_S, cwd=REPO_ROOT
    )
    assert done.returncode == 3, done.stderr[-2000:]


def test_every_command_ends_on_a_driven_file(driven, tmp_path):
    root, scene, seq = driven
    image = photo("happy-baby.jpeg")
    before = digests([scene, seq, image])
    weights = weights_json(tmp_path / "w.json")
    jobs = tmp_path / "jobs.json"
    jobs.write_text(json.dumps([{"blend": str(scene), "object": HEAD, "image": str(image), "output": "b.blend"}]))
    runs = {
        "apply": [
            "--blend",
            str(scene),
            "--object",
            HEAD,
            "--weights",
            str(weights),
            "--out",
            str(tmp_path / "a.blend"),
        ],
        "photo": ["--blend", str(scene), "--object", HEAD, "--image", str(image), "--out", str(tmp_path / "p.blend")],
        "bake": ["--blend", str(scene), "--object", HEAD, "--video", str(seq), "--out", str(tmp_path / "k.blend")],
        "export-csv": ["--blend", str(scene), "--object", HEAD, "--out", str(tmp_path / "take.csv")],
        "batch": [str(jobs)],
        "skin": ["--blend", str(scene), "--object", BODY, "--action", "Walk", "--out", str(tmp_path / "walk.pc2")],
    }
    for command, args in runs.items():
        run = facsimile(command, *args, timeout=LIMIT_S)
        assert run.code == 0, f"{command}: {run.err[-2000:]}"
        assert "Traceback" not in run.err
    for name in ("a.blend", "p.blend", "k.blend", "take.csv", "b.blend", "walk.pc2"):
        assert (tmp_path / name).is_file(), name
    # A failing command on the same file ends too, with exit code 1 and one line.
    run = facsimile("photo", "--blend", str(scene), "--object", "Ghost", "--image", str(image), "--out",
                    str(tmp_path / "g.blend"), timeout=LIMIT_S)  # fmt: skip
    assert run.code == 1 and "no object named 'Ghost'" in one_line_error(run, "photo")
    assert digests([scene, seq, image]) == before
