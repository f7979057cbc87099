"""``insight-bayes sweep-like-study``: the simulator on a pool shaped like a saved study."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from insight_bayes.analysis import simulator_scenario, starting_rates
from insight_bayes.cli import main

STUDY = Path(__file__).resolve().parents[1] / "results" / "rlvr-cpu-study"


def test_sweep_like_study_runs_the_studys_rules_on_its_scenario(tmp_path, capsys):
    out = tmp_path / "like"
    argv = ["sweep-like-study", str(STUDY), "--seeds", "1", "--workers", "1", "--no-progress"]
    assert main([*argv, "--out", str(out)]) == 0
    study = json.loads((STUDY / "manifest.json").read_text())
    rates = starting_rates(
        pd.read_parquet(STUDY / "pool.parquet"), pd.read_parquet(STUDY / "prompts.parquet")
    )
    scenario = simulator_scenario(study["config"], rates)
    steps = pd.read_parquet(out / "steps.parquet")
    assert set(steps["scenario"]) == {scenario.key}
    assert set(steps["rule"]) == set(study["config"]["study"]["rules"])
    assert steps.groupby("rule")["step"].max().eq(scenario.loop.steps).all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["study"]["scenario"] == scenario.key
    assert manifest["study"]["folder"] == str(STUDY)
    assert set(pd.read_csv(out / "summary.csv")["rule"]) == set(steps["rule"])
    assert "5 runs simulated, 0 already complete" in capsys.readouterr().out
    assert main([*argv, "--out", str(out)]) == 0
    assert "0 runs simulated, 5 already complete" in capsys.readouterr().out
