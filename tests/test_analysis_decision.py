"""The decision table: the best new rule against the best incumbent, by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from insight_bayes.analysis.decision import (
    decision_table,
    design_ranking,
    speedups_over_baseline,
    verdict,
)


def _steps(hits: dict[str, int], draws: int = 2, seeds: int = 2) -> pd.DataFrame:
    """Each rule climbs linearly from 0 to 1 by step ``hits[rule]`` (then stays), the
    same in every draw and seed; 8 rollouts a step, except 'costly' (16)."""
    rows = []
    for draw in range(draws):
        for rule, hit in hits.items():
            for seed in range(seeds):
                for step in range(9):
                    rows.append(
                        {"scenario": f"s{draw}", "draw": draw, "rule": rule, "seed": seed,
                         "step": step, "rollouts": (16 if rule == "costly" else 8) * (step > 0),
                         "eval/pass1": min(step / hit, 1.0)}
                    )  # fmt: skip
    return pd.DataFrame(rows)


def test_the_best_of_each_list_is_compared_in_steps_and_rollouts():
    steps = _steps({"random": 8, "old-a": 4, "old-b": 6, "costly": 2, "new-b": 5})
    table = decision_table(
        steps, new=["costly", "new-b"], incumbents=["old-a", "old-b"], fractions=[0.5, 1.0],
        metric="eval/pass1", n_boot=200,
    )  # fmt: skip
    assert table["fraction"].tolist() == [0.5, 1.0]
    row = table.set_index("fraction").loc[1.0]
    # Random reaches 1 at step 8; old-a at 4 (2x), old-b at 6, costly at 2 (4x), new-b at 5
    assert (row.best_new, row.best_incumbent) == ("costly", "old-a")
    assert row.new_vs_baseline == pytest.approx(4.0) and row.incumbent_vs_baseline == 2.0
    assert row.ratio == pytest.approx(2.0) and (row.ci_low, row.ci_high) == (2.0, 2.0)
    assert row.rollout_ratio == pytest.approx(1.0)  # twice as fast, twice the rollouts
    assert row.n_draws == 2 and row.n_seeds == 4


def test_lists_must_be_disjoint_and_present():
    steps = _steps({"random": 8, "a": 4})
    with pytest.raises(ValueError, match="disjoint"):
        decision_table(steps, new=["a"], incumbents=["a"], fractions=[1.0], metric="eval/pass1")
    with pytest.raises(ValueError, match=r"no runs of \['b'\]"):
        decision_table(steps, new=["b"], incumbents=["a"], fractions=[1.0], metric="eval/pass1")


def test_the_verdict_needs_two_clear_wins_and_no_loss_below_the_floor():
    def table(ratios_lows):
        return pd.DataFrame(
            [{"design": f"d{i}", "fraction": 1.0, "ratio": r, "ci_low": lo}
             for i, (r, lo) in enumerate(ratios_lows)]
        )  # fmt: skip

    assert verdict(table([(1.2, 1.05), (1.15, 1.01), (0.97, 0.9)]))["met"]
    out = verdict(table([(1.2, 1.05), (1.15, 0.99), (1.0, 0.9)]))
    assert not out["met"] and out["clear_wins"] == ["d0"]
    out = verdict(table([(1.2, 1.05), (1.15, 1.01), (0.90, 0.8)]))
    assert not out["met"] and out["below_floor"] == ["d2"]
    one = verdict(table([(1.5, 1.3)]))  # one design, however clear, is not two
    assert not one["met"] and one["clear_wins"] == ["d0"]
    assert verdict(table([(1.5, 1.3)]), min_wins=1)["met"]
    with pytest.raises(ValueError, match="no row at fraction 0.5"):
        verdict(table([(1.2, 1.05)]), at=0.5)


def test_the_command_writes_the_table_and_says_the_verdict(tmp_path, capsys):
    import json

    from insight_bayes_cli import main

    folders = []
    for name, hits in (
        ("d1", {"random": 8, "insight": 4, "insight-eb": 2}),
        ("d2", {"random": 8, "insight": 4, "insight-eb": 3}),
    ):
        folder = tmp_path / name
        folder.mkdir()
        steps = _steps(hits).assign(train_reward=0.5)
        steps.to_parquet(folder / "steps.parquet")
        analysis = {"metric": "eval/pass1", "target": 0.5, "baseline": "random",
                    "target_fractions": [1.0]}  # fmt: skip
        (folder / "manifest.json").write_text(json.dumps({"kind": "study", "analysis": analysis}))
        folders.append(str(folder))
    out = tmp_path / "decision"
    argv = ["decide", *folders, "--new", "insight-eb", "--incumbents", "insight"]
    argv += ["--out", str(out)]
    assert main([*argv, "--n-boot", "200"]) == 0
    text = capsys.readouterr().out
    assert "MET (clear wins: d1, d2" in text
    table = pd.read_csv(out / "decision.csv")
    assert table["ratio"].round(6).tolist() == [2.0, round(4 / 3, 6)]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "decision" and manifest["verdict"]["met"]
    # every compared rule over Random: insight 2x on both; insight-eb 4x and 8/3x
    every = pd.read_csv(out / "speedups.csv").set_index(["design", "rule"])["speedup"]
    assert every.round(6).to_dict() == {
        ("d1", "insight"): 2.0, ("d1", "insight-eb"): 4.0,
        ("d2", "insight"): 2.0, ("d2", "insight-eb"): round(8 / 3, 6),
    }  # fmt: skip
    ranking = pd.read_csv(out / "ranking.csv")
    assert ranking["rule"].tolist() == ["insight-eb", "insight"]
    assert ranking["geomean_speedup"].iloc[0] == pytest.approx((4 * 8 / 3) ** 0.5)
    assert ranking["worst_design"].iloc[0] == "d2"


def test_the_ranking_is_the_geometric_mean_over_designs():
    rows = [("d1", "a", 2.0), ("d2", "a", 0.5), ("d1", "b", 1.5), ("d2", "b", 1.5),
            ("d1", "c", 4.0), ("d2", "c", 0.25)]  # fmt: skip
    speedups = pd.DataFrame(rows, columns=["design", "rule", "speedup"]).assign(fraction=1.0)
    ranking = design_ranking(speedups).set_index("rule")
    # a: sqrt(2 x 0.5) = 1; b: 1.5; c: sqrt(4 x 0.25) = 1, worse on its worst design
    assert ranking.loc["b", "rank"] == 1
    assert ranking.loc["a", "geomean_speedup"] == pytest.approx(1.0)
    assert ranking.loc["c", "geomean_speedup"] == pytest.approx(1.0)
    assert (ranking.loc["c", "worst_speedup"], ranking.loc["c", "worst_design"]) == (0.25, "d2")
    with pytest.raises(ValueError, match="every design"):
        design_ranking(speedups[~((speedups.design == "d2") & (speedups.rule == "a"))])
    with pytest.raises(ValueError, match="positive and finite"):
        design_ranking(speedups.assign(speedup=speedups["speedup"].where(speedups.rule != "a", 0)))


def test_speedups_over_baseline_are_those_the_decision_picks_from():
    steps = _steps({"random": 8, "old-a": 4, "new-b": 5})
    every = speedups_over_baseline(steps, fractions=[1.0], metric="eval/pass1", n_boot=200)
    assert set(every["rule"]) == {"old-a", "new-b"}  # not the baseline itself
    at = every.set_index("rule")["speedup"]
    assert at["old-a"] == pytest.approx(2.0) and at["new-b"] == pytest.approx(8 / 5)
    table = decision_table(
        steps, new=["new-b"], incumbents=["old-a"], fractions=[1.0], metric="eval/pass1",
        n_boot=200,
    )  # fmt: skip
    assert table["new_vs_baseline"].iloc[0] == pytest.approx(at["new-b"])


def test_absolute_targets_for_sweeps_and_one_kind_of_target_only():
    steps = _steps({"random": 8, "old-a": 4, "new-a": 2}, draws=1)
    table = decision_table(
        steps.drop(columns="draw"), new=["new-a"], incumbents=["old-a"], targets=[0.5],
        metric="eval/pass1", n_boot=200,
    )  # fmt: skip
    assert table.columns[0] == "target" and table["ratio"].tolist() == [pytest.approx(2.0)]
    with pytest.raises(ValueError, match="not both"):
        decision_table(steps, new=["new-a"], incumbents=["old-a"], fractions=[1.0],
                       targets=[0.5], metric="eval/pass1")  # fmt: skip
