"""Atomic writes, the git revision and the manifest: the results layer's file plumbing.

Every file of a results folder (a sweep's or a harness study's) is written by
:func:`~insight_bayes.atomic.atomic_write_bytes`: a temporary file in the same folder,
``fsync``, then :func:`os.replace` (atomic on POSIX). A reader therefore sees the old
file or the new one, never half of one; a process killed mid-write leaves at most a
stray ``.<name>.<pid>.<hex>.tmp`` file, which
:func:`~insight_bayes.atomic.remove_stale_temporaries` deletes. Those two live in
:mod:`insight_bayes.atomic`, below the beliefs that save themselves with them, and are
re-exported here.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import os
import platform
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from insight_bayes.atomic import atomic_write_bytes, remove_stale_temporaries

if TYPE_CHECKING:  # pandas is imported where a table is written
    import pandas as pd

__all__ = [
    "MANIFEST_FORMAT",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_parquet",
    "build_manifest",
    "git_revision",
    "plain",
    "remove_stale_temporaries",
    "utc_now",
]

#: ``format`` tag of every manifest written by the results layer.
MANIFEST_FORMAT = "insight-bayes-results/1"


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> int:
    """Write ``obj`` as indented, key-sorted JSON, atomically (see :func:`atomic_write_bytes`)."""
    text = json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n"
    return atomic_write_bytes(path, text.encode())


def atomic_write_parquet(path: str | os.PathLike[str], df: pd.DataFrame) -> int:
    """Write ``df`` as Parquet (no index), atomically; return the file's size in bytes."""
    buffer = io.BytesIO()
    df.to_parquet(buffer, index=False)
    return atomic_write_bytes(path, buffer.getvalue())


def git_revision(path: str | os.PathLike[str] | None = None) -> str | None:
    """``HEAD`` of the git checkout holding ``path`` (default: this package), or None.

    ``-dirty`` is appended when tracked files have uncommitted changes, so a manifest
    never claims a revision that did not produce its results.
    """
    here = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if rev.returncode != 0:
        return None
    return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def plain(obj: Any) -> Any:
    """``obj`` as it reads back from JSON (tuples become lists; for comparing configs)."""
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def utc_now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


#: What wrote a results folder: a sweep, a harness study, or an intervention study.
MANIFEST_KINDS = (
    "sweep",
    "study",
    "intervention",
    "gradients",
    "sim-vs-harness",
    "decision",
    "design",
)


def build_manifest(
    kind: str,
    config: Mapping[str, Any],
    *,
    rules: list[str],
    seeds: list[int],
    analysis: Mapping[str, Any],
    previous: Mapping[str, Any] | None = None,
    torch: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """The manifest of a results folder (``manifest.json``), the same for sweeps and studies.

    Parameters
    ----------
    kind : {"sweep", "study", "intervention", "gradients", "sim-vs-harness", "decision", "design"}
        Which command wrote the folder.
    config : mapping
        Everything that shapes the runs (a sweep's scenarios, a study's TOML), as JSON.
    rules, seeds : list
        The rule labels and seeds asked for.
    analysis : mapping
        ``metric``, ``target`` and ``baseline`` of the steps-to-target analysis (read back
        by :func:`insight_bayes.results.load_results`).
    previous : mapping, optional
        The manifest already in the folder: its ``created`` time is kept.
    torch : bool
        Also record the PyTorch version and CPU threads (imports torch).
    **extra
        Further keys (``runs``, ``backend``, ``device`` ...).

    Returns
    -------
    dict
        ``format, kind, created, updated, package_version, git_revision, python,
        numpy, [torch_version, torch_threads], config, rules, seeds, analysis`` and
        ``extra``.
    """
    import numpy as np

    from insight_bayes import __version__

    if kind not in MANIFEST_KINDS:
        raise ValueError(f"kind must be one of {list(MANIFEST_KINDS)}, got {kind!r}")
    # sweeps and studies are read back by load_results, which needs their analysis
    missing = {"metric", "target", "baseline"} - set(analysis) if kind in ("sweep", "study") else ()
    if missing:
        raise ValueError(f"analysis lacks {sorted(missing)}")
    now = utc_now()
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "kind": kind,
        "created": (previous or {}).get("created", now),
        "updated": now,
        "package_version": __version__,
        "git_revision": git_revision(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "config": plain(dict(config)),
        "rules": list(rules),
        "seeds": [int(s) for s in seeds],
        "analysis": plain(dict(analysis)),
    }
    if torch:
        import torch as _torch

        manifest["torch_version"] = _torch.__version__
        manifest["torch_threads"] = _torch.get_num_threads()
    manifest.update(extra)
    return manifest
