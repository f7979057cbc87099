"""Shared argument checkers."""

from __future__ import annotations

import numpy as np
import pytest

from insight_bayes.validation import (
    SavedFileError,
    as_generator,
    check_int,
    check_real,
    read_json_file,
    read_npz_file,
)


def test_as_generator_accepts_seeds_and_generators():
    gen = np.random.default_rng(1)
    assert as_generator(gen) is gen
    assert as_generator(5).random() == np.random.default_rng(5).random()
    assert isinstance(as_generator(None), np.random.Generator)
    seq = np.random.SeedSequence(3)
    assert as_generator(seq).random() == np.random.default_rng(np.random.SeedSequence(3)).random()


def test_as_generator_refuses_legacy_and_junk():
    with pytest.raises(TypeError, match="RandomState"):
        as_generator(np.random.RandomState(0))
    with pytest.raises(TypeError, match="rng must be"):
        as_generator("seed")
    with pytest.raises(ValueError, match="rng seed must be >= 0"):
        as_generator(-1)


def test_check_int_and_real_messages():
    with pytest.raises(TypeError, match=r"steps must be an integer, got 3.0 \(float\)"):
        check_int(3.0, "steps")
    with pytest.raises(ValueError, match="steps must be <= 5, got 6"):
        check_int(6, "steps", max_value=5)
    with pytest.raises(ValueError, match="x must be > 0"):
        check_real(0.0, "x", low=0.0, low_inclusive=False)
    assert check_real(np.float32(0.5), "x", low=0, high=1) == 0.5


def test_read_json_file(tmp_path):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text('{"a": 1}')
    bad.write_bytes(b"\xff\xfe")
    assert read_json_file(good, "x") == {"a": 1}
    with pytest.raises(SavedFileError, match=r"bad.json is not valid JSON .*; expected a thing"):
        read_json_file(bad, "a thing")
    with pytest.raises(FileNotFoundError):
        read_json_file(tmp_path / "none.json", "x")


def test_read_npz_file(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path, x=np.arange(3), y=np.ones(2))
    assert read_npz_file(path, "x and y", ("x",))["x"].tolist() == [0, 1, 2]
    with pytest.raises(SavedFileError, match=r"holds the arrays \['x', 'y'\], not \['z'\]"):
        read_npz_file(path, "z", ("z",))
    obj = tmp_path / "obj.npz"
    np.savez(obj, x=np.array([{"a": 1}], dtype=object))  # needs pickle: refused, and said so
    with pytest.raises(SavedFileError, match="arrays of Python objects, which are not read"):
        read_npz_file(obj, "x", ("x",))
