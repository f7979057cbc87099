"""The ``insight-bayes sweep`` command and the scenarios registry."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from insight_bayes_cli import SUBCOMMANDS, main
from simulations.scenarios import Scenario, available_scenarios, get_scenario


def test_sweep_command_writes_results_and_resumes(tmp_path, capsys):
    out = tmp_path / "cli"
    argv = ["sweep", "quick", "--rules", "random,InSight,insight:mu=0.1", "--seeds", "2"]
    argv += ["--workers", "1", "--out", str(out), "--no-progress", "--n-boot", "200"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "6 runs trained, 0 resumed (already complete)" in text
    # the end: a headline naming InSight (the paper's spelling is read as "insight"),
    # then one table, at most 100 characters wide, fastest rule first
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("insight reaches"))
    assert "faster than random" in lines[first] or "slower than random" in lines[first]
    assert lines[first + 1] == "" and lines[first + 2].split()[:3] == [
        "rule",
        "speed-up",
        "(steps)",
    ]
    table = lines[first + 2 : first + 6]
    assert max(map(len, table)) <= 100 and "1.00x (baseline)" in table[-1] + "".join(table)
    assert {row.split()[0] for row in table[1:]} == {"random", "insight", "insight:mu=0.1"}
    assert (out / "learning_curve.png").stat().st_size > 0
    assert (out / "speedup.png").stat().st_size > 0
    steps = pd.read_parquet(out / "steps.parquet")
    assert set(steps["rule"]) == {"random", "insight", "insight:mu=0.1"}
    assert steps.groupby(["rule", "seed"])["step"].max().eq(30).all()
    summary = pd.read_csv(out / "summary.csv")
    assert summary.set_index("rule").loc["random", "speedup"] == 1.0
    stt = pd.read_csv(out / "steps_to_target.csv")
    assert len(stt) == 6 and {"rollouts_to_target", "censored", "horizon"} <= set(stt)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["analysis"]["target"] == get_scenario("quick").target_accuracy
    assert manifest["analysis"]["metric"] == "eval/accuracy"
    assert "git_revision" in manifest and manifest["runs"]["complete"] == 6
    assert main(argv) == 0
    assert "0 runs trained, 6 resumed (already complete)" in capsys.readouterr().out


def test_sweep_defaults_to_scratch_and_refuses_another_configuration(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["sweep", "quick", "--rules", "random", "--seeds", "1", "--workers", "1"]
    argv += ["--no-progress", "--no-plots", "--n-boot", "100"]
    assert main(argv) == 0
    out = tmp_path / "results" / "scratch" / "quick"
    assert (out / "steps.parquet").exists() and not (out / "speedup.png").exists()
    capsys.readouterr()
    assert main([*argv[:5], "2", *argv[6:]]) == 2  # two seeds: another configuration
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("insight-bayes sweep: error: results/scratch/quick holds results of")
    assert "seeds: the folder has 1 (0), this command 2 (0, 1)" in err and "--overwrite" in err
    assert main([*argv[:5], "2", *argv[6:], "--overwrite"]) == 0
    assert json.loads((out / "manifest.json").read_text())["seeds"] == [0, 1]


def test_sweep_bayes_path_fits_and_saves_the_posterior(tmp_path, capsys):
    # what `make run` runs, kept small: 2 rules x 3 seeds, 100 draws per chain
    out = tmp_path / "bayes"
    argv = ["sweep", "quick", "--rules", "random,insight", "--seeds", "3", "--workers", "1"]
    argv += ["--out", str(out), "--no-progress", "--n-boot", "200", "--bayes", "--draws", "100"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "hierarchical censored log-normal model: insight posterior median" in text
    posterior = pd.read_csv(out / "speedup_posterior.csv")
    assert set(posterior["rule"]) == {"random", "insight"}
    assert {"hdi_low", "hdi_high", "p_faster"} <= set(posterior.columns)
    row = posterior.set_index("rule").loc["insight"]
    assert row["hdi_low"] <= row["speedup_median"] <= row["hdi_high"]


def test_sweep_command_lists_scenarios(capsys):
    assert "sweep" in SUBCOMMANDS
    assert main(["sweep", "--list"]) == 0
    assert "countdown-paper" in capsys.readouterr().out


def test_sweep_command_refuses_unknown_rule(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", "quick", "--rules", "nope", "--out", str(tmp_path), "--no-progress"])
    assert exit_.value.code == 2
    assert "unknown selector 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "steps.parquet").exists()


def test_paper_scenario_matches_the_paper_settings():
    s = get_scenario("countdown-paper")
    # the paper's pool, batch and group; 200 steps so that Random is not censored (v2)
    assert (s.pool_size, s.loop.m, s.loop.k, s.loop.steps) == (2000, 256, 8, 200)
    assert s.key == "countdown-paper@v2" and s.curve_targets == (0.45, 0.5, 0.55, 0.6, 0.65)
    assert s.resolved_m_hat() == min(16 * 256, 2000)
    assert s.loop.reward_mode == "binary" and s.loop.reward_threshold == 1.0
    assert s.env.verifier.graded and s.env.verifier.format_reward == 0.1
    assert {"quick", "quick-stationary", "stationary-rlvr"} <= set(available_scenarios())
    with pytest.raises(ValueError, match="unknown scenario"):
        get_scenario("nope")
    with pytest.raises(ValueError, match="version"):
        Scenario(name="x", version=0, description="", env=s.env, loop=s.loop)


def test_lazy_package_api_and_no_pymc_outside_models():
    import subprocess
    import sys
    from pathlib import Path

    import simulations
    from simulations import sweep

    assert simulations.run_sweep is sweep.run_sweep
    with pytest.raises(AttributeError, match="no attribute"):
        simulations.nope  # noqa: B018
    code = (
        "import sys, simulations.sweep, insight_bayes.results.targets, simulations.analytic, "
        "insight_bayes_cli; print('pymc' in sys.modules, 'ray' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True
    )
    assert out.stdout.split() == ["False", "False"]
