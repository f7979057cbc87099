"""Keep freed memory in the process on CPU: the harness's activations are reused, not re-faulted.

A forward pass of the tiered design's held-out evaluation allocates and frees tensors of
about 12 MB per layer. glibc's ``malloc`` serves blocks that large with ``mmap`` and, on
``free``, hands them back to the kernel (or trims the heap), so the next pass pays page
faults to get the same memory again. :func:`keep_freed_memory` raises the ``mmap`` and trim
thresholds once per process (``mallopt``), which changes no result, only where freed
memory goes: measured by ``benchmarks/bench_rlvr_batched.py``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

__all__ = ["keep_freed_memory"]

#: ``mallopt`` parameters (glibc ``malloc.h``).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: glibc's largest ``mmap`` threshold on 64-bit (``DEFAULT_MMAP_THRESHOLD_MAX``): blocks
#: up to it come from the heap.
_MMAP_THRESHOLD = 32 * 1024 * 1024
_TRIM_THRESHOLD = 1 << 30


@functools.cache
def keep_freed_memory() -> bool:
    """Raise glibc's ``mmap`` threshold to 32 MiB and its trim threshold to 1 GiB.

    Returns whether both settings took (``False`` off Linux or without glibc, where
    nothing is changed). Called by :class:`~insight_bayes.rlvr.harness.Harness` on CPU;
    once per process.
    """
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt)
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
    )
