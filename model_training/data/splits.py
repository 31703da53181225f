"""The three disjoint splits of every data source the expression generator uses: train, select, test.

Why one module: a figure is only held out if the data behind it chose nothing, and that is checkable only when every
split is written down in one place. `train` is fitted on; `select` chooses the arm, the thresholds and anything else
decided after training; `test` decides nothing and only reports (README.md and MODEL_CARD.md name the split of every
figure). Fixed on 2026-12-07 from the file names and one look at a middle frame of each clip (for identities), before
any model output on the new test clips was seen.

  real clips (../shared/data/real_faces/video/train, 28 clips): by clip and by person (IDENTITY_GROUPS: clips of one
              person stay in one split); SELECT_CLIPS (the issue-10 val clips), TEST_CLIPS, the rest train
  MEAD (video/eval_mead), photos_rest, the astronaut: test only (MEAD's licence also forbids training on it)
  photos (../shared/data/photos): SELECTION_PHOTOS select, PHOTOS test (data/photo_lists.py)
  ICT renders: every render draws its own random identity from its split's seed (render_ict.SPLIT_SEEDS,
              render/heldout.HELDOUT_SEED), so identities never repeat across splits. train renders: the first
              RENDER_FIT_FRACTION fit the detector model and MediaPipe's trust (train), the rest is render_val
              (select); the test renders and both held-out looks (Workbench, Cycles photo look) are test.
  synthetic ICT samples: seeds per split in train/dataset.py (train / val = select / test)
"""

from __future__ import annotations

import numpy as np

# Issue 10's val clips, kept as the select split (fixed 2026-11-27 before any result was seen).
SELECT_CLIPS: tuple[str, ...] = (
    "liveportrait_d3",
    "liveportrait_d11",
    "liveportrait_d20",
    "smirk_skarsgard",
    "edtalk_expression_source",
    "retalking_4",
    "sadtalker_WDA_KatieHill_000",
)
# Moved from train to test (issue 18): one or two of each source, none of a person in another split, about a
# quarter of the frames (edtalk_pose_source2, 755 frames, was swapped for edtalk_uncrop_Obama by size alone).
TEST_CLIPS: tuple[str, ...] = (
    "liveportrait_d1",
    "liveportrait_d6",
    "liveportrait_d13",
    "xportrait_driving",
    "retalking_5",
    "edtalk_uncrop_Obama",
)
# Clips showing the same person (seen on a middle frame of each clip): they must share a split.
IDENTITY_GROUPS: tuple[tuple[str, ...], ...] = (
    ("edtalk_pose_source1", "retalking_3", "sadtalker_WDA_AlexandriaOcasioCortez_000"),
    ("liveportrait_d2", "liveportrait_d18"),
)
CLIP_SPLITS = ("train", "select", "test")
RENDER_FIT_FRACTION = 0.8  # of the training-identity renders: fit (train); the rest is render_val (select)

# The resting-face rows: frames 0..REST_FRAMES-1 of a clip (the driving clips start near rest) and every photo of a
# resting set. The one definition of "rest frames" for the cache, the selection rule and the evaluation.
REST_FRAMES = 10
# The channels a resting face must not raise (issue 10's resting targets; the selection's F term and the evaluation).
REST_CHANNELS: tuple[str, ...] = tuple(
    f"{base}{side}" for base in ("noseSneer", "eyeWide", "browDown", "eyeLookUp") for side in ("Left", "Right")
) + ("cheekPuff", "jawForward", "mouthFunnel", "mouthPucker")


def clip_split(stem: str) -> str:
    """'train', 'select' or 'test' for a clip of video/train (by its file stem)."""
    if stem in SELECT_CLIPS:
        return "select"
    if stem in TEST_CLIPS:
        return "test"
    return "train"


def rest_rows(frame: np.ndarray, is_video: bool = True) -> np.ndarray:
    """Boolean rows at rest: the first REST_FRAMES frames of each clip, or every row of a photo set."""
    frame = np.asarray(frame)
    return frame < REST_FRAMES if is_video else np.ones(len(frame), bool)


def check_identity_groups(stems: list[str]) -> None:
    """Raise when the clips of one person fall into different splits (a leak across splits)."""
    for group in IDENTITY_GROUPS:
        present = [s for s in group if s in stems]
        splits = {clip_split(s) for s in present}
        if len(splits) > 1:
            raise ValueError(f"clips of one person {present} fall into different splits {sorted(splits)}")
