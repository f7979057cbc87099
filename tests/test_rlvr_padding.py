"""Padding token lists in one assignment equals filling the rows one by one."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from insight_bayes.rlvr.padding import left_pad, pad_rows, right_pad  # noqa: E402


def _row_by_row(seqs, pad_id, left, width):
    tokens = np.full((len(seqs), width), pad_id, dtype=np.int64)
    valid = np.zeros((len(seqs), width), dtype=bool)
    for i, s in enumerate(seqs):
        cols = slice(width - len(s), width) if left else slice(0, len(s))
        if len(s):
            tokens[i, cols] = s
            valid[i, cols] = True
    return tokens, valid


@pytest.mark.parametrize("left", [True, False])
def test_padding_in_one_assignment_equals_row_by_row(left):
    rng = np.random.default_rng(0)
    seqs = [list(rng.integers(0, 15, size=n)) for n in rng.integers(0, 9, size=40)]
    seqs[3] = []  # an empty row stays padding
    width = max(len(s) for s in seqs)
    tokens, valid = pad_rows(seqs, 14, left=left)
    expected = _row_by_row(seqs, 14, left, width)
    np.testing.assert_array_equal(tokens, expected[0])
    np.testing.assert_array_equal(valid, expected[1])
    wide, _ = pad_rows(seqs, 14, left=left, width=width + 3)
    np.testing.assert_array_equal(wide, _row_by_row(seqs, 14, left, width + 3)[0])


def test_tensors_and_errors():
    tokens, valid = left_pad([[1, 2], [3]], 0)
    assert tokens.dtype == torch.long and valid.dtype == torch.bool
    assert tokens.tolist() == [[1, 2], [0, 3]] and valid.tolist() == [[True, True], [False, True]]
    tokens, valid = right_pad([[1, 2], [3]], 0, width=3)
    assert tokens.tolist() == [[1, 2, 0], [3, 0, 0]]
    with pytest.raises(ValueError, match="exceeds width=1"):
        pad_rows([[1, 2]], 0, left=True, width=1)
    with pytest.raises(ValueError, match="no sequences"):
        pad_rows([], 0, left=True)
