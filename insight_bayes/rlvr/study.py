"""Rules x seeds of GRPO from one cached warm-up, through the one runner and results layer.

:func:`run_study` validates nothing itself (a :class:`~insight_bayes.rlvr.config.StudyConfig`
is valid by construction), builds the harness once (task, splits, warm-up:
:mod:`insight_bayes.rlvr.harness`), and hands every (rule, seed) run to
:func:`insight_bayes.results.runner.run_jobs`, in this process, in worker processes or
on Ray (a run asks Ray for a GPU with ``device="cuda"``). Each run is the shared
selection loop with the GRPO environment; its tables follow
:mod:`insight_bayes.results.schema` and are written through the
:class:`~insight_bayes.results.store.ResultStore` as soon as the run finishes, so a
killed study loses no finished run and a re-run resumes. At the end the folder holds,
as a sweep's does (read both with :func:`insight_bayes.results.load_results`):

- ``steps.parquet``, ``choices.parquet``: the tidy tables of every complete run;
- ``prompts.parquet``: choices with predicted information and realised learning
  (:func:`insight_bayes.results.prompt_information`); ``pool.parquet``: the pool's
  prompts, difficulty features and warm-up success rates;
- ``steps_to_target.csv`` and ``summary.csv`` (interpolated steps-to-target, paired
  bootstrap speed-ups in steps and in rollouts); ``manifest.json``.

A config with ``study.draws`` other than ``[0]`` replicates the study over task draws:
draw ``d`` (:meth:`~insight_bayes.rlvr.config.StudyConfig.draw_config`, task and warm-up
seeds raised by ``d``) is an ordinary study in ``OUT/draw-{d}/`` (:func:`run_single_study`),
and :func:`~insight_bayes.rlvr.study_draws.gather_draws` writes the top level: the draws'
steps and choices with a
``draw`` column, and summary, steps-to-target, speed-up curve (targets placed per draw)
and AUC tables with hierarchical (draws, then seeds) bootstrap intervals and the share
of variance between draws.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from insight_bayes.rlvr.config import StudyConfig, load_config
from insight_bayes.rlvr.machine import device_name
from insight_bayes.rlvr.precision import CUDA_MATMUL_PRECISION
from insight_bayes.rlvr.study_draws import (
    check_draws_folder,
    draw_folder,
    gather_draws,
    start_draws_manifest,
)
from insight_bayes.rlvr.study_jobs import (
    block_jobs,
    default_runs_per_process,
    run_block_job,
    run_study_job,
    study_jobs,
)
from insight_bayes.rlvr.study_plan import analysis_plan
from insight_bayes.rlvr.time_budget import TimeBudget, train_within_budget

if TYPE_CHECKING:  # pandas is imported where used: `insight-bayes --help` stays light
    import pandas as pd

    from insight_bayes.results.runner import RunReport
    from insight_bayes.results.store import ResultStore

__all__ = [
    "StudyResult",
    "gather_study",
    "load_config",
    "run_single_study",
    "run_study",
]

log = logging.getLogger(__name__)


@dataclass
class StudyResult:
    """What :func:`run_study` did: the folder, runs trained and resumed, the tables, and the
    draws left as they were because their warm-up could not be re-trained (``skipped``:
    draw -> why)."""

    out: Path
    report: RunReport
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    gate: dict[str, Any] | None = None
    skipped: dict[int, str] = field(default_factory=dict)


class WarmupMismatch(ValueError):
    """A study folder's finished runs started from another warm-up than the one trained
    now (its weights' sha256 differ): a warm-up re-trained where it is not bit-reproducible,
    e.g. on another GPU. Resuming would mix runs of two starting policies."""


def gather(store: ResultStore, config: StudyConfig, keys: list) -> dict[str, pd.DataFrame]:
    """Consolidate the complete runs among ``keys`` and write the study's derived tables."""
    import pandas as pd

    from insight_bayes.acquisition import PAPER_ETA, PAPER_MU
    from insight_bayes.results.prompts import prompt_information
    from insight_bayes.results.report import write_report

    steps, choices = store.consolidate(keys)
    if steps.empty:
        return {}
    tables: dict[str, pd.DataFrame] = {"steps": steps}
    pool_path = store.root / "pool.parquet"
    pool = pd.read_parquet(pool_path) if pool_path.exists() else None
    if choices is not None:
        insight = config.study.rule_params("insight")
        tables["choices"] = choices
        tables["prompts"] = prompt_information(
            choices,
            steps,
            config.loop.k,
            mu=insight.get("mu", PAPER_MU),
            eta=insight.get("eta", PAPER_ETA),
            pool=pool.drop(columns=["prompt"]) if pool is not None else None,
            metric=config.study.metric,
        )
        store.write_table("prompts", tables["prompts"])
    tables.update(write_report(store.root, steps, analysis_plan(config)))
    return tables


def gather_study(config: StudyConfig, out: str | os.PathLike[str]) -> dict[str, pd.DataFrame]:
    """Write a study folder's tables from its finished runs, without training (torch-free).

    For a study stopped before every run finished (a time limit, say): the finished runs
    are consolidated and analysed like a complete study's, and the manifest records how
    many runs of how many it holds. Re-running the study itself resumes the rest. A
    multi-draw study gathers every draw folder that holds finished runs, then the top
    level (:func:`~insight_bayes.rlvr.study_draws.gather_draws`).

    Parameters
    ----------
    config : StudyConfig
        The config the folder was made with (its digest must match the manifest's).
    out : path
        The study folder.

    Returns
    -------
    dict of str to DataFrame
        The tables :func:`run_study` would return for the finished runs.

    Raises
    ------
    ValueError
        The folder has no study manifest, one of another config, or no finished run.
    """
    from insight_bayes.results.io import utc_now
    from insight_bayes.results.store import ResultStore

    if config.multi_draw:
        return _gather_multi_draw(config, out)
    store = ResultStore(out)
    old = store.read_manifest()
    if not old:
        raise ValueError(f"{store.root} holds no study manifest; run the study first")
    if old.get("config_digest") != config.digest():
        raise ValueError(
            f"{store.root} holds a study with a different config (digest "
            f"{old.get('config_digest')} != {config.digest()})"
        )
    keys = [job.key for job in study_jobs(config, "cpu", None)]
    done = [k for k in keys if store.is_complete(k)]
    if not done:
        raise ValueError(f"{store.root} holds no finished run of this study")
    tables = gather(store, config, done)
    status = "complete" if len(done) == len(keys) else "incomplete"
    store.write_manifest(
        old
        | {
            "status": status,
            "runs": {"complete": len(done), "expected": len(keys)},
            "gathered": utc_now(),
        }
    )
    return tables


def run_study(
    config: StudyConfig,
    out: str | os.PathLike[str],
    *,
    device: str = "auto",
    cache_dir: str | os.PathLike[str] | None = None,
    backend: str = "local",
    workers: int = 1,
    threads: int | None = None,
    progress: bool = True,
    skip_gate: bool = False,
    runs_per_process: int | None = None,
    design: dict[str, Any] | None = None,
    budget: TimeBudget | None = None,
    skip_mismatched_draws: bool = False,
    cuda_graphs: bool = False,
) -> StudyResult:
    """Run (or resume) every (rule, seed) of ``config`` into ``out``; gather the tables.

    A single-draw config (``study.draws = [0]``, the default) is
    :func:`run_single_study`. A multi-draw config runs each draw's study, in draw
    order, into ``out/draw-{d}/`` (:func:`~insight_bayes.rlvr.study_draws.draw_folder`;
    each resumable on its own), then
    writes the top level (:func:`~insight_bayes.rlvr.study_draws.gather_draws`); the
    result's ``report`` sums the draws'
    and its ``gate`` holds each draw's. Arguments and errors: :func:`run_single_study`.
    With ``skip_mismatched_draws`` (a multi-draw config), a draw whose finished runs
    started from another warm-up than the one this machine trains
    (:class:`WarmupMismatch`) is left as it is, logged and named in the result's
    ``skipped``, and the next draws run: a device call on a machine that does not
    re-train a draw's warm-up bit for bit still trains the other draws.
    """
    kwargs = {
        "device": device, "cache_dir": cache_dir, "backend": backend, "workers": workers,
        "threads": threads, "progress": progress, "skip_gate": skip_gate,
        "runs_per_process": runs_per_process, "design": design, "budget": budget,
        "cuda_graphs": cuda_graphs,
    }  # fmt: skip
    if not config.multi_draw:
        return run_single_study(config, out, **kwargs)
    from insight_bayes.results.runner import RunReport

    root = check_draws_folder(config, out)
    start_draws_manifest(config, root)  # so that a stopped study is resumed, not refused
    results, skipped = {}, {}
    for draw in config.study.draws:
        if budget is not None and (budget.stopped_early or budget.left() <= 0):
            log.info("time budget spent: draw %d and later are left for the next call", draw)
            budget.stopped_early = True
            break
        folder = draw_folder(root, draw)
        try:
            results[draw] = run_single_study(config.draw_config(draw), folder, **kwargs)
        except WarmupMismatch as err:
            if not skip_mismatched_draws:
                raise
            log.error("draw %d left as it is: %s", draw, err)
            skipped[draw] = str(err)
    if budget is not None and not any(r.tables for r in results.values()):
        tables = {}  # the budget left no finished run in any draw: nothing to gather yet
    else:
        tables = gather_draws(config, root)
    report = RunReport(
        trained=[k for r in results.values() for k in r.report.trained],
        resumed=[k for r in results.values() for k in r.report.resumed],
        seconds=sum(r.report.seconds for r in results.values()),
    )
    gates = {str(d): r.gate for d, r in results.items()}
    summary = "\n".join(f"draw {d}: {(g or {}).get('summary', '')}" for d, g in gates.items())
    return StudyResult(
        out=root, report=report, tables=tables, gate={"draws": gates, "summary": summary},
        skipped=skipped,
    )  # fmt: skip


def run_single_study(
    config: StudyConfig,
    out: str | os.PathLike[str],
    *,
    device: str = "auto",
    cache_dir: str | os.PathLike[str] | None = None,
    backend: str = "local",
    workers: int = 1,
    threads: int | None = None,
    progress: bool = True,
    skip_gate: bool = False,
    runs_per_process: int | None = None,
    design: dict[str, Any] | None = None,
    budget: TimeBudget | None = None,
    cuda_graphs: bool = False,
) -> StudyResult:
    """Run (or resume) every (rule, seed) of one task draw into ``out``; gather its tables.

    ``study.draws`` is not read: ``config`` is run on its own task and warm-up seeds
    (one draw of a multi-draw study is :meth:`StudyConfig.draw_config`).

    Parameters
    ----------
    config : StudyConfig
    out : path
        Results folder (resumed when it holds runs of the same config digest; a folder
        of another config, or the top level of a multi-draw study, is refused).
    device : {"auto", "cpu", "cuda"}
    cache_dir : path, optional
        Warm-up cache (default ``.cache/insight-bayes``), shared by all workers.
    backend, workers : see :func:`insight_bayes.results.runner.run_jobs`
        ``workers`` local processes or Ray CPUs; each run asks Ray for one CPU, and for
        one GPU when the device is ``cuda``.
    threads : int, optional
        torch CPU threads in each run's process.
    progress : bool
        One progress bar over runs.
    skip_gate : bool
        Train even when the pool gate fails (:mod:`insight_bayes.rlvr.gate`; it is
        measured and recorded in the manifest either way).
    runs_per_process : int, optional
        Runs trained together in one process (:mod:`insight_bayes.rlvr.batched`; a Ray
        task or a worker trains one block); 1 trains one run at a time (the reference
        path). Default :func:`~insight_bayes.rlvr.study_jobs.default_runs_per_process`.
    design : dict, optional
        The record of the design checks that fixed this config
        (:func:`insight_bayes.rlvr.design.run_design`), written into the manifest.
    budget : TimeBudget, optional
        Start only the runs expected to finish before its deadline
        (:meth:`~insight_bayes.rlvr.time_budget.TimeBudget.plan`, which also sizes the
        blocks); the others wait for the next call (``budget.stopped_early`` says so).
    cuda_graphs : bool
        Blocks generate with CUDA graphs (:mod:`insight_bayes.rlvr.block_graphs`); each
        run's marker and each budgeted call's record say whether they did.

    Raises
    ------
    GateFailed
        The pool is outside ``config.gate``'s band (and ``gate.enforce`` is on).
    ValueError
        A warm-up trained until its check passes (``warmup.check_every``) never passed
        it (unless ``skip_gate``).
    WarmupMismatch
        ``out`` holds runs that started from another warm-up than the one trained now.
    """
    from insight_bayes.results.io import build_manifest, utc_now
    from insight_bayes.results.runner import run_jobs
    from insight_bayes.results.store import ResultStore
    from insight_bayes.rlvr.gate import GateFailed, gate_pool
    from insight_bayes.rlvr.harness import harness_for, pool_table, resolve_device
    from insight_bayes.rlvr.sft import default_cache_dir

    device = resolve_device(device)
    store = ResultStore(out)
    old = store.read_manifest()
    if old and old.get("config_digest") != config.digest():
        raise ValueError(
            f"{store.root} holds a study with a different config (digest "
            f"{old.get('config_digest')} != {config.digest()}); use another --out"
        )
    if old.get("draws") is not None:
        raise ValueError(f"{store.root} is the top level of a multi-draw study; use another --out")
    here = device_name(device)
    if old.get("device_name") and old["device_name"] != here:
        log.warning(
            "%s was trained on %s and is resumed on %s: float results differ between "
            "devices and CPU kernel sets, so the new runs are not bit-identical to what the "
            "first machine would have trained (the study stays valid as a whole; see the "
            "harness page)",
            store.root, old["device_name"], here,
        )  # fmt: skip
    cache = str(Path(cache_dir if cache_dir is not None else default_cache_dir()).resolve())
    # the warm-up is trained (or loaded) here, once, before any worker needs it; one
    # trained until its check passed is re-trained to the step the first call recorded,
    # without the checks (its sha256 is compared just below)
    prior = old.get("warmup") or {}
    replay = (
        {prior["key"]: int(prior["steps_trained"])}
        if prior.get("reached") and prior.get("key") and prior.get("steps_trained")
        else None
    )
    harness = harness_for(config, device, cache, progress, replay=replay)
    before = (old.get("warmup") or {}).get("sha256")
    if before and before != harness.warmup_info.get("sha256"):
        raise WarmupMismatch(
            f"{store.root} holds runs that started from another warm-up (weights sha256 "
            f"{before[:12]}..., now {harness.warmup_info['sha256'][:12]}...: a warm-up "
            "re-trained where it is not bit-reproducible, e.g. on another GPU); bring the "
            "first warm-up's checkpoint (--cache-dir) or use another --out"
        )
    if harness.warmup_info.get("reached") is False and not skip_gate:
        raise ValueError(
            f"the warm-up did not pass its check within warmup.steps={config.warmup.steps} "
            f"(measured every warmup.check_every={config.warmup.check_every} steps; the "
            "[design] tiers and the [gate] band): this task draw has no warm-up of the "
            "design (or pass --skip-gate to run anyway)"
        )
    if not (store.root / "pool.parquet").exists():
        store.write_table("pool", pool_table(harness, config.study.pool_rate_samples))
    gate = old.get("gate")
    if gate is None:  # measured once per study folder, before any RL step
        import numpy as np

        measured = gate_pool(
            harness.environment(), config.loop.k, config.gate, np.random.default_rng(54321)
        )
        gate = measured.to_dict() | {"summary": measured.summary()}
        log.info("%s", measured.summary())
        if not measured.passed and config.gate.enforce and not skip_gate:
            raise GateFailed(measured)

    study = config.study
    jobs = study_jobs(config, device, cache, threads, cuda_graphs)
    keys = [job.key for job in jobs]
    if runs_per_process is None:
        runs_per_process = default_runs_per_process(device, len(jobs), workers)
    if config.model.path is not None:
        runs_per_process = 1  # a Hugging Face model is trained one run at a time
    if cuda_graphs and runs_per_process == 1:
        log.warning("cuda_graphs applies to blocks of runs: one run at a time trains without")

    # one record per call that trained under a time budget (earlier calls' kept)
    earlier = list(old.get("time_budget", []))
    budgeted = budget is not None and not all(store.is_complete(k) for k in keys)
    since = budget.mark() if budget is not None else (0, 0)  # this draw's blocks only

    def budget_calls() -> dict[str, Any]:
        this = [budget.record(since) | {"cuda_graphs": cuda_graphs}] if budgeted else []
        calls = earlier + this
        return {"time_budget": calls} if calls else {}

    def manifest(status: str) -> dict[str, Any]:
        complete = sum(store.is_complete(k) for k in keys)
        return build_manifest(
            "study",
            config.raw,
            rules=list(study.rules),
            seeds=list(study.seeds),
            analysis=analysis_plan(config).record(),
            previous=store.read_manifest() or old,  # keeps the first write's "created"
            torch=True,
            key=config.key,
            config_digest=config.digest(),
            device=device,
            device_name=here,
            backend=backend,
            workers=workers,
            runs_per_process=runs_per_process,
            **({"design": design} if design else {}),
            **(
                {"matmul_precision": CUDA_MATMUL_PRECISION}
                if device == "cuda" and runs_per_process > 1
                else {}
            ),
            warmup=harness.warmup_info,
            parameters=harness.parameters,
            **budget_calls(),
            gate=gate,
            status=status,
            runs={"complete": complete, "expected": len(keys)},
            **({"finished": utc_now()} if status == "complete" else {}),
        )

    store.write_manifest(manifest("running"))
    batched = runs_per_process > 1

    def train(part: list, size: int) -> RunReport:
        return run_jobs(
            block_jobs(part, store, size) if batched else part,
            run_block_job if batched else run_study_job,
            store,
            backend=backend,
            workers=workers,
            progress=progress,
            desc="rlvr-study",
        )

    if budget is None:
        report = train(jobs, runs_per_process)
    else:
        report = train_within_budget(
            budget, jobs, store, train, config, block=runs_per_process, workers=workers
        )
    tables = gather(store, config, keys)
    done = all(store.is_complete(k) for k in keys)
    store.write_manifest(manifest("complete" if done else "incomplete"))
    return StudyResult(out=store.root, report=report, tables=tables, gate=gate)


def _gather_multi_draw(config: StudyConfig, out: str | os.PathLike[str]) -> dict[str, pd.DataFrame]:
    """gather-only of a multi-draw study: each draw folder with finished runs, then the top."""
    root = check_draws_folder(config, out)
    gathered = []
    for draw in config.study.draws:
        folder = draw_folder(root, draw)
        if not (folder / "manifest.json").exists():
            continue  # not started: gather_draws says so
        try:
            gather_study(config.draw_config(draw), folder)
        except ValueError as err:
            if "no finished run" not in str(err):
                raise
            if not (folder / "steps.parquet").exists():
                log.warning("draw %d: %s", draw, err)
                continue
            # a committed draw: its runs are not kept, its gathered tables are
            log.info("draw %d: no runs, its gathered tables are read as they are", draw)
        gathered.append(draw)
    if not gathered:
        raise ValueError(f"{root} holds no finished run of any draw of this study")
    return gather_draws(config, root)
