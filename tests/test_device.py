"""core/models/device.py: one device type, parsed and resolved in one order for the panel, the CLI and batch."""

from __future__ import annotations

import pytest

from blender_addon.core.errors import FacsimileError
from blender_addon.core.models import onnx_session
from blender_addon.core.models.device import DEVICES, parse_device, resolve_device


def test_parse_accepts_any_case_and_spacing():
    assert [parse_device(v) for v in ("AUTO", " cuda ", "Cpu")] == ["auto", "cuda", "cpu"]


@pytest.mark.parametrize("bad", ["gpu", "", "cuda:0", "none"])
def test_invalid_value_is_one_line_naming_the_valid_ones(bad):
    with pytest.raises(FacsimileError) as err:
        parse_device(bad, "--device")
    text = str(err.value)
    assert "\n" not in text and text.startswith("--device") and "auto, cuda, cpu" in text


def test_order_explicit_then_environment_then_preference(monkeypatch):
    monkeypatch.delenv("FACSIMILE_DEVICE", raising=False)
    assert resolve_device() == "auto"
    assert resolve_device(None, "cuda") == "cuda"
    monkeypatch.setenv("FACSIMILE_DEVICE", "CPU")
    assert resolve_device(None, "cuda") == "cpu"
    assert resolve_device("cuda", "auto") == "cuda"
    monkeypatch.setenv("FACSIMILE_DEVICE", "")  # empty = unset
    assert resolve_device(None, "cuda") == "cuda"


def test_a_bad_environment_value_is_an_error_not_a_silent_fallback(monkeypatch):
    monkeypatch.setenv("FACSIMILE_DEVICE", "gpu")
    with pytest.raises(FacsimileError, match=r"\$FACSIMILE_DEVICE 'gpu' is not a device"):
        resolve_device(None, "cpu")
    assert resolve_device("cpu") == "cpu"  # an explicit choice does not read the environment


def test_sessions_accept_the_same_values():
    assert DEVICES == onnx_session.DEVICES


@pytest.mark.parametrize("command", ["solve", "demo", "photo", "bake", "batch", "skin"])
def test_every_command_leaves_the_device_unset_for_the_resolver(command):
    from blender_addon.host import cli

    parser = cli.build_parser()
    extra = {
        "solve": ["x.jpg"],
        "demo": ["--out", "o"],
        "photo": ["--object", "F", "--out", "o.blend", "--image", "x.jpg"],
        "bake": ["--object", "F", "--out", "o.blend", "--video", "x.mp4"],
        "batch": ["jobs.json"],
        "skin": ["--object", "B", "--out", "o.pc2", "--action", "A"],
    }[command]
    assert parser.parse_args([command, *extra]).device is None
    assert parser.parse_args([command, *extra, "--device", "CPU"]).device == "cpu"


def test_solve_honours_the_environment(monkeypatch, capsys, tmp_path):
    from blender_addon.host import cli

    monkeypatch.setenv("FACSIMILE_DEVICE", "gpu")
    assert cli.main(["solve", str(tmp_path / "x.jpg")]) == 1
    err = capsys.readouterr().err
    assert (
        err.strip() == "facsimile solve: error: $FACSIMILE_DEVICE 'gpu' is not a device; choose one of auto, cuda, cpu"
    )
