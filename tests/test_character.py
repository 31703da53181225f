"""character.py: the mapping, tuning, neutral and last solve stored on a face mesh; writing and reading poses."""

from __future__ import annotations

import numpy as np
import pytest
from addon_fixtures import addon, demo_head  # noqa: F401

from blender_addon.core.arkit import ARKIT_NAMES, NUM_BLENDSHAPES
from blender_addon.core.errors import FacsimileError
from blender_addon.scene import character

JAW = ARKIT_NAMES.index("jawOpen")


def _pose(**values: float) -> np.ndarray:
    w = np.zeros(NUM_BLENDSHAPES, np.float32)
    for name, v in values.items():
        w[ARKIT_NAMES.index(name)] = v
    return w


def test_mapping_for_honours_tuning_and_neutral_and_raw_preset_ignores_them(addon):  # noqa: F811
    head = demo_head(addon)
    character.refresh_mapping(head)
    head.facsimile.mapping[JAW].gain = 2.0
    character.store_neutral(head, _pose(jawOpen=0.2), "rest.jpg")
    tuned = character.mapping_for(head)
    _, tuned_values = tuned.apply(_pose(jawOpen=0.3))
    names, raw_values = character.mapping_for(head, raw_preset=True).apply(_pose(jawOpen=0.3))
    no_neutral = character.mapping_for(head, with_neutral=False).apply(_pose(jawOpen=0.3))[1]
    j = names.index("jawOpen")
    assert tuned_values[j] == pytest.approx(0.25)  # (0.3 - 0.2) / 0.8 * 2
    assert raw_values[j] == pytest.approx(0.3)
    assert no_neutral[j] == pytest.approx(0.6)


def test_a_preset_override_is_stored_and_keeps_tuning(addon):  # noqa: F811
    head = demo_head(addon)
    character.refresh_mapping(head)
    head.facsimile.mapping[JAW].gain = 1.5
    character.mapping_for(head, "arkit", mirror=True)
    st = head.facsimile
    assert (st.preset, st.mirror, st.mapping[JAW].gain) == ("arkit", True, 1.5)
    character.mapping_for(head, "livelink", raw_preset=True)  # raw: nothing is stored on the object
    assert st.preset == "arkit"


@pytest.mark.parametrize(
    "preset, message",
    [("nope", "unknown preset 'nope'; choose one of"), ("missing.json", "mapping file missing.json does not exist")],
)
def test_bad_presets_are_one_clear_line(addon, preset, message):  # noqa: F811
    head = demo_head(addon)
    with pytest.raises(FacsimileError, match=message):
        character.configure_mapping(head, preset)


def test_damaged_stored_values_are_errors_not_guesses(addon):  # noqa: F811
    head = demo_head(addon)
    head[character.NEUTRAL_PROP] = [0.1] * 5
    with pytest.raises(FacsimileError, match="damaged neutral capture"):
        character.get_neutral(head)
    head[character.LAST_SOLVE_PROP] = [0.1] * 53
    with pytest.raises(FacsimileError, match="damaged solved weights"):
        character.last_solve(head)
    with pytest.raises(FacsimileError, match="no target object"):
        character.check_target(None)


def test_written_pose_reads_back_per_channel(addon):  # noqa: F811
    head = demo_head(addon)
    rmap = character.mapping_for(head)
    assert not any(p.startswith("key_blocks[") for p in character.shape_key_fcurves(head))
    character.write_pose(head, rmap, _pose(jawOpen=0.25), key_frame=4)
    character.write_pose(head, rmap, _pose(jawOpen=0.75), key_frame=8)
    assert any(p.startswith("key_blocks[") for p in character.shape_key_fcurves(head))
    back = character.read_channel_animation(head, rmap, np.array([4, 6, 8]))
    assert back[:, JAW] == pytest.approx([0.25, 0.5, 0.75])
    character.store_last_solve(head, _pose(jawOpen=0.75)[None], 24.0)
    weights, fps = character.last_solve(head)
    assert weights.shape == (1, NUM_BLENDSHAPES) and fps == 24.0
