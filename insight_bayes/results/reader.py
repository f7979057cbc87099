"""One reader for every results folder: :func:`load_results` reads a sweep or a study.

A multi-draw study's top level reads the same way: its steps and choices carry a
``draw`` column (a table without one is draw 0), and every speed-up and AUC is then the
hierarchical bootstrap over (draw, seed) of :mod:`insight_bayes.results.targets`.

>>> from insight_bayes.results import load_results
>>> res = load_results("results/sim-countdown-paper")          # doctest: +SKIP
>>> res.kind, res.metric, res.target                            # doctest: +SKIP
('sweep', 'eval/accuracy', 0.6)
>>> res.speedups().head()                                       # doctest: +SKIP
>>> study = load_results("results/rlvr-cpu-study")             # the same calls
>>> study.speedups(measure="rollouts_to_target")                # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from insight_bayes.results.auc import auc_table
from insight_bayes.results.io import MANIFEST_FORMAT
from insight_bayes.results.schema import check_steps
from insight_bayes.results.summary import analysis_summary
from insight_bayes.results.targets import bootstrap_speedups, speedup_curve, steps_to_target

__all__ = ["Results", "load_results", "manifest_horizon", "read_manifest", "read_table"]


@dataclass(frozen=True)
class Results:
    """A results folder's tables, manifest and analysis settings, with summary helpers.

    Attributes
    ----------
    folder : Path
    kind : {"sweep", "study"}
    manifest : dict
    steps : DataFrame
        The tidy steps table (:mod:`insight_bayes.results.schema`), validated.
    choices : DataFrame or None
        Per-choice table, when the runs kept it (always for studies).
    metric, target, baseline
        The held-out metric, its steps-to-target threshold and the reference rule.
    tables : dict
        Any other Parquet table of the folder by name (a study's ``pool``, ``prompts``).
    """

    folder: Path
    kind: str
    manifest: dict[str, Any]
    steps: pd.DataFrame
    choices: pd.DataFrame | None
    metric: str
    target: float
    baseline: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def rules(self) -> list[str]:
        """Rule labels in the steps table, in the manifest's order when it has them."""
        present = list(dict.fromkeys(self.steps["rule"]))
        asked = [r for r in self.manifest.get("rules", []) if r in present]
        return asked + [r for r in present if r not in asked]

    @property
    def seeds(self) -> list[int]:
        return sorted(int(s) for s in self.steps["seed"].unique())

    @property
    def draws(self) -> list[int]:
        """Task draws in the steps table (``[0]`` when it has no ``draw`` column)."""
        if "draw" not in self.steps.columns:
            return [0]
        return sorted(int(d) for d in self.steps["draw"].unique())

    @property
    def plan(self) -> dict[str, Any]:
        """The analysis plan the folder's derived tables were written with (the manifest's
        ``analysis`` entry; :class:`~insight_bayes.results.report.AnalysisPlan`)."""
        return dict(self.manifest.get("analysis", {}))

    def table(self, name: str) -> pd.DataFrame:
        """A saved table of the folder by name: a derived table the report stage wrote
        (``"summary"``, ``"speedup_curve"``, ``"auc"``, ...; ``<name>.csv``) or another
        Parquet table (``"pool"``, ``"prompts"``). Raises ``FileNotFoundError`` naming
        what the folder holds when it has no such table."""
        if name in self.tables:
            return self.tables[name]
        return read_table(self.folder, name)

    def steps_to_target(self, target: float | Sequence[float] | None = None) -> pd.DataFrame:
        """Interpolated, censored steps-to-target per run (default: the folder's target)."""
        return steps_to_target(
            self.steps, self.target if target is None else target, metric=self.metric
        )

    def speedups(
        self,
        *,
        target: float | None = None,
        measure: str = "steps_to_target",
        n_boot: int = 2000,
        rng: Any = 0,
    ) -> pd.DataFrame:
        """Paired bootstrap speed-ups versus the baseline (steps, rollouts or seconds)."""
        return bootstrap_speedups(
            self.steps_to_target(target),
            baseline=self.baseline,
            measure=measure,
            n_boot=n_boot,
            rng=rng,
        )

    def speedup_curve(
        self, targets: Sequence[float], *, measure: str = "steps_to_target", n_boot: int = 2000
    ) -> pd.DataFrame:
        """Speed-ups at several targets (one row per target and rule)."""
        return speedup_curve(
            self.steps,
            targets,
            metric=self.metric,
            baseline=self.baseline,
            measure=measure,
            n_boot=n_boot,
        )

    def auc(self, *, n_boot: int = 2000) -> pd.DataFrame:
        """Learning-curve AUC per rule with bootstrap intervals and its gain over baseline."""
        return auc_table(self.steps, metric=self.metric, baseline=self.baseline, n_boot=n_boot)

    def summary(self, *, n_boot: int = 2000) -> pd.DataFrame:
        """Per-rule summary with speed-ups in steps and in rollouts (``rollout_*``)."""
        return analysis_summary(
            self.steps, self.target, metric=self.metric, baseline=self.baseline, n_boot=n_boot
        )[1]


def _analysis_settings(manifest: dict[str, Any], kind: str) -> tuple[str, float, str]:
    analysis = manifest.get("analysis", {})
    if {"metric", "target", "baseline"} <= set(analysis):
        return analysis["metric"], float(analysis["target"]), analysis["baseline"]
    if kind == "study":  # a study folder written before the results layer
        study = manifest.get("config", {}).get("study", {})
        return (
            study.get("metric", "eval/pass1"),
            float(study.get("target", 0.5)),
            study.get("baseline", "random"),
        )
    scenarios = manifest.get("config", {}).get("scenarios") or manifest.get("scenarios", {})
    target = analysis.get("target")
    if target is None and len(scenarios) == 1:
        target = next(iter(scenarios.values())).get("target_accuracy")
    if target is None:
        raise ValueError("the manifest names no target; pass one to steps_to_target()")
    return "eval/accuracy", float(target), analysis.get("baseline", "random")


def _check_draw_steps(steps: pd.DataFrame) -> pd.DataFrame:
    """:func:`check_steps`, also accepting a multi-draw study's integer ``draw`` column
    (the schema's columns are those of a single run's table)."""
    if "draw" not in steps.columns:
        return check_steps(steps)
    if not pd.api.types.is_integer_dtype(steps["draw"]) or (steps["draw"] < 0).any():
        raise ValueError(f"steps column 'draw' must hold integers >= 0, got {steps['draw'].dtype}")
    check_steps(steps.drop(columns="draw"))
    return steps


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """A results folder's ``manifest.json`` (``{}`` when it has none)."""
    path = Path(folder) / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else {}


def manifest_horizon(manifest: dict[str, Any]) -> int | None:
    """Training steps of a harness study's runs (its config's ``loop.steps``), or ``None``
    when the manifest names none (a sweep's scenarios may differ)."""
    config = manifest.get("config") if isinstance(manifest, dict) else None
    loop = config.get("loop") if isinstance(config, dict) else None
    steps = loop.get("steps") if isinstance(loop, dict) else None
    return steps if isinstance(steps, int) and not isinstance(steps, bool) and steps > 0 else None


def read_table(
    folder: str | os.PathLike[str], name: str, *, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """The table ``name`` of a results folder: ``<name>.parquet`` or ``<name>.csv``.

    The one way the figures, the notebooks and the docs read a saved table of any result
    (sweeps and studies, and the grids, comparisons and tests whose folders hold only
    tables). Raises ``FileNotFoundError`` listing the tables the folder holds.
    """
    folder = Path(folder)
    for suffix, read in ((".parquet", pd.read_parquet), (".csv", pd.read_csv)):
        path = folder / f"{name}{suffix}"
        if path.exists():
            table = read(path)
            return table[list(columns)] if columns is not None else table
    held = sorted(p.stem for p in folder.glob("*") if p.suffix in (".parquet", ".csv"))
    raise FileNotFoundError(
        f"{folder} has no table {name!r} ({name}.parquet or {name}.csv); it holds "
        + (", ".join(held) if held else "no table")
    )


def load_results(folder: str | os.PathLike[str]) -> Results:
    """Read a sweep's or a study's results folder (the same object for both).

    Raises ``FileNotFoundError`` naming the command that makes the folder when it holds
    no ``steps.parquet``.
    """
    folder = Path(folder)
    if not (folder / "steps.parquet").exists():
        raise FileNotFoundError(
            f"{folder} holds no steps.parquet; make it with `insight-bayes sweep SCENARIO "
            f"--out {folder}` or `insight-bayes rlvr-study CONFIG --out {folder}`"
        )
    manifest = read_manifest(folder)
    fmt = manifest.get("format", "")
    if fmt == MANIFEST_FORMAT:
        kind = manifest["kind"]
    else:  # folders written before the results layer
        kind = "sweep" if fmt.startswith("insight-bayes-sweep") else "study"
    steps = _check_draw_steps(pd.read_parquet(folder / "steps.parquet"))
    choices_path = folder / "choices.parquet"
    choices = pd.read_parquet(choices_path) if choices_path.exists() else None
    metric, target, baseline = _analysis_settings(manifest, kind)
    tables = {
        p.stem: pd.read_parquet(p)
        for p in sorted(folder.glob("*.parquet"))
        if p.stem not in ("steps", "choices")
    }
    return Results(folder, kind, manifest, steps, choices, metric, target, baseline, tables)
