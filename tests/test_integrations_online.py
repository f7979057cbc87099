"""OnlineSelector: same choices as SelectionLoop, late/duplicate/unknown rewards, growth,
save/restore, and thread safety."""

from __future__ import annotations

import dataclasses
import json
import queue
import threading
import warnings

import numpy as np
import pytest

from insight_bayes import (
    BetaBelief,
    FixedRateEnvironment,
    LoopConfig,
    SelectionLoop,
    Selector,
    binarize_rewards,
)
from insight_bayes.integrations import OnlineConfig, OnlineSelector
from insight_bayes.validation import SavedFileError


def env_stream(seed: int) -> np.random.Generator:
    """The environment stream SelectionLoop spawns from ``seed``."""
    return np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])


def fixed_rewards(ids, k=8):
    """Deterministic rewards: prompt i succeeds on its first i % (k + 1) rollouts."""
    ids = np.asarray(ids)
    return (np.arange(k)[None, :] < (ids % (k + 1))[:, None]).astype(float)


# ------------------------------------------------------------ equivalence
@pytest.mark.parametrize("rule", ["insight", "mopps", "random", "inverse-evidence"])
@pytest.mark.parametrize("mode", ["binary", "fractional"])
def test_reproduces_selection_loop_with_the_same_seed(rule, mode):
    rates = np.linspace(0.02, 0.98, 80)
    env = FixedRateEnvironment(rates)
    cfg = LoopConfig(m=6, k=8, steps=12, candidate_ratio=4, eval_every=0, reward_mode=mode)
    loop = SelectionLoop(env, rule, cfg, seed=11)
    records = loop.run(progress=False)

    selector = OnlineSelector(
        80, rule, OnlineConfig(m=6, k=8, candidate_ratio=4, reward_mode=mode), seed=11
    )
    env_rng = env_stream(11)
    for record in records:
        ids = selector.next_batch()
        np.testing.assert_array_equal(ids, record.ids)
        out = env.rollout(ids, 8, env_rng)
        env.learn(ids, out, env_rng)
        summary = selector.report(ids, out.rewards)
        assert summary.accepted == 6 and summary.late == 0
    np.testing.assert_array_equal(selector.belief.alpha, loop.belief.alpha)
    np.testing.assert_array_equal(selector.belief.beta, loop.belief.beta)
    assert selector.pending() == []


def test_report_binarises_as_configured():
    rewards = np.array([[1.0, 0.1, 0.0, 1.0], [0.1, 0.1, 0.0, 0.0]])
    for mode, threshold, want_s in [
        ("binary", 1.0, [2, 0]),
        ("binary", 0.1, [3, 2]),
        ("fractional", 1.0, [2.1, 0.2]),
    ]:
        sel = OnlineSelector(
            5,
            "random",
            OnlineConfig(m=2, k=4, reward_mode=mode, reward_threshold=threshold),
            seed=0,
        )
        ids = sel.next_batch()
        graded = mode == "binary" and threshold == 1.0  # 0.1 lies under the threshold
        with pytest.warns(UserWarning) if graded else warnings.catch_warnings():
            if not graded:
                warnings.simplefilter("error")
            sel.report(ids, rewards)
        np.testing.assert_allclose(sel.belief.alpha[ids], 1.0 + np.array(want_s))
        np.testing.assert_allclose(sel.belief.beta[ids], 1.0 + 4 - np.array(want_s))


def test_external_candidates_are_respected():
    belief = BetaBelief(50)
    belief.update(np.arange(50), np.arange(50) % 9, np.full(50, 8))
    sel = OnlineSelector(belief, "expected-difficulty", OnlineConfig(m=3, k=8), seed=0)
    # successes 0, 1, 2, 3, 4, 5 of 8: means 0.1 ... 0.6; closest to 0.5: ids 13, then 3 and 14
    candidates = np.array([9, 1, 2, 3, 13, 14])
    ids = sel.next_batch(candidates)
    assert ids[0] == 13 and sorted(ids.tolist()) == [3, 13, 14]


# ----------------------------------------------------------- late rewards
def test_late_rewards_are_accepted_with_their_lag():
    sel = OnlineSelector(40, "insight", OnlineConfig(m=4, k=8), seed=3)
    first = sel.next_batch()
    second = sel.next_batch()  # prefetched before the first was rewarded
    third = sel.next_batch()
    assert not set(first) & set(second) and not set(third) & (set(first) | set(second))
    summary = sel.report(first, fixed_rewards(first))
    assert summary.accepted == 4 and summary.late == 4
    assert summary.lags.tolist() == [2] * 4 and summary.max_lag == 2
    assert sel.report(third, fixed_rewards(third)).lags.tolist() == [0] * 4
    want = BetaBelief(40)
    for ids in (first, third):
        s, t = binarize_rewards(fixed_rewards(ids))
        want.update(ids, s, t)
    np.testing.assert_array_equal(sel.belief.alpha, want.alpha)
    assert [(n, ids.tolist()) for n, ids in sel.pending()] == [(1, second.tolist())]
    assert sel.stats["max_lag"] == 2 and sel.stats["groups_late"] == 4


def test_exclude_pending_avoids_picking_the_same_prompts_twice():
    belief = BetaBelief(30)
    ids = np.arange(30)
    belief.update(ids, ids % 9, 8 + ids // 9)  # distinct beliefs, no ties
    config = OnlineConfig(m=5, k=8, m_hat=30)  # every prompt is a candidate
    naive = OnlineSelector(
        belief.copy(), "insight", dataclasses.replace(config, exclude_pending=False)
    )
    a, b = naive.next_batch(), naive.next_batch()
    assert sorted(a) == sorted(b)  # the belief did not move: the same prompts again
    careful = OnlineSelector(belief.copy(), "insight", config)
    a, b = careful.next_batch(), careful.next_batch()
    assert not set(a) & set(b)


def test_falls_back_to_whole_pool_when_too_few_prompts_are_free(caplog):
    sel = OnlineSelector(6, "random", OnlineConfig(m=4, k=2), seed=0)
    sel.next_batch()
    with caplog.at_level("WARNING"):
        second = sel.next_batch()
    assert second.size == 4 and sel.stats["pending_fallbacks"] == 1
    assert "no pending rewards" in caplog.text


def test_id_pending_twice_is_matched_oldest_first():
    sel = OnlineSelector(4, "random", OnlineConfig(m=4, k=2, exclude_pending=False), seed=0)
    sel.next_batch()
    sel.next_batch()
    summary = sel.report([2, 2], [[1, 1], [0, 0]])
    assert summary.lags.tolist() == [1, 0]
    assert sel.belief.alpha[2] == 3 and sel.belief.beta[2] == 3
    with pytest.raises(ValueError, match=r"\[2\] with no pending hand-out"):
        sel.report([2], [[1, 1]])


# ------------------------------------------------- duplicate and unknown ids
def test_duplicate_rewards_raise_by_default_and_change_nothing():
    sel = OnlineSelector(20, "insight", OnlineConfig(m=3, k=4), seed=0)
    ids = sel.next_batch()
    sel.report(ids, np.ones((3, 4)))
    before = sel.state_dict()
    with pytest.raises(ValueError, match="already rewarded"):
        sel.report(ids[:1], np.ones((1, 4)))
    assert sel.state_dict() == before


def test_duplicate_rewards_can_be_ignored():
    sel = OnlineSelector(20, "insight", OnlineConfig(m=3, k=4, on_duplicate="ignore"), seed=0)
    ids = sel.next_batch()
    sel.report(ids, np.ones((3, 4)))
    alpha = sel.belief.alpha.copy()
    summary = sel.report(ids, np.ones((3, 4)))
    assert summary.accepted == 0 and summary.duplicates_ignored == 3
    np.testing.assert_array_equal(sel.belief.alpha, alpha)


def test_unknown_ids_raise_ignore_or_update():
    for policy in ("raise", "ignore", "update"):
        sel = OnlineSelector(20, "random", OnlineConfig(m=3, k=4, on_unknown=policy), seed=0)
        ids = sel.next_batch()
        stranger = int(np.setdiff1d(np.arange(20), ids)[0])
        both = [int(ids[0]), stranger]
        if policy == "raise":
            before = sel.state_dict()
            with pytest.raises(ValueError, match=rf"\[{stranger}\] that were never handed out"):
                sel.report(both, np.ones((2, 4)))
            assert sel.state_dict() == before  # the good row was not applied either
            continue
        summary = sel.report(both, np.ones((2, 4)))
        assert summary.accepted == 1
        assert sel.belief.alpha[ids[0]] == 5
        assert sel.belief.alpha[stranger] == (5 if policy == "update" else 1)
        assert summary.unknown_updated + summary.unknown_ignored == 1


@pytest.mark.parametrize(
    ("ids", "rewards", "match"),
    [
        ([0, 1], np.ones((3, 4)), r"shape \(len\(ids\), K\)"),
        ([0, 1], np.full((2, 4), np.nan), "finite"),
        ([0, 99], np.ones((2, 4)), r"lie in \[0, 20\)"),
        ([0, 1], np.ones(4), r"shape \(len\(ids\), K\)"),
    ],
)
def test_bad_reports_raise_and_change_nothing(ids, rewards, match):
    sel = OnlineSelector(20, "random", OnlineConfig(m=2, k=4, on_unknown="update"), seed=0)
    sel.next_batch()
    before = sel.state_dict()
    with pytest.raises(ValueError, match=match):
        sel.report(ids, rewards)
    assert sel.state_dict() == before


def test_fractional_mode_refuses_rewards_outside_unit_interval():
    sel = OnlineSelector(20, "random", OnlineConfig(m=2, k=2, reward_mode="fractional"), seed=0)
    ids = sel.next_batch()
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        sel.report(ids, [[0.5, 2.0], [0.0, 0.0]])
    assert sel.belief.evidence.sum() == 40


def test_expired_batches_count_as_duplicates():
    sel = OnlineSelector(30, "random", OnlineConfig(m=2, k=2, max_pending_batches=2), seed=0)
    first = sel.next_batch()
    sel.next_batch()
    sel.next_batch()
    assert [n for n, _ in sel.pending()] == [1, 2]
    assert sel.stats["groups_expired"] == 2
    with pytest.raises(ValueError, match="expired"):
        sel.report(first, np.ones((2, 2)))


# ----------------------------------------------------------------- growth
def test_pool_growth():
    sel = OnlineSelector(10, "inverse-evidence", OnlineConfig(m=2, k=4, m_hat=50), seed=0)
    for _ in range(5):
        ids = sel.next_batch()
        sel.report(ids, fixed_rewards(ids, 4))
    new = sel.grow(3)
    assert new.tolist() == [10, 11, 12] and sel.pool_size == 13
    ids = sel.next_batch()  # least-observed first: the new prompts have prior evidence only
    assert set(ids) <= set(new)
    sel.report(ids, np.ones((2, 4)))
    assert sel.belief.alpha[ids].tolist() == [5.0, 5.0]
    with pytest.raises(ValueError, match=r"never handed out"):
        sel.report([int(np.setdiff1d(new, ids)[0])], np.ones((1, 4)))


# ------------------------------------------------------- save and restore
def run_steps(sel, n, report=True):
    out = []
    for _ in range(n):
        ids = sel.next_batch()
        out.append(ids)
        if report:
            sel.report(ids, fixed_rewards(ids))
    return out


@pytest.mark.parametrize("route", ["json", "torch"])
def test_restore_continues_exactly_and_replays_the_lost_batch(route, tmp_path):
    config = OnlineConfig(m=4, k=8, candidate_ratio=3)
    original = OnlineSelector(60, "mopps", config, seed=5)
    run_steps(original, 3)
    lost = original.next_batch()  # handed out, never rewarded: lost at the restart
    if route == "json":
        state = json.loads(json.dumps(original.state_dict()))
    else:
        torch = pytest.importorskip("torch")
        torch.save(original.state_dict(), tmp_path / "state.pt")
        state = torch.load(tmp_path / "state.pt", weights_only=True)
    restored = OnlineSelector(60, "mopps", config, seed=5)
    restored.load_state_dict(state)
    assert restored.next_batch().tolist() == lost.tolist()  # handed out again first
    # both now draw with `lost` pending (prefetch), then get the rewards of both batches
    follow_original = original.next_batch()
    follow_restored = restored.next_batch()
    for sel, follow in ((original, follow_original), (restored, follow_restored)):
        sel.report(lost, fixed_rewards(lost))
        sel.report(follow, fixed_rewards(follow))
    assert follow_restored.tolist() == follow_original.tolist()
    assert run_steps(restored, 4)[-1].tolist() == run_steps(original, 4)[-1].tolist()
    np.testing.assert_array_equal(restored.belief.alpha, original.belief.alpha)
    assert restored.step == original.step


def test_save_and_load_files(tmp_path):
    sel = OnlineSelector(30, "insight", OnlineConfig(m=3, k=8), seed=2)
    run_steps(sel, 2)
    pending = sel.next_batch()
    path = sel.save(tmp_path / "sel.json")
    other = OnlineSelector(30, "insight", OnlineConfig(m=3, k=8), seed=2)
    other.load(path, replay_pending=False)
    assert [ids.tolist() for _, ids in other.pending()] == [pending.tolist()]
    assert other.next_batch().tolist() != pending.tolist()  # no replay: a fresh draw
    assert other.state_dict()["belief"] == sel.state_dict()["belief"]


def _pre_rollout_labels():
    from insight_bayes.selectors import BEYOND_RULES, REFERENCE_RULES, selector_from_label

    labels = []
    for label in dict.fromkeys(("insight:mu=0.2,eta=3", *REFERENCE_RULES, *BEYOND_RULES)):
        rule = selector_from_label(label)
        if not rule.privileged and rule.rollout_filter.chooses_before_rollouts:
            labels.append(label)
    return labels


@pytest.mark.parametrize("label", _pre_rollout_labels())
def test_class_load_restores_the_whole_selector(label, tmp_path):
    config = OnlineConfig(m=3, k=6, candidate_ratio=2, reward_threshold=0.5, on_unknown="ignore")
    original = OnlineSelector(40, label, config, seed=11)
    run_steps(original, 3)
    lost = original.next_batch()
    restored = OnlineSelector.load(original.save(tmp_path / "sel.json"))
    assert isinstance(restored, OnlineSelector)
    assert restored.rule == original.rule and restored.config == original.config
    assert restored.seed == 11 and restored.step == original.step
    assert type(restored.belief) is type(original.belief)
    assert restored.state_dict() == original.state_dict()
    assert restored.next_batch().tolist() == lost.tolist()  # the lost batch first
    for sel in (original, restored):
        sel.report(lost, fixed_rewards(lost, k=6))
    assert [b.tolist() for b in run_steps(restored, 3)] == [
        b.tolist() for b in run_steps(original, 3)
    ]
    np.testing.assert_array_equal(restored.belief.alpha, original.belief.alpha)


def test_class_load_keeps_a_custom_prior_and_refuses_foreign_files(tmp_path):
    belief = BetaBelief(12, alpha0=2.0, beta0=5.0)
    sel = OnlineSelector(belief, "mopps", OnlineConfig(m=2, k=4), seed=1)
    run_steps(sel, 2)
    restored = OnlineSelector.load(sel.save(tmp_path / "s.json"))
    assert (restored.belief.alpha0, restored.belief.beta0) == (2.0, 5.0)
    np.testing.assert_array_equal(restored.belief.beta, sel.belief.beta)
    (tmp_path / "bad.json").write_text('{"format_version": 1, "rule": "insight"}')
    with pytest.raises(SavedFileError, match="bad.json: missing field"):
        OnlineSelector.load(tmp_path / "bad.json")


def test_pool_size_mismatch_is_refused_or_grown_explicitly(tmp_path):
    config = OnlineConfig(m=3, k=8)
    small = OnlineSelector(100, "insight", config, seed=4)
    run_steps(small, 2)
    pending = small.next_batch()
    path = small.save(tmp_path / "small.json")
    big = OnlineSelector(200, "insight", config, seed=4)
    before = big.state_dict()
    with pytest.raises(SavedFileError, match="pool of 100 prompts but this selector has 200"):
        big.load(path)
    assert big.state_dict() == before and big.pool_size == 200
    with pytest.raises(SavedFileError, match="pool of 100 prompts but this selector has 50"):
        OnlineSelector(50, "insight", config, seed=4).load(path, grow_pool=True)
    big.load(path, grow_pool=True, replay_pending=False)
    assert big.pool_size == 200
    np.testing.assert_array_equal(big.belief.alpha[:100], small.belief.alpha)
    np.testing.assert_array_equal(big.belief.alpha[100:], np.ones(100))
    assert [ids.tolist() for _, ids in big.pending()] == [pending.tolist()]
    big.report(pending, fixed_rewards(pending))  # the pending batch is still matched
    new = big.next_batch()
    big.report(new, fixed_rewards(new))  # and ids beyond the saved pool can be handed out


def test_graded_rewards_below_the_threshold_warn_once_per_selector():
    config = OnlineConfig(m=2, k=4)  # binary, threshold 1
    sel = OnlineSelector(20, "insight", config, seed=0)
    ids = sel.next_batch()
    with pytest.warns(UserWarning, match=r"graded rewards below reward_threshold=1 \(e.g. 0.1\)"):
        sel.report(ids, np.array([[1, 0.1, 0, 0], [0, 0, 1, 1]]))
    assert sel.belief.alpha[ids].tolist() == [2.0, 3.0]  # 0.1 counted as a failure
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ids = sel.next_batch()
        sel.report(ids, np.full((2, 4), 0.5))  # warned already: silent
        other = OnlineSelector(20, "insight", OnlineConfig(m=2, k=4, reward_threshold=0.5))
        ids = other.next_batch()
        other.report(ids, np.array([[0, 1, 0.5, 0], [1, 1, 0, -1]]))  # 0/1, at or below 0
        fractional = OnlineSelector(20, "insight", OnlineConfig(m=2, k=4, reward_mode="fractional"))
        ids = fractional.next_batch()
        fractional.report(ids, np.full((2, 4), 0.25))
    with pytest.warns(UserWarning, match="graded"):  # once per selector, not per process
        ids = other.next_batch()
        other.report(ids, np.full((2, 4), 0.25))


@pytest.mark.parametrize(
    "content, match",
    [
        (None, "is not valid JSON"),  # truncated: the first half of a real state
        ("", "is empty"),
        ("[1, 2]", "holds a JSON list, not an object"),
        ('{"weights": [1]}', r"has no format_version field \(its fields: \['weights'\]\)"),
        ('{"format_version": 7}', "format_version 7 is not supported"),
        ("PK\x03\x04 binary", "is not valid JSON"),
    ],
)
def test_load_of_a_corrupt_or_foreign_file_names_it(tmp_path, content, match):
    sel = OnlineSelector(30, "insight", OnlineConfig(m=3, k=8), seed=2)
    path = tmp_path / "state.json"
    text = sel.save(path).read_text()
    path.write_text(text[: len(text) // 2] if content is None else content)
    with pytest.raises(SavedFileError, match=match) as err:
        sel.load(path)
    assert str(path) in str(err.value)
    mopps = OnlineSelector(30, "mopps", OnlineConfig(m=3, k=8), seed=2)
    with pytest.raises(SavedFileError, match="state does not belong to this selector"):
        mopps.load(sel.save(tmp_path / "insight.json"))
    with pytest.raises(FileNotFoundError):
        sel.load(tmp_path / "missing.json")


def test_load_refuses_foreign_or_bad_states():
    sel = OnlineSelector(30, "insight", OnlineConfig(m=3, k=8), seed=2)
    run_steps(sel, 1)
    state = sel.state_dict()
    cases = [
        (OnlineSelector(30, "mopps", OnlineConfig(m=3, k=8), seed=2), "rule"),
        (OnlineSelector(30, "insight", OnlineConfig(m=4, k=8), seed=2), "config.m"),
        (OnlineSelector(30, "insight", OnlineConfig(m=3, k=8), seed=3), "seed"),
        (
            OnlineSelector(30, "insight", OnlineConfig(m=3, k=8, reward_threshold=0.5), seed=2),
            "reward_threshold",
        ),
    ]
    for other, match in cases:
        with pytest.raises(ValueError, match=match):
            other.load_state_dict(state)
    fresh = OnlineSelector(30, "insight", OnlineConfig(m=3, k=8), seed=2)
    before = fresh.state_dict()
    for key, value, match in [
        ("format_version", 99, "format_version"),
        ("handed_out", [0] * 5, "handed_out"),
        ("belief", {**state["belief"], "alpha": [-1.0] * 30}, "alpha"),
        ("pending", [{"batch": 7, "ids": [1], "scores": [0.0], "rewarded": [False]}], "malformed"),
    ]:
        with pytest.raises(ValueError, match=match):
            fresh.load_state_dict({**state, key: value})
        assert fresh.state_dict() == before


# -------------------------------------------------------------- refusals
def test_dynamic_sampling_cannot_pre_select():
    with pytest.raises(ValueError, match="cannot pre-select prompts"):
        OnlineSelector(10, "dynamic-sampling", OnlineConfig(m=2, k=4))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"m": 0, "k": 4}, ValueError, "m must be >= 1"),
        ({"m": 4, "k": 4, "m_hat": 3}, ValueError, "m_hat must be >= m"),
        ({"m": 4, "k": 4, "reward_mode": "graded"}, ValueError, "reward_mode"),
        ({"m": 4, "k": 4, "on_duplicate": "update"}, ValueError, "on_duplicate"),
        ({"m": 4, "k": 4, "on_unknown": "skip"}, ValueError, "on_unknown"),
        ({"m": 4, "k": 4, "max_pending_batches": 0}, ValueError, "max_pending_batches"),
        ({"m": 4, "k": 4.0}, TypeError, "k must be an integer"),
        ({"m": 4, "k": 4, "exclude_pending": 1}, TypeError, "exclude_pending"),
    ],
)
def test_config_validation(kwargs, error, match):
    with pytest.raises(error, match=match):
        OnlineConfig(**kwargs)


def test_constructor_validation():
    with pytest.raises(ValueError, match="cannot be chosen from a pool of 3"):
        OnlineSelector(3, "insight", OnlineConfig(m=4, k=2))
    with pytest.raises(ValueError, match="unknown selector"):
        OnlineSelector(10, "best", OnlineConfig(m=4, k=2))
    with pytest.raises(TypeError, match="OnlineConfig"):
        OnlineSelector(10, "insight", {"m": 4, "k": 2})


# ------------------------------------------------------------ concurrency
def test_concurrent_draws_and_reports_keep_the_books_straight():
    pool, m, k = 400, 4, 8
    sel = OnlineSelector(pool, "insight", OnlineConfig(m=m, k=k, candidate_ratio=4), seed=0)
    errors: list[BaseException] = []

    def worker(n):
        try:
            for _ in range(n):
                ids = sel.next_batch()
                sel.report(ids, fixed_rewards(ids, k))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(40,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    state = sel.state_dict()
    handed = np.asarray(state["handed_out"])
    assert handed.sum() == 4 * 40 * m and state["pending"] == []
    per_group = fixed_rewards(np.arange(pool), k).sum(axis=1)
    np.testing.assert_array_equal(sel.belief.alpha, 1 + handed * per_group)
    np.testing.assert_array_equal(sel.belief.beta, 1 + handed * (k - per_group))
    assert sel.stats["groups_accepted"] == 4 * 40 * m


def test_prefetching_thread_and_training_thread():
    """A loader thread draws ahead through a bounded queue while the trainer reports."""
    sel = OnlineSelector(200, "mopps", OnlineConfig(m=4, k=8), seed=1)
    batches: queue.Queue = queue.Queue(maxsize=2)
    n = 60

    def loader():
        for _ in range(n):
            batches.put(sel.next_batch())

    thread = threading.Thread(target=loader)
    thread.start()
    trained = []
    for _ in range(n):
        ids = batches.get()
        trained.append(ids)
        sel.report(ids, fixed_rewards(ids))
    thread.join()
    assert sel.pending() == [] and sel.stats["groups_accepted"] == n * 4
    assert sel.stats["max_lag"] >= 1  # the loader really ran ahead
    want = BetaBelief(200)
    for ids in trained:
        want.update(ids, *binarize_rewards(fixed_rewards(ids)))
    np.testing.assert_array_equal(sel.belief.alpha, want.alpha)


@dataclasses.dataclass(frozen=True)
class _BlockingRule(Selector):
    """Scores uniformly, but waits inside score() until released (holds the lock)."""

    entered: threading.Event = dataclasses.field(default_factory=threading.Event, compare=False)
    release: threading.Event = dataclasses.field(default_factory=threading.Event, compare=False)

    def score(self, candidates, belief, k, rng):
        self.entered.set()
        self.release.wait(timeout=10)
        return rng.random(candidates.size)


class _ContendedLock:
    """Wraps the selector's lock; ``contended`` is set when a caller finds it held."""

    def __init__(self, lock):
        self.lock = lock
        self.contended = threading.Event()

    def __enter__(self):
        if not self.lock.acquire(blocking=False):
            self.contended.set()
            self.lock.acquire()
        return self

    def __exit__(self, *exc):
        self.lock.release()


def test_report_waits_while_a_draw_is_in_progress():
    rule = _BlockingRule()
    sel = OnlineSelector(20, rule, OnlineConfig(m=2, k=2), seed=0)
    rule.release.set()
    first = sel.next_batch()
    rule.release.clear()
    rule.entered.clear()
    drawer = threading.Thread(target=sel.next_batch)
    drawer.start()
    assert rule.entered.wait(timeout=10)  # the draw holds the lock, inside score()
    lock = sel._lock = _ContendedLock(sel._lock)  # the drawer releases the lock it took
    reported = threading.Event()

    def reporter():
        sel.report(first, np.ones((2, 2)))
        reported.set()

    rep = threading.Thread(target=reporter)
    rep.start()
    assert lock.contended.wait(timeout=10)  # the report found the lock held by the draw
    assert not reported.is_set()
    assert sel.belief.alpha[first].tolist() == [1.0, 1.0]
    rule.release.set()
    drawer.join()
    rep.join()
    assert reported.is_set() and sel.belief.alpha[first].tolist() == [3.0, 3.0]


def test_module_docstring_example():
    import doctest

    import insight_bayes.integrations.online as online

    result = doctest.testmod(online, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
