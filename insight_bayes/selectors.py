"""Prompt-selection rules behind one registry (Algorithm 1, Eq. 17, and the baselines).

A selector maps ``(candidate ids, belief, K, rng)`` to chosen ids and their scores.
Every rule is a small frozen dataclass registered by name, so the simulators, the RLVR
harness and the trainer integrations all build rules with :func:`make_selector`:

>>> import numpy as np
>>> from insight_bayes import BetaBelief, make_selector
>>> belief = BetaBelief(100)
>>> rule = make_selector("insight", mu=0.3, eta=3.0)
>>> chosen = rule.select(np.arange(100), belief, m=8, k=8, rng=0)
>>> chosen.ids.shape
(8,)

Every rule implements :meth:`Selector.score` (higher is better); the base class keeps
the top ``M`` with ties broken uniformly at random (never by index).

What happens between choosing and training is a **rollout filter**
(:class:`RolloutFilter`), which :meth:`Selector.gather` applies and the selection loop
calls for every rule alike: :class:`KeepChosen` (every rule but one) rolls out the
chosen ``M`` once; :class:`KeepInformative` (Dynamic Sampling, DAPO) rolls candidates
out in the rule's order, drops groups whose rewards are all equal and refills, counting
every rollout. No caller needs to know which filter a rule has.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from insight_bayes.acquisition import (
    difficulty_weight,
    distance_score,
    inverse_evidence_score,
    wmi_score,
)
from insight_bayes.belief import BetaBelief
from insight_bayes.beta import mutual_information
from insight_bayes.rewards import Rollout, informative_groups
from insight_bayes.validation import RngLike, as_generator, check_ids, check_int, check_real

__all__ = [
    "Batch",
    "DynamicSampling",
    "ExpectedDifficulty",
    "InSight",
    "InSightSampled",
    "InverseEvidence",
    "KeepChosen",
    "KeepInformative",
    "MoPPS",
    "MutualInformationOnly",
    "PAPER_RULES",
    "RandomSelector",
    "RolloutFilter",
    "Selection",
    "Selector",
    "WeightOnly",
    "available_selectors",
    "draw_candidates",
    "make_selector",
    "parse_rule_label",
    "register_selector",
    "selector_from_label",
    "top_m",
]

RolloutFn = Callable[[np.ndarray], Rollout]
"""``rollout(ids) -> Rollout`` with rewards of shape ``(len(ids), K)``."""

_REGISTRY: dict[str, type[Selector]] = {}

#: The nine rules compared in the paper (method notes, Section 6), in table order.
PAPER_RULES: tuple[str, ...] = (
    "random",
    "mopps",
    "expected-difficulty",
    "inverse-evidence",
    "mi",
    "weight",
    "insight",
    "insight-sampled",
    "dynamic-sampling",
)


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


def register_selector(name: str) -> Callable[[type[Selector]], type[Selector]]:
    """Class decorator adding a selector to the registry under ``name``."""

    def decorator(cls: type[Selector]) -> type[Selector]:
        if name in _REGISTRY:
            raise ValueError(f"a selector named {name!r} is already registered")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorator


def available_selectors() -> list[str]:
    """Names accepted by :func:`make_selector`, in registration order."""
    return list(_REGISTRY)


def make_selector(name: str, **params: Any) -> Selector:
    """Build the registered rule ``name`` with its parameters (paper defaults otherwise).

    Raises ``ValueError`` for an unknown name (listing the known ones) and
    ``TypeError`` for a parameter the rule does not take (listing the ones it takes).
    """
    try:
        cls = _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown selector {name!r}; available: {', '.join(available_selectors())}"
        ) from None
    allowed = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise TypeError(
            f"selector {name!r} takes no parameter(s) {unknown}; its parameters are "
            f"{sorted(allowed) or 'none'}"
        )
    return cls(**params)


def parse_rule_label(label: str) -> tuple[str, dict[str, Any]]:
    """Split a rule label into its registry name and parameters.

    The one label syntax of the package, used by the sweep CLI, the harness's TOML
    ``study.rules`` and every results table: ``"name"`` or
    ``"name:param=value,param=value"`` (e.g. ``"insight:mu=0.1,eta=3"``). Values are
    parsed as int, then float, then kept as strings.

    Raises ``ValueError`` for an empty label or a parameter without ``=``.
    """
    if not isinstance(label, str) or not label.strip():
        raise ValueError(f"a rule label must be a non-empty string, got {label!r}")
    name, _, params = label.partition(":")
    kwargs: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in params.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"rule parameter {item!r} in {label!r} must look like name=value")
        value = value.strip()
        for cast in (int, float):
            try:
                kwargs[key.strip()] = cast(value)
                break
            except ValueError:
                continue
        else:
            kwargs[key.strip()] = value
    return name.strip(), kwargs


def selector_from_label(label: str) -> Selector:
    """Build the rule a label names (see :func:`parse_rule_label`).

    >>> selector_from_label("insight:mu=0.1").mu
    0.1
    """
    name, params = parse_rule_label(label)
    return make_selector(name, **params)


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

    The scores are visited in a uniformly random order before a partial sort, so among
    equal scores at the cut every subset is equally likely.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"scores must be 1-d, got shape {scores.shape}")
    m = check_int(m, "m", min_value=1, max_value=scores.size)
    if np.any(np.isnan(scores)):
        raise ValueError("scores contain NaN; a selector must never produce NaN")
    gen = as_generator(rng)
    order = gen.permutation(scores.size)
    shuffled = scores[order]
    if m < scores.size:
        part = np.argpartition(-shuffled, m - 1)[:m]
    else:
        part = np.arange(scores.size)
    best_first = part[np.argsort(-shuffled[part], kind="stable")]
    return order[best_first]


class Selector(ABC):
    """Base class of the selection rules: score candidates, keep the top ``M``."""

    name: ClassVar[str] = "abstract"

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
        cand = _check_candidates(candidates, belief, m)
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


def _checked_rollout(rollout: RolloutFn, ids: np.ndarray, k: int) -> Rollout:
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
        out = _checked_rollout(rollout, chosen.ids, k)
        return Batch(chosen.ids, chosen.scores, out, rollouts=out.rewards.size, rounds=1)


#: The default filter of every rule.
KEEP_CHOSEN = KeepChosen()


@dataclass(frozen=True)
class KeepInformative(RolloutFilter):
    """Dynamic Sampling's filter (DAPO, Yu et al. 2025): drop all-equal groups, refill.

    Candidates are visited in the rule's order (best first). Each round rolls out
    ``ceil(oversample * missing)`` more, where ``missing`` is the number of informative
    groups still needed, and keeps the groups whose ``K`` rewards are not all equal. It
    stops once ``M`` informative groups are found, after ``max_rounds`` rounds, or when
    the candidates run out. If it stops short, the batch is filled with uninformative
    groups already rolled out (they carry zero GRPO advantage), so the step trains on
    ``M`` prompts. Scores are 1 for informative groups and 0 for fillers.

    Attributes
    ----------
    max_rounds : int, default 3
        Cap on generation rounds per step (>= 1).
    oversample : float, default 1.0
        Prompts rolled out per round as a multiple of the groups still missing (>= 1).
    """

    max_rounds: int = 3
    oversample: float = 1.0
    chooses_before_rollouts: ClassVar[bool] = False

    def __post_init__(self) -> None:
        check_int(self.max_rounds, "max_rounds", min_value=1)
        check_real(self.oversample, "oversample", low=1.0)

    def gather(self, selector, candidates, belief, m, k, rng, rollout):
        cand = _check_candidates(candidates, belief, m)
        k = check_int(k, "k", min_value=1)
        gen = as_generator(rng)
        order = selector.select(cand, belief, cand.size, k, gen).ids
        kept: list[tuple[np.ndarray, Rollout]] = []
        spare: list[tuple[np.ndarray, Rollout]] = []
        n_kept = cursor = rollouts = rounds = 0
        while n_kept < m and rounds < self.max_rounds and cursor < order.size:
            want = math.ceil(self.oversample * (m - n_kept))
            ids = order[cursor : cursor + want]
            cursor += ids.size
            out = _checked_rollout(rollout, ids, k)
            rounds += 1
            rollouts += out.rewards.size
            good = informative_groups(out.rewards)
            kept.append((ids[good], out.take(good)))
            spare.append((ids[~good], out.take(~good)))
            n_kept += int(good.sum())
        ids = np.concatenate([i for i, _ in kept])[:m]
        batch = Rollout.concat([r for _, r in kept]).take(slice(0, m))
        scores = np.ones(ids.size)
        if ids.size < m:
            fill = m - ids.size
            ids = np.concatenate([ids, np.concatenate([i for i, _ in spare])[:fill]])
            batch = Rollout.concat(
                [batch, Rollout.concat([r for _, r in spare]).take(slice(0, fill))]
            )
            scores = np.concatenate([scores, np.zeros(fill)])
        return Batch(ids, scores, batch, rollouts=rollouts, rounds=rounds)


def _check_candidates(candidates: Any, belief: BetaBelief, m: int) -> np.ndarray:
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


# --------------------------------------------------------------------------- rules


@register_selector("random")
@dataclass(frozen=True)
class RandomSelector(Selector):
    """Random: ``M`` candidates uniformly at random (score = a uniform draw)."""

    def score(self, candidates, belief, k, rng):
        return rng.random(candidates.size)


@register_selector("mopps")
@dataclass(frozen=True)
class MoPPS(Selector):
    r"""MoPPS (Qu et al. 2025): Thompson-sample ``phi_hat ~ Beta(alpha, beta)``, keep the
    ``M`` closest to ``target``. Score ``-(phi_hat - target)^2``.

    Attributes
    ----------
    target : float, default 0.5
        Preferred success rate, in [0, 1].
    """

    target: float = 0.5

    def __post_init__(self) -> None:
        check_real(self.target, "target", low=0.0, high=1.0)

    def score(self, candidates, belief, k, rng):
        phi_hat = rng.beta(belief.alpha[candidates], belief.beta[candidates])
        return distance_score(phi_hat, self.target)


@register_selector("expected-difficulty")
@dataclass(frozen=True)
class ExpectedDifficulty(Selector):
    r"""Expected-Difficulty: MoPPS with the mean belief instead of a sample.
    Score ``-(m - target)^2``.

    Attributes
    ----------
    target : float, default 0.5
        Preferred success rate, in [0, 1].
    """

    target: float = 0.5

    def __post_init__(self) -> None:
        check_real(self.target, "target", low=0.0, high=1.0)

    def score(self, candidates, belief, k, rng):
        return distance_score(belief.mean[candidates], self.target)


@register_selector("inverse-evidence")
@dataclass(frozen=True)
class InverseEvidence(Selector):
    """Inverse-Evidence: largest ``1 / (alpha + beta)`` (least observed first)."""

    def score(self, candidates, belief, k, rng):
        return inverse_evidence_score(belief.alpha[candidates], belief.beta[candidates])


@register_selector("mi")
@dataclass(frozen=True)
class MutualInformationOnly(Selector):
    """Ablation: the mutual information ``I_K(alpha, beta)`` alone (Eq. 13), nats."""

    def score(self, candidates, belief, k, rng):
        return np.asarray(mutual_information(belief.alpha[candidates], belief.beta[candidates], k))


@dataclass(frozen=True)
class _WeightParams(Selector):
    mu: float = 0.3
    eta: float = 3.0

    def __post_init__(self) -> None:
        check_real(self.mu, "mu", low=0.0, high=1.0)
        check_real(self.eta, "eta", low=0.0)

    def score(self, candidates, belief, k, rng):  # pragma: no cover - abstract helper
        raise NotImplementedError


@register_selector("weight")
@dataclass(frozen=True)
class WeightOnly(_WeightParams):
    """Ablation: the difficulty weight ``w(m)`` alone (Eq. 15) at the mean belief.

    Attributes
    ----------
    mu : float, default 0.3
        Preferred difficulty, in [0, 1].
    eta : float, default 3.0
        Tilt strength, >= 0.
    """

    def score(self, candidates, belief, k, rng):
        return np.asarray(difficulty_weight(belief.mean[candidates], self.mu, self.eta))


@register_selector("insight")
@dataclass(frozen=True)
class InSight(_WeightParams):
    r"""InSight: weighted mutual information ``w(m) I_K(alpha, beta)`` (Eq. 16), mean belief.

    Attributes
    ----------
    mu : float, default 0.3
        Preferred difficulty, in [0, 1] (the paper's setting).
    eta : float, default 3.0
        Tilt strength, >= 0 (the paper's setting).
    """

    def score(self, candidates, belief, k, rng):
        return np.asarray(
            wmi_score(belief.alpha[candidates], belief.beta[candidates], k, self.mu, self.eta)
        )


@register_selector("insight-sampled")
@dataclass(frozen=True)
class InSightSampled(_WeightParams):
    r"""Ablation: ``w(phi_hat) I_K(alpha, beta)`` with ``phi_hat ~ Beta(alpha, beta)``.

    Attributes
    ----------
    mu, eta : float
        As for :class:`InSight`.
    """

    def score(self, candidates, belief, k, rng):
        a, b = belief.alpha[candidates], belief.beta[candidates]
        phi_hat = rng.beta(a, b)
        return np.asarray(difficulty_weight(phi_hat, self.mu, self.eta)) * np.asarray(
            mutual_information(a, b, k)
        )


@register_selector("dynamic-sampling")
@dataclass(frozen=True)
class DynamicSampling(Selector):
    """Dynamic Sampling (DAPO, Yu et al. 2025): random candidates through
    :class:`KeepInformative` (over-sample, drop all-equal groups, refill).

    Its pre-rollout choice is uniform (score = a uniform draw), so :meth:`select` alone
    is Random; the filter applied by :meth:`gather` (and so by the selection loop) is
    what makes it Dynamic Sampling. Every rollout is counted in :attr:`Batch.rollouts`;
    the extra cost over a plain step is ``rollouts - M K``.

    Attributes
    ----------
    max_rounds : int, default 3
        Cap on generation rounds per step (>= 1).
    oversample : float, default 1.0
        Prompts rolled out per round as a multiple of the groups still missing (>= 1).
    """

    max_rounds: int = 3
    oversample: float = 1.0

    def __post_init__(self) -> None:
        KeepInformative(self.max_rounds, self.oversample)  # validates the parameters

    @property
    def rollout_filter(self) -> RolloutFilter:
        return KeepInformative(self.max_rounds, self.oversample)

    def score(self, candidates, belief, k, rng):
        return rng.random(candidates.size)
