"""BetaBelief: the discounted update (Eq. 6), persistence, growth and refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from insight_bayes import BetaBelief, binarize_rewards, informative_groups
from insight_bayes.validation import SavedFileError


def test_conjugate_update_by_hand():
    belief = BetaBelief(4)
    belief.update([1, 3], successes=[3, 0], trials=[8, 8])
    np.testing.assert_array_equal(belief.alpha, [1, 4, 1, 1])
    np.testing.assert_array_equal(belief.beta, [1, 6, 1, 9])
    np.testing.assert_allclose(belief.mean, [0.5, 0.4, 0.5, 0.1])
    np.testing.assert_array_equal(belief.evidence, [2, 10, 2, 10])


def test_discounted_update_matches_eq6():
    belief = BetaBelief(2, alpha0=1.0, beta0=2.0, discount=1.0)
    belief.update([0], [5], [8])  # alpha 6, beta 5
    belief.update([0], [2], [4], discount=0.5)
    # alpha' = 0.5 * 6 + 0.5 * 1 + 2; beta' = 0.5 * 5 + 0.5 * 2 + 2
    assert belief.alpha[0] == pytest.approx(5.5)
    assert belief.beta[0] == pytest.approx(5.5)
    assert belief.alpha[1] == 1.0 and belief.beta[1] == 2.0  # untouched prompts keep theirs


def test_discount_zero_forgets_everything_but_the_last_step():
    belief = BetaBelief(1, discount=0.0)
    belief.update([0], [8], [8])
    belief.update([0], [1], [8])
    assert (belief.alpha[0], belief.beta[0]) == (2.0, 8.0)


def test_repeated_ids_are_one_steps_evidence_in_any_order():
    a = BetaBelief(3, discount=0.5)
    a.update([2, 0, 2], [1, 3, 4], [4, 4, 4])
    b = BetaBelief(3, discount=0.5)
    b.update([2, 2, 0], [4, 1, 3], [4, 4, 4])
    np.testing.assert_array_equal(a.alpha, b.alpha)
    # id 2: one discounted step with 5 successes out of 8.
    assert a.alpha[2] == pytest.approx(0.5 * 1 + 0.5 * 1 + 5)
    assert a.beta[2] == pytest.approx(0.5 * 1 + 0.5 * 1 + 3)


def test_fractional_successes_need_explicit_opt_in():
    belief = BetaBelief(2)
    with pytest.raises(ValueError, match="whole numbers"):
        belief.update([0], [0.5], [1])
    belief.update([0], [0.5], [1], fractional=True)
    assert belief.alpha[0] == 1.5


def test_binarize_rewards_modes():
    rewards = np.array([[1.0, 0.1, 0.0, 1.0], [0.1, 0.1, 0.1, 0.1]])
    s, t = binarize_rewards(rewards)
    np.testing.assert_array_equal(s, [2, 0])
    np.testing.assert_array_equal(t, [4, 4])
    s, _ = binarize_rewards(rewards, threshold=0.1)
    np.testing.assert_array_equal(s, [3, 4])
    s, _ = binarize_rewards(rewards, mode="fractional")
    np.testing.assert_allclose(s, [2.1, 0.4])
    with pytest.raises(ValueError, match="fractional rewards must lie in"):
        binarize_rewards([[1.5, 0.0]], mode="fractional")
    with pytest.raises(ValueError, match="mode"):
        binarize_rewards(rewards, mode="graded")
    np.testing.assert_array_equal(informative_groups(rewards), [True, False])


@pytest.mark.parametrize(
    ("ids", "succ", "trials", "match"),
    [
        ([5], [1], [2], r"ids must lie in \[0, 4\)"),
        ([-1], [1], [2], "ids must lie in"),
        ([0], [3], [2], "successes must not exceed trials"),
        ([0], [-1], [2], "successes must be finite and >= 0"),
        ([0], [np.nan], [2], "successes must be finite"),
        ([0], [1], [np.inf], "trials must be finite"),
        ([0], [1], [2.5], "trials must be whole numbers"),
        ([0, 1], [1], [2, 2], "successes must have the shape of ids"),
        ([[0]], [1], [2], "ids must be a 1-d array"),
    ],
)
def test_bad_updates_raise_and_leave_belief_unchanged(ids, succ, trials, match):
    belief = BetaBelief(4)
    belief.update([0, 1], [1, 2], [3, 3])
    before = belief.state_dict()
    with pytest.raises(ValueError, match=match):
        belief.update(ids, succ, trials)
    np.testing.assert_array_equal(belief.alpha, before["alpha"])
    np.testing.assert_array_equal(belief.beta, before["beta"])


def test_float_ids_raise_type_error():
    with pytest.raises(TypeError, match="ids must hold integers"):
        BetaBelief(3).update([0.0], [1], [1])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alpha0": 0.0}, "alpha0 must be > 0"),
        ({"beta0": -1.0}, "beta0 must be > 0"),
        ({"discount": 1.5}, "discount must be <= 1"),
        ({"discount": float("nan")}, "discount must be finite"),
    ],
)
def test_bad_construction_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BetaBelief(3, **kwargs)


def test_arrays_are_read_only_views():
    belief = BetaBelief(3)
    with pytest.raises(ValueError, match="read-only"):
        belief.alpha[0] = 5.0


def test_save_load_round_trip_without_pickle(tmp_path):
    belief = BetaBelief(5, alpha0=0.5, beta0=2.0, discount=0.9)
    belief.update([0, 4], [3, 1], [4, 4])
    path = belief.save(tmp_path / "belief")
    assert path.suffix == ".npz"
    with np.load(path, allow_pickle=False) as data:  # readable without pickle
        assert set(data.files) == {"alpha", "beta", "meta"}
    loaded = BetaBelief.load(path)
    np.testing.assert_array_equal(loaded.alpha, belief.alpha)
    np.testing.assert_array_equal(loaded.beta, belief.beta)
    assert (loaded.alpha0, loaded.beta0, loaded.discount) == (0.5, 2.0, 0.9)


def test_state_dict_round_trip_and_version_check():
    belief = BetaBelief(3)
    belief.update([1], [1], [1])
    state = belief.state_dict()
    other = BetaBelief(1)
    other.load_state_dict(state)
    np.testing.assert_array_equal(other.alpha, belief.alpha)
    with pytest.raises(ValueError, match="format_version 99"):
        BetaBelief.from_state_dict({**state, "format_version": 99})
    with pytest.raises(ValueError, match="alpha must be finite and > 0"):
        BetaBelief.from_state_dict({**state, "alpha": np.array([1.0, -1.0, 1.0])})


def test_grow_adds_prompts_at_the_prior():
    belief = BetaBelief(2, alpha0=2.0, beta0=3.0)
    belief.update([0], [1], [1])
    new = belief.grow(3)
    np.testing.assert_array_equal(new, [2, 3, 4])
    assert len(belief) == 5
    np.testing.assert_array_equal(belief.alpha, [3, 2, 2, 2, 2])
    belief.update([4], [1], [2])
    assert belief.alpha[4] == 3.0


def test_copy_is_independent():
    belief = BetaBelief(2)
    twin = belief.copy()
    twin.update([0], [1], [1])
    assert belief.alpha[0] == 1.0 and twin.alpha[0] == 2.0


def _corrupt_files(tmp_path, good):
    """name -> path of a damaged or foreign file where a belief .npz is expected."""
    data = good.read_bytes()
    files = {
        "truncated": data[: len(data) // 2],
        "text": b"alpha,beta\n1,1\n",
        "empty": b"",
    }
    out = {}
    for name, content in files.items():
        out[name] = tmp_path / f"{name}.npz"
        out[name].write_bytes(content)
    out["foreign"] = tmp_path / "foreign.npz"
    np.savez(out["foreign"], weights=np.zeros(3))
    out["bad values"] = tmp_path / "bad_values.npz"
    meta = np.array(json.dumps({"format_version": 1, "alpha0": 1, "beta0": 1, "discount": 1}))
    np.savez(out["bad values"], alpha=-np.ones(3), beta=np.ones(3), meta=meta)
    out["other version"] = tmp_path / "other_version.npz"
    meta = np.array(json.dumps({"format_version": 99, "alpha0": 1, "beta0": 1, "discount": 1}))
    np.savez(out["other version"], alpha=np.ones(3), beta=np.ones(3), meta=meta)
    return out


@pytest.mark.parametrize(
    "case, match",
    [
        ("truncated", "truncated or corrupt .npz archive"),
        ("text", r"is not a .npz archive \(a file starting with b'alpha,beta"),
        ("empty", r"is not a .npz archive \(an empty file\)"),
        ("foreign", r"holds the arrays \['weights'\], not \['alpha', 'beta', 'meta'\]"),
        ("bad values", "saved alpha must be finite and > 0"),
        ("other version", "format_version 99 is not supported"),
    ],
)
def test_load_names_the_file_and_what_was_expected(tmp_path, case, match):
    good = BetaBelief(3).save(tmp_path / "good")
    path = _corrupt_files(tmp_path, good)[case]
    with pytest.raises(SavedFileError, match=match) as err:
        BetaBelief.load(path)
    assert str(path) in str(err.value) and "BetaBelief.save" in str(err.value)
    assert isinstance(err.value, ValueError)
    with pytest.raises(FileNotFoundError):
        BetaBelief.load(tmp_path / "missing.npz")


def test_every_rules_own_belief_saves_and_loads_whole(tmp_path):
    """BetaBelief.save writes every field of a subclass's state_dict; its own load reads it
    back (tracking, lag, noisy and graded beliefs alike)."""
    from insight_bayes.selectors import BEYOND_RULES, make_selector

    rng = np.random.default_rng(0)
    kinds = set()
    for name in BEYOND_RULES:
        belief = make_selector(name).new_belief(12)
        for _ in range(3):
            ids = rng.choice(12, size=4, replace=False)
            if hasattr(belief, "update_from_rewards"):
                belief.update_from_rewards(ids, rng.choice([0.0, 0.1, 1.0], size=(4, 8)))
            else:
                belief.update(ids, rng.integers(0, 9, size=4), np.full(4, 8))
        loaded = type(belief).load(belief.save(tmp_path / f"{name}.npz"))
        assert type(loaded) is type(belief)
        want, got = belief.state_dict(), loaded.state_dict()
        assert set(got) == set(want)
        for key, value in want.items():
            np.testing.assert_array_equal(np.asarray(got[key]), np.asarray(value), err_msg=key)
        kinds.add(type(belief).__name__)
    assert {"TrackingBelief", "LagBelief", "NoisyBetaBelief", "DirichletBelief"} <= kinds
