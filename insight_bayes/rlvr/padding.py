"""Token lists to padded tensors, built in numpy and copied to the device once.

Filling a tensor row by row costs one small copy per row; a block of runs pads thousands
of rows a step. Here a boolean mask of the real tokens places every row's tokens in one
assignment (row-major order, so each row's tokens keep their order).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["left_pad", "pad_rows", "positions_from_valid", "right_pad"]


def pad_rows(
    seqs: Sequence[Sequence[int]], pad_id: int, *, left: bool, width: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(tokens, valid)`` as int64 and bool arrays ``(B, width)``: each row's tokens at the
    right end (``left``: padding on the left) or at the left end; ``width`` defaults to
    the longest row."""
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    if lengths.size == 0:
        raise ValueError("no sequences to pad")
    width = int(lengths.max()) if width is None else width
    if lengths.max() > width:
        raise ValueError(f"a sequence of {int(lengths.max())} tokens exceeds width={width}")
    columns = np.arange(width)[None, :]
    valid = columns >= (width - lengths)[:, None] if left else columns < lengths[:, None]
    tokens = np.full((len(seqs), width), pad_id, dtype=np.int64)
    tokens[valid] = np.fromiter(
        itertools.chain.from_iterable(seqs), dtype=np.int64, count=int(lengths.sum())
    )
    return tokens, valid


def left_pad(
    seqs: Sequence[Sequence[int]], pad_id: int, device: torch.device | str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-pad token lists to one tensor: ``(tokens, valid)``, both ``(B, T_max)``."""
    tokens, valid = pad_rows(seqs, pad_id, left=True)
    return torch.from_numpy(tokens).to(device), torch.from_numpy(valid).to(device)


def right_pad(
    seqs: Sequence[Sequence[int]],
    pad_id: int,
    device: torch.device | str = "cpu",
    width: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token lists to one tensor: ``(tokens, valid)``, both ``(B, width)``."""
    tokens, valid = pad_rows(seqs, pad_id, left=False, width=width)
    return torch.from_numpy(tokens).to(device), torch.from_numpy(valid).to(device)


def positions_from_valid(valid: torch.Tensor) -> torch.Tensor:
    """Position of each token among the real tokens of its row (0 for padding)."""
    return (valid.long().cumsum(dim=1) - 1).clamp(min=0)
