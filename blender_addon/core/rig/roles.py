"""Humanoid bone roles: the VRM 1.0 humanoid bone names, the vocabulary core and the Blender side exchange.

Rotations exchanged per role are local rotations relative to the rest pose, unit quaternions (w, x, y, z) in
Blender's pose-bone convention (``pose_bone.rotation_quaternion``, i.e. in the bone's rest local frame).
"""

from __future__ import annotations

ROLES: tuple[str, ...] = (
    "hips",
    "spine",
    "chest",
    "upperChest",
    "neck",
    "head",
    "leftEye",
    "rightEye",
    "jaw",
    "leftShoulder",
    "leftUpperArm",
    "leftLowerArm",
    "leftHand",
    "rightShoulder",
    "rightUpperArm",
    "rightLowerArm",
    "rightHand",
    "leftUpperLeg",
    "leftLowerLeg",
    "leftFoot",
    "leftToes",
    "rightUpperLeg",
    "rightLowerLeg",
    "rightFoot",
    "rightToes",
)

# The role each role hangs from in the VRM humanoid hierarchy (optional roles are skipped over when absent).
ROLE_PARENT: dict[str, str | None] = {
    "hips": None,
    "spine": "hips",
    "chest": "spine",
    "upperChest": "chest",
    "neck": "upperChest",
    "head": "neck",
    "leftEye": "head",
    "rightEye": "head",
    "jaw": "head",
    "leftShoulder": "upperChest",
    "leftUpperArm": "leftShoulder",
    "leftLowerArm": "leftUpperArm",
    "leftHand": "leftLowerArm",
    "rightShoulder": "upperChest",
    "rightUpperArm": "rightShoulder",
    "rightLowerArm": "rightUpperArm",
    "rightHand": "rightLowerArm",
    "leftUpperLeg": "hips",
    "leftLowerLeg": "leftUpperLeg",
    "leftFoot": "leftLowerLeg",
    "leftToes": "leftFoot",
    "rightUpperLeg": "hips",
    "rightLowerLeg": "rightUpperLeg",
    "rightFoot": "rightLowerLeg",
    "rightToes": "rightFoot",
}

HEAD_ROLES: tuple[str, ...] = ("neck", "head")
EYE_ROLES: tuple[str, ...] = ("leftEye", "rightEye")
BODY_ROLES: tuple[str, ...] = tuple(r for r in ROLES if r not in HEAD_ROLES + EYE_ROLES + ("jaw",))


def role_ancestors(role: str) -> list[str]:
    """The roles above `role`, nearest first."""
    out = []
    parent = ROLE_PARENT[role]
    while parent is not None:
        out.append(parent)
        parent = ROLE_PARENT[parent]
    return out


def check_roles(roles: object, what: str = "roles") -> tuple[str, ...]:
    """`roles` as a tuple of known role names; a FacsimileError naming the unknown ones otherwise."""
    from ..errors import FacsimileError

    if isinstance(roles, str):
        roles = [roles]
    try:
        out = tuple(str(r) for r in roles)  # type: ignore[union-attr]
    except TypeError:
        raise FacsimileError(f"{what} must be a list of humanoid role names, got {type(roles).__name__}") from None
    unknown = [r for r in out if r not in ROLE_PARENT]
    if unknown:
        raise FacsimileError(
            f"unknown humanoid role(s) in {what}: {', '.join(unknown)} (known: VRM 1.0 names such as head, neck, "
            "leftEye, leftUpperArm)"
        )
    return out
