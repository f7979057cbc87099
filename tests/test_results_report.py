"""The one report stage: which tables a plan derives, what they hold, and how they land."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from insight_bayes.results import load_results, read_table
from insight_bayes.results.report import REPORT_TABLES, AnalysisPlan, derive_tables, write_report


def _steps(draws: int = 1) -> pd.DataFrame:
    """Random climbs 0.1 -> 0.5 by step 4, InSight by step 2 (8 rollouts a step), every
    seed alike; with ``draws`` > 1 a ``draw`` column repeats the design per draw."""
    rows = []
    for draw in range(draws):
        for rule, hit in (("random", 4), ("insight", 2)):
            for seed in range(3):
                for step in range(6):
                    value = 0.1 + 0.4 * min(step / hit, 1.0)
                    rows.append(
                        {"scenario": f"s@{draw}", "draw": draw, "rule": rule, "seed": seed,
                         "step": step, "rollouts": 8 * (step > 0), "train_reward": value,
                         "eval/pass1": value}
                    )  # fmt: skip
    steps = pd.DataFrame(rows)
    return steps if draws > 1 else steps.drop(columns="draw")


def test_a_plan_is_checked_and_recorded():
    with pytest.raises(ValueError, match="not both"):
        AnalysisPlan("eval/pass1", 0.5, curve_targets=(0.3,), target_fractions=(0.5,))
    with pytest.raises(ValueError, match="n_boot"):
        AnalysisPlan("eval/pass1", 0.5, n_boot=0)
    plan = AnalysisPlan("eval/pass1", 0.5, target_fractions=[0.5, 1])
    assert plan.record() == {"metric": "eval/pass1", "target": 0.5, "baseline": "random",
                             "n_boot": 2000, "target_fractions": [0.5, 1.0]}  # fmt: skip


def test_relative_targets_sit_at_fractions_of_the_baselines_gain():
    # Random's gain is 0.4 (0.1 -> 0.5): half of it is 0.3, reached at step 2 by Random
    # (0.1 + 0.4 * 2/4) and at step 1 by InSight (0.1 + 0.4 * 1/2)
    tables = derive_tables(_steps(), AnalysisPlan("eval/pass1", 0.5, target_fractions=(0.5, 1.0)))
    assert set(tables) == {"steps_to_target", "summary", "speedup_curve", "auc"}
    curve = tables["speedup_curve"].set_index(["fraction", "rule"])
    assert curve.loc[(0.5, "insight"), "target"] == pytest.approx(0.3)
    assert curve.loc[(0.5, "insight"), "speedup"] == pytest.approx(2.0)
    assert curve.loc[(1.0, "insight"), "speedup"] == pytest.approx(2.0)
    assert curve.loc[(1.0, "insight"), "rollout_speedup"] == pytest.approx(2.0)


def test_absolute_curve_and_baseline_final_for_sweeps():
    plan = AnalysisPlan("eval/pass1", 0.5, curve_targets=(0.3, 0.5), baseline_final=True)
    tables = derive_tables(_steps(), plan)
    assert set(tables) == set(REPORT_TABLES)
    curve = tables["speedup_curve"].set_index(["target", "rule"])
    assert curve.loc[(0.3, "insight"), "speedup"] == pytest.approx(2.0)
    final = tables["speedup_to_baseline_final"].set_index("rule")
    assert final.loc["insight", "speedup"] == pytest.approx(2.0)


def test_the_curve_is_placed_per_draw_when_the_steps_have_draws():
    steps = _steps(draws=2)
    steps.loc[steps["draw"] == 1, "eval/pass1"] += 0.2  # draw 1 starts higher: its own targets
    curve = derive_tables(steps, AnalysisPlan("eval/pass1", 0.5, target_fractions=(1.0,)))[
        "speedup_curve"
    ].set_index("rule")
    assert curve.loc["insight", "target"] == pytest.approx(0.6)  # mean of 0.5 and 0.7
    assert curve.loc["insight", "n_draws"] == 2
    assert curve.loc["insight", "speedup"] == pytest.approx(2.0)


def test_without_the_metric_or_the_baseline_only_a_summary():
    steps = _steps()
    no_metric = derive_tables(steps.drop(columns="eval/pass1"), AnalysisPlan("eval/pass1", 0.5))
    assert list(no_metric) == ["summary"]
    no_baseline = derive_tables(steps[steps["rule"] != "random"], AnalysisPlan("eval/pass1", 0.5))
    assert list(no_baseline) == ["summary"] and "speedup" not in no_baseline["summary"]


def test_write_report_writes_each_table_once_and_the_reader_reads_them_back(tmp_path):
    steps = _steps()
    steps.to_parquet(tmp_path / "steps.parquet")
    tables = write_report(tmp_path, steps, AnalysisPlan("eval/pass1", 0.5))
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(["steps.parquet", *(f"{n}.csv" for n in tables)])
    results = load_results(tmp_path)
    for name, table in tables.items():
        back = results.table(name)
        assert list(back.columns) == list(table.columns)
        numeric = table.select_dtypes("number").columns
        np.testing.assert_allclose(back[numeric], table[numeric])
    with pytest.raises(FileNotFoundError, match="holds auc, steps, steps_to_target, summary"):
        read_table(tmp_path, "speedup_curve")


def test_references_add_paired_speedups_against_another_rule(tmp_path):
    plan = AnalysisPlan("eval/pass1", 0.5, references=("insight",))
    assert plan.record()["references"] == ["insight"]
    tables = write_report(tmp_path, _steps(), plan)
    saved = read_table(tmp_path, "against_insight")
    assert list(tables["against_insight"].columns) == list(saved.columns)
    against = saved.set_index("rule")
    # InSight reaches 0.5 at step 2, Random at step 4: Random is half as fast as InSight
    assert against.loc["random", "speedup"] == pytest.approx(0.5)
    assert against.loc["random", "rollout_speedup"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="no runs of the reference 'mopps'"):
        derive_tables(_steps(), AnalysisPlan("eval/pass1", 0.5, references=("mopps",)))
    with pytest.raises(ValueError, match="not a further reference"):
        AnalysisPlan("eval/pass1", 0.5, references=("random",))
