"""Beliefs with a learned prior: today's update when the prior is fixed, the counts
identity when it moves, save/load (old files too), the tracking belief."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from insight_bayes.beliefs.beta_belief import BetaBelief
from insight_bayes.beliefs.drift import DriftParams
from insight_bayes.beliefs.prior import EmpiricalBayesPrior
from insight_bayes.beliefs.prior_fit import fit_beta_binomial
from insight_bayes.beliefs.tracking_belief import TrackingBelief

N = 30


def random_updates(belief: BetaBelief, steps: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        ids = rng.choice(N, size=6, replace=True)  # repeats: one step's evidence, summed
        trials = np.full(6, 8)
        belief.update(ids, rng.binomial(trials, 0.3), trials)


@pytest.mark.parametrize("discount", [1.0, 0.7])
def test_a_prior_that_never_moves_gives_exactly_todays_update(discount):
    today = BetaBelief(N, discount=discount)
    fixed = BetaBelief(N, discount=discount, prior=EmpiricalBayesPrior(N, refit_every=0))
    random_updates(today, 12)
    random_updates(fixed, 12)
    np.testing.assert_array_equal(fixed.alpha, today.alpha)
    np.testing.assert_array_equal(fixed.beta, today.beta)
    # and the kept counts are the discounted counts: alpha = a0 + S, beta = b0 + F
    state = fixed.state_dict()
    np.testing.assert_allclose(1.0 + state["prior_successes"], today.alpha, rtol=1e-13)
    np.testing.assert_allclose(1.0 + state["prior_failures"], today.beta, rtol=1e-13)


@pytest.mark.parametrize("discount", [1.0, 0.8])
def test_a_moving_prior_keeps_alpha_equal_to_prior_plus_counts(discount):
    groups = np.arange(N) % 3
    belief = BetaBelief(N, discount=discount, prior=EmpiricalBayesPrior(N, groups))
    random_updates(belief, 10, seed=1)
    state = belief.state_dict()
    s, f = state["prior_successes"], state["prior_failures"]
    # the prior is the hierarchical fit of exactly these counts
    fit = fit_beta_binomial(s, s + f, groups)
    a0, b0 = belief.prior.alpha_beta()
    np.testing.assert_allclose(a0, fit.alpha[groups], rtol=1e-5)
    np.testing.assert_allclose(belief.alpha, a0 + s, rtol=1e-13)
    np.testing.assert_allclose(belief.beta, b0 + f, rtol=1e-13)
    assert np.any(a0 != 1.0) and np.unique(a0).size == 3
    unseen = np.flatnonzero(s + f == 0)
    np.testing.assert_array_equal(belief.alpha[unseen], a0[unseen])


def test_refit_every_n_steps_moves_the_prior_only_then():
    belief = BetaBelief(N, prior=EmpiricalBayesPrior(N, refit_every=3))
    seen = []
    for step in range(6):
        random_updates(belief, 1, seed=step)
        seen.append(belief.prior.alpha_beta()[0][0])
    assert seen[0] == seen[1] == 1.0 and seen[2] != 1.0
    assert seen[3] == seen[4] == seen[2] and seen[5] != seen[4]


def test_a_failed_update_changes_nothing():
    belief = BetaBelief(N, prior=EmpiricalBayesPrior(N))
    random_updates(belief, 3)
    before = belief.state_dict()
    with pytest.raises(ValueError, match="must not exceed"):
        belief.update([0, 1], [9, 1], [8, 8])
    after = belief.state_dict()
    for key, value in before.items():
        np.testing.assert_array_equal(np.asarray(after[key]), np.asarray(value), err_msg=key)


def test_save_load_and_json_round_trips_keep_the_prior(tmp_path):
    belief = BetaBelief(N, discount=0.9, prior=EmpiricalBayesPrior(N, np.arange(N) % 4))
    random_updates(belief, 5)
    loaded = BetaBelief.load(belief.save(tmp_path / "b.npz"))
    via_json = BetaBelief.from_state_dict(
        json.loads(json.dumps({k: np.asarray(v).tolist() for k, v in belief.state_dict().items()}))
    )
    copied = belief.copy()
    for other in (loaded, via_json, copied):
        assert other.prior is not None and other.prior.hierarchical
        np.testing.assert_array_equal(other.alpha, belief.alpha)
        random_updates(other, 2, seed=9)  # and they go on exactly as the original
    random_updates(belief, 2, seed=9)
    for other in (loaded, via_json, copied):
        np.testing.assert_array_equal(other.alpha, belief.alpha)
        np.testing.assert_array_equal(other.prior.alpha_beta()[1], belief.prior.alpha_beta()[1])
    target = BetaBelief(N)
    target.load_state_dict(belief.state_dict())
    assert target.prior is not None and np.array_equal(target.beta, belief.beta)


def test_a_file_written_before_learned_priors_still_loads(tmp_path):
    """The layout BetaBelief.save wrote before: alpha, beta and four meta fields."""
    alpha, beta = np.array([3.0, 1.0, 2.5]), np.array([1.0, 4.0, 2.0])
    meta = {"format_version": 1, "alpha0": 1.0, "beta0": 1.0, "discount": 0.5}
    buffer = io.BytesIO()
    np.savez(buffer, alpha=alpha, beta=beta, meta=np.array(json.dumps(meta)))
    path = tmp_path / "old.npz"
    path.write_bytes(buffer.getvalue())
    old = BetaBelief.load(path)
    assert old.prior is None and old.discount == 0.5
    np.testing.assert_array_equal(old.alpha, alpha)
    assert set(old.state_dict()) == {"alpha", "beta", *meta}  # no prior_* fields


def test_grow_puts_new_prompts_at_their_groups_prior():
    groups = np.arange(N) % 2
    belief = BetaBelief(N, prior=EmpiricalBayesPrior(N, groups))
    random_updates(belief, 4)
    new = belief.grow(2, groups=[1, 0])
    a0, _ = belief.prior.group_alpha_beta()
    np.testing.assert_array_equal(belief.alpha[new], [a0[1], a0[0]])
    with pytest.raises(ValueError, match="group ids"):
        belief.grow(1)
    with pytest.raises(ValueError, match="learned prior per group"):
        BetaBelief(3).grow(1, groups=[0])
    with pytest.raises(ValueError, match="covers 5 prompts"):
        BetaBelief(3, prior=EmpiricalBayesPrior(5))


def test_tracking_belief_takes_the_learned_prior_for_unvisited_prompts():
    belief = TrackingBelief(N, drift=DriftParams(trend=0.1), prior=EmpiricalBayesPrior(N))
    random_updates(belief, 6, seed=2)
    state = belief.state_dict()
    visited = np.asarray(state["tracking_visited"])
    a0, b0 = belief.prior.alpha_beta()
    assert np.any(~visited) and np.all(a0 != 1.0)
    # unvisited prompts sit at the fitted prior, stamped now: no drift applied yet
    np.testing.assert_allclose(belief.alpha[~visited], a0[~visited], rtol=1e-12)
    np.testing.assert_allclose(belief.beta[~visited], b0[~visited], rtol=1e-12)
    s, f = state["prior_successes"], state["prior_failures"]
    fit = fit_beta_binomial(s, s + f)
    np.testing.assert_allclose(a0[0], fit.alpha[0], rtol=1e-5)
    # visited prompts keep their propagated beliefs, not a0 + S
    assert not np.allclose(belief.stored_alpha[visited], a0[visited] + s[visited])
    again = TrackingBelief.from_state_dict(belief.state_dict())
    np.testing.assert_array_equal(again.alpha, belief.alpha)
    random_updates(again, 2, seed=5)
    random_updates(belief, 2, seed=5)
    np.testing.assert_array_equal(again.alpha, belief.alpha)


def test_tracking_belief_without_a_prior_is_unchanged():
    plain = TrackingBelief(N, drift=DriftParams(trend=0.1))
    fixed = TrackingBelief(
        N, drift=DriftParams(trend=0.1), prior=EmpiricalBayesPrior(N, refit_every=0)
    )
    random_updates(plain, 5)
    random_updates(fixed, 5)
    np.testing.assert_array_equal(plain.alpha, fixed.alpha)
    assert "prior_x" not in plain.state_dict()
