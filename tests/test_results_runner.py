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
