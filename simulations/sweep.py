"""Sweeps: the grid scenarios x rules x seeds, on a local process pool or on Ray.

Every run is a :class:`insight_bayes.loop.SelectionLoop` over a scenario's environment.
Its random streams depend only on ``(scenario, rule, seed)``:

* the pool (difficulties, rates) on ``derive_seed(scenario, "pool", seed)``, the same for
  every rule (a paired design);
* the loop (selection and environment streams) on ``derive_seed(scenario, rule, seed)``.

So a run gives the same tables whichever backend or number of workers ran it (timing
columns ``*_seconds`` aside). Runs go through the one runner
(:func:`insight_bayes.results.runner.run_jobs`) into a
:class:`~insight_bayes.results.store.ResultStore`; re-running a sweep only runs what is
missing. A folder holds one configuration: a call with other scenarios, rules or seeds is
refused unless it asks to ``extend`` the folder or to ``overwrite`` it
(:func:`insight_bayes.results.folders.claim_folder`).

>>> from simulations.sweep import run_sweep
>>> result = run_sweep("quick", ["random", "insight"], seeds=2, out="/tmp/quick",
...                    workers=1, progress=False)                      # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from insight_bayes.loop import SelectionLoop
from insight_bayes.results.folders import claim_folder
from insight_bayes.results.io import build_manifest, plain
from insight_bayes.results.runner import Job, RunReport, run_jobs
from insight_bayes.results.schema import RunTables
from insight_bayes.results.store import ResultStore, RunKey
from insight_bayes.selectors import PAPER_RULES, REFERENCE_RULES, selector_from_label
from insight_bayes.validation import check_int
from simulations.scenarios import Scenario, derive_seed, get_scenario

__all__ = [
    "PAPER_RULES",
    "REFERENCE_RULES",
    "RunSpec",
    "SweepResult",
    "claim_sweep_folder",
    "run_one",
    "run_sweep",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunSpec:
    """One run: a scenario, a rule label and a seed (and whether to keep choices)."""

    scenario: Scenario
    rule: str
    seed: int
    choices: bool = False

    @property
    def key(self) -> RunKey:
        return RunKey(self.scenario.key, self.rule, self.seed)

    @property
    def loop_seed(self) -> int:
        return derive_seed(self.scenario.key, self.rule, self.seed)


def run_one(spec: RunSpec) -> tuple[pd.DataFrame, pd.DataFrame | None, dict[str, Any]]:
    """Run one simulation; return ``(steps, choices or None, info)``.

    The tables follow :mod:`insight_bayes.results.schema` (built by its
    :class:`~insight_bayes.results.schema.RunTables`): ``seed`` is the sweep seed and
    ``run_seed`` the derived loop seed; ``info/expected_gain`` and ``info/entropy_drop``
    are the predicted and realised information of the chosen prompts (nats).
    """
    scenario = spec.scenario
    env = scenario.build_env(spec.seed)
    rule = selector_from_label(spec.rule)
    loop = SelectionLoop(
        env,
        rule,
        scenario.loop,
        belief=scenario.new_belief(rule),
        seed=spec.loop_seed,
        rule=spec.rule,
    )
    tables = RunTables(
        scenario.key,
        seed=spec.seed,
        run_seed=spec.loop_seed,
        k=scenario.loop.k,
        keep_choices=spec.choices,
    )
    for record in loop.iter_steps():
        tables.add(record, loop.belief)
    steps, choices = tables.frames()
    return steps, choices, {"run_seed": str(spec.loop_seed)}


@dataclass
class SweepResult:
    """What :func:`run_sweep` did: folder, runs trained now and resumed, consolidated steps."""

    out: Path
    report: RunReport
    steps: pd.DataFrame
    seconds: float

    @property
    def ran(self) -> list[RunKey]:
        """Runs simulated by this call."""
        return self.report.trained

    @property
    def skipped(self) -> list[RunKey]:
        """Runs already complete in the folder (resumed)."""
        return self.report.resumed


def _identity(manifest: dict[str, Any]) -> dict[str, Any]:
    """A sweep folder's configuration as its manifest records it."""
    config = manifest.get("config", {})
    return {
        "kind": manifest.get("kind"),
        "scenarios": (config.get("scenarios") if isinstance(config, dict) else None)
        or manifest.get("scenarios", {}),
        "rules": manifest.get("rules"),
        "seeds": manifest.get("seeds"),
    }


def claim_sweep_folder(
    root: str | Path,
    scenarios: Sequence[Scenario],
    rules: Sequence[str] | None,
    seeds: Sequence[int],
    *,
    overwrite: bool = False,
    extend: bool = False,
    extendable: bool = True,
) -> None:
    """Refuse a folder holding another sweep configuration (other scenarios, scenario
    settings, rules or seeds), unless ``extend`` or ``overwrite`` allow it (see
    :func:`insight_bayes.results.folders.claim_folder`). ``rules=None``: the rules are
    not compared (a plan whose scenarios each run their own rules); ``extendable=False``:
    the message offers no ``--extend`` (a command without it)."""
    wanted: dict[str, Any] = {
        "kind": "sweep",
        "scenarios": {s.key: plain(s.to_dict()) for s in scenarios},
        "seeds": list(seeds),
    }
    if rules is not None:
        wanted["rules"] = list(rules)
    claim_folder(
        Path(root),
        wanted,
        _identity,
        overwrite=overwrite,
        extend=extend,
        extendable=("scenarios", "rules", "seeds") if extendable else (),
        resume_hint="re-run the command that made it (its manifest.json lists the scenario, "
        "rules and seeds)",
    )


def _manifest(
    scenarios: Sequence[Scenario],
    rules: Sequence[str],
    seeds: Sequence[int],
    backend: str,
    workers: int,
    store: ResultStore,
    complete: int,
    expected: int,
) -> dict[str, Any]:
    old = store.read_manifest()
    known = old.get("config", {}).get("scenarios") or old.get("scenarios", {})
    known = {**known, **{s.key: plain(s.to_dict()) for s in scenarios}}
    # an extended folder records every rule and seed it holds; otherwise they are equal
    rules = list(dict.fromkeys([*old.get("rules", []), *rules]))
    seeds = sorted({*old.get("seeds", []), *seeds})
    analysis = {
        "metric": "eval/accuracy",
        "target": scenarios[0].target_accuracy,
        "baseline": "random",
        **old.get("analysis", {}),
    }
    return build_manifest(
        "sweep",
        {"scenarios": known},
        rules=list(rules),
        seeds=list(seeds),
        analysis=analysis,
        previous=old,
        seed_derivation="pool: derive_seed(scenario_key, 'pool', seed); "
        "loop: derive_seed(scenario_key, rule, seed) (SHA-256, simulations.scenarios)",
        backend=backend,
        workers=workers,
        runs={"complete": complete, "expected": expected},
    )


def run_sweep(
    scenarios: str | Scenario | Iterable[str | Scenario],
    rules: Iterable[str] = PAPER_RULES,
    seeds: int | Iterable[int] = 10,
    out: str | Path = "results/sweep",
    *,
    backend: str = "local",
    workers: int | None = None,
    choices: bool = False,
    progress: bool = True,
    start_method: str = "forkserver",
    overwrite: bool = False,
    extend: bool = False,
) -> SweepResult:
    """Run every (scenario, rule, seed) that ``out`` does not hold yet.

    Parameters
    ----------
    scenarios : name, Scenario or iterable of them
        Registered names (see :func:`simulations.scenarios.available_scenarios`).
    rules : iterable of str
        Rule labels, ``"name"`` or ``"name:param=value,..."`` (default: the paper's nine).
    seeds : int or iterable of int
        ``N`` means seeds ``0 .. N-1``.
    out : path
        Results folder (see :mod:`insight_bayes.results.store`); resumed if it exists.
    backend : {"local", "ray"}
        Local process pool, or Ray (uses a running Ray instance if one is initialised,
        else starts a local one with ``workers`` CPUs and stops it afterwards).
    workers : int, optional
        Parallel workers (default: the CPU count); ``1`` with ``"local"`` runs in-process.
    choices : bool
        Also store the per-choice table of every run.
    progress : bool
        Show one progress bar over runs.
    start_method : {"forkserver", "spawn"}
        Start method of the local pool (never ``fork``: unsafe with threads and numba).
    overwrite : bool
        When ``out`` holds results of another configuration (other scenarios, scenario
        settings, rules or seeds), delete them first instead of refusing.
    extend : bool
        Add these scenarios, rules and seeds to the folder's runs (its other runs stay;
        a scenario key whose settings changed is still refused). ``out``'s tables then
        hold this call's runs; its manifest lists all.

    Raises
    ------
    insight_bayes.results.folders.FolderInUse
        ``out`` holds results of another configuration and neither flag allows it.

    Returns
    -------
    SweepResult
    """
    started = time.perf_counter()
    if isinstance(scenarios, str | Scenario):
        scenarios = [scenarios]
    scenario_list = [get_scenario(s) for s in scenarios]
    rule_list = list(rules)
    if not rule_list:
        raise ValueError("rules must name at least one rule")
    for label in rule_list:
        selector_from_label(label)  # fail fast on a bad name or parameter
    seed_list = (
        list(range(check_int(seeds, "seeds", min_value=1)))
        if isinstance(seeds, int | np.integer)
        else [check_int(s, "seed", min_value=0) for s in seeds]
    )
    if backend not in ("local", "ray"):
        raise ValueError(f"backend must be 'local' or 'ray', got {backend!r}")
    workers = check_int(workers or os.cpu_count() or 1, "workers", min_value=1)

    claim_sweep_folder(
        out,
        scenario_list,
        rule_list,
        seed_list,
        overwrite=overwrite,
        extend=extend,
    )
    store = ResultStore(out)
    specs = [
        RunSpec(s, r, seed, choices) for s in scenario_list for r in rule_list for seed in seed_list
    ]
    jobs = [Job(spec.key, spec) for spec in specs]
    complete = sum(store.is_complete(job.key) for job in jobs)
    store.write_manifest(
        _manifest(scenario_list, rule_list, seed_list, backend, workers, store, complete, len(jobs))
    )
    report = run_jobs(
        jobs,
        run_one,
        store,
        backend=backend,
        workers=workers,
        start_method=start_method,
        progress=progress,
        desc="sweep",
    )
    steps, _ = store.consolidate(job.key for job in jobs)
    store.write_manifest(
        _manifest(
            scenario_list,
            rule_list,
            seed_list,
            backend,
            workers,
            store,
            len(store.completed()),
            len(jobs),
        )
    )
    return SweepResult(
        out=store.root, report=report, steps=steps, seconds=time.perf_counter() - started
    )
