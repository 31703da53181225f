"""Every photo list of the training pipeline, in one place (files in ../shared/data/photos).

PHOTOS are held-out direction checks; SELECTION_PHOTOS are near-neutral faces the variant selection looks at (a
selection set, so never reported as held out); FOCUS names the channels each photo's check is about.
"""

from __future__ import annotations

PHOTOS = (  # held out: direction checks only
    "angry.jpg",
    "surprised.jpeg",
    "happy-baby.jpeg",
    "sad-baby.jpeg",
    "neutral.jpeg",
    "lisa1.jpg",
    "lisa2.jpg",
    "lisa3.jpg",
    "lisa4.jpg",
    "group.jpeg",
)
# Near-neutral photos that the variant selection looks at (select/resting.py): reported, not held out.
SELECTION_PHOTOS = ("zoom_15cm.jpg", "zoom_30cm.jpg", "zoom_45cm.jpg", "zoom_60cm.jpg")
_RESTING = ("noseSneerLeft", "eyeLookUpLeft", "eyeSquintLeft", "browDownLeft", "mouthSmileLeft", "jawOpen")
FOCUS = {
    "angry.jpg": (
        "browDownLeft",
        "browDownRight",
        "eyeSquintLeft",
        "eyeSquintRight",
        "noseSneerLeft",
        "mouthPressLeft",
    ),
    "surprised.jpeg": ("browInnerUp", "browOuterUpLeft", "browOuterUpRight", "eyeWideLeft", "eyeWideRight", "jawOpen"),
    "happy-baby.jpeg": ("jawOpen", "mouthSmileLeft", "mouthSmileRight", "cheekSquintLeft", "eyeSquintLeft"),
    "sad-baby.jpeg": ("browInnerUp", "mouthFrownLeft", "mouthFrownRight", "jawOpen", "eyeSquintLeft"),
    "neutral.jpeg": ("jawOpen", "mouthSmileLeft", "browInnerUp", "eyeWideLeft", "noseSneerLeft", "eyeLookUpLeft"),
    "lisa1.jpg": ("mouthSmileLeft", "mouthSmileRight", "jawOpen", "eyeLookUpLeft", "browDownLeft"),
    "lisa2.jpg": _RESTING,
    "lisa3.jpg": _RESTING,
    "lisa4.jpg": _RESTING,
    **{p: _RESTING for p in SELECTION_PHOTOS},
    "group.jpeg": ("mouthSmileLeft", "mouthSmileRight", "jawOpen", "eyeBlinkLeft"),
}
