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
:meth:`next_batch` while the training thread calls :meth:`report`.

The state (:meth:`OnlineSelector.state_dict`) is plain data (lists, numbers, strings):
the belief, the random-number state, the step, the pending batches and counters. It
goes into ``torch.save`` or JSON (:meth:`OnlineSelector.save`), and
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

import dataclasses
import json
import logging
import threading
import types
import warnings
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from insight_bayes.beliefs.beta_belief import BetaBelief
from insight_bayes.loop import SelectionConfig
from insight_bayes.rewards import binarize_rewards
from insight_bayes.selectors import (
    Selection,
    Selector,
    draw_candidates,
    make_selector,
    selector_from_label,
)
from insight_bayes.validation import SavedFileError, check_ids, check_int, read_json_file

__all__ = ["ONLINE_FORMAT_VERSION", "OnlineConfig", "OnlineSelector", "ReportSummary"]

log = logging.getLogger(__name__)

#: The keys of a plain BetaBelief state; a subclass's other keys travel as plain data.
_BETA_STATE_KEYS = frozenset(("format_version", "alpha", "beta", "alpha0", "beta0", "discount"))

#: Version tag of :meth:`OnlineSelector.state_dict`; bump when the layout changes.
ONLINE_FORMAT_VERSION = 1

DuplicatePolicy = Literal["raise", "ignore"]
UnknownPolicy = Literal["raise", "ignore", "update"]

# Fields that must match between a saved state and the selector restoring it.
_STATE_CONFIG_FIELDS = ("m", "k", "reward_mode", "reward_threshold")


class _class_or_instance_method:
    """A method that receives the class when called on the class, else the instance."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self.__func__ = func
        self.__doc__ = func.__doc__
        self.__name__ = func.__name__
        self.__wrapped__ = func

    def __get__(self, obj: Any, objtype: type | None = None) -> types.MethodType:
        return types.MethodType(self.__func__, objtype if obj is None else obj)


def _belief_classes() -> dict[str, type[BetaBelief]]:
    """Every imported BetaBelief class by ``module.qualname``."""
    found: dict[str, type[BetaBelief]] = {}
    todo: list[type[BetaBelief]] = [BetaBelief]
    while todo:
        cls = todo.pop()
        found[f"{cls.__module__}.{cls.__qualname__}"] = cls
        todo.extend(cls.__subclasses__())
    return found


@dataclass(frozen=True)
class OnlineConfig(SelectionConfig):
    """Settings of an :class:`OnlineSelector`.

    The selection settings of :class:`~insight_bayes.loop.SelectionConfig` (``m``,
    ``k``, ``candidate_ratio``, ``m_hat`` capped at the prompts available,
    ``reward_mode``, ``reward_threshold``), plus the bookkeeping policies:

    Attributes
    ----------
    exclude_pending : bool, default True
        Draw candidates only among prompts with no pending hand-out (falls back to the
        whole pool, with a warning, when fewer than ``m`` are free).
    on_duplicate : {"raise", "ignore"}
        What to do with rewards for an id that was handed out but has nothing pending
        (rewarded already, or expired).
    on_unknown : {"raise", "ignore", "update"}
        What to do with rewards for an id never handed out. ``"update"`` uses them as
        evidence (e.g. rollouts the trainer made for its own reasons).
    max_pending_batches : int, optional
        Keep at most this many batches pending; older ones expire (their later rewards
        count as duplicates). ``None``: never expire.
    """

    exclude_pending: bool = True
    on_duplicate: DuplicatePolicy = "raise"
    on_unknown: UnknownPolicy = "raise"
    max_pending_batches: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.exclude_pending, bool):
            raise TypeError(f"exclude_pending must be a bool, got {self.exclude_pending!r}")
        if self.on_duplicate not in ("raise", "ignore"):
            raise ValueError(f"on_duplicate must be 'raise' or 'ignore', got {self.on_duplicate!r}")
        if self.on_unknown not in ("raise", "ignore", "update"):
            raise ValueError(
                f"on_unknown must be 'raise', 'ignore' or 'update', got {self.on_unknown!r}"
            )
        if self.max_pending_batches is not None:
            check_int(self.max_pending_batches, "max_pending_batches", min_value=1)


@dataclass(frozen=True)
class ReportSummary:
    """What one :meth:`OnlineSelector.report` call did.

    Attributes
    ----------
    accepted : int
        Groups matched to a pending hand-out and added to the belief.
    late : int
        Accepted groups whose batch was followed by other hand-outs before the rewards
        came (lag >= 1).
    lags : ndarray of int, shape (accepted,)
        Per accepted group, the batches handed out after its own before its rewards.
    duplicates_ignored : int
        Groups dropped by ``on_duplicate="ignore"``.
    unknown_ignored, unknown_updated : int
        Groups for never-handed-out ids dropped, or used as evidence.
    """

    accepted: int
    late: int
    lags: np.ndarray
    duplicates_ignored: int = 0
    unknown_ignored: int = 0
    unknown_updated: int = 0

    @property
    def max_lag(self) -> int:
        return int(self.lags.max()) if self.lags.size else 0


@dataclass
class _Batch:
    """One hand-out: ids in rank order, their scores, which ones were rewarded."""

    ids: np.ndarray
    scores: np.ndarray
    rewarded: np.ndarray
    position: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.position = {int(pid): i for i, pid in enumerate(self.ids.tolist())}

    @property
    def n_left(self) -> int:
        return int(self.ids.size - self.rewarded.sum())


def _empty_stats() -> dict[str, int]:
    return {
        "batches_drawn": 0,
        "batches_replayed": 0,
        "groups_accepted": 0,
        "groups_late": 0,
        "max_lag": 0,
        "duplicates_ignored": 0,
        "unknown_ignored": 0,
        "unknown_updated": 0,
        "groups_expired": 0,
        "pending_fallbacks": 0,
    }


class OnlineSelector:
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

        A batch queued for replay by :meth:`load_state_dict` comes first. Otherwise the
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
    def state_dict(self) -> dict[str, Any]:
        """The full state as plain data (lists, ints, floats, strings; no arrays)."""
        with self._lock:
            belief = self._belief.state_dict()
            return {
                "format_version": ONLINE_FORMAT_VERSION,
                "belief_class": f"{type(self._belief).__module__}."
                f"{type(self._belief).__qualname__}",
                "rule": self.rule.name,
                "rule_params": dataclasses.asdict(self.rule),
                "config": dataclasses.asdict(self.config),
                "seed": self.seed,
                "step": self._step,
                "belief": {
                    "format_version": int(belief["format_version"]),
                    "alpha": belief["alpha"].tolist(),
                    "beta": belief["beta"].tolist(),
                    "alpha0": float(belief["alpha0"]),
                    "beta0": float(belief["beta0"]),
                    "discount": float(belief["discount"]),
                    # a belief subclass's own fields (noise rates, category counts, a
                    # TrackingBelief's clock and fit, a LagBelief's lag), as plain data
                    **{
                        key: _python_scalars(np.asarray(value).tolist())
                        for key, value in belief.items()
                        if key not in _BETA_STATE_KEYS
                    },
                },
                "rng": _python_scalars(self._rng.bit_generator.state),
                "handed_out": self._handed_out.tolist(),
                "pending": [
                    {
                        "batch": number,
                        "ids": batch.ids.tolist(),
                        "scores": batch.scores.tolist(),
                        "rewarded": batch.rewarded.tolist(),
                    }
                    for number, batch in self._batches.items()
                ],
                "stats": dict(self._stats),
            }

    def load_state_dict(
        self,
        state: Mapping[str, Any],
        *,
        replay_pending: bool = True,
        grow_pool: bool = False,
    ) -> None:
        """Restore a state from :meth:`state_dict` (validated in full before anything changes).

        Parameters
        ----------
        state : mapping
            As written by :meth:`state_dict` (also after a JSON or ``torch.save`` trip).
        replay_pending : bool, default True
            Hand out again, before drawing anything new, the batches that were handed
            out but got no reward at all (a trainer's prefetched batch lost at a restart).
        grow_pool : bool, default False
            When the saved pool is smaller than this selector's, keep this selector's
            size: the saved prompts keep their ids and beliefs, and the ones beyond them
            start at the prior (as after :meth:`grow`). Without it a pool-size mismatch
            is refused; a saved pool larger than this selector's always is.

        Raises ``ValueError`` if the state is for another rule, rule parameters, seed,
        ``m``, ``k``, reward binarisation or pool size, or is malformed.
        """
        version = int(state.get("format_version", -1))
        if version != ONLINE_FORMAT_VERSION:
            raise ValueError(
                f"online-selector format_version {version} is not supported "
                f"(expected {ONLINE_FORMAT_VERSION})"
            )
        mine = {
            "rule": self.rule.name,
            "rule_params": dataclasses.asdict(self.rule),
            "seed": self.seed,
            **{f"config.{k}": getattr(self.config, k) for k in _STATE_CONFIG_FIELDS},
        }
        saved = {
            "rule": state["rule"],
            "rule_params": dict(state["rule_params"]),
            "seed": int(state["seed"]),
            **{f"config.{k}": state["config"][k] for k in _STATE_CONFIG_FIELDS},
        }
        differ = [k for k in mine if mine[k] != saved[k]]
        if differ:
            detail = ", ".join(f"{k}: saved {saved[k]!r} != {mine[k]!r}" for k in differ)
            raise ValueError(f"state does not belong to this selector ({detail})")
        belief = type(self._belief).from_state_dict(
            {
                **state["belief"],
                "alpha": np.asarray(state["belief"]["alpha"], dtype=np.float64),
                "beta": np.asarray(state["belief"]["beta"], dtype=np.float64),
            }
        )
        n_saved, n = belief.n_prompts, self.pool_size
        if n_saved != n and not (grow_pool and n_saved < n):
            hint = (
                "; pass grow_pool=True to keep this pool and start the prompts beyond the "
                "saved ones at the prior"
                if n_saved < n
                else "; build the selector with the saved pool size"
            )
            raise ValueError(
                f"the state holds a pool of {n_saved} prompts but this selector has {n}{hint}"
            )
        if n_saved < n:
            belief.grow(n - n_saved)
        rng = np.random.default_rng()
        try:
            rng.bit_generator.state = dict(state["rng"])
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(f"saved rng state is not a PCG64 state: {exc}") from exc
        handed_out = np.asarray(state["handed_out"], dtype=np.int64)
        if handed_out.shape != (n_saved,) or np.any(handed_out < 0):
            raise ValueError(
                f"saved handed_out must be {n_saved} non-negative counts, got shape "
                f"{handed_out.shape}"
            )
        handed_out = np.concatenate([handed_out, np.zeros(n - n_saved, dtype=np.int64)])
        step = check_int(int(state["step"]), "step", min_value=0)
        batches: dict[int, _Batch] = {}
        for entry in sorted(state["pending"], key=lambda e: int(e["batch"])):
            number = int(entry["batch"])
            ids = check_ids(np.asarray(entry["ids"], dtype=np.int64), "pending ids", n_saved)
            scores = np.asarray(entry["scores"], dtype=np.float64)
            rewarded = np.asarray(entry["rewarded"], dtype=bool)
            if not (ids.shape == scores.shape == rewarded.shape) or not 0 <= number < step:
                raise ValueError(f"saved pending batch {number} is malformed")
            batches[number] = _Batch(ids=ids, scores=scores, rewarded=rewarded)
        pending_by_id: dict[int, deque[int]] = {}
        pending_count = np.zeros(n, dtype=np.int64)
        for number, batch in batches.items():
            for pid in batch.ids[~batch.rewarded].tolist():
                pending_by_id.setdefault(pid, deque()).append(number)
                pending_count[pid] += 1
        replay = deque(
            number
            for number, batch in batches.items()
            if replay_pending and not batch.rewarded.any()
        )
        stats = _empty_stats()
        stats.update({k: int(v) for k, v in dict(state.get("stats", {})).items() if k in stats})
        with self._lock:
            self._belief.load_state_dict(belief.state_dict())
            self._rng = rng
            self._step = step
            self._batches = batches
            self._pending_by_id = pending_by_id
            self._pending_count = pending_count
            self._handed_out = handed_out
            self._replay = replay
            self._stats = stats

    def save(self, path: str | Path) -> Path:
        """Write :meth:`state_dict` as JSON (no pickle), atomically; returns the path."""
        from insight_bayes.results.io import atomic_write_bytes

        path = Path(path)
        atomic_write_bytes(path, json.dumps(self.state_dict()).encode())
        return path

    @_class_or_instance_method
    def load(
        target: OnlineSelector | type[OnlineSelector],
        path: str | Path,
        *,
        replay_pending: bool = True,
        grow_pool: bool = False,
    ) -> OnlineSelector:
        """Restore from a JSON file written by :meth:`save`; return the selector.

        Called on the class, ``OnlineSelector.load(path)`` builds the selector the file
        describes, whole: its rule with the saved parameters, its :class:`OnlineConfig`,
        seed, belief (of the saved class) and random-number state, so it continues
        exactly where the saved one stopped. Called on a selector,
        ``selector.load(path)`` restores into it after checking that the file belongs to
        it (same rule, parameters, seed, ``m``, ``k``, reward binarisation and pool).

        Parameters
        ----------
        path : str or Path
            The file.
        replay_pending : bool, default True
            See :meth:`load_state_dict`.
        grow_pool : bool, default False
            See :meth:`load_state_dict` (only for a selector built with a larger pool).

        Raises ``FileNotFoundError`` if there is no such file, and
        :class:`~insight_bayes.validation.SavedFileError` (a ``ValueError``) naming the
        file if it is not JSON, is not a selector state, or is one for another rule,
        seed, configuration or pool size (the message of :meth:`load_state_dict`).
        """
        path = Path(path)
        expected = "an OnlineSelector state written by OnlineSelector.save"
        state = read_json_file(path, expected)
        if not isinstance(state, dict):
            raise SavedFileError(
                f"{path} holds a JSON {type(state).__name__}, not an object; expected {expected}"
            )
        if "format_version" not in state:
            raise SavedFileError(
                f"{path} has no format_version field (its fields: {sorted(state)[:8]}); "
                f"expected {expected}"
            )
        try:
            if isinstance(target, type):
                selector = target._from_state(state)
                grow_pool = False
            else:
                selector = target
            selector.load_state_dict(state, replay_pending=replay_pending, grow_pool=grow_pool)
        except (ValueError, KeyError, TypeError) as err:
            message = f"missing field {err}" if isinstance(err, KeyError) else str(err)
            raise SavedFileError(f"{path}: {message}") from None
        return selector

    @classmethod
    def _from_state(cls, state: Mapping[str, Any]) -> OnlineSelector:
        """A fresh selector with the rule, config, seed, pool and belief class of ``state``."""
        version = int(state.get("format_version", -1))
        if version != ONLINE_FORMAT_VERSION:
            raise ValueError(
                f"online-selector format_version {version} is not supported "
                f"(expected {ONLINE_FORMAT_VERSION})"
            )
        rule = make_selector(str(state["rule"]), **dict(state["rule_params"]))
        config = OnlineConfig(**dict(state["config"]))
        saved_belief = state["belief"]
        n = len(saved_belief["alpha"])
        class_name = state.get("belief_class")
        if class_name is None:  # written before the class was recorded: the rule's own
            belief = rule.new_belief(n)
        else:
            belief_cls = _belief_classes().get(str(class_name))
            if belief_cls is None:
                raise ValueError(
                    f"the state's belief is a {class_name}, which is not imported; import "
                    "the module that defines it first, or build the selector with such a "
                    "belief and call selector.load(path) on it"
                )
            belief = belief_cls.from_state_dict(
                {
                    **saved_belief,
                    "alpha": np.asarray(saved_belief["alpha"], dtype=np.float64),
                    "beta": np.asarray(saved_belief["beta"], dtype=np.float64),
                }
            )
        return cls(belief, rule, config, seed=int(state["seed"]))


def _python_scalars(value: Any) -> Any:
    """Nested dicts of numpy scalars -> Python ints/floats (JSON- and torch.load-safe)."""
    if isinstance(value, Mapping):
        return {str(k): _python_scalars(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value
