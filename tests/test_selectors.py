"""Selection rules: the registry, top-M with random ties (Eq. 17) and each rule's choice."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from scipy import stats

from insight_bayes import (
    PAPER_RULES,
    BetaBelief,
    available_selectors,
    draw_candidates,
    make_selector,
    mutual_information,
    top_m,
    wmi_score,
)
from insight_bayes.environment import FixedRateEnvironment
from insight_bayes.loop import LoopConfig, SelectionLoop
from insight_bayes.rewards import Rollout, bernoulli_rollout, expected_group_std
from insight_bayes.selectors import parse_rule_label, selector_from_label

ALL_RULES = [  # method notes, Section 6
    "random",
    "mopps",
    "expected-difficulty",
    "inverse-evidence",
    "mi",
    "weight",
    "insight",
    "insight-sampled",
    "dynamic-sampling",
]


@pytest.fixture
def observed_belief():
    """A pool of 400 prompts with varied evidence and means."""
    rng = np.random.default_rng(11)
    belief = BetaBelief(400)
    visits = rng.integers(0, 6, 400)
    rates = rng.beta(0.7, 0.7, 400)
    trials = 8 * visits
    belief.update(np.arange(400), rng.binomial(trials, rates), trials)
    return belief


def test_registry_holds_every_rule_of_the_paper_first():
    assert available_selectors()[: len(ALL_RULES)] == ALL_RULES
    assert list(PAPER_RULES) == ALL_RULES
    assert {"oracle", "oracle-score"} <= set(available_selectors())


@pytest.mark.parametrize(
    "written, name",
    [("InSight", "insight"), ("MoPPS", "mopps"), ("Dynamic Sampling", "dynamic-sampling"),
     ("insight_sampled", "insight-sampled"), ("MoPPS-Published", "mopps-published"),
     (" Random ", "random")],
)  # fmt: skip
def test_rule_names_accept_the_papers_spelling(written, name):
    from insight_bayes.selectors import canonical_rule_label, canonical_rule_name, parse_rule_label

    assert canonical_rule_name(written) == name
    assert make_selector(written).name == selector_from_label(name).name
    label = f"{written}:discount=0.5" if "mopps" in name else written
    assert parse_rule_label(label) == parse_rule_label(label.lower().strip().replace(" ", "-")
                                                       .replace("_", "-"))  # fmt: skip
    assert canonical_rule_label(label).split(":")[0] == name


def test_unknown_rule_and_parameter_are_refused():
    suggested = r"unknown selector 'insigth' \(did you mean 'insight'\?\); available: random"
    with pytest.raises(ValueError, match=suggested):
        make_selector("insigth")
    with pytest.raises(ValueError, match=r"unknown selector 'zzz'; available: random"):
        make_selector("zzz")  # nothing close: no suggestion
    with pytest.raises(TypeError, match=r"takes no parameter\(s\) \['mu'\]"):
        make_selector("mopps", mu=0.3)


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("insight", {"mu": 1.5}, "mu must be <= 1"),
        ("insight", {"eta": -1.0}, "eta must be >= 0"),
        ("weight", {"mu": -0.1}, "mu must be >= 0"),
        ("mopps", {"target": 2.0}, "target must be <= 1"),
        ("dynamic-sampling", {"max_rounds": 0}, "max_rounds must be >= 1"),
        ("dynamic-sampling", {"oversample": 0.5}, "oversample must be >= 1"),
    ],
)
def test_bad_rule_parameters_are_refused_at_construction(name, params, match):
    with pytest.raises(ValueError, match=match):
        make_selector(name, **params)


def test_paper_defaults():
    rule = make_selector("insight")
    assert (rule.mu, rule.eta) == (0.3, 3.0)
    assert make_selector("mopps").target == 0.5


def _brute_force_best(scores, m):
    return set(np.argsort(-scores, kind="stable")[:m].tolist())


@pytest.mark.parametrize(
    ("name", "score_fn"),
    [
        ("insight", lambda b: wmi_score(b.alpha, b.beta, 8)),
        ("mi", lambda b: mutual_information(b.alpha, b.beta, 8)),
        ("expected-difficulty", lambda b: -((b.mean - 0.5) ** 2)),
        ("inverse-evidence", lambda b: 1.0 / b.evidence),
    ],
)
def test_deterministic_rules_keep_their_top_scores(observed_belief, name, score_fn):
    candidates = np.arange(400)
    chosen = make_selector(name).select(candidates, observed_belief, m=20, k=8, rng=0)
    scores = score_fn(observed_belief)
    # Ties at the cut may be broken either way; compare the kept score values.
    expected = np.sort(scores)[::-1][:20]
    np.testing.assert_allclose(np.sort(scores[chosen.ids])[::-1], expected, rtol=1e-12)
    assert np.all(np.diff(chosen.scores) <= 0), "ids come best first"


def test_only_candidates_can_be_chosen(observed_belief):
    candidates = np.arange(100, 200)
    for name in ALL_RULES[:-1]:
        chosen = make_selector(name).select(candidates, observed_belief, m=10, k=8, rng=1)
        assert set(chosen.ids) <= set(candidates)
        assert len(set(chosen.ids)) == 10


def test_mopps_approaches_expected_difficulty_when_beliefs_are_sharp():
    belief = BetaBelief(50)
    rates = np.linspace(0.013, 0.97, 50)  # no two equally far from 0.5
    belief.update(np.arange(50), np.round(rates * 1e6), np.full(50, 1e6))
    mopps = make_selector("mopps").select(np.arange(50), belief, 5, 8, rng=3)
    ed = make_selector("expected-difficulty").select(np.arange(50), belief, 5, 8, rng=3)
    assert set(mopps.ids) == set(ed.ids)


def test_sampled_rules_use_randomness_and_seeds_reproduce(observed_belief):
    cand = np.arange(400)
    for name in ("mopps", "insight-sampled", "random"):
        rule = make_selector(name)
        a = rule.select(cand, observed_belief, 30, 8, rng=5).ids
        b = rule.select(cand, observed_belief, 30, 8, rng=5).ids
        c = rule.select(cand, observed_belief, 30, 8, rng=6).ids
        np.testing.assert_array_equal(a, b)
        assert set(a) != set(c)


def test_random_rule_is_uniform():
    belief = BetaBelief(20)
    rule = make_selector("random")
    rng = np.random.default_rng(0)
    counts = np.zeros(20)
    for _ in range(2000):
        counts[rule.select(np.arange(20), belief, 5, 8, rng).ids] += 1
    # Each prompt is kept with probability 1/4: 500 expected, sd ~19.4.
    assert np.all(np.abs(counts - 500) < 5 * 19.4)


def test_ties_are_broken_at_random_not_by_index():
    belief = BetaBelief(40)  # every prompt at the prior: all scores tie
    rng = np.random.default_rng(1)
    counts = np.zeros(40)
    for _ in range(1000):
        counts[make_selector("insight").select(np.arange(40), belief, 4, 8, rng).ids] += 1
    # 100 expected per prompt (sd ~9.5); index order would give 1000 to the first four.
    assert counts.max() < 150 and counts.min() > 50


def test_top_m_basics():
    pos = top_m(np.array([0.1, 0.9, 0.5, 0.7]), 2, rng=0)
    np.testing.assert_array_equal(pos, [1, 3])
    with pytest.raises(ValueError, match="NaN"):
        top_m(np.array([0.1, np.nan]), 1, rng=0)
    with pytest.raises(ValueError, match="m must be <= 2"):
        top_m(np.array([0.1, 0.2]), 3, rng=0)


def test_m_larger_than_candidates_is_refused(observed_belief):
    with pytest.raises(
        ValueError, match=r"must not exceed the number of candidates M_hat; got m=11 > M_hat=10"
    ):
        make_selector("insight").select(np.arange(10), observed_belief, 11, 8, rng=0)


@pytest.mark.parametrize(
    ("candidates", "error", "match"),
    [
        (np.array([0, 400]), ValueError, "candidates must lie in"),
        (np.array([1, 1, 2]), ValueError, "distinct"),
        (np.array([0.0, 1.0]), TypeError, "candidates must hold integers"),
        (np.array([], dtype=int), ValueError, "empty"),
    ],
)
def test_bad_candidates_are_refused(observed_belief, candidates, error, match):
    with pytest.raises(error, match=match):
        make_selector("insight").select(candidates, observed_belief, 1, 8, rng=0)


def test_k_is_checked(observed_belief):
    with pytest.raises(ValueError, match="k must be >= 1"):
        make_selector("mi").select(np.arange(10), observed_belief, 2, 0, rng=0)


def test_draw_candidates_distinct_uniform_and_capped():
    ids = draw_candidates(1000, 64, rng=0)
    assert ids.size == 64 and np.unique(ids).size == 64
    assert np.all((ids >= 0) & (ids < 1000))
    everything = draw_candidates(50, 800, rng=0)
    assert sorted(everything.tolist()) == list(range(50))
    # uniform: each of 100 ids is drawn in 10 of every 100 draws of 10
    rng = np.random.default_rng(3)
    counts = np.bincount(
        np.concatenate([draw_candidates(100, 10, rng) for _ in range(3000)]), minlength=100
    )
    assert stats.chisquare(counts).pvalue > 1e-3


# ------------------------------------------------------------- dynamic sampling


def _rollout_from_rates(rates, k, rng):
    calls = []

    def rollout(ids):
        calls.append(np.array(ids))
        return bernoulli_rollout(rates[ids], k, rng)

    return rollout, calls


def test_dynamic_sampling_keeps_informative_groups_and_counts_rollouts():
    rates = np.where(np.arange(300) % 3 == 0, 0.5, 0.0)  # 1 prompt in 3 can be informative
    belief = BetaBelief(300)
    rollout, calls = _rollout_from_rates(rates, 8, np.random.default_rng(0))
    rule = make_selector("dynamic-sampling", max_rounds=10, oversample=1)
    sel = rule.gather(np.arange(300), belief, 20, 8, 0, rollout)
    assert sel.ids.size == 20 and np.all(sel.scores == 1.0)
    assert np.all(np.ptp(sel.rollout.rewards, axis=1) > 0)
    assert np.all(sel.ids % 3 == 0)  # only the prompts that can be informative
    rolled = np.concatenate(calls)
    assert sel.rollouts == rolled.size * 8
    assert sel.rounds == len(calls) > 1
    assert sel.rollouts > 20 * 8  # it paid for the discarded groups
    assert np.unique(rolled).size == rolled.size  # never rolls out a prompt twice in a step


def test_dynamic_sampling_fills_with_uninformative_groups_at_the_cap():
    rates = np.zeros(100)  # nothing is informative
    rollout, calls = _rollout_from_rates(rates, 4, np.random.default_rng(0))
    sel = make_selector("dynamic-sampling", max_rounds=2, oversample=1).gather(
        np.arange(100), BetaBelief(100), 10, 4, 0, rollout
    )
    assert sel.ids.size == 10 and np.all(sel.scores == 0.0)
    assert sel.rounds == 2 and sel.rollouts == 2 * 10 * 4


def test_every_rule_scores_selects_and_gathers():
    rates = np.linspace(0.0, 1.0, 50)
    env = FixedRateEnvironment(rates)  # oracles need true rates; binding is a no-op otherwise
    for name in available_selectors():
        rule = make_selector(name).bind(env)
        belief = rule.new_belief(50)  # a rule may need its own belief class
        scores = rule.score(np.arange(50), belief, 4, np.random.default_rng(0))
        assert scores.shape == (50,) and np.all(np.isfinite(scores))
        chosen = rule.select(np.arange(50), belief, 5, 4, 0)
        assert chosen.ids.size == 5 and np.unique(chosen.ids).size == 5
        rollout, calls = _rollout_from_rates(rates, 4, np.random.default_rng(1))
        batch = rule.gather(np.arange(50), belief, 5, 4, 0, rollout)
        assert batch.ids.size == 5 and batch.rollout.rewards.shape == (5, 4)
        assert batch.rollouts == sum(c.size for c in calls) * 4 >= 5 * 4


def test_dynamic_sampling_chooses_after_rollouts_and_refuses_bad_rollouts():
    rule = make_selector("dynamic-sampling")
    assert not rule.rollout_filter.chooses_before_rollouts
    assert make_selector("insight").rollout_filter.chooses_before_rollouts
    with pytest.raises(ValueError, match="rollout returned shape"):
        rule.gather(
            np.arange(10),
            BetaBelief(10),
            2,
            4,
            0,
            lambda ids: bernoulli_rollout([0.5], 4, np.random.default_rng(0)),
        )
    with pytest.raises(TypeError, match="must return a Rollout"):
        rule.gather(np.arange(10), BetaBelief(10), 2, 4, 0, lambda ids: np.zeros((ids.size, 4)))


# ------------------------------------------------------------- fair baselines
def test_dynamic_sampling_filters_on_binary_correctness_not_graded_rewards():
    # rewards 0 / 0.1 mix, but no answer is correct: a graded ptp filter would keep them
    k, m = 4, 5
    belief = BetaBelief(40)

    def graded_wrong(ids):
        rewards = np.tile([0.0, 0.1, 0.0, 0.1], (ids.size, 1))
        return Rollout(rewards, np.zeros_like(rewards, dtype=bool))

    batch = make_selector("dynamic-sampling", max_rounds=2).gather(
        np.arange(40), belief, m, k, 0, graded_wrong
    )
    assert np.all(batch.scores == 0.0)  # every group is a filler: none is informative


def test_dynamic_sampling_defaults_to_dapo_generation():
    rule = make_selector("dynamic-sampling")
    assert (rule.max_rounds, rule.oversample) == (10, 3.0)
    rates = np.zeros(1000)  # nothing informative: every round runs, 3 M prompts each
    rollout, calls = _rollout_from_rates(rates, 4, np.random.default_rng(0))
    batch = rule.gather(np.arange(1000), BetaBelief(1000), 20, 4, 0, rollout)
    assert [c.size for c in calls] == [60] * 10
    assert batch.rounds == 10 and batch.rollouts == 10 * 60 * 4
    assert np.unique(np.concatenate(calls)).size == 600  # never the same prompt twice


def test_presets_and_labels_carry_belief_settings():
    assert parse_rule_label("dynamic-sampling-mopps") == (
        "dynamic-sampling",
        {"oversample": 1, "max_rounds": 10},
    )
    assert parse_rule_label("dynamic-sampling-mopps:max_rounds=4")[1]["max_rounds"] == 4
    mopps = selector_from_label("mopps-published")
    assert mopps.discount == 0.5 and mopps.new_belief(10).discount == 0.5
    with pytest.raises(ValueError, match="discount=0.5 but the belief"):
        mopps.check_belief(BetaBelief(10))
    assert selector_from_label("insight").new_belief(10, discount=0.9).discount == 0.9
    with pytest.raises(ValueError, match="discount must be <= 1"):
        selector_from_label("insight:discount=2")


def test_expected_group_std_against_monte_carlo():
    rng = np.random.default_rng(5)
    p = np.array([0.0, 0.05, 0.3, 0.5, 0.9, 1.0])
    draws = rng.random((200_000, p.size, 8)) < p[None, :, None]
    mc = draws.std(axis=2).mean(axis=0)
    np.testing.assert_allclose(expected_group_std(p, 8), mc, atol=2e-3)
    assert expected_group_std(0.5, 2) == pytest.approx(0.25)  # std 0.5 with probability 1/2


def test_oracle_keeps_the_largest_expected_learning_signal():
    rates = np.linspace(0.0, 1.0, 21)
    oracle = make_selector("oracle").bind(FixedRateEnvironment(rates))
    chosen = oracle.select(np.arange(21), BetaBelief(21), 3, 8, 0).ids
    assert set(chosen) == {9, 10, 11}  # the rates closest to 1/2


def test_oracle_score_uses_true_means_and_keeps_evidence():
    rates = np.array([0.1, 0.3, 0.5, 0.9])
    belief = BetaBelief(4)
    belief.update([0, 1, 2, 3], [8, 8, 0, 0], [8, 8, 8, 8])  # means far from the truth
    rule = make_selector("oracle-score", rule="insight").bind(FixedRateEnvironment(rates))
    n = belief.evidence
    want = wmi_score(rates * n, (1 - rates) * n, 8)
    np.testing.assert_allclose(rule.score(np.arange(4), belief, 8, None), want, rtol=1e-12)
    with pytest.raises(ValueError, match="non-privileged"):
        make_selector("oracle-score", rule="oracle")


def test_privileged_rules_are_refused_outside_simulators():
    from insight_bayes.integrations import OnlineConfig, OnlineSelector

    with pytest.raises(ValueError, match="privileged"):
        OnlineSelector(50, "oracle", OnlineConfig(m=2, k=4))

    class RealTraining:  # an environment without TrueRates, like the GRPO harness
        pool_size = 10

        def rollout(self, ids, k, rng):
            return bernoulli_rollout(np.full(ids.size, 0.5), k, rng)

        def learn(self, ids, rollout, rng):
            return {}

        def evaluate(self, rng):
            return {}

    with pytest.raises(ValueError, match="does not offer"):
        SelectionLoop(RealTraining(), "oracle", LoopConfig(m=2, k=4, steps=1))
    with pytest.raises(RuntimeError, match="not bound"):
        make_selector("oracle").score(np.arange(3), BetaBelief(3), 4, None)
    # a normal rule never looks at the environment
    SelectionLoop(RealTraining(), "insight", LoopConfig(m=2, k=4, steps=1, eval_every=0)).run(
        progress=False
    )


def test_top_m_breaks_ties_the_same_on_every_cpu():
    """numpy's partition picks among ties by its SIMD kernel; top_m must not depend on it:
    the same choice with the CPU's vector extensions on and with numpy told to ignore them."""
    import subprocess
    import sys

    code = (
        "import json, numpy as np; from insight_bayes.selectors.base import top_m; "
        "s = np.r_[np.zeros(200), np.ones(56), np.full(40, 0.5)]; "
        "print(json.dumps([top_m(s, 64, 3).tolist(), top_m(np.zeros(300), 32, 4).tolist()]))"
    )
    outputs = []
    for env in ({}, {"NPY_DISABLE_CPU_FEATURES": "X86_V3"}):
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**os.environ, **env}, check=True)  # fmt: skip
        outputs.append(run.stdout)
    assert outputs[0] == outputs[1]
    first = json.loads(outputs[0])[0]  # the 56 ones first, then 8 of the 0.5s
    assert len(first) == 64 and len(set(first)) == 64
    assert set(first[:56]) == set(range(200, 256)) and set(first[56:]) <= set(range(256, 296))
