"""MediaPipe face-mesh landmark ids the generator uses (MediaPipe's own contour lists, subject's left/right)."""

from __future__ import annotations

FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176,
             149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)  # fmt: skip
LIPS_UPPER_OUTER = (185, 40, 39, 37, 0, 267, 269, 270, 409)
LIPS_LOWER_OUTER = (146, 91, 181, 84, 17, 314, 405, 321, 375)
MOUTH_CORNERS = (61, 291)
# Lid rings one step off the margin (ring 0 is the margin itself, where a ray may slip into the eye hole).
EYE_R_UPPER = (247, 30, 29, 27, 28, 56, 190)
EYE_R_LOWER = (25, 110, 24, 23, 22, 26, 112)
EYE_L_UPPER = (467, 260, 259, 257, 258, 286, 414)
EYE_L_LOWER = (255, 339, 254, 253, 252, 256, 341)
EYE_R_CORNERS = (33, 133)
EYE_L_CORNERS = (263, 362)
# Pairs across the opening, (upper, lower): the gaps the quality checks measure.
LID_PAIRS_R = ((159, 145), (158, 153), (160, 144))
LID_PAIRS_L = ((386, 374), (385, 380), (387, 373))
LIP_PAIRS = ((13, 14), (82, 87), (312, 317))

# (name, upper seeds, lower seeds, corners): the three openings whose two sides must stay separate.
OPENINGS = (
    ("mouth", LIPS_UPPER_OUTER, LIPS_LOWER_OUTER, MOUTH_CORNERS),
    ("eye_R", EYE_R_UPPER, EYE_R_LOWER, EYE_R_CORNERS),
    ("eye_L", EYE_L_UPPER, EYE_L_LOWER, EYE_L_CORNERS),
)
# The lid margins (ring 0 without the corners): where a detector is least sure on a render (an eye hole, a crude
# eyeball); the registration may skip them and let the surface (ICP) place the lids.
LID_MARGINS = (246, 161, 160, 159, 158, 157, 173, 7, 163, 144, 145, 153, 154, 155,
               466, 388, 387, 386, 385, 384, 398, 249, 390, 373, 374, 380, 381, 382)  # fmt: skip
# The margin rows themselves (ring 0 between the corners), each beside the ring-1 row on the same side of the eye.
LID_MARGIN_ROWS = (
    ((246, 161, 160, 159, 158, 157, 173), EYE_R_UPPER),
    ((7, 163, 144, 145, 153, 154, 155), EYE_R_LOWER),
    ((466, 388, 387, 386, 385, 384, 398), EYE_L_UPPER),
    ((249, 390, 373, 374, 380, 381, 382), EYE_L_LOWER),
)
