"""Argument checkers shared by the whole package.

Each checker returns the converted value and raises a ``ValueError`` (or ``TypeError``)
whose message names the argument, shows the offending value and says what is allowed,
in the manner of scikit-learn's ``check_scalar``. Library code uses these instead of
``assert``.
"""

from __future__ import annotations

import json
import numbers
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

#: What an ``rng`` argument accepts (normalised by :func:`as_generator`).
RngLike = np.random.Generator | np.random.SeedSequence | int | None

__all__ = [
    "RngLike",
    "SavedFileError",
    "as_generator",
    "check_ids",
    "check_int",
    "check_positive_array",
    "check_probability",
    "check_real",
    "describe_bad",
    "read_json_file",
    "read_npz_file",
]


def describe_bad(values: np.ndarray) -> str:
    """Return a short description of the first offending entries of ``values``."""
    flat = np.asarray(values).ravel()
    shown = ", ".join(repr(float(v)) for v in flat[:3])
    more = "" if flat.size <= 3 else f", ... ({flat.size} bad entries)"
    return shown + more


def check_positive_array(value: Any, name: str) -> np.ndarray:
    """Convert ``value`` to a float64 array whose entries are finite and > 0.

    Raises
    ------
    ValueError
        If any entry is zero, negative, NaN or infinite; the message names ``name``.
    TypeError
        If ``value`` is not numeric.
    """
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be numeric, got {value!r}") from exc
    bad = ~(np.isfinite(arr) & (arr > 0))
    if np.any(bad):
        raise ValueError(
            f"{name} must be finite and > 0 (a Beta parameter); got {describe_bad(arr[bad])}"
        )
    return arr


def check_probability(value: Any, name: str) -> np.ndarray:
    """Convert ``value`` to a float64 array of probabilities: finite and in [0, 1].

    Raises ``ValueError`` naming ``name`` and the first offending entries otherwise.

    >>> check_probability([0.0, 0.5], "rates").tolist()
    [0.0, 0.5]
    """
    arr = np.asarray(value, dtype=np.float64)
    bad = ~(np.isfinite(arr) & (arr >= 0.0) & (arr <= 1.0))
    if np.any(bad):
        raise ValueError(f"{name} must lie in [0, 1] (probabilities); got {describe_bad(arr[bad])}")
    return arr


def check_int(
    value: Any, name: str, *, min_value: int | None = None, max_value: int | None = None
) -> int:
    """Return ``value`` as a Python ``int`` after checking its type and range.

    Integer-valued floats (``8.0``) are refused: a count that arrives as a float is
    usually a bug upstream.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    out = int(value)
    if min_value is not None and out < min_value:
        raise ValueError(f"{name} must be >= {min_value}, got {out}")
    if max_value is not None and out > max_value:
        raise ValueError(f"{name} must be <= {max_value}, got {out}")
    return out


def check_real(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Return ``value`` as a finite Python ``float`` inside the given interval."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    out = float(value)
    if not np.isfinite(out):
        raise ValueError(f"{name} must be finite, got {out!r}")
    if low is not None and (out < low or (out == low and not low_inclusive)):
        op = ">=" if low_inclusive else ">"
        raise ValueError(f"{name} must be {op} {low}, got {out!r}")
    if high is not None and (out > high or (out == high and not high_inclusive)):
        op = "<=" if high_inclusive else "<"
        raise ValueError(f"{name} must be {op} {high}, got {out!r}")
    return out


def check_ids(ids: Any, name: str, size: int) -> np.ndarray:
    """Return ``ids`` as a 1-d int64 array of indices into a pool of ``size`` prompts."""
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-d array of prompt ids, got shape {arr.shape}")
    if arr.size == 0:
        return arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}")
    bad = (arr < 0) | (arr >= size)
    if np.any(bad):
        raise ValueError(
            f"{name} must lie in [0, {size}) (the pool size); got {arr[bad][:3].tolist()}"
        )
    return arr.astype(np.int64)


def as_generator(rng: RngLike) -> np.random.Generator:
    """Normalise ``rng`` to a :class:`numpy.random.Generator`.

    Accepts a Generator (returned as is), a SeedSequence, an int seed or ``None``
    (fresh OS entropy). The legacy ``RandomState`` is refused: it cannot be spawned
    into independent streams.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, np.random.RandomState):
        raise TypeError(
            "rng must be a numpy.random.Generator, a SeedSequence, an int or None; "
            "the legacy RandomState cannot spawn independent streams"
        )
    if rng is None or isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"rng seed must be >= 0, got {rng}")
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a Generator, SeedSequence, int or None, got {rng!r}")


# ------------------------------------------------------------------ saved files
class SavedFileError(ValueError):
    """A saved file that cannot be read as what was expected (corrupt, truncated, foreign).

    The message names the file, what was expected (the method that writes such files)
    and what was found. A ``ValueError``, so the command line reports it as a user error.
    """


def _head(path: Path, size: int = 16) -> bytes:
    with path.open("rb") as f:
        return f.read(size)


def read_json_file(path: str | Path, expected: str) -> Any:
    """Parse the JSON file ``path``; ``expected`` says what it should hold.

    Raises ``FileNotFoundError`` if there is no such file and :class:`SavedFileError`
    (naming the file, ``expected`` and the parser's complaint) if it is not JSON.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
        return json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        what = "is empty" if not path.stat().st_size else f"is not valid JSON ({err})"
        raise SavedFileError(
            f"{path} {what}; expected {expected}. It may be truncated or another kind of file"
        ) from None


def read_npz_file(path: str | Path, expected: str, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` archive ``path``, loaded without pickle, after checking
    that it holds the arrays ``keys``.

    Raises ``FileNotFoundError`` if there is no such file and :class:`SavedFileError`
    if the file is not a zip archive (a ``.npz``), is truncated or corrupt, or lacks one
    of ``keys``; the message names the file and ``expected``.
    """
    path = Path(path)
    head = _head(path)
    if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        found = "an empty file" if not head else f"a file starting with {head!r}"
        raise SavedFileError(f"{path} is not a .npz archive ({found}); expected {expected}")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in keys if k not in data.files]
            if missing:
                raise SavedFileError(
                    f"{path} holds the arrays {sorted(data.files)}, not {list(keys)}; "
                    f"expected {expected}"
                )
            return {k: data[k] for k in data.files}
    except SavedFileError:
        raise
    except ValueError as err:
        if "pickle" not in str(err):
            raise SavedFileError(
                f"{path} is a corrupt .npz archive (ValueError: {err}); expected {expected}"
            ) from None
        raise SavedFileError(
            f"{path} holds arrays of Python objects, which are not read (they would need "
            f"pickle); expected {expected}"
        ) from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:
        raise SavedFileError(
            f"{path} is a truncated or corrupt .npz archive ({type(err).__name__}: {err}); "
            f"expected {expected}"
        ) from None
