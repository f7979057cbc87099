"""insight_bayes.analysis: hand-computed checks of the numbers behind figures and notebooks."""

from __future__ import annotations

import pandas as pd
import pytest

from insight_bayes.analysis import (
    cost_frame,
    speedups_per_step_and_rollout,
    study_summary,
    study_tables,
)


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


def test_study_tables_summary_and_cost_by_hand():
    steps = _study_steps()
    stt, sp = study_tables(steps, 0.5)
    assert stt.set_index(["rule", "seed"])["steps_to_target"].groupby("rule").mean().to_dict() == {
        "insight": 2, "random": 4
    }  # fmt: skip
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
    stt = pd.DataFrame(
        {"scenario": "s", "rule": ["random"] * 2 + ["ds"] * 2, "seed": [0, 1, 0, 1],
         "steps_to_target": [10, 10, 5, 5], "rollouts_to_target": [80, 80, 80, 80],
         "censored": False}
    )  # fmt: skip
    sp = speedups_per_step_and_rollout(stt, n_boot=200).set_index("rule")
    assert sp.loc["ds", "speedup"] == 2.0 and sp.loc["ds", "rollout_speedup"] == 1.0


def test_importing_the_analysis_and_the_figures_imports_neither_pymc_nor_torch():
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys, insight_bayes.analysis, paper_figures.registry, paper_figures.harness, "
        "paper_figures.simulated; print('pymc' in sys.modules, 'torch' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True
    )
    assert out.stdout.split() == ["False", "False"]
