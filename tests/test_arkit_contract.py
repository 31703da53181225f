"""The ARKit contract: 52 unique names in Apple's documented order, mirror pairs, regions, name parsing."""

import numpy as np
import pytest

from blender_addon.core import arkit


def test_52_unique_names_in_documented_order():
    assert len(arkit.ARKIT_NAMES) == 52 == len(set(arkit.ARKIT_NAMES))
    assert arkit.ARKIT_NAMES[:2] == ("eyeBlinkLeft", "eyeLookDownLeft")
    assert arkit.ARKIT_NAMES[14:18] == ("jawForward", "jawLeft", "jawRight", "jawOpen")
    assert arkit.ARKIT_NAMES[-1] == "tongueOut"


def test_mirror_is_an_involution_and_swaps_sides():
    assert np.array_equal(arkit.MIRROR_INDEX[arkit.MIRROR_INDEX], np.arange(52))
    assert arkit.MIRROR["eyeBlinkLeft"] == "eyeBlinkRight"
    assert arkit.MIRROR["jawLeft"] == "jawRight"
    assert arkit.MIRROR["jawOpen"] == "jawOpen"
    assert len(arkit.MIRROR_PAIRS) == 20 and len(arkit.CENTRE_NAMES) == 12
    w = np.zeros(52)
    w[arkit.INDEX["mouthSmileLeft"]] = 1
    assert arkit.mirror_weights(w)[arkit.INDEX["mouthSmileRight"]] == 1


def test_regions_cover_every_name():
    assert set(arkit.REGIONS) == set(arkit.ARKIT_NAMES)
    assert arkit.REGIONS["cheekPuff"] == "cheeks" and arkit.REGIONS["noseSneerLeft"] == "nose"


def test_mapping_round_trip_is_case_insensitive():
    w = arkit.weights_from_mapping({"JawOpen": 0.5, "eyeblinkleft": 1})
    assert w[arkit.INDEX["jawOpen"]] == 0.5 and w[0] == 1
    back = arkit.weights_to_mapping(w)
    assert list(back) == list(arkit.ARKIT_NAMES) and back["jawOpen"] == 0.5


def test_unknown_and_nan_names_are_errors():
    with pytest.raises(ValueError, match="jawOpn"):
        arkit.weights_from_mapping({"jawOpn": 1, "smile": 0.2})
    with pytest.raises(ValueError, match="finite"):
        arkit.weights_from_mapping({"jawOpen": float("nan")})
