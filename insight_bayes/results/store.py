"""A resumable results folder, the same for sweeps and harness studies.

Layout under ``root``::

    manifest.json                      what was run, by which code (insight_bayes.results.io)
    steps.parquet                      every complete run's steps, consolidated
    choices.parquet                    every complete run's choices (when runs keep them)
    runs/<name>_<version>/<rule>/seed-0003.steps.parquet
    runs/<name>_<version>/<rule>/seed-0003.choices.parquet   (optional)
    runs/<name>_<version>/<rule>/seed-0003.done.json         completion marker, written last

A sweep's ``<name>@<version>`` is its scenario key (``countdown-paper@v1``); a study's
is ``rlvr-<task>@<config digest>``. Every file is written atomically
(:func:`insight_bayes.results.io.atomic_write_bytes`), and a run counts as complete only
when its marker exists, parses, and names files whose sizes match. A run killed
half-way therefore never reads as complete; re-running only runs what is missing.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from insight_bayes.results.io import (
    atomic_write_json,
    atomic_write_parquet,
    remove_stale_temporaries,
)

__all__ = ["ResultStore", "RunKey"]

log = logging.getLogger(__name__)

#: Sort order of consolidated tables.
RUN_ORDER = ["scenario", "rule", "seed", "step"]


@dataclass(frozen=True, order=True)
class RunKey:
    """One run: scenario key (``name@version``), rule label and seed."""

    scenario: str
    rule: str
    seed: int

    def folder(self) -> Path:
        """``runs/<name>_<version>/<rule>`` (relative to the store's root)."""
        name, _, version = self.scenario.partition("@")
        safe_rule = self.rule.replace("/", "_").replace(" ", "")
        return Path("runs") / f"{name}_{version or 'v0'}" / safe_rule

    def stem(self) -> str:
        return f"seed-{self.seed:04d}"


class ResultStore:
    """Reads and writes a results folder (see the module docstring).

    Parameters
    ----------
    root : str or Path
        The results folder (created when missing).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

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
        sizes = {"steps": atomic_write_parquet(paths["steps"], steps)}
        rows = {"steps": len(steps)}
        if choices is not None:
            sizes["choices"] = atomic_write_parquet(paths["choices"], choices)
            rows["choices"] = len(choices)
        marker = {
            "scenario": key.scenario,
            "rule": key.rule,
            "seed": key.seed,
            "rows": rows,
            "sizes": sizes,
            **(meta or {}),
        }
        atomic_write_json(paths["done"], marker)

    def write_table(self, name: str, df: pd.DataFrame) -> Path:
        """Write a consolidated table ``root/<name>.parquet`` atomically."""
        path = self.root / f"{name}.parquet"
        atomic_write_parquet(path, df)
        return path

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        atomic_write_json(self.root / "manifest.json", manifest)

    def remove_stale_temporaries(self) -> int:
        """Delete temporary files left by a killed writer; return how many."""
        return remove_stale_temporaries(self.root)

    def consolidate(self, keys: Iterable[RunKey]) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """Gather the complete runs among ``keys`` into ``steps.parquet`` (and
        ``choices.parquet`` when they kept choices), sorted by scenario, rule, seed, step.

        Returns ``(steps, choices or None)``; nothing is written when no run is complete.
        """
        keys = list(keys)
        steps = _sorted(self.load_steps(keys))
        choices = _sorted(self.load_choices(keys))
        if not steps.empty:
            self.write_table("steps", steps)
        if not choices.empty:
            self.write_table("choices", choices)
        return steps, (None if choices.empty else choices)

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

    def run_meta(self, key: RunKey) -> dict[str, Any]:
        """The completion marker of a complete run (its ``wall_seconds``, rows, sizes)."""
        return json.loads(self._paths(key)["done"].read_text())

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
        """Choices tables of the given (default: all complete) runs that kept one."""
        return self._load("choices", keys)

    def _load(self, table: str, keys: Iterable[RunKey] | None) -> pd.DataFrame:
        keys = self.completed() if keys is None else [k for k in keys if self.is_complete(k)]
        paths = [self._paths(k)[table] for k in keys]
        frames = [pd.read_parquet(p) for p in paths if p.exists()]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def read_manifest(self) -> dict[str, Any]:
        path = self.root / "manifest.json"
        return json.loads(path.read_text()) if path.exists() else {}


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    if df.empty:
        return df
    order = [c for c in RUN_ORDER if c in df.columns]
    if "rank" in df.columns:
        order.append("rank")
    return df.sort_values(order, kind="stable").reset_index(drop=True)
