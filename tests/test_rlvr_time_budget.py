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
    fit_block,
    pilot_seconds_per_run_step,
    run_seconds,
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


def test_plan_starts_what_finishes_and_records_what_is_left():
    loop = SimpleNamespace(steps=10, eval_every=0)  # a run: MARGIN * 10 t
    per_run = MARGIN * 10 * 1.0
    budget = TimeBudget(5.5 * per_run, 1.0)
    assert budget.plan(4, loop, unit=2, block=1, workers=1) == (4, 1)
    assert not budget.stopped_early
    assert budget.plan(9, loop, unit=2, block=1, workers=1) == (5, 1)
    assert budget.stopped_early
    fresh = TimeBudget(5.5 * per_run, 1.0)
    assert fresh.plan(20, loop, unit=2, block=1, workers=2) == (10, 1)  # 5 whole runs each
    # blocks: the largest multiple of the rule count that fits, then whole blocks of it
    fresh = TimeBudget(5.5 * per_run, 1.0)
    assert fresh.plan(20, loop, unit=2, block=8, workers=1) == (4, 4)
    assert fresh.stopped_early
    fresh = TimeBudget(100 * per_run, 1.0)
    assert fresh.plan(6, loop, unit=3, block=8, workers=1) == (6, 6)
    assert not fresh.stopped_early
    assert TimeBudget(0.5 * per_run, 1.0).plan(3, loop, unit=3, block=8) == (0, 1)
    record = fresh.record()
    assert record["seconds_per_run_step"] == 1.0 and record["stopped_early"] is False


def test_budget_and_pilot_speed_are_checked():
    with pytest.raises(ValueError, match="time budget"):
        TimeBudget(0.0, 1.0)
    with pytest.raises(ValueError, match="seconds per run-step"):
        TimeBudget(10.0, float("nan"))
    assert pilot_seconds_per_run_step(None) is None
    assert pilot_seconds_per_run_step({"pilots": [{"lr": 1e-5}]}) is None  # an older record
    timed = {"pilots": [{"seconds_per_run_step": 0.2}, {"seconds_per_run_step": 0.3}]}
    assert pilot_seconds_per_run_step(timed) == 0.3  # the slowest rate plans


# ------------------------------------------------------------------ end to end (CPU)
torch = pytest.importorskip("torch")

from insight_bayes_cli import main  # noqa: E402

#: A budget much longer than the smoke study's warm-up and runs take, so that the runs
#: planned follow from the stated speed alone, not from how fast this machine is.
BUDGET = 100_000.0


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


def _speed(runs_that_fit: float) -> float:
    """The seconds per run-step at which ``runs_that_fit`` smoke runs fill BUDGET."""
    return BUDGET / (runs_that_fit * run_seconds(1.0, 4, 2))


def test_study_under_a_budget_trains_what_fits_and_the_same_command_resumes(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["rlvr-study", str(_config(tmp_path)), "--out", str(out), "--device", "cpu",
            "--cache-dir", str(tmp_path / "cache"), "--no-progress", "--no-plots"]  # fmt: skip
    # room for 2.5 runs of the 3 (random, insight, dynamic-sampling): 2 start
    code = main([*argv, "--time-budget", str(BUDGET), "--run-step-seconds", str(_speed(2.5))])
    printed = capsys.readouterr().out
    assert code == 4, printed
    assert "stopped by the time budget" in printed and "2 runs trained" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "incomplete" and manifest["runs"]["complete"] == 2
    assert manifest["time_budget"]["stopped_early"] is True
    assert manifest["runs_per_process"] == 1  # CPU: one run at a time
    # the same command with room for everything resumes the two and trains the third
    code = main([*argv, "--time-budget", str(BUDGET), "--run-step-seconds", str(_speed(10))])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "1 runs trained, 2 resumed" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["time_budget"]["stopped_early"] is False


def test_budget_sizes_the_block_and_stops_before_the_next_draw(tmp_path, capsys):
    out = tmp_path / "out"
    config = _config(tmp_path, draws=[0, 1])
    argv = ["rlvr-study", str(config), "--out", str(out), "--device", "cpu",
            "--cache-dir", str(tmp_path / "cache"), "--no-progress", "--no-plots",
            "--runs-per-process", "3"]  # fmt: skip
    # room for 2.5 runs: not one block of all 3 rules, so a block of the 2 runs that fit
    code = main([*argv, "--time-budget", str(BUDGET), "--run-step-seconds", str(_speed(2.5))])
    printed = capsys.readouterr().out
    assert code == 4, printed
    draw0 = json.loads((out / "draw-0" / "manifest.json").read_text())
    assert draw0["runs_per_process"] == 2 and draw0["runs"]["complete"] == 2
    assert not (out / "draw-1").exists()  # draw 1 waits: draw 0 is not finished
    top = json.loads((out / "manifest.json").read_text())
    assert top["runs"] == {"complete": 2, "expected": 6}


def test_time_budget_needs_a_speed(tmp_path, capsys):
    argv = ["rlvr-study", str(_config(tmp_path)), "--out", str(tmp_path / "o"), "--device",
            "cpu", "--cache-dir", str(tmp_path / "cache"), "--no-progress"]  # fmt: skip
    assert main([*argv, "--time-budget", "60"]) == 2
    assert "--time-budget needs a speed" in capsys.readouterr().out
    assert not (tmp_path / "o" / "manifest.json").exists()  # nothing trained
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--time-budget", "0"])
    assert stop.value.code == 2
