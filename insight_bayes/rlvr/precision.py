"""The float32 matrix-product precision of batched runs, set for a block and no longer.

PyTorch's precision setting is process-wide: set for one block of runs, it would stay for
whatever the process does next (a later task draw's warm-up, trained in full float32 on
every device call so that a resumed study finds the same weights). :func:`block_precision`
sets :data:`CUDA_MATMUL_PRECISION` while a block trains
(:meth:`insight_bayes.rlvr.batched.RunBlock.run`: a study's blocks, the design's Random
pilot, the intervention's Random runs) and restores the previous setting after.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["CUDA_MATMUL_PRECISION", "block_precision"]

#: float32 matrix products of batched runs on CUDA: TF32 tensor cores (``"high"``), recorded
#: in the manifest; CPU runs keep full float32.
CUDA_MATMUL_PRECISION = "high"


@contextmanager
def block_precision(device: str) -> Iterator[None]:
    """:data:`CUDA_MATMUL_PRECISION` on CUDA for the duration of the block (nothing changes
    on CPU); the previous setting is restored after, after an error too."""
    import torch

    if device != "cuda":
        yield
        return
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision(CUDA_MATMUL_PRECISION)
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(before)
