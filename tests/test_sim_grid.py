"""The robustness grid: its cells, paired pools, resume, and the fidelity tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from insight_bayes.analysis.fidelity import (
    claim_summary,
    fidelity_table,
    grid_tables,
    ranking_agreement,
)
from simulations.grid import STRENGTHS, robustness_cells, run_grid
from simulations.scenarios import get_scenario

ROOT = Path(__file__).resolve().parents[1]


def test_cells_vary_only_what_they_name_and_share_the_base_pools():
    base = get_scenario("countdown-paper")
    cells = robustness_cells(base)
    assert len(cells) == 3 * 3 * 2 + 3
    assert len({c.scenario.key for c in cells}) == len(cells)
    for cell in cells:
        s = cell.scenario
        assert s.pool_key == base.key  # paired with the base scenario's pools
        assert (s.env.memorization_rate, s.discount, s.env.learner) == (
            cell.memorization, cell.discount, cell.learner,
        )  # fmt: skip
        assert s.env.composition == STRENGTHS[cell.strength]
        assert s.loop == base.loop and s.env.pool_size == base.env.pool_size
    with pytest.raises(ValueError, match="unknown strength"):
        robustness_cells(base, strengths=("huge",))


def test_grid_resumes_and_feeds_the_fidelity_table(tmp_path):
    cells = robustness_cells(
        "quick", memorization=(0.5,), discount=(1.0,), learners=("linear",),
        strengths=("strongest",),
    )  # fmt: skip
    rules = ("random", "insight", "mopps", "oracle")
    first = run_grid(cells, 3, tmp_path, rules=rules, workers=1, progress=False)
    assert len(first.report.trained) == 2 * 4 * 3 and first.report.resumed == []
    again = run_grid(cells, 3, tmp_path, rules=rules, workers=1, progress=False)
    assert again.report.trained == [] and len(again.report.resumed) == 24
    pd.testing.assert_frame_equal(first.steps, again.steps)

    report, auc, reached = grid_tables(first.steps, (0.5, 1.0), n_boot=200)
    assert set(report["fraction"]) == {0.5, 1.0}
    assert {"oracle_fraction", "rollout_speedup"} <= set(report.columns)
    meta = pd.DataFrame([{"scenario": c.scenario.key, "strength": c.strength} for c in cells])
    table = fidelity_table(reached, meta, n_boot=200)
    assert set(table["status"]) <= {"reproduced", "refuted", "unresolved"}
    assert {"insight>random", "insight>mopps"} <= set(table["claim"])
    summary = claim_summary(table)
    assert set(summary["verdict"]) <= {"holds", "refuted", "depends"}
    tau = ranking_agreement(report, cells[0].scenario.key)
    assert tau.set_index("scenario").loc[cells[0].scenario.key, "tau"] == pytest.approx(1.0)


def _structure():
    from simulations.structure import load_structure

    return load_structure(ROOT / "results" / "sim-vs-harness" / "structure.json")


def test_measured_cells_take_the_structure_and_vary_only_discount_and_strength():
    from simulations.grid import MEASURED_LEARNING_RATE, measured_cells
    from simulations.structure import memorization_rate

    base = get_scenario("countdown-paper")
    structure = _structure()
    cells = measured_cells(structure, base)
    assert [c.name for c in cells] == [
        "measured-lam1", "measured-lam0.9", "measured-lam0.5",
        "measured-lam1-weak", "measured-lam1-strong", "measured-lam1-strongest",
    ]  # fmt: skip
    for cell in cells:
        env = cell.scenario.env
        assert cell.scenario.pool_key == base.key  # paired with every other grid's pools
        assert env.learner == "measured" and cell.learner == "measured"
        assert env.learning_rate == MEASURED_LEARNING_RATE
        # the structure, not the base scenario, sets transfer and memorisation
        assert env.transfer == pytest.approx(structure["transfer"])
        assert env.memorization_rate == pytest.approx(
            memorization_rate(structure, base.env.n_groups)
        )
        assert env.update_noise == tuple(tuple(r) for r in structure["update_noise"])
        assert env.composition == STRENGTHS[cell.strength]
        assert cell.scenario.discount == cell.discount
        assert cell.scenario.loop == base.loop
    with pytest.raises(ValueError, match="unknown strength"):
        measured_cells(structure, base, strengths=("huge",))


def test_the_measured_grid_cli_writes_the_fidelity_tables_and_checks_its_structure(tmp_path):
    from insight_bayes_cli import main

    out = tmp_path / "grid"
    rules = "random,insight,oracle,insight-adaptive"
    argv = ["sweep", "quick", "--grid", "measured", "--rules", rules,
            "--seeds", "2", "--workers", "1", "--no-plots", "--no-progress",
            "--out", str(out)]  # fmt: skip
    with pytest.raises(SystemExit, match="no such file"):
        main([*argv, "--structure", str(tmp_path / "missing.json")])
    structure = ROOT / "results" / "sim-vs-harness" / "structure.json"
    assert main([*argv, "--structure", str(structure)]) == 0
    cells = pd.read_csv(out / "cells.csv")
    assert set(cells["learner"]) == {"measured"} and len(cells) == 6
    fidelity = pd.read_csv(out / "fidelity.csv")
    assert set(fidelity["scenario"]) - {"weak vs strongest"} <= set(cells["scenario"])
    from insight_bayes.results.reader import read_manifest

    goal = pd.read_csv(out / "goal_cells.csv")  # a rule beyond InSight ran with InSight, oracle
    assert set(goal["rule"]) == {"insight-adaptive"} and len(goal) == 6 * 4
    assert set(goal["cell"]) == set(cells["cell"])
    assert (goal["meets"] == ((goal["ratio"] >= 1.10) & (goal["ratio_low"] > 1.0)
                              & (goal["oracle_fraction"] >= 0.85))).all()  # fmt: skip
    grid = read_manifest(out)["grid"]
    assert grid["name"] == "measured" and grid["structure"] == str(structure)
