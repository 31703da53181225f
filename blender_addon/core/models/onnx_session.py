"""One onnxruntime session factory for every Facsimile model, with a device policy that is measured, not assumed.

onnxruntime silently falls back to the CPU when CUDA cannot load (it only logs), so the factory checks what the session
really got and returns it: the UI and the CLI show the device actually used, never the one merely asked for.

"auto" does not mean "CUDA whenever it loads". On an H200 with 16 cores (benchmarks/gpu_check.py, README "GPU") a
photo took 16.5 ms on CUDA against 12.8 ms on the CPU, video ran at 107 against 141 frames/s, and the generator MLP
took 0.16 ms per face against 0.12: the per-photo and per-frame work is too small for the GPU. LBS over 64+ poses was
1.3-2.2x faster on CUDA. So `auto` uses CUDA for a model only where AUTO_CUDA_MIN_BATCH lists that model and the work
is at least that large; everything else runs on the CPU. "cuda" forces CUDA (an error when it cannot run), "cpu" the
CPU.

On CUDA the provider options are set explicitly: TF32 off (it moved the 52 weights by up to 0.037 and LBS vertices by
2e-3 of a unit mesh), cuDNN's algorithm search HEURISTIC (EXHAUSTIVE, the default, re-searches on every new input
shape: seconds per photo), and `onnxruntime.preload_dlls()` first, so CUDA/cuDNN from pip's nvidia-* packages are
found. Batches sent to CUDA should keep a few fixed shapes (`run_fixed`), so nothing is re-planned per call.

Privacy: onnxruntime's import writes a telemetry device id and event queue under ~/.cache/Microsoft/DeveloperTools/
.onnxruntime/ and a `.ses` file in $TMPDIR (measured with 1.31.1: `disable_telemetry_events()` after import is too
late, the files already exist). ORT_DISABLE_TELEMETRY=1 set before the import prevents both, so this module sets it
before it imports onnxruntime, and every Facsimile module imports onnxruntime through this one
(tests/test_onnx_session.py checks a fresh HOME and TMPDIR stay empty).
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Before the first import of onnxruntime in the process (see the module docstring); "0" or unset would write the files.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"
import onnxruntime as ort  # noqa: E402

from ..errors import FacsimileError  # noqa: E402
from .device import DEVICES, Device  # noqa: E402

ort.disable_telemetry_events()  # for a process that imported onnxruntime before us: no events at least

# The smallest work size at which CUDA beat the CPU for each model, measured with benchmarks/gpu_check.py (README,
# "GPU"). A model not listed runs on the CPU under "auto". lbs.onnx: poses in the bake (2.2x the numpy kernel at 64
# poses on an H200); a bake of a handful of poses is not worth the CUDA session's start-up (seconds).
AUTO_CUDA_MIN_BATCH: dict[str, int] = {"lbs.onnx": 64}

# The batch size of CUDA runs (run_fixed pads up to it; larger batches are split). One size, not several: onnxruntime's
# CUDA convolutions keep the plan of the last input shape only, so alternating sizes re-plan on every run (measured on
# an H200: a 3-face photo alternating batch 1 and 4 took 4.5-5.4 s on every solve, against 61 ms on the CPU).
FIXED_BATCHES: tuple[int, ...] = (4,)

CUDA_PROVIDER_OPTIONS: dict[str, str] = {
    "device_id": "0",
    "use_tf32": "0",
    "cudnn_conv_algo_search": "HEURISTIC",
    "do_copy_in_default_stream": "1",
}


class DeviceUnavailableError(FacsimileError, RuntimeError):
    """CUDA was asked for explicitly and could not be used."""


@dataclass(frozen=True)
class SessionInfo:
    """What a created session really runs on, for reports."""

    device: str  # "cuda" or "cpu"
    providers: tuple[str, ...]
    note: str  # why this device (e.g. the CUDA fallback reason, auto's choice); empty when nothing to say

    def __str__(self) -> str:
        return self.device + (f" ({self.note})" if self.note else "")


def describe_stages(stages: Mapping[str, SessionInfo]) -> str:
    """One line for the CLI and the panel: the device each stage really used, then the notes, e.g.
    "face cpu, generator cpu (auto chose the CPU: ...)". Callers that want it short cut at " (" ."""
    head = ", ".join(f"{name} {info.device}" for name, info in stages.items())
    notes = list(dict.fromkeys(info.note for info in stages.values() if info.note))
    return head + (f" ({'; '.join(notes)})" if notes else "")


AUTO_CPU_NOTE = "auto: the CPU is faster for this work"
_CUDA_FAILED_NOTE = "CUDA provider failed to load (onnxruntime-gpu 1.31 needs CUDA 13 and cuDNN 9); running on CPU"
_cuda_failed = False
_preloaded = False


def _remember_cuda_failure() -> None:
    global _cuda_failed
    _cuda_failed = True


def preload_cuda_libraries() -> None:
    """onnxruntime.preload_dlls() once per process (onnxruntime 1.21+), so CUDA and cuDNN from pip's nvidia-* wheels
    are found without LD_LIBRARY_PATH/PATH. Libraries it cannot find are left to the normal search; its console
    messages are swallowed (the CUDA outcome is reported through SessionInfo)."""
    global _preloaded
    if _preloaded or not hasattr(ort, "preload_dlls"):
        return
    _preloaded = True
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(Exception):
        ort.preload_dlls()


def default_threads() -> int:
    """Intra-op threads: leave a core for Blender's UI, but use both cores of a 2-core machine when headless."""
    env = os.environ.get("FACSIMILE_THREADS")
    if env:
        return max(1, int(env))
    n = os.cpu_count() or 1
    return max(1, min(n - 1, 8)) if n > 2 else n


def cuda_worth_it(model_name: str | None, batch: int) -> bool:
    """The measured policy behind "auto": is CUDA faster than the CPU for `batch` rows of this model?"""
    need = AUTO_CUDA_MIN_BATCH.get(model_name or "")
    return need is not None and batch >= need


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
    model: str | Path | bytes,
    device: Device | str = "auto",
    threads: int | None = None,
    *,
    batch: int = 1,
    cuda_options: Mapping[str, str] | None = None,
) -> tuple[ort.InferenceSession, SessionInfo]:
    """Create an InferenceSession and report the device it actually uses.

    device: "auto" (CUDA only where the measured policy says it is faster for `batch` rows of this model and CUDA
    works; else CPU, with the reason in SessionInfo.note), "cuda" (raise DeviceUnavailableError when CUDA cannot be
    used) or "cpu". cuda_options override CUDA_PROVIDER_OPTIONS (benchmarks compare settings with it).
    """
    device = device.lower()
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}; got {device!r}")
    available = ort.get_available_providers()
    want_cuda = device in ("auto", "cuda")
    note = ""
    source = str(model) if isinstance(model, Path) else model
    model_name = Path(model).name if isinstance(model, (str, Path)) else None
    if want_cuda and "CUDAExecutionProvider" not in available:
        note = "onnxruntime has no CUDAExecutionProvider in this install"
    elif device == "auto" and not cuda_worth_it(model_name, batch):
        # the policy's choice, not a fallback (the README's GPU section gives the measurements)
        note = AUTO_CPU_NOTE
        want_cuda = False
    elif want_cuda and _cuda_failed and device == "auto":
        note = _CUDA_FAILED_NOTE  # tried once in this process already; don't pay (and log) the failure again
    try_cuda = want_cuda and not note
    if try_cuda:
        preload_cuda_libraries()
        options = {**CUDA_PROVIDER_OPTIONS, **(cuda_options or {})}
        providers: list = [("CUDAExecutionProvider", options), "CPUExecutionProvider"]
        # onnxruntime logs the CUDA load failure through its default logger as an error; we report it ourselves.
        ort.set_default_logger_severity(4)
    else:
        providers = ["CPUExecutionProvider"]
    try:
        session = ort.InferenceSession(source, sess_options=_session_options(threads), providers=providers)
    except Exception as exc:  # onnxruntime's own errors (InvalidProtobuf, Fail, ...): a damaged model file
        if not type(exc).__module__.startswith("onnxruntime") and not isinstance(exc, OSError):
            raise
        what = model_name or "the model"
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise FacsimileError(
            f"onnxruntime cannot load {what} ({reason}): the file is damaged; reinstall the extension or point "
            "FACSIMILE_MODELS_DIR at a good model folder"
        ) from None
    finally:
        if try_cuda:
            # Errors only, also after: the CUDA provider's warnings (cuDNN "Fallback mode" notices, one per
            # convolution and run) are not for the user; what matters is reported through SessionInfo.
            ort.set_default_logger_severity(3)
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


def fixed_batch(n: int, sizes: Sequence[int] = FIXED_BATCHES) -> int:
    """The fixed batch size a run of n rows is padded to (the largest size for n beyond it: run_fixed splits)."""
    if n < 1:
        raise ValueError("a batch needs at least one row")
    for s in sizes:
        if n <= s:
            return s
    return sizes[-1]


def run_fixed(
    session: ort.InferenceSession,
    info: SessionInfo,
    feeds: Mapping[str, np.ndarray],
    sizes: Sequence[int] = FIXED_BATCHES,
) -> list[np.ndarray]:
    """session.run over the batch axis (axis 0 of every feed) with fixed shapes on CUDA.

    On CUDA each run's batch is padded with zero rows up to one of `sizes` (larger batches run in pieces of the
    largest size), so the provider sees the same shape run after run instead of a new one per photo (each change of
    shape costs cuDNN planning and new buffers). On the CPU the feeds run as they are. Outputs are cut back
    to the real rows; every output must have the batch on axis 0.
    """
    n = {len(v) for v in feeds.values()}
    if len(n) != 1:
        raise ValueError("every feed must have the same batch size on axis 0")
    n = n.pop()
    if info.device != "cuda" or n == 0:
        return session.run(None, dict(feeds))
    outs: list[list[np.ndarray]] = []
    step = sizes[-1]
    for r0 in range(0, n, step):
        rows = min(step, n - r0)
        size = fixed_batch(rows, sizes)
        part = {}
        for name, v in feeds.items():
            chunk = v[r0 : r0 + rows]
            if size > rows:
                chunk = np.concatenate([chunk, np.zeros((size - rows, *v.shape[1:]), dtype=v.dtype)])
            part[name] = chunk
        outs.append([o[:rows] for o in session.run(None, part)])
    return [np.concatenate(cols) if len(cols) > 1 else cols[0] for cols in zip(*outs)]
