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
"""

from __future__ import annotations

import logging
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from insight_bayes.rlvr.config import StudyConfig, load_config

if TYPE_CHECKING:  # pandas is imported where used: `insight-bayes --help` stays light
    import pandas as pd

    from insight_bayes.results.runner import RunReport
    from insight_bayes.results.store import ResultStore

__all__ = [
    "StudyJob",
    "StudyResult",
    "load_config",
    "run_study",
    "run_study_job",
    "study_jobs",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StudyJob:
    """What a worker needs to run one (rule, seed) of a study (picklable)."""

    config: StudyConfig
    rule: str
    seed: int
    device: str
    cache_dir: str | None
    threads: int | None = None


def run_study_job(job: StudyJob) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Run one (rule, seed): the selection loop with a GRPO environment on a fresh policy."""
    from insight_bayes.loop import SelectionLoop
    from insight_bayes.results.schema import RunTables
    from insight_bayes.rlvr.harness import harness_for
    from insight_bayes.selectors import selector_from_label

    if job.threads:
        import torch

        torch.set_num_threads(job.threads)
    config = job.config
    harness = harness_for(config, job.device, job.cache_dir)
    loop = SelectionLoop(
        harness.environment(),
        selector_from_label(job.rule),
        config.loop,
        seed=job.seed,
        rule=job.rule,
    )
    tables = RunTables(
        config.key, seed=job.seed, run_seed=job.seed, k=config.loop.k, keep_choices=True
    )
    for record in loop.iter_steps():
        tables.add(record, loop.belief)
    steps, choices = tables.frames()
    return steps, choices, {"device": job.device}


@dataclass
class StudyResult:
    """What :func:`run_study` did: the folder, runs trained and resumed, the tables."""

    out: Path
    report: RunReport
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    gate: dict[str, Any] | None = None


def study_jobs(
    config: StudyConfig, device: str, cache_dir: str | None, threads: int | None = None
) -> list:
    """The study's runs as :class:`~insight_bayes.results.runner.Job` s, seed-major (a
    study stopped early has every rule at the first seeds). Each asks for one CPU, and
    one GPU when ``device`` is ``cuda`` (what a Ray cluster schedules on)."""
    from insight_bayes.results.runner import Job
    from insight_bayes.results.store import RunKey

    resources: dict[str, float] = {"num_cpus": 1} | ({"num_gpus": 1} if device == "cuda" else {})
    return [
        Job(
            RunKey(config.key, rule, seed),
            StudyJob(config, rule, seed, device, cache_dir, threads),
            resources,
        )
        for seed in config.study.seeds
        for rule in config.study.rules
    ]


def _device_name(device: str) -> str:
    import torch

    if device == "cuda":
        return torch.cuda.get_device_name(0)
    return platform.processor() or platform.machine()


def gather(store: ResultStore, config: StudyConfig, keys: list) -> dict[str, pd.DataFrame]:
    """Consolidate the complete runs among ``keys`` and write the study's derived tables."""
    import pandas as pd

    from insight_bayes.results.io import atomic_write_bytes
    from insight_bayes.results.prompts import prompt_information
    from insight_bayes.results.targets import analysis_summary

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
            mu=insight.get("mu", 0.3),
            eta=insight.get("eta", 3.0),
            pool=pool.drop(columns=["prompt"]) if pool is not None else None,
            metric=config.study.metric,
        )
        store.write_table("prompts", tables["prompts"])
    study = config.study
    if study.metric in steps and study.baseline in set(steps["rule"]):
        stt, summary = analysis_summary(
            steps, study.target, metric=study.metric, baseline=study.baseline
        )
        tables["steps_to_target"], tables["summary"] = stt, summary
        names = ["steps_to_target", "summary"]
        if study.target_fractions:
            from insight_bayes.results.targets import auc_table, relative_targets, speedup_curve

            try:
                targets = relative_targets(
                    steps, study.target_fractions, metric=study.metric, baseline=study.baseline
                )
            except ValueError as err:  # e.g. the baseline has not improved yet
                log.warning("no relative targets: %s", err)
            else:
                curve = speedup_curve(steps, targets, metric=study.metric, baseline=study.baseline)
                curve.insert(
                    curve.columns.get_loc("target") + 1,
                    "fraction",
                    curve["target"].map(dict(zip(targets, study.target_fractions, strict=True))),
                )
                per_rollout = speedup_curve(
                    steps, targets, metric=study.metric, baseline=study.baseline,
                    measure="rollouts_to_target",
                )  # fmt: skip
                curve["rollout_speedup"] = per_rollout["speedup"].to_numpy()
                curve["rollout_ci_low"] = per_rollout["ci_low"].to_numpy()
                curve["rollout_ci_high"] = per_rollout["ci_high"].to_numpy()
                tables["speedup_curve"] = curve
                names.append("speedup_curve")
            # the area under the learning curve needs no target (and is the one measure left
            # when the baseline does not improve)
            tables["auc"] = auc_table(steps, metric=study.metric, baseline=study.baseline)
            names.append("auc")
        for name in names:
            atomic_write_bytes(
                store.root / f"{name}.csv", tables[name].to_csv(index=False).encode()
            )
    return tables


def gather_study(config: StudyConfig, out: str | os.PathLike[str]) -> dict[str, pd.DataFrame]:
    """Write a study folder's tables from its finished runs, without training (torch-free).

    For a study stopped before every run finished (a time limit, say): the finished runs
    are consolidated and analysed like a complete study's, and the manifest records how
    many runs of how many it holds. Re-running the study itself resumes the rest.

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
) -> StudyResult:
    """Run (or resume) every (rule, seed) of ``config`` into ``out``; gather the tables.

    Parameters
    ----------
    config : StudyConfig
    out : path
        Results folder (resumed when it holds runs of the same config digest; a folder
        of another config is refused).
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

    Raises
    ------
    GateFailed
        The pool is outside ``config.gate``'s band (and ``gate.enforce`` is on).
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
    cache = str(Path(cache_dir if cache_dir is not None else default_cache_dir()).resolve())
    # the warm-up is trained (or loaded) here, once, before any worker needs it
    harness = harness_for(config, device, cache, progress)
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
    jobs = study_jobs(config, device, cache, threads)
    keys = [job.key for job in jobs]

    def manifest(status: str) -> dict[str, Any]:
        complete = sum(store.is_complete(k) for k in keys)
        return build_manifest(
            "study",
            config.raw,
            rules=list(study.rules),
            seeds=list(study.seeds),
            analysis={"metric": study.metric, "target": study.target, "baseline": study.baseline},
            previous=old,
            torch=True,
            key=config.key,
            config_digest=config.digest(),
            device=device,
            device_name=_device_name(device),
            backend=backend,
            workers=workers,
            warmup=harness.warmup_info,
            parameters=harness.parameters,
            gate=gate,
            status=status,
            runs={"complete": complete, "expected": len(keys)},
            **({"finished": utc_now()} if status == "complete" else {}),
        )

    store.write_manifest(manifest("running"))
    report = run_jobs(
        jobs,
        run_study_job,
        store,
        backend=backend,
        workers=workers,
        progress=progress,
        desc="rlvr-study",
    )
    tables = gather(store, config, keys)
    done = all(store.is_complete(k) for k in keys)
    store.write_manifest(manifest("complete" if done else "incomplete"))
    return StudyResult(out=store.root, report=report, tables=tables, gate=gate)
