"""Humanoid rigs without Blender: bone roles, naming conventions, and the rotations written to them."""

from .conventions import Convention, RoleMap, builtin_conventions, load_convention, match_rig
from .roles import BODY_ROLES, EYE_ROLES, HEAD_ROLES, ROLE_PARENT, ROLES

__all__ = [
    "BODY_ROLES",
    "EYE_ROLES",
    "HEAD_ROLES",
    "ROLES",
    "ROLE_PARENT",
    "Convention",
    "RoleMap",
    "builtin_conventions",
    "load_convention",
    "match_rig",
]
