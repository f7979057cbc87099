"""insight_bayes.analysis: hand-computed checks of the numbers behind figures and notebooks."""

from __future__ import annotations

import pandas as pd
import pytest

from insight_bayes.analysis import cost_frame, speedup_columns, study_summary
from insight_bayes.results.report import AnalysisPlan, derive_tables


def _steps(values: dict[str, list[float]], metric: str) -> pd.DataFrame:
    """Two seeds per rule; step 0 is left out of the AUC."""
    rows = []
    for rule, per_seed in values.items():
        for seed, v in enumerate(per_seed):
            rows += [{"rule": rule, "seed": seed, "step": 0, metric: 99.0},
                     {"rule": rule, "seed": seed, "step": 1, metric: v},
                     {"rule": rule, "seed": seed, "step": 2, metric: v + 0.2}]  # fmt: skip
    return pd.DataFrame(rows)


def _study_steps() -> pd.DataFrame:
    """Random reaches 0.5 at step 4, InSight at step 2; both spend 8 rollouts a step."""
    rows = []
    for rule, hit in (("random", 4), ("insight", 2)):
        for seed in range(3):
            for step in range(6):
                rows.append(
                    {"rule": rule, "seed": seed, "step": step, "rollouts": 8 * (step > 0),
                     "step_seconds": 0.5, "informative_share": 0.25 * (rule == "insight"),
                     "eval/pass1": 0.5 if step >= hit else 0.1}
                )  # fmt: skip
    return pd.DataFrame(rows)


def test_saved_speedups_summary_and_cost_by_hand():
    steps = _study_steps()
    tables = derive_tables(steps, AnalysisPlan(metric="eval/pass1", target=0.5))
    stt = tables["steps_to_target"]
    assert stt.set_index(["rule", "seed"])["steps_to_target"].groupby("rule").mean().to_dict() == {
        "insight": 2, "random": 4
    }  # fmt: skip
    sp = speedup_columns(tables["summary"])
    row = sp.set_index("rule").loc["insight"]
    assert row["speedup"] == 2.0 and row["rollout_speedup"] == 2.0
    assert (row["ci_low"], row["ci_high"]) == (2.0, 2.0)  # identical seeds: no spread
    summary = study_summary(steps, sp, "eval/pass1")
    assert list(summary["rule"]) == ["insight", "random"]
    assert summary.set_index("rule").loc["insight", "final_metric"] == 0.5
    assert summary.set_index("rule").loc["insight", "informative_share"] == 0.25
    assert summary.set_index("rule").loc["random", "rollouts"] == 8.0
    cost = cost_frame([("harness", steps, sp), ("again", steps, sp)])
    assert list(cost["setting"]) == ["harness", "harness", "again", "again"]
    assert cost["ms_per_step"].tolist() == [500.0] * 4
    with pytest.raises(ValueError, match="at least one"):
        cost_frame([])


def test_speedups_per_step_and_rollout_differ_when_rollouts_do():
    """Dynamic Sampling's shape: half the steps, the same rollouts."""
    rows = []
    for rule, hit, per_step in (("random", 4, 8), ("ds", 2, 16)):
        for seed in range(2):
            for step in range(6):
                rows.append(
                    {"scenario": "s", "rule": rule, "seed": seed, "step": step,
                     "rollouts": per_step * (step > 0),
                     "eval/accuracy": 0.5 if step >= hit else 0.1}
                )  # fmt: skip
    tables = derive_tables(pd.DataFrame(rows), AnalysisPlan(metric="eval/accuracy", target=0.5))
    sp = speedup_columns(tables["summary"]).set_index("rule")
    assert sp.loc["ds", "speedup"] == 2.0 and sp.loc["ds", "rollout_speedup"] == 1.0


def test_a_summary_without_speedups_is_refused():
    with pytest.raises(ValueError, match="no speed-ups"):
        speedup_columns(pd.DataFrame({"rule": ["random"], "final_accuracy": [0.5]}))


def test_importing_the_analysis_and_the_figures_imports_neither_pymc_nor_torch():
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys, insight_bayes.analysis, paper_figures.figure_registry, "
        "paper_figures.harness_figures, paper_figures.simulated; "
        "print('pymc' in sys.modules, 'torch' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True
    )
    assert out.stdout.split() == ["False", "False"]
