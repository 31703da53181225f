"""Which onnxruntime build is installed (the default zip's CPU onnxruntime, or the -cuda zip's onnxruntime-gpu) and what
CUDA would need, in one line for the panel and the preferences.

Read from the installed distribution's metadata and onnxruntime's provider list, without creating a session (the
panel draws often). The zip choice is explained in README "Packaging: which zip to pick".
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata

CUDA_NEEDS = "an NVIDIA GPU with a driver for CUDA 13, and CUDA 13 + cuDNN 9 libraries (pip's nvidia-* packages do)"


@dataclass(frozen=True)
class RuntimeBuild:
    """distribution: "onnxruntime" (CPU build), "onnxruntime-gpu" (CUDA build) or "" (unknown); cuda_provider: the
    installed onnxruntime offers CUDAExecutionProvider (whether CUDA then loads is only known when a model runs)."""

    distribution: str
    version: str
    cuda_provider: bool

    @property
    def is_cuda_build(self) -> bool:
        return self.cuda_provider

    def summary(self) -> str:
        """One line: e.g. "CPU build (onnxruntime 1.31.1); for CUDA install the -cuda zip: needs ..."."""
        name = f"{self.distribution or 'onnxruntime'} {self.version}".strip()
        if self.is_cuda_build:
            return f"CUDA build ({name}); CUDA runs where {CUDA_NEEDS} are present, else the CPU"
        return f"CPU build ({name}); for CUDA install the -cuda zip instead ({CUDA_NEEDS})"


def runtime_build() -> RuntimeBuild:
    from .onnx_session import ort

    dist, version = "", getattr(ort, "__version__", "")
    for name in ("onnxruntime-gpu", "onnxruntime"):
        try:
            version = metadata.version(name)
            dist = name
            break
        except metadata.PackageNotFoundError:
            continue
    return RuntimeBuild(dist, version, "CUDAExecutionProvider" in ort.get_available_providers())
