"""Inputs for the reliability tests, and a way to run `facsimile ...` as a user does (a subprocess with a time limit).

The scene is built in a child process: it holds a Python driver that is not a simple expression, and evaluating one
creates Blender's driver namespace, which would keep the test process itself from exiting (see
blender_addon/host/process_exit.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from conftest import REPO_ROOT

HEAD = "FacsimileHead"
BODY = "FacsimileBody"
DRIVER_EXPRESSION = "sorted([var, 0.3])[0]"  # not a "simple expression": Blender needs Python to evaluate it

_BUILD_SCENE = r"""
import sys
import bpy
from blender_addon.demo.character import build_demo_character

bpy.ops.wm.read_factory_settings(use_empty=True)
character = build_demo_character(with_body=True)
scene = bpy.context.scene
scene.render.fps, scene.render.fps_base = 24, 1.0
scene.frame_start, scene.frame_end = 1, 4
head, rig = character.head, character.rig
# A little shape-key animation for export-csv.
block = head.data.shape_keys.key_blocks["jawOpen"]
for frame, value in ((1, 0.0), (4, 0.8)):
    block.value = value
    block.keyframe_insert("value", frame=frame)
# An Action on the rig for skin.
rig.animation_data_create()
bone = rig.pose.bones[1]
bone.rotation_mode = "XYZ"
for frame, angle in ((1, 0.0), (3, 0.4)):
    bone.rotation_euler = (angle, 0.0, 0.0)
    bone.keyframe_insert("rotation_euler", frame=frame)
rig.animation_data.action.name = "Walk"
if sys.argv[2] == "driver":
    head["driven"] = 0.0
    fcurve = head.driver_add('["driven"]')
    driver = fcurve.driver
    driver.type = "SCRIPTED"
    var = driver.variables.new()
    var.name = "var"
    var.targets[0].id = head
    var.targets[0].data_path = "location.x"
    driver.expression = sys.argv[3]
bpy.ops.wm.save_as_mainfile(filepath=sys.argv[1])
"""


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, FACSIMILE_DEVICE="cpu", PYTHONPATH=str(REPO_ROOT))
    env.update(extra)
    return env


def build_scene(path: Path, driver: bool = True) -> Path:
    """The demo character (head with the 52 keys, skinned body, rig with an Action 'Walk', jawOpen keyed) saved to
    `path`; with a Python driver that is not a simple expression when `driver`."""
    # The builder itself would hang at exit for the reason under test: it ends through the same fix the CLI uses.
    code = _BUILD_SCENE + "\nfrom blender_addon.host import process_exit\nprocess_exit.install()\n"
    args = [sys.executable, "-c", code, str(path), "driver" if driver else "plain", DRIVER_EXPRESSION]
    done = subprocess.run(args, env=child_env(), capture_output=True, text=True, timeout=180, cwd=REPO_ROOT)
    assert done.returncode == 0 and path.is_file(), done.stderr[-3000:]
    return path


@dataclass
class Run:
    code: int
    out: str
    err: str
    seconds: float


def facsimile(*args: str, timeout: float = 120, cwd: Path | None = None, env: dict | None = None) -> Run:
    """`python -m blender_addon.host.cli ARGS` in a child process; a process that does not end in time fails the test."""
    import time

    t0 = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "blender_addon.host.cli", *args],
            env=env or child_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd or REPO_ROOT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"facsimile {' '.join(args)} did not end within {timeout} s") from exc
    return Run(done.returncode, done.stdout, done.stderr, time.monotonic() - t0)


def digests(paths) -> dict[str, str]:
    """sha256 of every file under the given files/folders (inputs must stay byte-identical)."""
    out = {}
    for p in paths:
        p = Path(p)
        files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        for f in files:
            out[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def weights_json(path: Path, frames: int = 1) -> Path:
    from blender_addon.core.arkit import ARKIT_NAMES

    pose = {name: 0.1 for name in ARKIT_NAMES}
    pose["jawOpen"] = 0.6
    data = pose if frames == 1 else {"fps": 24, "frames": [pose] * frames}
    path.write_text(json.dumps(data))
    return path


def one_line_error(run: Run, command: str) -> str:
    """The run failed with exactly one `facsimile COMMAND: error: ...` line and no traceback; returns that line."""
    assert "Traceback" not in run.err, run.err[-3000:]
    lines = [line for line in run.err.splitlines() if line.startswith(f"facsimile {command}: error:")]
    assert len(lines) == 1, run.err[-3000:]
    return lines[0]
