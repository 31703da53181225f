"""Retargeting in core: presets, one-to-many targets, per-channel settings, mirror, neutral calibration, user maps."""

import json

import numpy as np
import pytest

from blender_addon.core.arkit import ARKIT_NAMES, INDEX
from blender_addon.core.errors import FacsimileError
from blender_addon.core.retarget import (
    PRESETS,
    ChannelSettings,
    best_preset,
    build_retarget_map,
    calibrate_neutral,
    preset_targets,
)


def _keys(style: str) -> list[str]:
    return ["Basis"] + [t for n in ARKIT_NAMES for t in preset_targets(style)[n]]


@pytest.mark.parametrize("style", PRESETS)
def test_auto_detects_each_style_and_routes_values(style):
    keys = _keys(style)
    assert best_preset(keys[1:]) == style
    rmap = build_retarget_map(keys, "auto")
    w = np.linspace(0, 1, 52, dtype=np.float32)
    names, values = rmap.apply(w)
    for arkit in ARKIT_NAMES:
        for t in preset_targets(style)[arkit]:
            assert values[names.index(t)] == pytest.approx(w[INDEX[arkit]])


def test_matching_ignores_letter_case_and_keeps_the_characters_spelling():
    rmap = build_retarget_map(["EYEBLINK_L", "jawopen"], "ict")
    assert rmap.target_names == ["EYEBLINK_L", "jawopen"]
    assert "eyeBlinkRight" in rmap.unmatched and len(rmap.unmatched) == 50


def test_ict_splits_brow_inner_up_and_cheek_puff():
    assert preset_targets("ict")["browInnerUp"] == ("browInnerUp_L", "browInnerUp_R")
    assert preset_targets("ict")["jawLeft"] == ("jawLeft",)
    assert preset_targets("cc4")["mouthFunnel"][0] == "Mouth_Funnel_Up_L"
    assert preset_targets("livelink")["eyeBlinkLeft"] == ("EyeBlinkLeft",)


def test_gain_offset_clamp_enable():
    settings = {
        "jawOpen": ChannelSettings(gain=2.0, offset=0.1),
        "mouthClose": ChannelSettings(clamp_max=0.3),
        "eyeBlinkLeft": ChannelSettings(enabled=False),
    }
    rmap = build_retarget_map(_keys("arkit"), "arkit", settings=settings)
    w = np.full(52, 0.5, dtype=np.float32)
    names, values = rmap.apply(w)
    assert values[names.index("jawOpen")] == pytest.approx(1.1)
    assert values[names.index("mouthClose")] == pytest.approx(0.3)
    assert "eyeBlinkLeft" not in names


def test_mirror_swaps_left_and_right():
    rmap = build_retarget_map(_keys("arkit"), "arkit", mirror=True)
    w = np.zeros(52, dtype=np.float32)
    w[INDEX["eyeBlinkLeft"]] = 1
    names, values = rmap.apply(w)
    assert values[names.index("eyeBlinkRight")] == 1 and values[names.index("eyeBlinkLeft")] == 0


def test_neutral_calibration_lowers_rest_and_keeps_full_blink():
    neutral = np.zeros(52, dtype=np.float32)
    neutral[INDEX["eyeBlinkLeft"]] = 0.3
    neutral[INDEX["mouthSmileLeft"]] = 0.2
    w = neutral.copy()
    assert np.allclose(calibrate_neutral(w, neutral), 0)
    w[INDEX["eyeBlinkLeft"]] = 1.0
    assert calibrate_neutral(w, neutral)[INDEX["eyeBlinkLeft"]] == pytest.approx(1.0)
    rmap = build_retarget_map(_keys("arkit"), "arkit", neutral=neutral)
    names, values = rmap.apply(w)
    assert values[names.index("eyeBlinkLeft")] == pytest.approx(1.0)
    assert values[names.index("mouthSmileLeft")] == pytest.approx(0.0)


def test_user_json_map(tmp_path):
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"EyeBlinkLeft": "Blink_L", "browInnerUp": ["BrowIn_L", "BrowIn_R"]}))
    rmap = build_retarget_map(["Basis", "Blink_L", "BrowIn_L", "BrowIn_R"], str(path))
    assert rmap.target_names == ["Blink_L", "BrowIn_L", "BrowIn_R"]
    assert len(rmap.unmatched) == 50


def test_bad_maps_and_weights_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"eyeBlinkLeftt": "x"}))
    with pytest.raises(FacsimileError, match="eyeBlinkLeftt"):
        build_retarget_map(["x"], str(bad))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(FacsimileError, match="not valid JSON"):
        build_retarget_map(["x"], str(broken))
    with pytest.raises(FacsimileError, match="no ARKit channel matches"):
        build_retarget_map(["Basis", "Key 1", "Key 2"], "auto")
    with pytest.raises(FacsimileError, match="unknown preset"):
        build_retarget_map(["jawOpen"], "maya")
    rmap = build_retarget_map(_keys("arkit"), "arkit")
    with pytest.raises(FacsimileError, match="NaN"):
        rmap.apply(np.full(52, np.nan))
    with pytest.raises(FacsimileError, match="52 channels"):
        rmap.apply(np.zeros(51))
