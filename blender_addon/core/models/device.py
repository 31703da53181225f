"""The inference device: one type, one parser and one resolution order for the panel, the CLI and batch.

Order (first one set wins): the explicit argument (a command's --device, an operator property), then
$FACSIMILE_DEVICE, then the add-on preference, then "auto". An invalid value anywhere is one FacsimileError line
that names where it came from and the valid values, never a silent fallback.
"""

from __future__ import annotations

import os
from typing import Literal, cast, get_args

from ..errors import FacsimileError

Device = Literal["auto", "cuda", "cpu"]
DEVICES: tuple[Device, ...] = cast("tuple[Device, ...]", get_args(Device))
ENV_VAR = "FACSIMILE_DEVICE"

# (identifier, label, description) for Blender EnumProperty items, in DEVICES order.
DEVICE_LABELS: dict[Device, tuple[str, str]] = {
    "auto": ("Auto", "CUDA when onnxruntime can use it, else the CPU"),
    "cuda": ("CUDA", "NVIDIA GPU; an error (not a silent CPU fallback) when CUDA cannot be used"),
    "cpu": ("CPU", "Always the CPU"),
}


def parse_device(value: str, source: str = "device") -> Device:
    """'AUTO ', 'cuda', ... -> a Device; anything else is a FacsimileError naming `source` and the valid values."""
    text = str(value).strip().lower()
    if text not in DEVICES:
        raise FacsimileError(f"{source} {value!r} is not a device; choose one of {', '.join(DEVICES)}")
    return cast(Device, text)


def resolve_device(explicit: str | None = None, preference: str | None = None) -> Device:
    """The device to run on: explicit argument, then $FACSIMILE_DEVICE, then the add-on preference, then auto."""
    if explicit:
        return parse_device(explicit, "device")
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return parse_device(env, f"${ENV_VAR}")
    if preference:
        return parse_device(preference, "preference Device")
    return "auto"
