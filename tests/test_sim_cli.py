"""The ``insight-bayes sweep`` command, the scenarios registry and the plots."""

from __future__ import annotations

import json

import matplotlib
import pandas as pd
import pytest

from insight_bayes.cli import SUBCOMMANDS, main
from simulations.scenarios import Scenario, available_scenarios, get_scenario

matplotlib.use("Agg")


def test_sweep_command_writes_results_and_resumes(tmp_path, capsys):
    out = tmp_path / "cli"
    argv = ["sweep", "quick", "--rules", "random,insight,insight:mu=0.1", "--seeds", "2"]
    argv += ["--workers", "1", "--out", str(out), "--no-progress", "--n-boot", "200"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "6 runs simulated, 0 already complete" in text
    assert "insight:mu=0.1" in text and "speedup" in text
    steps = pd.read_parquet(out / "steps.parquet")
    assert set(steps["rule"]) == {"random", "insight", "insight:mu=0.1"}
    assert steps.groupby(["rule", "seed"])["step"].max().eq(30).all()
    summary = pd.read_csv(out / "summary.csv")
    assert summary.set_index("rule").loc["random", "speedup"] == 1.0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["analysis"]["target"] == get_scenario("quick").target_accuracy
    assert "git_revision" in manifest and manifest["runs"]["complete"] == 6
    assert main(argv) == 0
    assert "0 runs simulated, 6 already complete" in capsys.readouterr().out


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
    assert (s.pool_size, s.loop.m, s.loop.k, s.loop.steps) == (2000, 256, 8, 100)
    assert s.resolved_m_hat() == min(16 * 256, 2000)
    assert s.loop.reward_mode == "binary" and s.loop.reward_threshold == 1.0
    assert s.env.verifier.graded and s.env.verifier.format_reward == 0.1
    assert {"quick", "quick-stationary", "stationary-rlvr"} <= set(available_scenarios())
    with pytest.raises(ValueError, match="unknown scenario"):
        get_scenario("nope")
    with pytest.raises(ValueError, match="version"):
        Scenario(name="x", version=0, description="", env=s.env, loop=s.loop)


def test_plots_draw_every_rule():
    from simulations.plots import OKABE_ITO, forest_plot, learning_curves, rule_style

    rows = [
        {"rule": r, "seed": s, "step": t, "eval/accuracy": 0.1 * t + 0.01 * s + (r == "b")}
        for r in ("random", "b")
        for s in range(3)
        for t in range(5)
    ]
    ax = learning_curves(pd.DataFrame(rows), target=0.3)
    assert [line.get_label() for line in ax.get_lines()][:2] == ["b", "random"]
    styles = rule_style(["random", "b", "c"])
    assert styles["random"]["color"] == OKABE_ITO[0]
    assert len({str(v["linestyle"]) for v in styles.values()}) == 3
    sp = pd.DataFrame(
        {"rule": ["random", "b"], "speedup": [1.0, 2.0], "ci_low": [1.0, 1.5], "ci_high": [1, 2.5]}
    )
    ax = forest_plot(sp)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["random", "b"]
    with pytest.raises(ValueError, match="band"):
        learning_curves(pd.DataFrame(rows), band="iqr")


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
        "import sys, simulations.sweep, simulations.speedup, simulations.analytic, "
        "insight_bayes.cli; print('pymc' in sys.modules, 'ray' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True
    )
    assert out.stdout.split() == ["False", "False"]
