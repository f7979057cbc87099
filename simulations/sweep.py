"""Sweeps: the grid scenarios x rules x seeds, on a local process pool or on Ray.

Every run is a :class:`insight_bayes.loop.SelectionLoop` over a scenario's environment.
Its random streams depend only on ``(scenario, rule, seed)``:

* the pool (difficulties, rates) on ``derive_seed(scenario, "pool", seed)``, the same for
  every rule (a paired design);
* the loop (selection and environment streams) on ``derive_seed(scenario, rule, seed)``.

So a run gives the same tables whichever backend or number of workers ran it (timing
columns ``*_seconds`` aside). Results go to a :class:`~simulations.store.ResultStore`;
re-running a sweep only runs what is missing.

>>> from simulations.sweep import run_sweep
>>> result = run_sweep("quick", ["random", "insight"], seeds=2, out="/tmp/quick",
...                    workers=1, progress=False)                      # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import multiprocessing
import os
import platform
import subprocess
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from insight_bayes.beta import beta_entropy, mutual_information
from insight_bayes.loop import SelectionLoop
from insight_bayes.selectors import PAPER_RULES, selector_from_label
from insight_bayes.validation import check_int
from simulations.scenarios import Scenario, derive_seed, get_scenario
from simulations.store import ResultStore, RunKey

__all__ = [
    "PAPER_RULES",
    "RunSpec",
    "SweepResult",
    "run_one",
    "run_sweep",
]

log = logging.getLogger(__name__)


TIMING_COLUMNS = ("selection_seconds", "step_seconds")


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

    Besides the loop's own columns, ``steps`` gets the scenario key, the sweep seed
    (``seed``; the derived loop seed is ``run_seed``) and two information columns:
    ``info/expected_gain`` (sum over chosen prompts of ``I_K(alpha, beta)`` before the
    update, nats; Eq. 13) and ``info/entropy_drop`` (sum of the realised decrease of
    the Beta entropy ``H(before) - H(after)``, nats; Eq. 11).
    """
    started = time.perf_counter()
    scenario = spec.scenario
    env = scenario.build_env(spec.seed)
    loop = SelectionLoop(
        env,
        selector_from_label(spec.rule),
        scenario.loop,
        belief=scenario.new_belief(),
        seed=spec.loop_seed,
        rule=spec.rule,
    )
    k = scenario.loop.k
    rows: list[dict[str, Any]] = []
    choice_parts: list[dict[str, np.ndarray]] = []
    for record in loop.iter_steps():
        row = record.summary()
        if record.ids.size:
            a0, b0 = record.alpha_before, record.beta_before
            a1, b1 = loop.belief.alpha[record.ids], loop.belief.beta[record.ids]
            row["info/expected_gain"] = float(np.sum(mutual_information(a0, b0, k)))
            row["info/entropy_drop"] = float(np.sum(beta_entropy(a0, b0) - beta_entropy(a1, b1)))
            if spec.choices:
                choice_parts.append(
                    {
                        "step": np.full(record.ids.size, record.step),
                        "prompt_id": record.ids,
                        "rank": np.arange(record.ids.size),
                        "alpha": a0,
                        "beta": b0,
                        "score": record.scores,
                        "successes": record.successes,
                        "trials": record.trials,
                    }
                )
        rows.append(row)
    steps = pd.DataFrame(rows)
    steps.insert(0, "scenario", scenario.key)
    steps["seed"] = spec.seed
    steps["run_seed"] = str(spec.loop_seed)
    choices = None
    if spec.choices:
        cols = {n: np.concatenate([p[n] for p in choice_parts]) for n in choice_parts[0]}
        choices = pd.DataFrame(cols)
        choices.insert(0, "seed", spec.seed)
        choices.insert(0, "rule", spec.rule)
        choices.insert(0, "scenario", scenario.key)
    info = {"wall_seconds": time.perf_counter() - started, "run_seed": str(spec.loop_seed)}
    return steps, choices, info


def _run_payload(spec: RunSpec) -> tuple[RunKey, pd.DataFrame, pd.DataFrame | None, dict]:
    steps, choices, info = run_one(spec)
    return spec.key, steps, choices, info


@dataclass
class SweepResult:
    """What :func:`run_sweep` did: folder, runs done now and skipped, consolidated steps."""

    out: Path
    ran: list[RunKey]
    skipped: list[RunKey]
    steps: pd.DataFrame
    seconds: float


def _git_revision() -> str | None:
    here = Path(__file__).resolve().parent
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


def _plain(obj: Any) -> Any:
    """``obj`` as it reads back from JSON (for comparing configurations)."""
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def _check_same_configuration(store: ResultStore, scenarios: Sequence[Scenario]) -> None:
    """Refuse to mix runs of two configurations that share a scenario key."""
    stored = store.read_manifest().get("scenarios", {})
    for s in scenarios:
        if s.key in stored and stored[s.key] != _plain(s.to_dict()):
            raise ValueError(
                f"{store.root} holds runs of scenario {s.key} with a different configuration; "
                "bump the scenario's version or use another results folder"
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
    from insight_bayes import __version__

    old = store.read_manifest()
    now = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    known = {**old.get("scenarios", {}), **{s.key: _plain(s.to_dict()) for s in scenarios}}
    return {
        "format": "insight-bayes-sweep/1",
        "created": old.get("created", now),
        "updated": now,
        "package_version": __version__,
        "git_revision": _git_revision(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scenarios": known,
        "rules": list(rules),
        "seeds": list(seeds),
        "seed_derivation": "pool: derive_seed(scenario_key, 'pool', seed); "
        "loop: derive_seed(scenario_key, rule, seed) (SHA-256, simulations.scenarios)",
        "backend": backend,
        "workers": workers,
        "runs": {"complete": complete, "expected": expected},
    }


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
        Results folder (see :mod:`simulations.store`); resumed if it exists.
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
    if start_method not in ("forkserver", "spawn"):
        raise ValueError(f"start_method must be 'forkserver' or 'spawn', got {start_method!r}")
    workers = check_int(workers or os.cpu_count() or 1, "workers", min_value=1)

    store = ResultStore(out)
    _check_same_configuration(store, scenario_list)
    specs = [
        RunSpec(s, r, seed, choices) for s in scenario_list for r in rule_list for seed in seed_list
    ]
    keys = [spec.key for spec in specs]
    todo = [spec for spec in specs if not store.is_complete(spec.key)]
    skipped = [spec.key for spec in specs if spec not in todo]
    store.write_manifest(
        _manifest(
            scenario_list, rule_list, seed_list, backend, workers, store, len(skipped), len(specs)
        )
    )
    log.info("sweep: %d runs, %d already complete, %d to run", len(specs), len(skipped), len(todo))
    ran: list[RunKey] = []
    bar = tqdm(total=len(specs), initial=len(skipped), desc="sweep", disable=not progress)

    def _store(result: tuple[RunKey, pd.DataFrame, pd.DataFrame | None, dict]) -> None:
        key, steps, choice_df, info = result
        store.write_run(key, steps, choice_df, meta=info)
        ran.append(key)
        bar.update(1)

    try:
        if not todo:
            pass
        elif backend == "ray":
            _run_ray(todo, workers, _store)
        elif workers == 1 or len(todo) == 1:
            for spec in todo:
                _store(_run_payload(spec))
        else:
            ctx = multiprocessing.get_context(start_method)
            with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=ctx) as pool:
                futures = [pool.submit(_run_payload, spec) for spec in todo]
                for future in as_completed(futures):
                    _store(future.result())
    finally:
        bar.close()
    steps = store.load_steps(keys)
    if not steps.empty:
        steps = steps.sort_values(["scenario", "rule", "seed", "step"], kind="stable")
        steps = steps.reset_index(drop=True)
        store.write_table("steps", steps)
    store.write_manifest(
        _manifest(
            scenario_list,
            rule_list,
            seed_list,
            backend,
            workers,
            store,
            len(store.completed()),
            len(specs),
        )
    )
    return SweepResult(
        out=store.root,
        ran=ran,
        skipped=skipped,
        steps=steps,
        seconds=time.perf_counter() - started,
    )


def _run_ray(todo: list[RunSpec], workers: int, store_fn: Any) -> None:
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("backend='ray' needs Ray: pip install 'insight-bayes[ray]'") from exc
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        remote = ray.remote(num_cpus=1)(_run_payload)
        pending = [remote.remote(spec) for spec in todo]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                store_fn(ray.get(ref))
    finally:
        if started_here:
            ray.shutdown()
