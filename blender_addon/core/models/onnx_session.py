"""One onnxruntime session factory for every Facsimile model.

onnxruntime silently falls back to the CPU when CUDA cannot load (it only logs), so the factory checks what the session
really got and returns it: the UI and the CLI show the device actually used, never the one merely asked for.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from ..errors import FacsimileError

DEVICES = ("auto", "cuda", "cpu")


class DeviceUnavailableError(FacsimileError, RuntimeError):
    """CUDA was asked for explicitly and could not be used."""


@dataclass(frozen=True)
class SessionInfo:
    """What a created session really runs on, for reports."""

    device: str  # "cuda" or "cpu"
    providers: tuple[str, ...]
    note: str  # why this device (e.g. the CUDA fallback reason); empty when nothing to say


_CUDA_FAILED_NOTE = "CUDA provider failed to load (onnxruntime-gpu 1.31 needs CUDA 13 and cuDNN 9); running on CPU"
_cuda_failed = False


def _remember_cuda_failure() -> None:
    global _cuda_failed
    _cuda_failed = True


def default_threads() -> int:
    """Intra-op threads: leave a core for Blender's UI, but use both cores of a 2-core machine when headless."""
    env = os.environ.get("FACSIMILE_THREADS")
    if env:
        return max(1, int(env))
    n = os.cpu_count() or 1
    return max(1, min(n - 1, 8)) if n > 2 else n


def _session_options(threads: int | None) -> ort.SessionOptions:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or default_threads()
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # No busy-waiting between runs: with spinning on, the intra-op pool of a 2-thread session keeps a core at 100%
    # between our sub-millisecond calls (measured in the video bake: CPU 6.6 ms/frame for 3.4 ms of wall time),
    # starving the video reader thread and Blender itself. Sleeping workers cost ~0.03 ms of wake-up per run.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # Severity 3 = errors only: the CUDA fallback is reported through SessionInfo instead of a console flood.
    opts.log_severity_level = 3
    return opts


def create_session(
    model: str | Path | bytes, device: str = "auto", threads: int | None = None
) -> tuple[ort.InferenceSession, SessionInfo]:
    """Create an InferenceSession on the requested device and report the device it actually uses.

    device: "auto" (CUDA when it works, else CPU, with the reason in SessionInfo.note), "cuda" (raise
    DeviceUnavailableError when CUDA cannot be used) or "cpu".
    """
    device = device.lower()
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}; got {device!r}")
    available = ort.get_available_providers()
    want_cuda = device in ("auto", "cuda")
    note = ""
    source = str(model) if isinstance(model, Path) else model
    if want_cuda and "CUDAExecutionProvider" not in available:
        note = "onnxruntime has no CUDAExecutionProvider in this install"
    elif want_cuda and _cuda_failed and device == "auto":
        note = _CUDA_FAILED_NOTE  # tried once in this process already; don't pay (and log) the failure again
    try_cuda = want_cuda and not note
    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if try_cuda else ["CPUExecutionProvider"]
    if try_cuda:
        # onnxruntime logs the CUDA load failure through its default logger as an error; we report it ourselves.
        ort.set_default_logger_severity(4)
    try:
        session = ort.InferenceSession(source, sess_options=_session_options(threads), providers=providers)
    finally:
        if try_cuda:
            ort.set_default_logger_severity(2)
    got = tuple(session.get_providers())
    used = "cuda" if got and got[0] == "CUDAExecutionProvider" else "cpu"
    if try_cuda and used == "cpu":
        _remember_cuda_failure()
        note = _CUDA_FAILED_NOTE
    if device == "cuda" and used != "cuda":
        raise DeviceUnavailableError(
            f"CUDA was requested but is not usable: {note}. Choose device 'auto' or 'cpu', or install CUDA 13 + cuDNN 9."
        )
    return session, SessionInfo(device=used, providers=got, note=note)
