"""A study under a time budget starts only the runs it expects to finish, sizes its blocks
to fit, says what is left (exit status 4), and the same command resumes the rest."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest

from insight_bayes.rlvr.time_budget import (
    EVAL_COST,
    MARGIN,
    TimeBudget,
    budget_records,
    fit_block,
    pilot_seconds_per_run_step,
    previous_seconds_per_run_step,
    run_seconds,
    train_within_budget,
)

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "rlvr" / "smoke.toml"


def test_run_seconds_counts_steps_and_evaluations():
    # 150 steps, an evaluation at steps 0, 50, 100 and 150: 4 evaluations
    assert run_seconds(0.1, 150, 50) == pytest.approx(MARGIN * 0.1 * (150 + 4 * EVAL_COST))
    assert run_seconds(0.1, 150, 0) == pytest.approx(MARGIN * 15.0)  # no evaluation
    assert run_seconds(2.0, 10, 3) == pytest.approx(MARGIN * 2.0 * (10 + 4 * EVAL_COST))
    with pytest.raises(ValueError, match="seconds_per_run_step"):
        run_seconds(0.0, 10, 1)


def test_fit_block_keeps_whole_seeds_of_every_rule_when_they_fit():
    assert fit_block(100.0, 1.0, unit=7, cap=28) == 28  # capped
    assert fit_block(20.5, 1.0, unit=7, cap=28) == 14  # two whole seeds of 7 rules
    assert fit_block(6.9, 1.0, unit=7, cap=28) == 6  # not one seed: the runs that fit
    assert fit_block(0.5, 1.0, unit=7, cap=28) == 0
    assert fit_block(-3.0, 1.0, unit=7, cap=28) == 0  # past the deadline


def test_plan_starts_what_finishes():
    loop = SimpleNamespace(steps=10, eval_every=0)  # a run: MARGIN * 10 t
    per_run = MARGIN * 10 * 1.0
    budget = TimeBudget(5.5 * per_run, 1.0)
    assert budget.plan(4, loop, unit=2, block=1, workers=1) == (4, 1)
    assert budget.plan(9, loop, unit=2, block=1, workers=1) == (5, 1)
    assert budget.plan(20, loop, unit=2, block=1, workers=2) == (10, 1)  # 5 whole runs each
    # blocks: the largest multiple of the rule count that fits, then whole blocks of it
    assert budget.plan(20, loop, unit=2, block=8, workers=1) == (4, 4)
    assert TimeBudget(100 * per_run, 1.0).plan(6, loop, unit=3, block=8) == (6, 6)
    assert TimeBudget(0.5 * per_run, 1.0).plan(3, loop, unit=3, block=8) == (0, 1)


def test_observe_plans_at_the_speed_measured():
    loop = SimpleNamespace(steps=10, eval_every=5)  # 10 steps and 3 evaluations
    budget = TimeBudget(100.0, 1.0)
    budget.observe(2 * 0.5 * (10 + 3 * EVAL_COST), 2, loop)  # 2 runs at 0.5 s per run-step
    assert budget.seconds_per_run_step == pytest.approx(0.5)
    assert budget.record()["measured_seconds_per_run_step"] == [0.5]
    # which call a record is: the budget's UTC start
    from datetime import datetime

    started = datetime.fromisoformat(budget.record()["started_at"])
    assert started.utcoffset().total_seconds() == 0
    assert abs((datetime.now(started.tzinfo) - started).total_seconds()) < 3600
    mark = budget.mark()
    budget.blocks.append(3)
    budget.observe(2 * 0.25 * (10 + 3 * EVAL_COST), 2, loop)
    assert budget.record(mark)["blocks"] == [3]  # only what came after the mark
    assert budget.record(mark)["measured_seconds_per_run_step"] == [0.25]
    stated = TimeBudget(100.0, 1.0, measure=False)  # a speed the user states is kept
    stated.observe(2 * 0.5 * (10 + 3 * EVAL_COST), 2, loop)
    assert stated.seconds_per_run_step == 1.0 and stated.measured == [0.5]
    with pytest.raises(ValueError, match="runs"):
        budget.observe(1.0, 0, loop)


class _Store:
    def __init__(self, complete=()):
        self.complete = set(complete)

    def is_complete(self, key):
        return key in self.complete


def test_train_within_budget_sizes_each_block_at_the_speed_of_the_last(monkeypatch):
    from insight_bayes.results.runner import RunReport
    from insight_bayes.rlvr import time_budget

    clock = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(time_budget, "now", lambda: clock.now)
    loop = SimpleNamespace(steps=10, eval_every=0)
    config = SimpleNamespace(loop=loop, study=SimpleNamespace(rules=["a", "b"]))
    jobs = [SimpleNamespace(key=i) for i in range(12)]
    per_run = MARGIN * 10 * 1.0  # planned seconds of a run at the starting speed (1 s)
    calls = []

    def trainer(seconds_per_run_step):
        def train(part, size):  # stands in for run_jobs: its runs take the clock forward
            calls.append((len(part), size))
            clock.now += len(part) * 10 * seconds_per_run_step
            return RunReport(trained=[j.key for j in part], resumed=[], seconds=0.0)

        return train

    # room for 4.5 runs at the starting speed, 10x faster in fact: the first block is 4
    # runs (2 seeds of both rules); then the rest fits at the speed it measured
    budget = TimeBudget(4.5 * per_run, 1.0, started=clock.now)
    report = train_within_budget(budget, jobs, _Store({0, 1}), trainer(0.1), config, block=8)
    assert calls == [(4, 4), (6, 6)]
    assert report.trained == list(range(2, 12)) and report.resumed == [0, 1]
    assert not budget.stopped_early and budget.blocks == [4, 6]
    assert budget.seconds_per_run_step == pytest.approx(0.1)
    # as slow as planned (without the margin): the first block takes 40 s of 54, the 14 s
    # left hold one more run (12 s planned), not a whole seed; the rest is left
    calls.clear()
    budget = TimeBudget(4.5 * per_run, 1.0, started=clock.now)
    report = train_within_budget(budget, jobs, _Store(), trainer(1.0), config, block=8)
    assert calls == [(4, 4), (1, 1)] and budget.stopped_early and len(report.trained) == 5
    assert budget.left() == pytest.approx(4.5 * per_run - 50)
    # one run at a time (block = 1): each planned at the speed of the run before
    calls.clear()
    budget = TimeBudget(4.5 * per_run, 1.0, started=clock.now)
    report = train_within_budget(budget, jobs[:6], _Store(), trainer(0.1), config, block=1)
    assert calls == [(1, 1)] * 6 and not budget.stopped_early


def test_budget_and_pilot_speed_are_checked():
    with pytest.raises(ValueError, match="time budget"):
        TimeBudget(0.0, 1.0)
    with pytest.raises(ValueError, match="seconds per run-step"):
        TimeBudget(10.0, float("nan"))
    assert pilot_seconds_per_run_step(None) is None
    assert pilot_seconds_per_run_step({"pilots": [{"lr": 1e-5}]}) is None  # an older record
    timed = {"pilots": [{"seconds_per_run_step": 0.2}, {"seconds_per_run_step": 0.3}]}
    assert pilot_seconds_per_run_step(timed) == 0.3  # the slowest rate plans


def test_a_resumed_call_plans_with_what_the_last_call_measured(tmp_path):
    assert previous_seconds_per_run_step(tmp_path) is None  # no study yet
    for draw, calls in ((0, [{"measured_seconds_per_run_step": [0.2, 0.3]}]),
                        (1, [{"measured_seconds_per_run_step": [0.5]},
                             {"measured_seconds_per_run_step": []}]),
                        (10, [{"measured_seconds_per_run_step": [0.7, 0.4]}])):  # fmt: skip
        (tmp_path / f"draw-{draw}").mkdir()
        (tmp_path / f"draw-{draw}" / "manifest.json").write_text(json.dumps({"time_budget": calls}))
    # draws in numeric order (10 after 1), the last call that measured, its slowest block
    assert previous_seconds_per_run_step(tmp_path) == 0.7
    single = tmp_path / "single"
    single.mkdir()
    (single / "manifest.json").write_text(json.dumps({"time_budget": [
        {"measured_seconds_per_run_step": [0.1]}]}))  # fmt: skip
    assert previous_seconds_per_run_step(single) == 0.1  # a single-draw study
    assert [name for name, _ in budget_records(tmp_path)] == ["draw-0", "draw-1", "draw-10"]
    assert [name for name, _ in budget_records(single)] == ["single"]


# ------------------------------------------------------------------ end to end (CPU)
torch = pytest.importorskip("torch")

from insight_bayes_cli import main  # noqa: E402

#: A budget and run times on a fake clock (each finished run moves it by RUN_SECONDS), so
#: that what the budget starts follows from the stated speed, not this machine's.
BUDGET = 100_000.0
RUN_SECONDS = 30_000.0


@pytest.fixture
def fake_clock(monkeypatch):
    """The budget's clock moves only when runs finish, by RUN_SECONDS each."""
    from insight_bayes.results import runner
    from insight_bayes.rlvr import time_budget

    clock = SimpleNamespace(now=0.0)
    monkeypatch.setattr(time_budget, "now", lambda: clock.now)
    real = runner.run_jobs

    def run_jobs(*args, **kwargs):
        report = real(*args, **kwargs)
        clock.now += RUN_SECONDS * len(report.trained)
        return report

    monkeypatch.setattr(runner, "run_jobs", run_jobs)
    return clock


def _config(tmp_path: Path, **study) -> Path:
    with SMOKE.open("rb") as f:
        raw = tomllib.load(f)
    text = SMOKE.read_text()
    if "draws" in study:
        text = text.replace("seeds = [0]", f"seeds = [0]\ndraws = {study['draws']}")
    assert raw["loop"]["eval_every"] == 2 and raw["loop"]["steps"] == 4
    path = tmp_path / "smoke.toml"
    path.write_text(text)
    return path


def _speed(planned: float) -> float:
    """The seconds per run-step at which a smoke run is planned at ``planned`` seconds."""
    return planned / run_seconds(1.0, 4, 2)


def test_study_under_a_budget_trains_what_fits_and_the_same_command_resumes(
    tmp_path, capsys, fake_clock
):
    out = tmp_path / "out"
    argv = ["rlvr-study", str(_config(tmp_path)), "--out", str(out), "--device", "cpu",
            "--cache-dir", str(tmp_path / "cache"), "--no-progress", "--no-plots",
            "--runs-per-process", "1"]  # fmt: skip
    # each run planned at 45,000 s and taking 30,000: the first two start (100,000 and
    # 70,000 s left), the third does not (40,000 s left)
    speed = _speed(45_000.0)
    code = main([*argv, "--time-budget", str(BUDGET), "--run-step-seconds", str(speed)])
    printed = capsys.readouterr().out
    assert code == 4, printed
    assert "stopped by the time budget" in printed and "2 runs trained" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "incomplete" and manifest["runs"]["complete"] == 2
    (call,) = manifest["time_budget"]  # one record per call under a budget
    assert call["stopped_early"] is True
    assert call["blocks"] == [1, 1]  # one run at a time
    # the stated speed is kept; what the runs measured is recorded beside it
    assert call["seconds_per_run_step"] == pytest.approx(speed)
    assert len(call["measured_seconds_per_run_step"]) == 2
    # the same command, on a fresh budget, resumes the two and trains the third
    code = main([*argv, "--time-budget", str(BUDGET), "--run-step-seconds", str(speed)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "1 runs trained, 2 resumed" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    first, second = manifest["time_budget"]  # the first call's record is kept
    assert first["blocks"] == [1, 1] and second["blocks"] == [1]
    assert second["stopped_early"] is False


def test_budget_sizes_the_block_and_stops_before_the_next_draw(tmp_path, capsys, fake_clock):
    out = tmp_path / "out"
    config = _config(tmp_path, draws=[0, 1])
    argv = ["rlvr-study", str(config), "--out", str(out), "--device", "cpu",
            "--cache-dir", str(tmp_path / "cache"), "--no-progress", "--no-plots",
            "--runs-per-process", "3"]  # fmt: skip
    # 100,000 s hold 2 runs planned at 45,000 s: not one block of all 3 rules, so a
    # block of the 2 that fit; it takes 60,000 s and nothing more fits in the 40,000 left
    code = main([*argv, "--time-budget", str(BUDGET), "--run-step-seconds",
                 str(_speed(45_000.0))])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 4, printed
    draw0 = json.loads((out / "draw-0" / "manifest.json").read_text())
    assert [c["blocks"] for c in draw0["time_budget"]] == [[2]]
    assert draw0["runs"]["complete"] == 2
    assert not (out / "draw-1").exists()  # draw 1 waits: draw 0 is not finished
    top = json.loads((out / "manifest.json").read_text())
    assert top["runs"] == {"complete": 2, "expected": 6}
    # a second call, runs planned at 10,000 s: draw 0's last run, then draw 1 in one block;
    # each draw's manifest keeps its own blocks, call by call
    code = main([*argv, "--time-budget", str(BUDGET), "--run-step-seconds",
                 str(_speed(10_000.0))])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0, printed
    draw0 = json.loads((out / "draw-0" / "manifest.json").read_text())
    draw1 = json.loads((out / "draw-1" / "manifest.json").read_text())
    assert [c["blocks"] for c in draw0["time_budget"]] == [[2], [1]]
    assert [c["blocks"] for c in draw1["time_budget"]] == [[3]]
    assert json.loads((out / "manifest.json").read_text())["runs"]["complete"] == 6


def test_time_budget_needs_a_speed(tmp_path, capsys):
    argv = ["rlvr-study", str(_config(tmp_path)), "--out", str(tmp_path / "o"), "--device",
            "cpu", "--cache-dir", str(tmp_path / "cache"), "--no-progress"]  # fmt: skip
    assert main([*argv, "--time-budget", "60"]) == 2
    assert "--time-budget needs a speed" in capsys.readouterr().out
    assert not (tmp_path / "o" / "manifest.json").exists()  # nothing trained
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--time-budget", "0"])
    assert stop.value.code == 2


def test_a_draw_whose_warm_up_differs_is_left_and_the_next_draw_runs(tmp_path, capsys, fake_clock):
    out = tmp_path / "out"
    config = _config(tmp_path, draws=[0, 1])
    argv = ["rlvr-study", str(config), "--out", str(out), "--device", "cpu",
            "--cache-dir", str(tmp_path / "cache"), "--no-progress", "--no-plots"]  # fmt: skip
    budget = ["--time-budget", str(BUDGET), "--run-step-seconds", str(_speed(45_000.0))]
    assert main([*argv, *budget]) == 4
    assert not (out / "draw-1").exists()  # two runs of draw 0 fitted: draw 1 waits
    capsys.readouterr()
    # as if this machine re-trained draw 0's warm-up to other weights
    path = out / "draw-0" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["warmup"]["sha256"] = "0" * 64
    path.write_text(json.dumps(manifest))
    assert main(argv) == 2  # refused by default: runs of two warm-ups are not mixed
    assert "started from another warm-up" in capsys.readouterr().err
    assert not (out / "draw-1").exists()
    code = main([*argv, "--skip-mismatched-draws"])
    printed = capsys.readouterr().out
    assert code == 5, printed
    assert "draw 0 left as it is" in printed
    draw0 = json.loads(path.read_text())
    assert draw0["runs"]["complete"] == 2 and draw0["warmup"]["sha256"] == "0" * 64
    draw1 = json.loads((out / "draw-1" / "manifest.json").read_text())
    assert draw1["status"] == "complete" and draw1["runs"]["complete"] == 3
    top = json.loads((out / "manifest.json").read_text())
    assert top["runs"] == {"complete": 5, "expected": 6}
