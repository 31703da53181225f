"""Rig naming conventions as shareable JSON data: which bone of an armature plays which humanoid role.

A convention file (``conventions/*.json``, or one a user writes) is::

    {"name": "mixamo", "title": "Mixamo (mixamorig:)", "notes": "...",
     "roles": {"head": "mixamorig:Head", "leftEye": ["mixamorig:LeftEye", "LeftEye"], ...}}

Each role lists one bone name or several candidates (the first one the armature has wins). A plain
``{"head": "MyHead", ...}`` map is accepted too. Matching ignores case, a namespace before ``:`` or ``|``
(``mixamorig1:Hips``) and the separators `` _.-``, so exported variants of the same rig still match.

``match_rig`` picks, among the built-in conventions (or the one given), the one that names the most roles of the
armature; ``RoleMap.require`` turns missing roles into one line that names them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import FacsimileError
from .roles import ROLE_PARENT, ROLES, check_roles, role_ancestors

CONVENTIONS_DIR = Path(__file__).with_name("conventions")
_MAX_FILE_BYTES = 1 << 20
_SEPARATORS = re.compile(r"[\s_.\-]+")


@dataclass(frozen=True)
class Convention:
    """A naming convention: role -> candidate bone names, most preferred first."""

    name: str
    title: str
    roles: dict[str, tuple[str, ...]]
    notes: str = ""
    source: str = ""  # file it came from ("" for an in-memory map)


@dataclass(frozen=True)
class RoleMap:
    """Which bone plays each role on one armature, and the convention that said so."""

    bones: dict[str, str]  # role -> bone name, in ROLES order
    convention: str  # convention name ("user" for a user map)
    title: str = ""
    rig_name: str = ""
    tried: tuple[str, ...] = field(default_factory=tuple)  # conventions compared when it was detected

    def bone(self, role: str) -> str | None:
        return self.bones.get(role)

    def missing(self, roles: Iterable[str]) -> list[str]:
        return [r for r in check_roles(roles) if r not in self.bones]

    def require(self, roles: Iterable[str], what: str = "") -> RoleMap:
        """Self when every role in `roles` has a bone; else a FacsimileError (one line) naming the missing ones."""
        missing = self.missing(roles)
        if missing:
            rig = f"armature '{self.rig_name}'" if self.rig_name else "the armature"
            purpose = f" for {what}" if what else ""
            if self.convention == "none":
                found = "no known naming convention"
            else:
                closest = "the closest convention" if self.tried else "the convention"
                found = f"{closest}, {self.title or self.convention},"
            raise FacsimileError(
                f"{rig} has no bone for {', '.join(missing)}{purpose}: {found} matched "
                f"{len(self.bones)} of {len(ROLES)} roles; pick the bones in the panel or pass a rig map JSON "
                '({"head": "BoneName", ...})'
            )
        return self

    def summary(self) -> str:
        return f"{self.title or self.convention}: {len(self.bones)} roles ({', '.join(self.bones)})"


def base_name(name: str) -> str:
    """The bone name without a namespace ('mixamorig1:Hips' -> 'Hips')."""
    return re.split(r"[:|]", name)[-1]


def normalize(name: str) -> str:
    """The key bone names are compared by: lower case, no namespace, no separators."""
    return _SEPARATORS.sub("", base_name(name)).lower()


def _candidates(role: str, value: object, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise FacsimileError(f"{where}: role '{role}' must map to a bone name or a list of bone names")
    return tuple(value)


def convention_from_dict(data: object, name: str = "user", source: str = "") -> Convention:
    """A Convention from parsed JSON: the full file format or a plain role -> bone map."""
    where = source or "rig map"
    if not isinstance(data, Mapping):
        raise FacsimileError(f"{where}: expected a JSON object of role -> bone name, got {type(data).__name__}")
    full = "roles" in data
    roles_data = data["roles"] if full else data
    if not isinstance(roles_data, Mapping):
        raise FacsimileError(f"{where}: 'roles' must be an object of role -> bone name")
    unknown = [k for k in roles_data if k not in ROLE_PARENT]
    if unknown:
        check_roles(unknown, what=where)
    if not roles_data:
        raise FacsimileError(f'{where}: the rig map names no roles (expected e.g. {{"head": "Head"}})')
    roles = {r: _candidates(r, roles_data[r], where) for r in ROLES if r in roles_data}
    return Convention(
        name=str(data.get("name", name)) if full else name,
        title=str(data.get("title", "")) if full else "user rig map",
        notes=str(data.get("notes", "")) if full else "",
        roles=roles,
        source=source,
    )


def load_convention(path: str | Path) -> Convention:
    """Read a convention / rig map JSON file; one-line FacsimileError when it is missing or malformed."""
    p = Path(path)
    if not p.is_file():
        raise FacsimileError(f"rig map {p} does not exist (expected a JSON file of role -> bone name)")
    if p.stat().st_size > _MAX_FILE_BYTES:
        raise FacsimileError(f"rig map {p} is larger than 1 MiB; a rig map is a small JSON object")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FacsimileError(f'rig map {p} is not valid JSON ({exc}); expected {{"head": "BoneName", ...}}') from None
    return convention_from_dict(data, name=p.stem, source=str(p))


_BUILTIN: list[Convention] | None = None
# Ties (the same roles matched, as many exact names) go to the earlier one: rigs users animate come first.
PRIORITY: tuple[str, ...] = (
    "rigify_controls",
    "rigify_def",
    "rigify_org",
    "rigify_metarig",
    "mixamo",
    "ready_player_me",
    "unreal_mannequin",
    "unreal_manny",
    "vrm_humanoid",
    "vroid",
    "cc4",
    "makehuman_default",
    "makehuman_game_engine",
    "biped_3dsmax",
    "cmu_bvh",
    "cmu_bvh_3dsmax",
    "daz_genesis",
    "generic",
)


def builtin_conventions() -> list[Convention]:
    """The conventions shipped with the add-on, in the order ties are broken."""
    global _BUILTIN
    if _BUILTIN is None:
        found = [load_convention(p) for p in sorted(CONVENTIONS_DIR.glob("*.json"))]
        rank = {n: i for i, n in enumerate(PRIORITY)}
        _BUILTIN = sorted(found, key=lambda c: rank.get(c.name, len(rank)))
    return list(_BUILTIN)


def convention_named(name: str) -> Convention:
    for c in builtin_conventions():
        if c.name == name:
            return c
    known = ", ".join(c.name for c in builtin_conventions())
    raise FacsimileError(f"no rig convention named '{name}' (known: {known}; or give a JSON file path)")


def _descends(bone: str, ancestor: str, parents: Mapping[str, str | None]) -> bool:
    seen = set()
    cur = parents.get(bone)
    while cur is not None and cur not in seen:
        if cur == ancestor:
            return True
        seen.add(cur)
        cur = parents.get(cur)
    return False


def apply_convention(
    conv: Convention,
    bone_names: Iterable[str],
    parents: Mapping[str, str | None] | None = None,
    exact_only: bool = False,
) -> tuple[dict[str, str], int]:
    """role -> bone for one convention, and how exactly it matched (the tie-breaker: +1 per bone whose name without
    namespace has the same case and separators, +1 more when the namespace matches too).

    With `parents` (bone -> parent bone), a candidate must hang below the bone of its nearest mapped ancestor role,
    so a prop called 'Head' outside the spine chain is not taken for the head."""
    names = list(bone_names)
    exact = set(names)
    by_key: dict[str, str] = {}
    for n in names:
        by_key.setdefault(normalize(n), n)
    found: dict[str, str] = {}
    n_exact = 0
    for role in ROLES:
        for cand in conv.roles.get(role, ()):
            bone = cand if cand in exact else (None if exact_only else by_key.get(normalize(cand)))
            if bone is None or bone in found.values():
                continue
            if parents is not None:
                anc = next((found[a] for a in role_ancestors(role) if a in found), None)
                if anc is not None and not _descends(bone, anc, parents):
                    continue
            found[role] = bone
            n_exact += (base_name(bone) == base_name(cand)) + (bone == cand)
            break
    return found, n_exact


def match_rig(
    bone_names: Iterable[str],
    parents: Mapping[str, str | None] | None = None,
    convention: str | Path | Mapping | Convention | None = None,
    rig_name: str = "",
) -> RoleMap:
    """role -> bone name for an armature.

    `convention`: None (detect among the built-in ones), a built-in name ("mixamo"), a JSON file path, a parsed
    dict or a Convention. A user map must name bones the armature has: an unknown bone is an error naming it, not a
    silent skip. Detection keeps the convention matching the most roles (then the most exact names)."""
    names = list(dict.fromkeys(str(b) for b in bone_names))
    if convention is not None:
        if isinstance(convention, Convention):
            conv = convention
        elif isinstance(convention, Mapping):
            conv = convention_from_dict(convention)
        elif isinstance(convention, Path) or str(convention).lower().endswith(".json"):
            conv = load_convention(convention)
        else:
            conv = convention_named(str(convention))
        found, _ = apply_convention(conv, names, parents)
        if conv.name == "user" or conv.source and not conv.source.startswith(str(CONVENTIONS_DIR)):
            absent = [f"{r} -> {conv.roles[r][0]}" for r in conv.roles if r not in found]
            if absent:
                rig = f"armature '{rig_name}'" if rig_name else "the armature"
                raise FacsimileError(
                    f"rig map{' ' + conv.source if conv.source else ''}: {rig} has no bone for {', '.join(absent)}; "
                    "fix the bone names in the map (they are case-insensitive)"
                )
        return RoleMap(bones=found, convention=conv.name, title=conv.title or conv.name, rig_name=rig_name)
    best: tuple[int, int] = (-1, -1)
    best_map: dict[str, str] = {}
    best_conv: Convention | None = None
    convs = builtin_conventions()
    for conv in convs:
        found, n_exact = apply_convention(conv, names, parents)
        score = (len(found), n_exact)
        if score > best:
            best, best_map, best_conv = score, found, conv
    if best_conv is None or not best_map:
        return RoleMap(bones={}, convention="none", title="", rig_name=rig_name, tried=tuple(c.name for c in convs))
    return RoleMap(
        bones=best_map,
        convention=best_conv.name,
        title=best_conv.title,
        rig_name=rig_name,
        tried=tuple(c.name for c in convs),
    )
