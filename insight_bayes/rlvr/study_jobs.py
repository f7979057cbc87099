"""The jobs of a harness study: one (rule, seed) run, or a block of runs trained together.

:func:`study_jobs` turns a study into :class:`~insight_bayes.results.runner.Job` s;
:func:`block_jobs` groups them into blocks of :func:`default_runs_per_process` runs;
:func:`run_study_job` and :func:`run_block_job` are what a worker process (or a Ray task)
executes. The study itself (folders, resume, gathering) is :mod:`insight_bayes.rlvr.study`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from insight_bayes.rlvr.config import StudyConfig
from insight_bayes.validation import check_int

if TYPE_CHECKING:  # pandas is imported where used: `insight-bayes --help` stays light
    import pandas as pd

    from insight_bayes.results.store import ResultStore

__all__ = [
    "CPU_BLOCK",
    "BlockJob",
    "StudyJob",
    "block_jobs",
    "default_runs_per_process",
    "run_block_job",
    "run_study_job",
    "study_jobs",
]


@dataclass(frozen=True)
class StudyJob:
    """What a worker needs to run one (rule, seed) of a study (picklable)."""

    config: StudyConfig
    rule: str
    seed: int
    device: str
    cache_dir: str | None
    threads: int | None = None
    cuda_graphs: bool = False


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


@dataclass(frozen=True)
class BlockJob:
    """What a worker needs to train a block of (rule, seed) runs at once (picklable)."""

    config: StudyConfig
    runs: tuple[tuple[str, int], ...]
    device: str
    cache_dir: str | None
    threads: int | None = None
    cuda_graphs: bool = False


def run_block_job(job: BlockJob) -> list[tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]]:
    """Train a block of runs together (:func:`insight_bayes.rlvr.batched.train_block`):
    each run is the selection loop of :func:`run_study_job`, its model work batched."""
    import torch

    from insight_bayes.rlvr.batched import train_block
    from insight_bayes.rlvr.harness import harness_for

    if job.threads:
        torch.set_num_threads(job.threads)
    harness = harness_for(job.config, job.device, job.cache_dir)
    # at the blocks' precision (RunBlock.run)
    tables = train_block(harness, job.runs, cuda_graphs=job.cuda_graphs)
    info = {"device": job.device, "block": len(job.runs)} | (
        {"cuda_graphs": True} if job.cuda_graphs else {}
    )
    return [(steps, choices, info) for steps, choices in tables]


def block_jobs(jobs: list, store: ResultStore, size: int) -> list:
    """The runs of ``jobs`` not complete in ``store``, in order, as block jobs of at most
    ``size`` runs (:class:`BlockJob`; ``size = 1``: blocks of one run, trained as a
    batched study's blocks are), after the complete ones as they are (the runner counts
    them resumed)."""
    from insight_bayes.results.runner import Job

    check_int(size, "size", min_value=1)
    todo = [job for job in jobs if not store.is_complete(job.key)]
    blocks = [job for job in jobs if store.is_complete(job.key)]
    for start in range(0, len(todo), size):
        part = todo[start : start + size]
        first = part[0].payload
        payload = BlockJob(
            first.config,
            tuple((j.payload.rule, j.payload.seed) for j in part),
            first.device,
            first.cache_dir,
            first.threads,
            first.cuda_graphs,
        )
        blocks.append(Job(part[0].key, payload, part[0].resources, tuple(j.key for j in part)))
    return blocks


#: Most runs of a CPU block by default (:func:`default_runs_per_process`).
CPU_BLOCK = 8


def default_runs_per_process(device: str, runs: int, workers: int = 1) -> int:
    """Block size when none is given.

    On CUDA every run (at most 64) in one block: a block is what fills the device. On
    CPU blocks of at most :data:`CPU_BLOCK` runs, as many blocks as a multiple of
    ``workers`` (so that the workers get equal shares): there a block's passes take one
    run at a time (:class:`~insight_bayes.rlvr.batched.RunBlock`), so every run's floats
    are those it gets alone, and a block costs about what one run per process costs
    (within a few per cent: ``benchmarks/bench_rlvr_batched.py``; the table is
    ``benchmarks/results/rlvr_blocks_cpu.md``). A stopped block loses its runs'
    progress, so CPU blocks stay small.
    """
    runs = max(1, runs)
    if device == "cuda":
        return min(runs, 64)
    workers = max(1, workers)
    blocks = -(-runs // CPU_BLOCK)
    blocks = -(-blocks // workers) * workers
    return max(1, -(-runs // blocks))


def study_jobs(
    config: StudyConfig,
    device: str,
    cache_dir: str | None,
    threads: int | None = None,
    cuda_graphs: bool = False,
) -> list:
    """The study's runs as :class:`~insight_bayes.results.runner.Job` s, seed-major (a
    study stopped early has every rule at the first seeds). Each asks for one CPU, and
    one GPU when ``device`` is ``cuda`` (what a Ray cluster schedules on).
    ``cuda_graphs``: blocks generate with CUDA graphs
    (:class:`~insight_bayes.rlvr.batched.RunBlock`; a run alone ignores it)."""
    from insight_bayes.results.runner import Job
    from insight_bayes.results.store import RunKey

    resources: dict[str, float] = {"num_cpus": 1} | ({"num_gpus": 1} if device == "cuda" else {})
    return [
        Job(
            RunKey(config.key, rule, seed),
            StudyJob(config, rule, seed, device, cache_dir, threads, cuda_graphs),
            resources,
        )
        for seed in config.study.seeds
        for rule in config.study.rules
    ]
