"""The selector contract: score candidates, keep the top ``M`` (Eq. 17), roll out.

:class:`Selector` is the base of every rule: a subclass supplies :meth:`Selector.score`
(higher is better) and validates its parameters; the base class keeps the top ``M``
with ties broken uniformly at random (:func:`top_m`), and :meth:`Selector.gather`
applies the rule's :class:`RolloutFilter` (:class:`KeepChosen` unless the rule says
otherwise) to produce the :class:`Batch` a step trains on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from insight_bayes.beliefs.beta_belief import BetaBelief
from insight_bayes.rewards import Rollout
from insight_bayes.validation import RngLike, as_generator, check_ids, check_int, check_real

__all__ = [
    "KEEP_CHOSEN",
    "Batch",
    "KeepChosen",
    "RolloutFilter",
    "RolloutFn",
    "Selection",
    "Selector",
    "check_candidates",
    "checked_rollout",
    "draw_candidates",
    "top_m",
]

RolloutFn = Callable[[np.ndarray], Rollout]
"""``rollout(ids) -> Rollout`` with rewards of shape ``(len(ids), K)``."""


@dataclass(frozen=True)
class Selection:
    """What a selector chose for one training step.

    Attributes
    ----------
    ids : ndarray of int, shape (M,)
        Chosen prompt ids, best score first.
    scores : ndarray of float, shape (M,)
        Their scores (the rule's own units; higher is better).
    """

    ids: np.ndarray
    scores: np.ndarray


@dataclass(frozen=True)
class Batch:
    """What one training step trains on, after the rule's rollout filter.

    Attributes
    ----------
    ids : ndarray of int, shape (M,)
        Prompts trained on, in the rule's order.
    scores : ndarray of float, shape (M,)
        Their scores (the rule's own units).
    rollout : Rollout
        Their ``K`` rollouts each; row ``i`` belongs to ``ids[i]``.
    rollouts : int
        Every rollout generated this step, discarded groups included (``M K`` when
        nothing is filtered).
    rounds : int
        Generation rounds (1 when nothing is filtered).
    """

    ids: np.ndarray
    scores: np.ndarray
    rollout: Rollout
    rollouts: int
    rounds: int = 1


def draw_candidates(pool_size: int, m_hat: int, rng: RngLike) -> np.ndarray:
    """Draw ``m_hat`` distinct prompt ids uniformly from a pool (Algorithm 1, step 1).

    ``m_hat`` larger than the pool is capped at the pool size (the whole pool is then
    the candidate set, in random order).
    """
    pool_size = check_int(pool_size, "pool_size", min_value=1)
    m_hat = check_int(m_hat, "m_hat", min_value=1)
    gen = as_generator(rng)
    return gen.choice(pool_size, size=min(m_hat, pool_size), replace=False, shuffle=True)


def top_m(scores: np.ndarray, m: int, rng: RngLike) -> np.ndarray:
    """Positions of the ``m`` largest ``scores``, best first, ties broken at random (Eq. 17).

    The scores are visited in a uniformly random order, then sorted with a stable sort,
    so among equal scores at the cut every subset is equally likely, and the result is
    the same on every machine: a stable sort has one answer, whereas ``np.argpartition``
    picks among ties by its SIMD kernel (numpy 2.x gives different subsets with and
    without AVX2), which made runs differ between CPUs.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"scores must be 1-d, got shape {scores.shape}")
    m = check_int(m, "m", min_value=1, max_value=scores.size)
    if np.any(np.isnan(scores)):
        raise ValueError("scores contain NaN; a selector must never produce NaN")
    gen = as_generator(rng)
    order = gen.permutation(scores.size)
    best_first = np.argsort(-scores[order], kind="stable")[:m]
    return order[best_first]


@dataclass(frozen=True)
class Selector(ABC):
    """Base class of the selection rules: score candidates, keep the top ``M``.

    Attributes
    ----------
    discount : float, optional
        The discount ``lambda`` in [0, 1] of the Beta update (Eq. 6) this rule's belief
        uses, when the rule fixes it (MoPPS's published Countdown setting is 0.5);
        ``None`` leaves it to the experiment. Keyword only: a label writes it as
        ``"mopps:discount=0.5"``. Callers that own the belief apply it
        (:meth:`new_belief`, :meth:`check_belief`).
    """

    name: ClassVar[str] = "abstract"
    #: Privileged rules read an environment's true success rates (ceilings only); they
    #: are refused wherever true rates do not exist (real training).
    privileged: ClassVar[bool] = False

    discount: float | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        if self.discount is not None:
            check_real(self.discount, "discount", low=0.0, high=1.0)

    # ------------------------------------------------------------ the belief
    def new_belief(self, n_prompts: int, **settings: float) -> BetaBelief:
        """A fresh belief over ``n_prompts``, with this rule's discount when it sets one.

        ``settings`` (``alpha0``, ``beta0``, ``discount``) are the experiment's; the
        rule's own ``discount`` takes precedence.
        """
        if self.discount is not None:
            settings = {**settings, "discount": self.discount}
        return BetaBelief(n_prompts, **settings)

    def check_belief(self, belief: BetaBelief) -> None:
        """Refuse a belief whose discount contradicts the rule's own."""
        if self.discount is not None and belief.discount != self.discount:
            raise ValueError(
                f"rule {self.name!r} sets discount={self.discount} but the belief it was "
                f"given has discount={belief.discount}; build it with rule.new_belief(...)"
            )

    def bind(self, env: Any) -> Selector:
        """The rule ready to run against ``env`` (itself, unless it is privileged).

        Every caller that drives an environment calls this, for every rule; only a
        privileged rule looks at ``env`` (see :mod:`insight_bayes.selectors.privileged`).
        """
        return self

    @abstractmethod
    def score(
        self, candidates: np.ndarray, belief: BetaBelief, k: int, rng: np.random.Generator
    ) -> np.ndarray:
        """Scores of ``candidates`` (higher is better), shape ``(len(candidates),)``."""

    def select(
        self,
        candidates: np.ndarray,
        belief: BetaBelief,
        m: int,
        k: int,
        rng: RngLike = None,
    ) -> Selection:
        """Keep the ``m`` best of ``candidates`` by :meth:`score` (Eq. 17).

        Parameters
        ----------
        candidates : array_like of int, shape (M_hat,)
            Distinct prompt ids (see :func:`draw_candidates`).
        belief : BetaBelief
            Current beliefs of the whole pool.
        m : int
            Prompts to keep, ``1 <= m <= M_hat``.
        k : int
            Rollouts per prompt (enters the information term).
        rng : Generator, int or None
            Source of Thompson draws and tie breaks.
        """
        cand = check_candidates(candidates, belief, m)
        k = check_int(k, "k", min_value=1)
        gen = as_generator(rng)
        scores = np.asarray(self.score(cand, belief, k, gen), dtype=np.float64)
        keep = top_m(scores, m, gen)
        return Selection(ids=cand[keep], scores=scores[keep])

    @property
    def rollout_filter(self) -> RolloutFilter:
        """What happens between choosing and training (default :class:`KeepChosen`)."""
        return KEEP_CHOSEN

    def gather(
        self,
        candidates: np.ndarray,
        belief: BetaBelief,
        m: int,
        k: int,
        rng: RngLike,
        rollout: RolloutFn,
    ) -> Batch:
        """Choose, roll out and filter: the ``M`` groups a step trains on.

        ``rollout(ids)`` must return a :class:`~insight_bayes.rewards.Rollout` with
        ``(len(ids), k)`` rewards. Delegates to :attr:`rollout_filter`.
        """
        return self.rollout_filter.gather(self, candidates, belief, m, k, rng, rollout)


class RolloutFilter(ABC):
    """Turns a rule's preferences into the batch a step trains on, by rolling out.

    A filter may roll out more than ``M`` prompts (all of them are counted in
    :attr:`Batch.rollouts`). Filters that look at rewards cannot run where prompts are
    handed out before generation (:class:`~insight_bayes.integrations.OnlineSelector`):
    :attr:`chooses_before_rollouts` says so.
    """

    #: Whether the batch is fixed before any reward is seen.
    chooses_before_rollouts: ClassVar[bool] = True

    @abstractmethod
    def gather(
        self,
        selector: Selector,
        candidates: np.ndarray,
        belief: BetaBelief,
        m: int,
        k: int,
        rng: RngLike,
        rollout: RolloutFn,
    ) -> Batch:
        """The batch of ``m`` groups, using ``selector``'s ranking of ``candidates``."""


def checked_rollout(rollout: RolloutFn, ids: np.ndarray, k: int) -> Rollout:
    out = rollout(ids)
    if not isinstance(out, Rollout):
        raise TypeError(f"rollout(ids) must return a Rollout, got {type(out).__name__}")
    if out.rewards.shape != (ids.size, k):
        raise ValueError(f"rollout returned shape {out.rewards.shape}, expected {(ids.size, k)}")
    return out


@dataclass(frozen=True)
class KeepChosen(RolloutFilter):
    """No filter: roll out the rule's top ``M`` once and train on all of them."""

    def gather(self, selector, candidates, belief, m, k, rng, rollout):
        gen = as_generator(rng)
        chosen = selector.select(candidates, belief, m, k, gen)
        out = checked_rollout(rollout, chosen.ids, k)
        return Batch(chosen.ids, chosen.scores, out, rollouts=out.rewards.size, rounds=1)


#: The default filter of every rule.
KEEP_CHOSEN = KeepChosen()


def check_candidates(candidates: Any, belief: BetaBelief, m: int) -> np.ndarray:
    cand = check_ids(candidates, "candidates", belief.n_prompts)
    if cand.size == 0:
        raise ValueError("candidates is empty")
    m = check_int(m, "m", min_value=1)
    if m > cand.size:
        raise ValueError(
            f"m (prompts to keep) must not exceed the number of candidates M_hat; "
            f"got m={m} > M_hat={cand.size}"
        )
    ordered = np.sort(cand)
    if np.any(ordered[1:] == ordered[:-1]):
        raise ValueError("candidates must be distinct prompt ids")
    return cand
