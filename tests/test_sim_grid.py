"""The robustness grid: its cells, paired pools, resume, and the fidelity tables."""

from __future__ import annotations

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
