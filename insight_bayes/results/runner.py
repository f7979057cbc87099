"""The one runner: every (rule, seed) run of a sweep or a study goes through :func:`run_jobs`.

A job is a :class:`Job`: its :class:`~insight_bayes.results.store.RunKey`, a picklable
payload, and what it asks of a Ray cluster (``{"num_cpus": 1}``, plus
``"num_gpus": 1`` for a harness run on CUDA). :func:`run_jobs` skips the jobs whose run
is already complete in the store (*resumed*), runs the others (*trained*) with
``fn(payload) -> (steps, choices or None, info)`` on one of three executors, and
writes each finished run through the store as soon as it arrives (a *block* job trains
several runs at once and returns a list of those triples, one per run of ``Job.block``):

* ``backend="local", workers=1``: in this process, one run after another;
* ``backend="local", workers>1``: a pool of worker processes started with
  ``forkserver`` or ``spawn`` (never ``fork``: unsafe with threads, numba and torch);
* ``backend="ray"``: Ray tasks with the job's resource request, on the running Ray
  instance if one is initialised (a cluster: ``ray.init(address=...)`` first), else on
  a local one started with ``workers`` CPUs and stopped afterwards.

When a run raises, the runs that already finished stay written, the pending ones are
cancelled and the error is raised: a re-run resumes from there. Ctrl-C (``SIGINT``) is
the parent's alone (local worker processes ignore it): the workers are stopped at
once, without waiting for their runs, and :class:`RunsInterrupted` (a
``KeyboardInterrupt``) says how many runs the folder holds, so that a command can print
one line naming what to re-run.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from insight_bayes.results.store import ResultStore, RunKey
from insight_bayes.validation import check_int

__all__ = ["BACKENDS", "Job", "RunReport", "RunsInterrupted", "run_jobs"]

log = logging.getLogger(__name__)

#: Executors of :func:`run_jobs`.
BACKENDS = ("local", "ray")
_START_METHODS = ("forkserver", "spawn")

RunFn = Callable[[Any], "tuple[pd.DataFrame, pd.DataFrame | None, dict[str, Any]]"]


@dataclass(frozen=True)
class Job:
    """One run to do: its key, the payload handed to the run function, its resources."""

    key: RunKey
    payload: Any
    resources: Mapping[str, float] = field(default_factory=lambda: {"num_cpus": 1})
    #: A block job's runs (``key`` is the first): ``fn`` trains them together and returns
    #: a list of results, one per run. Empty: the job is the one run ``key``.
    block: tuple[RunKey, ...] = ()

    @property
    def keys(self) -> tuple[RunKey, ...]:
        """The runs this job writes."""
        return self.block or (self.key,)


@dataclass
class RunReport:
    """What :func:`run_jobs` did: runs trained now, runs resumed (already complete)."""

    trained: list[RunKey]
    resumed: list[RunKey]
    seconds: float

    def describe(self, noun: str = "runs") -> str:
        """``"3 runs trained, 5 resumed (already complete), 1.2 s"``."""
        return (
            f"{len(self.trained)} {noun} trained, {len(self.resumed)} resumed "
            f"(already complete), {self.seconds:.1f} s"
        )


class RunsInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped :func:`run_jobs`; ``saved`` of ``total`` runs are complete in ``folder``."""

    def __init__(self, saved: int, total: int, folder: Path) -> None:
        super().__init__(f"{saved} of {total} runs saved in {folder}")
        self.saved, self.total, self.folder = saved, total, folder


def _ignore_sigint() -> None:
    """Initializer of local worker processes: Ctrl-C is handled by the parent alone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _execute(fn: RunFn, payload: Any) -> Any:
    started = time.perf_counter()
    result = fn(payload)
    seconds = time.perf_counter() - started
    if isinstance(result, list):  # a block: one (steps, choices, info) per run
        return [(s, c, {**i, "wall_seconds": seconds}) for s, c, i in result]
    steps, choices, info = result
    return steps, choices, {**info, "wall_seconds": seconds}


def run_jobs(
    jobs: Iterable[Job],
    fn: RunFn,
    store: ResultStore,
    *,
    backend: str = "local",
    workers: int = 1,
    start_method: str = "forkserver",
    progress: bool = True,
    desc: str = "runs",
) -> RunReport:
    """Run every job whose run ``store`` does not hold yet; write each as it finishes.

    Parameters
    ----------
    jobs : iterable of Job
        The runs (in the order they should start).
    fn : callable
        ``fn(payload) -> (steps, choices or None, info)``; a module-level function
        (it is pickled for worker processes and Ray).
    store : ResultStore
        Where finished runs are written (with ``info`` and ``wall_seconds`` in the marker).
    backend : {"local", "ray"}
        See the module docstring.
    workers : int
        Worker processes (``local``), or CPUs of a Ray instance started here.
    start_method : {"forkserver", "spawn"}
        Start method of local worker processes.
    progress : bool
        One progress bar over runs.
    desc : str
        Label of the progress bar.

    Returns
    -------
    RunReport
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
    if start_method not in _START_METHODS:
        raise ValueError(f"start_method must be 'forkserver' or 'spawn', got {start_method!r}")
    workers = check_int(workers, "workers", min_value=1)
    started = time.perf_counter()
    jobs = list(jobs)
    keys = [key for job in jobs for key in job.keys]
    if len(set(keys)) != len(keys):
        raise ValueError("jobs must have distinct run keys")
    store.remove_stale_temporaries()
    todo = [job for job in jobs if not all(store.is_complete(k) for k in job.keys)]
    resumed = [key for key in keys if store.is_complete(key)]
    log.info("%d runs: %d already complete, %d jobs to run", len(keys), len(resumed), len(todo))
    trained: list[RunKey] = []
    bar = tqdm(total=len(keys), initial=len(resumed), desc=desc, disable=not progress)

    def write(job: Job, result: Any) -> None:
        results = result if job.block else [result]
        if len(results) != len(job.keys):
            raise RuntimeError(f"a block job returned {len(results)} runs for {len(job.keys)}")
        for key, (steps, choices, info) in zip(job.keys, results, strict=True):
            if key in resumed:  # already written by an earlier call
                continue
            store.write_run(key, steps, choices, meta=info)
            trained.append(key)
            bar.update(1)

    try:
        if not todo:
            pass
        elif backend == "ray":
            _run_ray(todo, fn, workers, write)
        elif workers == 1 or len(todo) == 1:
            for job in todo:
                write(job, _execute(fn, job.payload))
        else:
            _run_processes(todo, fn, min(workers, len(todo)), start_method, write)
    except KeyboardInterrupt:
        raise RunsInterrupted(len(resumed) + len(trained), len(keys), store.root) from None
    finally:
        bar.close()
    return RunReport(trained=trained, resumed=resumed, seconds=time.perf_counter() - started)


def _run_processes(
    todo: list[Job], fn: RunFn, workers: int, start_method: str, write: Callable
) -> None:
    ctx = multiprocessing.get_context(start_method)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_ignore_sigint)
    try:
        pending = {pool.submit(_execute, fn, job.payload): job for job in todo}
        while pending:
            # FIRST_COMPLETED, not FIRST_EXCEPTION: the latter waits for *all* futures
            # unless one fails, so finished runs would be written only at the very end
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            error: BaseException | None = None
            for future in done:
                job = pending.pop(future)
                if future.exception() is not None:
                    error = error or future.exception()
                else:
                    write(job, future.result())
            if error is not None:
                for future in pending:
                    future.cancel()
                raise error
    except KeyboardInterrupt:
        # stop now: the runs in flight would not be written anyway
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=1.0)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run_ray(todo: list[Job], fn: RunFn, workers: int, write: Callable) -> None:
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("backend='ray' needs Ray: pip install 'insight-bayes[ray]'") from exc
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        gpus = max(float(job.resources.get("num_gpus", 0)) for job in todo)
        available = float(ray.cluster_resources().get("GPU", 0))
        if gpus > available:
            raise RuntimeError(
                f"runs ask Ray for {gpus:g} GPU each but the cluster has {available:g}; "
                "connect to a cluster with GPUs (ray.init(address=...)) or use --device cpu"
            )
        remote = ray.remote(_execute)
        refs = {remote.options(**dict(job.resources)).remote(fn, job.payload): job for job in todo}
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    try:
                        result = ray.get(ref)
                    except BaseException:
                        for other in pending:
                            ray.cancel(other)
                        raise
                    write(refs[ref], result)
        except KeyboardInterrupt:
            for other in pending:
                ray.cancel(other, force=True)
            raise
    finally:
        if started_here:
            ray.shutdown()
