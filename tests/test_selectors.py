"""Selection rules: the registry, top-M with random ties (Eq. 17) and each rule's choice."""

from __future__ import annotations

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
from insight_bayes.rewards import bernoulli_rollout

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


def test_registry_holds_every_rule_of_the_paper():
    assert available_selectors() == ALL_RULES
    assert list(PAPER_RULES) == ALL_RULES


def test_unknown_rule_and_parameter_are_refused():
    with pytest.raises(ValueError, match="unknown selector 'insigth'; available: random"):
        make_selector("insigth")
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
    rule = make_selector("dynamic-sampling", max_rounds=10)
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
    sel = make_selector("dynamic-sampling", max_rounds=2).gather(
        np.arange(100), BetaBelief(100), 10, 4, 0, rollout
    )
    assert sel.ids.size == 10 and np.all(sel.scores == 0.0)
    assert sel.rounds == 2 and sel.rollouts == 2 * 10 * 4


def test_every_rule_scores_selects_and_gathers():
    rates = np.linspace(0.0, 1.0, 50)
    belief = BetaBelief(50)
    for name in available_selectors():
        rule = make_selector(name)
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
