"""Algorithm 1 split in two calls, for trainers that own their loop.

A trainer asks :meth:`OnlineSelector.next_batch` for the ids of the next ``M`` prompts
(``M_hat`` candidates drawn uniformly from the pool, the top ``M`` kept by a registered
rule, Eq. 16-17) and later hands their rewards to :meth:`OnlineSelector.report`, which
binarises them as configured and updates the Beta belief (Eq. 6):

>>> import numpy as np
>>> from insight_bayes.integrations import OnlineConfig, OnlineSelector
>>> selector = OnlineSelector(100, "insight", OnlineConfig(m=4, k=8), seed=0)
>>> ids = selector.next_batch()
>>> summary = selector.report(ids, np.ones((4, 8)))
>>> summary.accepted, selector.belief.alpha[ids].tolist()
(4, [9.0, 9.0, 9.0, 9.0])

Bookkeeping of what was handed out
----------------------------------
Every id handed out is *pending* until its rewards arrive. Trainers that prefetch
(TRL's data loader draws one batch ahead) ask for batch ``t + 1`` before batch ``t`` is
rewarded, so reports may come **late**; they are always accepted, and the number of
batches handed out in between is recorded as the report's *lag*. While ids are pending,
new candidates are drawn from the rest of the pool (``exclude_pending=True``), so a rule
whose belief has not moved yet does not pick the same prompts twice.

Rewards for an id with no pending hand-out are refused unless a policy says otherwise:
**twice** (already rewarded, or expired): ``on_duplicate="raise"`` (default) or
``"ignore"``; **never handed out**: ``on_unknown="raise"`` (default), ``"ignore"`` or
``"update"`` (use them as evidence anyway). A report is checked in full before anything
changes, so a refused report leaves the belief and the bookkeeping untouched.

Every public method holds one lock, so a prefetching thread may call
:meth:`OnlineSelector.next_batch` while the training thread calls
:meth:`OnlineSelector.report`.

The state (:meth:`~insight_bayes.integrations.online_state.OnlineState.state_dict`) is
plain data (lists, numbers, strings): the belief, the random-number state, the step, the
pending batches and counters. It goes into ``torch.save`` or JSON
(:meth:`~insight_bayes.integrations.online_state.OnlineState.save`), and
``OnlineSelector.load(path)`` rebuilds the whole selector from that file (rule, rule
parameters, config, seed, belief and random-number state) with nothing re-typed. On
restore, batches that were handed out but got no reward at all are handed out again
first (``replay_pending=True``), which is what resuming a trainer whose prefetched batch
was lost needs. A state of another pool size is refused, unless ``grow_pool=True`` and
the saved pool is the smaller one (the prompts added since are appended at the prior).

In ``"binary"`` reward mode a graded reward strictly between 0 and ``reward_threshold``
(Countdown's 0.1 format reward, say) counts as a failure; the first such reward a
selector sees raises one :class:`UserWarning`.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections import deque
from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike

from insight_bayes.beliefs.beta_belief import BetaBelief
from insight_bayes.integrations.online_config import (
    ONLINE_FORMAT_VERSION,
    OnlineConfig,
    ReportSummary,
    _Batch,
    _empty_stats,
)
from insight_bayes.integrations.online_state import OnlineState
from insight_bayes.rewards import binarize_rewards
from insight_bayes.selectors import (
    Selection,
    Selector,
    draw_candidates,
    selector_from_label,
)
from insight_bayes.validation import check_ids, check_int

__all__ = ["ONLINE_FORMAT_VERSION", "OnlineConfig", "OnlineSelector", "ReportSummary"]

log = logging.getLogger(__name__)


class OnlineSelector(OnlineState):
    """Hand out batches of prompt ids chosen by a registered rule; take their rewards back.

    Parameters
    ----------
    pool : int or BetaBelief
        Pool size ``N`` (a fresh ``Beta(1, 1)`` belief) or a starting belief (used in
        place, not copied).
    rule : Selector or str
        A score-based rule or its registry name (paper defaults). Dynamic Sampling is
        refused: it needs the rollouts before it can choose.
    config : OnlineConfig
        Batch sizes, reward binarisation and the late/duplicate/unknown policies.
    seed : int, default 0
        Root seed. The selection stream is the first of two spawned from it, exactly as
        in :class:`insight_bayes.loop.SelectionLoop`, so a loop that reports each batch
        before asking for the next reproduces ``SelectionLoop`` with the same seed.
    groups : array_like of int, shape (N,), optional
        Each prompt's group id (a topic, a difficulty tier) for a rule with a learned
        prior per group (``"insight-eb"``, ``"mopps-eb"``; see
        :mod:`insight_bayes.beliefs.prior`). Only with a pool size, not a ready belief.

    Attributes
    ----------
    step : int
        Batches drawn so far (replays after a restore are not counted).
    """

    def __init__(
        self,
        pool: int | BetaBelief,
        rule: Selector | str,
        config: OnlineConfig,
        *,
        seed: int = 0,
        groups: ArrayLike | None = None,
    ) -> None:
        if not isinstance(config, OnlineConfig):
            raise TypeError(f"config must be an OnlineConfig, got {type(config).__name__}")
        self.config = config
        self.rule = selector_from_label(rule) if isinstance(rule, str) else rule
        if not isinstance(self.rule, Selector):
            raise TypeError(f"rule must be a Selector or a rule label, got {rule!r}")
        if self.rule.privileged:
            raise ValueError(
                f"rule {self.rule.name!r} is privileged: it reads true success rates, which "
                "real training does not have. It is a ceiling for simulations only"
            )
        if not self.rule.rollout_filter.chooses_before_rollouts:
            raise ValueError(
                f"rule {self.rule.name!r} cannot pre-select prompts: its rollout filter "
                f"({type(self.rule.rollout_filter).__name__}) chooses only after rolling "
                "candidates out (it keeps groups whose K rewards are not all equal), and "
                "here prompts are handed out before generation. Run it as a post-rollout "
                "filter in the trainer (verl: algorithm.filter_groups), or use a rule that "
                "chooses before generation such as 'insight' or 'mopps'"
            )
        if groups is not None and not getattr(self.rule, "takes_groups", False):
            raise ValueError(
                f"rule {self.rule.name!r} takes no group ids; groups= feeds a learned prior "
                "per group (rules 'insight-eb', 'mopps-eb')"
            )
        if isinstance(pool, BetaBelief):
            if groups is not None:
                raise ValueError("groups= builds a new belief's prior; this belief has its own")
            belief = pool
        elif groups is not None:
            belief = self.rule.new_belief(check_int(pool, "pool", min_value=1), groups=groups)
        else:
            belief = self.rule.new_belief(check_int(pool, "pool", min_value=1))
        self.rule.check_belief(belief)
        if config.m > belief.n_prompts:
            raise ValueError(
                f"m={config.m} prompts per batch cannot be chosen from a pool of {belief.n_prompts}"
            )
        self.seed = check_int(seed, "seed", min_value=0)
        self._belief = belief
        self._rng = np.random.default_rng(np.random.SeedSequence(self.seed).spawn(2)[0])
        self._lock = threading.RLock()
        self._step = 0
        self._batches: dict[int, _Batch] = {}
        self._pending_by_id: dict[int, deque[int]] = {}
        self._pending_count = np.zeros(belief.n_prompts, dtype=np.int64)
        self._handed_out = np.zeros(belief.n_prompts, dtype=np.int64)
        self._replay: deque[int] = deque()
        self._stats = _empty_stats()
        self._warned_graded = False

    # ------------------------------------------------------------------ views
    @property
    def belief(self) -> BetaBelief:
        """The live belief. Read it while no other thread reports, or use :meth:`snapshot`."""
        return self._belief

    def snapshot(self) -> BetaBelief:
        """A copy of the belief taken under the lock."""
        with self._lock:
            return self._belief.copy()

    @property
    def pool_size(self) -> int:
        return self._belief.n_prompts

    @property
    def step(self) -> int:
        return self._step

    @property
    def stats(self) -> dict[str, int]:
        """Counters: batches drawn/replayed, groups accepted/late, max lag, dropped groups."""
        with self._lock:
            return dict(self._stats)

    def pending(self) -> list[tuple[int, np.ndarray]]:
        """``(batch number, ids still awaiting rewards)`` for every pending batch, oldest first."""
        with self._lock:
            return [(b, batch.ids[~batch.rewarded].copy()) for b, batch in self._batches.items()]

    def __repr__(self) -> str:
        return (
            f"OnlineSelector(rule={self.rule.name!r}, pool={self.pool_size}, m={self.config.m}, "
            f"k={self.config.k}, step={self._step}, pending batches={len(self._batches)})"
        )

    # -------------------------------------------------------------- hand out
    def next_selection(self, candidates: ArrayLike | None = None) -> Selection:
        """The next batch as a :class:`~insight_bayes.selectors.Selection` (ids and scores).

        A batch queued for replay by
        :meth:`~insight_bayes.integrations.online_state.OnlineState.load_state_dict` comes
        first. Otherwise the
        candidates are ``candidates`` when given (e.g. the ``M_hat`` prompts a trainer's
        data loader produced) or ``M_hat`` ids drawn uniformly from the pool; with
        ``exclude_pending``, prompts with a pending hand-out are left out. The rule keeps
        the top ``M`` (Eq. 17), and those ids become pending.

        Parameters
        ----------
        candidates : array_like of int, shape (M_hat,), optional
            Distinct prompt ids to choose from (at least ``M`` of them).
        """
        with self._lock:
            if self._replay:
                number = self._replay.popleft()
                batch = self._batches[number]
                self._stats["batches_replayed"] += 1
                return Selection(ids=batch.ids.copy(), scores=batch.scores.copy())
            cfg = self.config
            available: np.ndarray | None = None
            if cfg.exclude_pending and self._batches:
                free = np.flatnonzero(self._pending_count == 0)
                if free.size >= cfg.m:
                    available = free
                else:
                    self._stats["pending_fallbacks"] += 1
                    log.warning(
                        "only %d prompts have no pending rewards (m=%d); drawing candidates "
                        "from the whole pool",
                        free.size,
                        cfg.m,
                    )
            if candidates is not None:
                candidates = check_ids(candidates, "candidates", self.pool_size)
                if available is not None:
                    free_cand = candidates[self._pending_count[candidates] == 0]
                    candidates = free_cand if free_cand.size >= cfg.m else candidates
            else:
                size = self.pool_size if available is None else available.size
                candidates = draw_candidates(size, min(cfg.wanted_m_hat, size), self._rng)
                if available is not None:
                    candidates = available[candidates]
            selection = self.rule.select(candidates, self._belief, cfg.m, cfg.k, self._rng)
            ids = np.asarray(selection.ids, dtype=np.int64)
            number = self._step
            self._batches[number] = _Batch(
                ids=ids.copy(),
                scores=np.asarray(selection.scores, dtype=np.float64).copy(),
                rewarded=np.zeros(ids.size, dtype=bool),
            )
            for pid in ids.tolist():
                self._pending_by_id.setdefault(pid, deque()).append(number)
            self._pending_count[ids] += 1
            self._handed_out[ids] += 1
            self._step += 1
            self._stats["batches_drawn"] += 1
            self._expire_if_needed()
            return Selection(ids=ids.copy(), scores=selection.scores.copy())

    def next_batch(self, candidates: ArrayLike | None = None) -> np.ndarray:
        """Ids of the next ``M`` prompts, best score first (see :meth:`next_selection`)."""
        return self.next_selection(candidates).ids

    def _expire_if_needed(self) -> None:
        limit = self.config.max_pending_batches
        while limit is not None and len(self._batches) > limit:
            number = next(iter(self._batches))
            batch = self._batches.pop(number)
            left = batch.ids[~batch.rewarded]
            for pid in left.tolist():
                queue = self._pending_by_id[pid]
                queue.remove(number)
                if not queue:
                    del self._pending_by_id[pid]
            self._pending_count[left] -= 1
            if number in self._replay:
                self._replay.remove(number)
            self._stats["groups_expired"] += int(left.size)
            log.warning(
                "batch %d expired with %d prompts never rewarded (max_pending_batches=%d)",
                number,
                left.size,
                limit,
            )

    # ---------------------------------------------------------------- report
    def report(self, ids: ArrayLike, rewards: ArrayLike) -> ReportSummary:
        """Add the rewards of prompts handed out earlier to the belief (Eq. 6).

        Parameters
        ----------
        ids : array_like of int, shape (G,)
            Prompt ids; an id may repeat if it is pending more than once.
        rewards : array_like, shape (G, K')
            Rewards of each group's rollouts, binarised with the configured mode and
            threshold (``K'`` may differ from the configured ``K``; it is the trials).

        Each row is matched to the oldest pending hand-out of its id. Rows with none
        follow ``on_duplicate`` / ``on_unknown``; with ``"raise"`` the whole report is
        refused with a ``ValueError`` and nothing changes.
        """
        with self._lock:
            ids_arr = check_ids(ids, "ids", self.pool_size)
            r = np.asarray(rewards, dtype=np.float64)
            if r.ndim != 2 or r.shape[0] != ids_arr.size:
                raise ValueError(
                    f"rewards must have shape (len(ids), K) = ({ids_arr.size}, K), got {r.shape}"
                )
            cfg = self.config
            successes, trials = binarize_rewards(
                r, mode=cfg.reward_mode, threshold=cfg.reward_threshold
            )
            if cfg.reward_mode == "binary" and not self._warned_graded:
                graded = r[(r > 0.0) & (r < cfg.reward_threshold)]
                if graded.size:
                    self._warned_graded = True
                    warnings.warn(
                        f"graded rewards below reward_threshold={cfg.reward_threshold:g} "
                        f"(e.g. {graded[0]:g}) count as failures in binary mode; pass "
                        "OnlineConfig(reward_threshold=...) to move the line, or "
                        "reward_mode='fractional' to count rewards in [0, 1] as fractions "
                        "(warned once per selector)",
                        UserWarning,
                        stacklevel=2,
                    )
            used: dict[int, int] = {}
            accepted: list[int] = []
            lags: list[int] = []
            duplicates: list[int] = []
            unknown: list[int] = []
            for row, pid in enumerate(ids_arr.tolist()):
                queue = self._pending_by_id.get(pid)
                j = used.get(pid, 0)
                if queue is not None and j < len(queue):
                    used[pid] = j + 1
                    accepted.append(row)
                    lags.append(self._step - 1 - queue[j])
                elif self._handed_out[pid] > 0:
                    duplicates.append(row)
                else:
                    unknown.append(row)
            if duplicates and cfg.on_duplicate == "raise":
                shown = sorted({int(ids_arr[i]) for i in duplicates})[:5]
                raise ValueError(
                    f"rewards for prompt ids {shown} with no pending hand-out (already "
                    "rewarded, or expired); nothing was updated. Pass "
                    "OnlineConfig(on_duplicate='ignore') to drop such rewards"
                )
            if unknown and cfg.on_unknown == "raise":
                shown = sorted({int(ids_arr[i]) for i in unknown})[:5]
                raise ValueError(
                    f"rewards for prompt ids {shown} that were never handed out; nothing was "
                    "updated. Pass OnlineConfig(on_unknown='update') to use them as evidence "
                    "or on_unknown='ignore' to drop them"
                )
            rows = accepted + (unknown if cfg.on_unknown == "update" else [])
            if rows:
                take = np.asarray(rows, dtype=np.int64)
                # Validated and atomic: raises before any change on bad counts.
                self._belief.observe(
                    ids_arr[take],
                    r[take],
                    successes[take],
                    trials[take],
                    fractional=cfg.reward_mode == "fractional",
                )
            self._commit(used)
            lags_arr = np.asarray(lags, dtype=np.int64)
            n_late = int((lags_arr > 0).sum())
            summary = ReportSummary(
                accepted=len(accepted),
                late=n_late,
                lags=lags_arr,
                duplicates_ignored=len(duplicates),
                unknown_ignored=len(unknown) if cfg.on_unknown == "ignore" else 0,
                unknown_updated=len(unknown) if cfg.on_unknown == "update" else 0,
            )
            stats = self._stats
            stats["groups_accepted"] += summary.accepted
            stats["groups_late"] += n_late
            stats["max_lag"] = max(stats["max_lag"], summary.max_lag)
            stats["duplicates_ignored"] += summary.duplicates_ignored
            stats["unknown_ignored"] += summary.unknown_ignored
            stats["unknown_updated"] += summary.unknown_updated
            if duplicates or unknown:
                log.info(
                    "report: %d duplicate and %d unknown groups (%s / %s)",
                    len(duplicates),
                    len(unknown),
                    cfg.on_duplicate,
                    cfg.on_unknown,
                )
            return summary

    def _commit(self, used: Mapping[int, int]) -> None:
        for pid, n in used.items():
            queue = self._pending_by_id[pid]
            for _ in range(n):
                number = queue.popleft()
                batch = self._batches[number]
                batch.rewarded[batch.position[pid]] = True
                if number in self._replay:
                    # Rewarded before it was handed out again: it was trained after all.
                    self._replay.remove(number)
                if batch.n_left == 0:
                    del self._batches[number]
            if not queue:
                del self._pending_by_id[pid]
            self._pending_count[pid] -= n

    # ------------------------------------------------------------ pool growth
    def grow(self, n_new: int) -> np.ndarray:
        """Append ``n_new`` prompts at the prior, eligible from the next batch; return their ids."""
        with self._lock:
            new = self._belief.grow(n_new)
            pad = np.zeros(new.size, dtype=np.int64)
            self._pending_count = np.concatenate([self._pending_count, pad])
            self._handed_out = np.concatenate([self._handed_out, pad])
            return new

    # ------------------------------------------------------------ persistence
