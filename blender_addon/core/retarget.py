"""Retargeting: map the 52 ARKit channels onto a character's own shape-key names, with per-channel adjustments.

A character names its shape keys in one of a few conventions (presets below) or in its own way (a user JSON map).
One ARKit channel may drive several keys (ICT and CC4 split browInnerUp, cheekPuff, mouthFunnel... into halves), and
matching is case-insensitive because exporters change letter case freely. The map reports the ARKit channels that
found no target, so a user sees what will not move instead of discovering it in the render.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .arkit import ARKIT_NAMES, INDEX, MIRROR_INDEX, NUM_BLENDSHAPES, canonical_name
from .errors import FacsimileError

PRESETS: tuple[str, ...] = ("arkit", "livelink", "ict", "cc4")
PRESET_LABELS: dict[str, str] = {
    "arkit": "ARKit camelCase (eyeBlinkLeft)",
    "livelink": "Live Link / VRM Perfect Sync (EyeBlinkLeft)",
    "ict": "ICT-FaceKit (eyeBlink_L)",
    "cc4": "Character Creator 4 Extended (Eye_Blink_L)",
}

_SIDE_FREE = {"jawLeft", "jawRight", "mouthLeft", "mouthRight"}  # direction names, not a side of the face
_ICT_SPLIT = {"browInnerUp", "cheekPuff"}

# Character Creator 4 "Extended" facial profile. Keys not listed keep no target under this preset.
_CC4: dict[str, tuple[str, ...]] = {
    "browDownLeft": ("Brow_Drop_L",),
    "browDownRight": ("Brow_Drop_R",),
    "browInnerUp": ("Brow_Raise_Inner_L", "Brow_Raise_Inner_R"),
    "browOuterUpLeft": ("Brow_Raise_Outer_L",),
    "browOuterUpRight": ("Brow_Raise_Outer_R",),
    "cheekPuff": ("Cheek_Puff_L", "Cheek_Puff_R"),
    "cheekSquintLeft": ("Cheek_Raise_L",),
    "cheekSquintRight": ("Cheek_Raise_R",),
    "eyeBlinkLeft": ("Eye_Blink_L",),
    "eyeBlinkRight": ("Eye_Blink_R",),
    "eyeLookDownLeft": ("Eye_L_Look_Down",),
    "eyeLookDownRight": ("Eye_R_Look_Down",),
    "eyeLookInLeft": ("Eye_L_Look_R",),
    "eyeLookInRight": ("Eye_R_Look_L",),
    "eyeLookOutLeft": ("Eye_L_Look_L",),
    "eyeLookOutRight": ("Eye_R_Look_R",),
    "eyeLookUpLeft": ("Eye_L_Look_Up",),
    "eyeLookUpRight": ("Eye_R_Look_Up",),
    "eyeSquintLeft": ("Eye_Squint_L",),
    "eyeSquintRight": ("Eye_Squint_R",),
    "eyeWideLeft": ("Eye_Wide_L",),
    "eyeWideRight": ("Eye_Wide_R",),
    "jawForward": ("Jaw_Forward",),
    "jawLeft": ("Jaw_L",),
    "jawRight": ("Jaw_R",),
    "jawOpen": ("Jaw_Open",),
    "mouthClose": ("Mouth_Close",),
    "mouthFunnel": ("Mouth_Funnel_Up_L", "Mouth_Funnel_Up_R", "Mouth_Funnel_Down_L", "Mouth_Funnel_Down_R"),
    "mouthPucker": ("Mouth_Pucker_Up_L", "Mouth_Pucker_Up_R", "Mouth_Pucker_Down_L", "Mouth_Pucker_Down_R"),
    "mouthLeft": ("Mouth_L",),
    "mouthRight": ("Mouth_R",),
    "mouthSmileLeft": ("Mouth_Smile_L",),
    "mouthSmileRight": ("Mouth_Smile_R",),
    "mouthFrownLeft": ("Mouth_Frown_L",),
    "mouthFrownRight": ("Mouth_Frown_R",),
    "mouthDimpleLeft": ("Mouth_Dimple_L",),
    "mouthDimpleRight": ("Mouth_Dimple_R",),
    "mouthStretchLeft": ("Mouth_Stretch_L",),
    "mouthStretchRight": ("Mouth_Stretch_R",),
    "mouthRollLower": ("Mouth_Roll_In_Lower_L", "Mouth_Roll_In_Lower_R"),
    "mouthRollUpper": ("Mouth_Roll_In_Upper_L", "Mouth_Roll_In_Upper_R"),
    "mouthShrugLower": ("Mouth_Shrug_Lower",),
    "mouthShrugUpper": ("Mouth_Shrug_Upper",),
    "mouthPressLeft": ("Mouth_Press_L",),
    "mouthPressRight": ("Mouth_Press_R",),
    "mouthLowerDownLeft": ("Mouth_Down_Lower_L",),
    "mouthLowerDownRight": ("Mouth_Down_Lower_R",),
    "mouthUpperUpLeft": ("Mouth_Up_Upper_L",),
    "mouthUpperUpRight": ("Mouth_Up_Upper_R",),
    "noseSneerLeft": ("Nose_Sneer_L",),
    "noseSneerRight": ("Nose_Sneer_R",),
    "tongueOut": ("Tongue_Out",),
}


def _ict_names(name: str) -> tuple[str, ...]:
    if name in _ICT_SPLIT:
        return (f"{name}_L", f"{name}_R")
    if name not in _SIDE_FREE:
        if name.endswith("Left"):
            return (name[:-4] + "_L",)
        if name.endswith("Right"):
            return (name[:-5] + "_R",)
    return (name,)


def preset_targets(preset: str) -> dict[str, tuple[str, ...]]:
    """ARKit name -> the shape-key name(s) it drives under a named preset."""
    if preset == "arkit":
        return {n: (n,) for n in ARKIT_NAMES}
    if preset == "livelink":
        return {n: (n[0].upper() + n[1:],) for n in ARKIT_NAMES}
    if preset == "ict":
        return {n: _ict_names(n) for n in ARKIT_NAMES}
    if preset == "cc4":
        return {n: _CC4.get(n, ()) for n in ARKIT_NAMES}
    raise FacsimileError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)} or give a JSON map file")


@dataclass(frozen=True)
class ChannelSettings:
    """Per-ARKit-channel adjustment: out = clamp(gain * w + offset) when enabled, else the channel is not written."""

    gain: float = 1.0
    offset: float = 0.0
    clamp_min: float | None = None
    clamp_max: float | None = None
    enabled: bool = True


@dataclass(frozen=True)
class Binding:
    arkit: str
    targets: tuple[str, ...]  # the character's real shape-key names (their own letter case)
    settings: ChannelSettings = field(default_factory=ChannelSettings)


@dataclass
class RetargetMap:
    """The resolved mapping for one character: which of its shape keys each ARKit channel drives."""

    bindings: list[Binding]
    mirror: bool = False
    neutral: np.ndarray | None = None  # (52,) captured neutral, subtracted before mapping

    @property
    def unmatched(self) -> list[str]:
        """ARKit channels that found no shape key on the character, in contract order."""
        return [b.arkit for b in self.bindings if not b.targets]

    @property
    def target_names(self) -> list[str]:
        """Every shape key this map writes, each once, in first-use order."""
        seen: dict[str, None] = {}
        for b in self.bindings:
            if b.settings.enabled:
                for t in b.targets:
                    seen.setdefault(t, None)
        return list(seen)

    def adjust(self, weights: np.ndarray) -> np.ndarray:
        """Calibration, mirror, gain/offset/clamp on (..., 52) ARKit weights; disabled channels become NaN."""
        w = _as_weights(weights)
        if self.neutral is not None:
            w = calibrate_neutral(w, self.neutral)
        if self.mirror:
            w = w[..., MIRROR_INDEX]
        out = np.empty_like(w)
        for b in self.bindings:
            i = INDEX[b.arkit]
            s = b.settings
            if not s.enabled:
                out[..., i] = np.nan
                continue
            v = w[..., i] * s.gain + s.offset
            if s.clamp_min is not None or s.clamp_max is not None:
                v = np.clip(v, s.clamp_min, s.clamp_max)
            out[..., i] = v
        return out

    def apply(self, weights: np.ndarray) -> tuple[list[str], np.ndarray]:
        """(..., 52) ARKit weights -> (target names, (..., T) values). Keys fed by several channels get their sum."""
        adjusted = self.adjust(weights)
        names = self.target_names
        col = {n: j for j, n in enumerate(names)}
        values = np.zeros(adjusted.shape[:-1] + (len(names),), dtype=np.float32)
        for b in self.bindings:
            if not b.settings.enabled:
                continue
            i = INDEX[b.arkit]
            for t in b.targets:
                values[..., col[t]] += adjusted[..., i]
        return names, values


def _as_weights(weights: np.ndarray) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float32)
    if w.ndim == 0 or w.shape[-1] != NUM_BLENDSHAPES:
        raise FacsimileError(f"expected ARKit weights with {NUM_BLENDSHAPES} channels on the last axis, got {w.shape}")
    if not np.all(np.isfinite(w)):
        raise FacsimileError("ARKit weights contain NaN or infinite values; fix the source data")
    return w


def calibrate_neutral(weights: np.ndarray, neutral: np.ndarray) -> np.ndarray:
    """Remove an actor's resting expression: the neutral maps to 0 and a full 1 still maps to 1.

    A plain subtraction would cap a closed blink at 1 - neutral (an actor with slightly hooded lids would never close
    the character's eyes), so every channel is rescaled: (w - n) / (1 - n). Neutral values near 1 mean the "neutral"
    photo was not neutral for that channel; the divisor is floored so such a channel degrades to a subtraction.
    """
    w = _as_weights(weights)
    n = np.clip(_as_weights(neutral).reshape(-1), 0.0, 1.0)
    scale = np.maximum(1.0 - n, 0.1)
    return np.clip((w - n) / scale, 0.0, None).astype(np.float32)


def load_user_map(path: str | Path) -> dict[str, tuple[str, ...]]:
    """A user's JSON map: {"eyeBlinkLeft": "Blink_L", "browInnerUp": ["BrowIn_L", "BrowIn_R"], ...}.

    ARKit names are matched case-insensitively; an unknown ARKit name is an error listing every unknown one.
    """
    from .formats.json_file import read_json_file

    path = Path(path)
    raw = read_json_file(path, "mapping file")
    if not isinstance(raw, dict):
        raise FacsimileError(f"mapping file {path} must hold a JSON object of ARKit name -> shape key name(s)")
    out: dict[str, tuple[str, ...]] = {}
    unknown = []
    for key, value in raw.items():
        name = canonical_name(str(key))
        if name is None:
            unknown.append(str(key))
            continue
        targets = (value,) if isinstance(value, str) else tuple(value or ())
        if not all(isinstance(t, str) for t in targets):
            raise FacsimileError(f"mapping file {path}: targets of {key!r} must be shape-key names (strings)")
        out[name] = targets
    if unknown:
        raise FacsimileError(f"mapping file {path} names unknown ARKit blendshapes: {', '.join(sorted(unknown))}")
    return out


def _resolve(candidates: Mapping[str, Sequence[str]], shape_keys: Iterable[str]) -> list[Binding]:
    lower = {}
    for key in shape_keys:
        lower.setdefault(key.lower(), key)
    bindings = []
    for name in ARKIT_NAMES:
        found = tuple(lower[c.lower()] for c in candidates.get(name, ()) if c.lower() in lower)
        bindings.append(Binding(arkit=name, targets=found))
    return bindings


def best_preset(shape_keys: Sequence[str]) -> str:
    """The preset matching the most ARKit channels; ties go to the one whose letter case matches exactly."""
    exact = set(shape_keys)

    def score(p: str) -> tuple[int, int]:
        candidates = preset_targets(p)
        matched = sum(1 for b in _resolve(candidates, shape_keys) if b.targets)
        same_case = sum(1 for n in ARKIT_NAMES for t in candidates[n] if t in exact)
        return matched, same_case

    return max(PRESETS, key=score)


def build_retarget_map(
    shape_keys: Sequence[str],
    preset: str | Path | Mapping[str, Sequence[str]] = "auto",
    *,
    settings: Mapping[str, ChannelSettings] | None = None,
    mirror: bool = False,
    neutral: np.ndarray | None = None,
) -> RetargetMap:
    """Resolve a preset name, "auto", a JSON map path or a dict against a character's shape-key names.

    A map that finds no target at all is an error: writing nothing and reporting success would lose the user's data.
    """
    names = [k for k in shape_keys if k.lower() != "basis"]
    if isinstance(preset, Mapping):
        candidates = {canonical_name(k) or k: tuple(v) for k, v in preset.items()}
        label = "user map"
    elif isinstance(preset, Path) or (isinstance(preset, str) and preset.lower().endswith(".json")):
        candidates = load_user_map(preset)
        label = f"map {preset}"
    else:
        label = preset.lower()
        if label == "auto":
            label = best_preset(names)
        candidates = preset_targets(label)
    bindings = _resolve(candidates, names)
    if settings:
        by_name = {canonical_name(k) or k: v for k, v in settings.items()}
        bindings = [replace(b, settings=by_name.get(b.arkit, b.settings)) for b in bindings]
    if not any(b.targets for b in bindings):
        sample = ", ".join(names[:6]) or "(none)"
        raise FacsimileError(
            f"no ARKit channel matches any shape key with preset '{label}' (the object's keys start: {sample}). "
            f"Pick another preset ({', '.join(PRESETS)}) or give a JSON map of ARKit name -> shape key."
        )
    neutral_vec = None if neutral is None else _as_weights(neutral).reshape(NUM_BLENDSHAPES)
    return RetargetMap(bindings=bindings, mirror=mirror, neutral=neutral_vec)
