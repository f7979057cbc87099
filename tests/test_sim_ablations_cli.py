"""``insight-bayes ablations``: every ablation scenario's runs consolidated, the table saved."""

from __future__ import annotations

import json

import pandas as pd

from insight_bayes_cli import main
from simulations.ablations import ABLATIONS, ablation_plan


def test_ablations_command_saves_all_scenarios_and_resumes(tmp_path, capsys):
    out = tmp_path / "abl"
    argv = ["ablations", "quick", "--seeds", "2", "--workers", "1", "--n-boot", "200"]
    argv += ["--no-progress", "--out", str(out)]
    assert main(argv) == 0
    steps = pd.read_parquet(out / "steps.parquet")
    plan = ablation_plan("quick")
    keys = {v.scenario.key for a in plan for v in a.variants}
    assert set(steps["scenario"]) == keys and len(keys) == 6  # not only the last sweep's
    table = pd.read_csv(out / "summary.csv")
    assert list(dict.fromkeys(table["ablation"])) == list(ABLATIONS)
    assert len(table) == sum(len(a.variants) for a in plan)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["ablations"]["base"] == "quick" and manifest["ablations"]["seeds"] == [0, 1]
    assert manifest["ablations"]["plan"]["mu"] == ["mu = 0.1", "mu = 0.3", "mu = 0.7"]
    text = capsys.readouterr().out
    assert f"-> {out}" in text
    assert text.startswith("insight reaches the target ") and "fastest variant: " in text
    markers = sorted(out.glob("runs/*/*/*.done.json"))
    stamps = [m.stat().st_mtime_ns for m in markers]
    assert main(argv) == 0  # resumes: no run simulated again, same table
    assert [m.stat().st_mtime_ns for m in markers] == stamps
    pd.testing.assert_frame_equal(pd.read_csv(out / "summary.csv"), table)
    capsys.readouterr()
    assert main([*argv[:3], "3", *argv[4:]]) == 2  # other seeds: refused, nothing touched
    assert "seeds: the folder has 2 (0, 1), this command 3" in capsys.readouterr().err
    pd.testing.assert_frame_equal(pd.read_csv(out / "summary.csv"), table)


def test_ablations_command_refuses_an_unknown_scenario(tmp_path, capsys):
    assert main(["ablations", "nope", "--out", str(tmp_path), "--no-progress"]) == 2
    assert "insight-bayes ablations: error: unknown scenario 'nope'" in capsys.readouterr().err
