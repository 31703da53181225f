"""Page-locked (pinned) host arrays for results copied back from CUDA, through the CUDA runtime onnxruntime-gpu loads.

Why: the LBS graph on CUDA spends most of its time copying vertices back to the host (benchmarks/gpu_check.py on an
H200: 0.056 ms/pose into ordinary pageable numpy memory, 0.021 into page-locked memory, 0.004 computing). A copy into
pageable memory goes through the driver's own staging buffer; into page-locked memory it is one DMA transfer.

Pinning costs time itself (the pages are locked by the kernel), so a pinned array pays only when it is reused: the
LBS bake streams its poses through one reused block buffer (body_motion), which is where this is used. The arrays are
ordinary numpy arrays; their memory is freed (cudaFreeHost) when the array is garbage collected. Without a CUDA
runtime (the CPU build, or no GPU) `PinnedHost.load()` is None and callers use np.empty.
"""

from __future__ import annotations

import ctypes
import sys
import weakref
from math import prod

import numpy as np

CUDART_NAMES = (
    ("cudart64_13.dll", "cudart64_12.dll", "cudart64_110.dll")
    if sys.platform == "win32"
    else ("libcudart.so.13", "libcudart.so.12", "libcudart.so")
)
CUDA_HOST_ALLOC_DEFAULT = 0


class PinnedHost:
    """cudaHostAlloc-backed numpy arrays (one CUDA runtime library, loaded once)."""

    _instance: PinnedHost | None = None
    _tried = False

    def __init__(self, runtime: ctypes.CDLL) -> None:
        self._rt = runtime
        self._rt.cudaHostAlloc.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t, ctypes.c_uint]
        self._rt.cudaHostAlloc.restype = ctypes.c_int
        self._rt.cudaFreeHost.argtypes = [ctypes.c_void_p]
        self._rt.cudaFreeHost.restype = ctypes.c_int

    @classmethod
    def load(cls) -> PinnedHost | None:
        """The process's CUDA runtime (onnxruntime.preload_dlls() puts pip's copy in reach), or None without one."""
        if not cls._tried:
            cls._tried = True
            from ..models.onnx_session import preload_cuda_libraries

            preload_cuda_libraries()
            for name in CUDART_NAMES:
                try:
                    cls._instance = cls(ctypes.CDLL(name))
                    break
                except (OSError, AttributeError):
                    continue
        return cls._instance

    def empty(self, shape: tuple[int, ...], dtype=np.float32) -> np.ndarray | None:
        """An uninitialised page-locked array, or None when the runtime refuses (no device, out of pinned memory)."""
        dtype = np.dtype(dtype)
        nbytes = max(1, prod(shape) * dtype.itemsize)
        ptr = ctypes.c_void_p()
        if self._rt.cudaHostAlloc(ctypes.byref(ptr), ctypes.c_size_t(nbytes), CUDA_HOST_ALLOC_DEFAULT) != 0:
            return None
        raw = (ctypes.c_byte * nbytes).from_address(ptr.value)
        weakref.finalize(raw, self._rt.cudaFreeHost, ptr.value)  # freed with the last array viewing it
        return np.frombuffer(raw, dtype=dtype, count=prod(shape)).reshape(shape)


def empty_pinned(shape: tuple[int, ...], dtype=np.float32) -> tuple[np.ndarray, bool]:
    """(array, pinned?): page-locked when a CUDA runtime is loaded and grants it, else an ordinary np.empty."""
    host = PinnedHost.load()
    arr = host.empty(shape, dtype) if host is not None else None
    if arr is None:
        return np.empty(shape, dtype=dtype), False
    return arr, True
