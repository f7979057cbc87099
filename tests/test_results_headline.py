"""The headline and the summary table every sweep, study and plot prints."""

from __future__ import annotations

import pandas as pd
import pytest

from insight_bayes.results.headline import headline, summary_table_text, summary_text


def make_summary(**extra):
    table = pd.DataFrame(
        {
            "rule": ["random", "insight", "mopps", "oracle"],
            "final_accuracy": [0.80, 0.91, 0.88, 0.95],
            "final_accuracy_sd": [0.02, 0.01, 0.015, 0.005],
            "n_seeds": [10, 10, 10, 10],
            "n_censored": [0, 0, 2, 0],
            "speedup": [1.0, 1.4213, 1.9, 2.5],
            "ci_low": [1.0, 1.2149, 1.5, 2.2],
            "ci_high": [1.0, 1.6621, 2.3, 2.8],
            "rollout_speedup": [1.0, 1.4213, 0.5, 2.5],
            "rollout_ci_low": [1.0, 1.2149, 0.4, 2.2],
            "rollout_ci_high": [1.0, 1.6621, 0.6, 2.8],
            "informative_share": [0.3, 0.5, 0.45, 0.6],
            "rollouts_per_step": [256.0, 256.0, 256.0, 256.0],
        }
    )
    return table.assign(**extra)


def test_headline_names_insight_its_interval_and_the_best_usable_rule():
    line = headline(make_summary(), baseline="random", metric="eval/accuracy", target=0.6)
    # the oracle (privileged) is faster still but is no usable rule
    assert line == (
        "insight reaches eval/accuracy >= 0.6 1.42x faster than random (95% CI 1.21-1.66), "
        "10 seeds; best: mopps (1.90x, 0.50x in rollouts)"
    )


def test_headline_of_a_study_cut_short_counts_the_focus_rules_paired_seeds():
    # the baseline ran a fourth seed the others did not: insight is compared on 3
    s = make_summary(n_seeds=[4, 3, 3, 3])
    line = headline(s, baseline="random", metric="m", target=0.5)
    assert "(95% CI 1.21-1.66), 3 seeds paired; best: mopps" in line


def test_headline_of_a_slower_rule_and_of_censored_runs():
    s = make_summary(speedup=[1.0, 0.8, 1.9, 2.5], n_censored=[0, 3, 0, 0])
    line = headline(s, baseline="random", metric="m", target=0.5)
    assert line.startswith("insight reaches m >= 0.5 1.25x slower than random (speed-up 0.80,")
    assert line.endswith("3 of 10 insight runs never reached it")
    never = make_summary(n_censored=[10, 10, 0, 0])
    line = headline(never, baseline="random", metric="m", target=0.5)
    assert line.startswith("neither insight nor random reaches m >= 0.5 in any of 10 seeds")
    assert line.endswith("highest final m: oracle (0.950)")


def test_headline_without_insight_or_speedups():
    s = make_summary().query("rule != 'insight'")
    assert headline(s, baseline="random", metric="m", target=0.5).startswith(
        "mopps reaches m >= 0.5 1.90x faster"
    )
    plain = make_summary().drop(columns=["speedup", "ci_low", "ci_high"])
    assert headline(plain, baseline="random", metric="m", target=0.5).startswith(
        "oracle ends highest: final m 0.950"
    )


def test_headline_over_several_scenarios_counts_them():
    one = make_summary(scenario="a@v1")
    two = make_summary(scenario="b@v1", ci_low=[1.0, 0.9, 1.5, 2.2], speedup=[1.0, 1.1, 1.2, 2.0])
    line = headline(pd.concat([one, two]), baseline="random", metric="m", target=0.5)
    # insight's medians: (1.4213 + 1.1) / 2; mopps's: (1.9 + 1.2) / 2 = 1.55
    assert line == (
        "insight reaches m >= 0.5 faster than random (95% CI above 1) in 1 of 2 scenarios, "
        "median speed-up 1.26x, 10 seeds; best median: mopps (1.55x)"
    )


def test_table_is_sorted_formatted_and_fits_the_width():
    text = summary_table_text(make_summary(), metric="eval/accuracy", baseline="random")
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["rule", "speed-up", "(steps)"]
    assert [line.split()[0] for line in lines[1:5]] == ["oracle", "mopps", "insight", "random"]
    assert "1.42x [1.21, 1.66]" in lines[3] and "0.910 ± 0.010" in lines[3]
    assert "8/10" in lines[2] and "1.00x (baseline)" in lines[4]
    assert lines[-1].startswith("oracle: privileged")
    assert max(map(len, lines)) <= 100
    for width in (40, 60, 80):
        narrow = summary_table_text(make_summary(), metric="m", baseline="random", width=width)
        rows = narrow.splitlines()[:5]
        # rule and speed-up always stay; optional columns go while the table is too wide
        assert "speed-up (steps)" in rows[0] and "1.42x [1.21, 1.66]" in rows[3]
        assert max(map(len, rows)) <= max(width, len("oracle              2.50x [2.20, 2.80]"))


def test_long_labels_are_shortened_and_rows_capped():
    s = make_summary(rule=["random", "insight:mu=0.123456789,eta=3.14159265358979", "mopps", "x"])
    text = summary_table_text(s, metric="m", baseline="random", width=60, max_rows=3)
    lines = text.splitlines()
    assert any(line.startswith("insight:mu=0.1234... ") for line in lines)
    assert lines[-1] == "... 1 more rows (summary.csv holds them all)"


def test_summary_text_is_headline_then_table_and_checks_the_target():
    s = make_summary()
    text = summary_text(s, baseline="random", metric="m", target=0.5)
    first, blank, rest = text.split("\n", 2)
    assert first == headline(s, baseline="random", metric="m", target=0.5) and blank == ""
    assert rest == summary_table_text(s, metric="m", baseline="random")
    with pytest.raises(ValueError, match="target"):
        summary_text(s, baseline="random", metric="m", target=float("nan"))


def test_an_undefined_interval_is_said_so_with_its_reason():
    from insight_bayes.results.headline import UNDEFINED_NOTE

    summary = make_summary()
    defined = summary_text(summary, baseline="random", metric="eval/accuracy", target=0.6)
    assert "undefined" not in defined
    summary.loc[summary["rule"] == "insight", ["ci_low", "ci_high"]] = float("nan")
    text = summary_text(summary, baseline="random", metric="eval/accuracy", target=0.6)
    assert "1.42x faster than random (interval undefined*)" in text.splitlines()[0]
    assert "1.42x [undefined*]" in text
    assert text.endswith(UNDEFINED_NOTE) and "nan" not in text


def test_a_zero_over_zero_replicate_leaves_the_interval_undefined_without_a_warning():
    import warnings

    import numpy as np

    from insight_bayes.results.targets import bootstrap_speedups

    # draw 1: every run met the target at step 0; draw 0: insight twice as fast
    rows = [(0, "random", s, 8.0) for s in range(2)] + [(0, "insight", s, 4.0) for s in range(2)]
    rows += [(1, r, s, 0.0) for r in ("random", "insight") for s in range(2)]
    reached = pd.DataFrame(rows, columns=["draw", "rule", "seed", "steps_to_target"]).assign(
        target=0.3, censored=False, horizon=10, rollouts_to_target=lambda d: d.steps_to_target
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = bootstrap_speedups(reached, baseline="random", n_boot=400, rng=0)
    row = out.set_index("rule").loc["insight"]
    assert row["speedup"] == pytest.approx(2.0)  # the draw at 0 adds 0 to both means
    assert np.isnan(row["ci_low"]) and np.isnan(row["ci_high"])


def test_early_target_note_names_a_target_met_in_the_first_steps():
    from insight_bayes.results.headline import early_target_note

    early = pd.DataFrame({"rule": ["random", "insight"], "mean_cost": [2.0, 2.2]})
    note = early_target_note(early, 150)
    assert note is not None and "within 2.2 steps on average (of 150)" in note
    # 7.5 steps is 5% of 150: still early; 7.6 is not
    assert early_target_note(early.assign(mean_cost=[2.0, 7.5]), 150) is not None
    assert early_target_note(early.assign(mean_cost=[2.0, 7.6]), 150) is None
    # a censored or undefined mean is no evidence of an early target
    assert early_target_note(early.assign(mean_cost=[2.0, float("nan")]), 150) is None
    assert early_target_note(early.drop(columns="mean_cost"), 150) is None
    at_start = early_target_note(early.assign(mean_cost=[0.0, 0.0]), 150)
    assert "reaches the target before training (step 0)" in at_start
    with pytest.raises(ValueError, match="horizon"):
        early_target_note(early, 0)
    # summary_text adds it when told the horizon, and only then
    assert note in summary_text(early.assign(final_accuracy=0.5), baseline="random",
                                metric="m", target=0.3, horizon=150)  # fmt: skip
    assert "note:" not in summary_text(early.assign(final_accuracy=0.5), baseline="random",
                                       metric="m", target=0.3)  # fmt: skip
