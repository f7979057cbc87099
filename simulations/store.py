"""A resumable results folder: one atomically written set of tables per run.

Layout under ``root``::

    manifest.json                        sweep manifest (scenario, versions, seeds, git)
    steps.parquet                        all completed runs' steps, consolidated
    runs/<scenario>_v<N>/<rule>/seed-0003.steps.parquet
    runs/<scenario>_v<N>/<rule>/seed-0003.choices.parquet   (optional)
    runs/<scenario>_v<N>/<rule>/seed-0003.done.json         completion marker, written last

Every file is written to a temporary name in the same folder and moved into place with
:func:`os.replace` (atomic on POSIX), and a run counts as complete only when its marker
exists, parses, and names files whose sizes match. A run killed half-way therefore
leaves at most stray temporary files, which are ignored and overwritten, never a run
that reads as complete.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["ResultStore", "RunKey", "atomic_write_bytes", "atomic_write_json"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, order=True)
class RunKey:
    """One run of a sweep: scenario key (``name@vN``), rule label and seed."""

    scenario: str
    rule: str
    seed: int

    def folder(self) -> Path:
        name, _, version = self.scenario.partition("@")
        safe_rule = self.rule.replace("/", "_").replace(" ", "")
        return Path("runs") / f"{name}_{version or 'v0'}" / safe_rule

    def stem(self) -> str:
        return f"seed-{self.seed:04d}"


def _tmp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, ``os.replace``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_path(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    atomic_write_bytes(
        path, (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode()
    )


def _atomic_write_parquet(path: Path, df: pd.DataFrame) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_path(path)
    try:
        df.to_parquet(tmp, index=False)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        size = tmp.stat().st_size
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return size


class ResultStore:
    """Reads and writes a sweep's results folder (see the module docstring).

    Parameters
    ----------
    root : str or Path
        The results folder (created when missing).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    # ---------------------------------------------------------------- paths
    def _paths(self, key: RunKey) -> dict[str, Path]:
        base = self.root / key.folder()
        stem = key.stem()
        return {
            "steps": base / f"{stem}.steps.parquet",
            "choices": base / f"{stem}.choices.parquet",
            "done": base / f"{stem}.done.json",
        }

    # --------------------------------------------------------------- writes
    def write_run(
        self,
        key: RunKey,
        steps: pd.DataFrame,
        choices: pd.DataFrame | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Write one run's tables, then its completion marker (last, atomically)."""
        paths = self._paths(key)
        files = {"steps": _atomic_write_parquet(paths["steps"], steps)}
        if choices is not None:
            files["choices"] = _atomic_write_parquet(paths["choices"], choices)
        marker = {
            "scenario": key.scenario,
            "rule": key.rule,
            "seed": key.seed,
            "rows": {
                "steps": len(steps),
                **({"choices": len(choices)} if choices is not None else {}),
            },
            "sizes": files,
            **(meta or {}),
        }
        atomic_write_json(paths["done"], marker)

    # ---------------------------------------------------------------- reads
    def is_complete(self, key: RunKey) -> bool:
        """Whether ``key`` has a valid marker whose files exist with the recorded sizes."""
        paths = self._paths(key)
        try:
            marker = json.loads(paths["done"].read_text())
            sizes = marker["sizes"]
            return all(paths[name].stat().st_size == int(size) for name, size in sizes.items())
        except (OSError, ValueError, KeyError, TypeError):
            return False

    def missing(self, keys: Iterable[RunKey]) -> list[RunKey]:
        """The keys among ``keys`` that are not complete."""
        return [k for k in keys if not self.is_complete(k)]

    def completed(self) -> list[RunKey]:
        """Every complete run in the folder, sorted."""
        keys = []
        for marker in (self.root / "runs").glob("*/*/seed-*.done.json"):
            try:
                m = json.loads(marker.read_text())
                key = RunKey(m["scenario"], m["rule"], int(m["seed"]))
            except (OSError, ValueError, KeyError):
                continue
            if self.is_complete(key):
                keys.append(key)
        return sorted(keys)

    def load_steps(self, keys: Iterable[RunKey] | None = None) -> pd.DataFrame:
        """Steps tables of the given (default: all complete) runs, concatenated."""
        return self._load("steps", keys)

    def load_choices(self, keys: Iterable[RunKey] | None = None) -> pd.DataFrame:
        """Choices tables of the given (default: all complete) runs that have one."""
        return self._load("choices", keys)

    def _load(self, table: str, keys: Iterable[RunKey] | None) -> pd.DataFrame:
        keys = self.completed() if keys is None else [k for k in keys if self.is_complete(k)]
        frames = [
            pd.read_parquet(self._paths(k)[table]) for k in keys if self._paths(k)[table].exists()
        ]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    # ------------------------------------------------------------- manifest
    def write_manifest(self, manifest: dict[str, Any]) -> None:
        atomic_write_json(self.root / "manifest.json", manifest)

    def read_manifest(self) -> dict[str, Any]:
        path = self.root / "manifest.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def write_table(self, name: str, df: pd.DataFrame) -> Path:
        """Write a consolidated table ``root/<name>.parquet`` atomically."""
        path = self.root / f"{name}.parquet"
        _atomic_write_parquet(path, df)
        return path
