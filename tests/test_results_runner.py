"""The one runner: in-process and worker processes, resume after a failing run."""

from __future__ import annotations

import pandas as pd
import pytest

from insight_bayes.results import Job, ResultStore, RunKey, run_jobs


def make_run(payload):
    """A run: raises for the payload "fail", else a two-step table (module level: picklable)."""
    rule, seed = payload
    if rule == "fail":
        raise RuntimeError(f"run {payload} failed")
    steps = pd.DataFrame(
        {"scenario": "t@v1", "rule": rule, "seed": seed, "step": [0, 1], "x": [seed, 10 * seed]}
    )
    return steps, None, {"note": rule}


def _jobs(rules, seeds=(0, 1, 2)):
    return [Job(RunKey("t@v1", r, s), (r, s)) for r in rules for s in seeds]


def test_in_process_runs_write_and_resume(tmp_path):
    store = ResultStore(tmp_path)
    report = run_jobs(_jobs(["a", "b"]), make_run, store, progress=False)
    assert len(report.trained) == 6 and report.resumed == []
    assert store.run_meta(RunKey("t@v1", "a", 2))["note"] == "a"
    assert store.run_meta(RunKey("t@v1", "a", 2))["wall_seconds"] >= 0
    again = run_jobs(_jobs(["a", "b"]), make_run, store, progress=False)
    assert again.trained == [] and len(again.resumed) == 6
    assert again.describe().startswith("0 runs trained, 6 resumed")


def test_a_failing_run_keeps_the_finished_ones_and_resume_completes(tmp_path):
    store = ResultStore(tmp_path)
    jobs = _jobs(["a"]) + [Job(RunKey("t@v1", "b", 0), ("fail", 0))] + _jobs(["c"])
    with pytest.raises(RuntimeError, match="failed"):
        run_jobs(jobs, make_run, store, progress=False)
    # in-process runs go in order: the three runs before the failing one are written
    assert store.completed() == [RunKey("t@v1", "a", s) for s in range(3)]
    fixed = [Job(j.key, ("b", 0)) if j.key.rule == "b" else j for j in jobs]
    report = run_jobs(fixed, make_run, store, progress=False)
    assert report.resumed == [RunKey("t@v1", "a", s) for s in range(3)]
    assert sorted(report.trained) == sorted(j.key for j in jobs[3:])


@pytest.mark.parametrize("start_method", ["forkserver", "spawn"])
def test_worker_processes_give_the_same_tables(tmp_path, start_method):
    inline = ResultStore(tmp_path / "inline")
    run_jobs(_jobs(["a", "b"]), make_run, inline, progress=False)
    pool = ResultStore(tmp_path / "pool")
    report = run_jobs(
        _jobs(["a", "b"]), make_run, pool, workers=2, start_method=start_method, progress=False
    )
    assert len(report.trained) == 6
    pd.testing.assert_frame_equal(pool.consolidate(pool.completed())[0], inline.load_steps())


def test_a_failing_run_in_a_worker_process_is_raised_and_resume_completes(tmp_path):
    store = ResultStore(tmp_path)
    jobs = _jobs(["a"]) + [Job(RunKey("t@v1", "b", 0), ("fail", 0))]
    with pytest.raises(RuntimeError, match="failed"):
        run_jobs(jobs, make_run, store, workers=2, progress=False)
    finished = store.completed()
    assert RunKey("t@v1", "b", 0) not in finished
    fixed = jobs[:-1] + [Job(RunKey("t@v1", "b", 0), ("b", 0))]
    report = run_jobs(fixed, make_run, store, workers=2, progress=False)
    assert report.resumed == finished
    assert sorted(report.trained + report.resumed) == sorted(j.key for j in jobs)


def test_run_jobs_refuses_bad_arguments(tmp_path):
    store = ResultStore(tmp_path)
    with pytest.raises(ValueError, match="backend"):
        run_jobs([], make_run, store, backend="dask")
    with pytest.raises(ValueError, match="start_method"):
        run_jobs([], make_run, store, start_method="fork")
    with pytest.raises(ValueError, match="distinct"):
        run_jobs(_jobs(["a"]) * 2, make_run, store)
    with pytest.raises(ValueError, match="workers"):
        run_jobs([], make_run, store, workers=0)


def wait_for_event(payload):
    """A run that waits (up to 60 s) for an event the main process sets, and says so."""
    event, label = payload
    seen = event.wait(timeout=60)
    return pd.DataFrame({"scenario": ["s@v1"], "rule": [label], "seed": [0], "step": [0],
                         "rollouts": [0], "train_reward": [float(seen)]}), None, {}  # fmt: skip


def quick_run(payload):
    _, label = payload
    return pd.DataFrame({"scenario": ["s@v1"], "rule": [label], "seed": [0], "step": [0],
                         "rollouts": [0], "train_reward": [1.0]}), None, {}  # fmt: skip


def dispatch(payload):
    return (quick_run if payload[1] == "fast" else wait_for_event)(payload)


def test_worker_processes_write_each_run_as_it_finishes(tmp_path):
    # the slow run waits for an event that the main process sets right after it wrote the
    # fast run: the slow run can only see it if finished runs are written as they finish
    # (a run killed half-way through a study must not take the finished ones with it)
    import multiprocessing

    manager = multiprocessing.Manager()
    try:
        event = manager.Event()
        store = ResultStore(tmp_path)
        original = store.write_run

        def write_then_release(key, *args, **kwargs):
            original(key, *args, **kwargs)
            if key.rule == "fast":
                event.set()

        store.write_run = write_then_release
        jobs = [Job(RunKey("s@v1", "slow", 0), (event, "slow")),
                Job(RunKey("s@v1", "fast", 0), (event, "fast"))]  # fmt: skip
        run_jobs(jobs, dispatch, store, workers=2, progress=False)
        slow = store.load_steps([RunKey("s@v1", "slow", 0)])
        assert slow["train_reward"].tolist() == [1.0]  # it saw the fast run written
    finally:
        manager.shutdown()
