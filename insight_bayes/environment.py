"""The environment protocol of the selection loop, and the simplest environment.

An environment answers the two questions of Algorithm 1 that are not about beliefs:
"what rewards did these chosen prompts get?" (:meth:`Environment.rollout`, which returns
a :class:`~insight_bayes.rewards.Rollout`) and "what did the learner learn from them?"
(:meth:`Environment.learn`, which receives that same rollout back: no state is kept in
the environment between the two calls). The latent-success-rate
simulators (``simulations/``) and the GRPO harness (``insight_bayes.rlvr``) implement
the same protocol, so one loop (:mod:`insight_bayes.loop`) drives them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike

from insight_bayes.beliefs.beta_belief import BetaBelief
from insight_bayes.rewards import Rollout, bernoulli_rollout
from insight_bayes.validation import check_ids, check_int, check_probability

__all__ = [
    "Diagnosed",
    "Environment",
    "FixedRateEnvironment",
    "PromptGroups",
    "Rollout",
    "TrueRates",
]


@runtime_checkable
class Environment(Protocol):
    """What the selection loop needs from a task and a learner.

    Metric names returned by :meth:`learn`, :meth:`evaluate` and, for an environment
    that is also :class:`Diagnosed`, ``diagnostics`` are namespaced (``"train/..."``,
    ``"eval/..."``, ``"belief/..."``) and land as columns of the per-step records.
    """

    @property
    def pool_size(self) -> int:
        """Number of training prompts; ids are ``0 .. pool_size - 1``."""

    def rollout(self, ids: np.ndarray, k: int, rng: np.random.Generator) -> Rollout:
        """``k`` rollouts of each prompt in ``ids``: rewards and correctness ``(len(ids), k)``."""

    def learn(
        self, ids: np.ndarray, rollout: Rollout, rng: np.random.Generator
    ) -> Mapping[str, float]:
        """One learner step on the chosen groups (``rollout`` row ``i`` is ``ids[i]``)."""

    def evaluate(self, rng: np.random.Generator) -> Mapping[str, float]:
        """Held-out metrics of the current learner (e.g. ``"eval/accuracy"``)."""


@runtime_checkable
class TrueRates(Protocol):
    """Privileged access to an environment's true current success rates.

    Only simulators offer it. It exists for ceilings (the oracle rules of
    :mod:`insight_bayes.selectors.privileged`), which :meth:`Selector.bind
    <insight_bayes.selectors.Selector.bind>` connects to it explicitly; an environment of
    real training (the GRPO harness, a trainer integration) does not implement it, so a
    privileged rule is refused there. No other rule ever sees it.
    """

    def true_rates(self, ids: np.ndarray) -> np.ndarray:
        """True probability that a response to each prompt in ``ids`` is correct."""


@runtime_checkable
class Diagnosed(Protocol):
    """An environment that reports extra metrics after each learner step.

    The loop calls :meth:`diagnostics` after the belief has seen the step's rewards and
    adds what it returns (namespaced, e.g. ``"belief/..."``) to the step's record.
    Simulators use it to score the belief against the true rates they hold.
    """

    def diagnostics(
        self, belief: BetaBelief, ids: np.ndarray, rollout: Rollout
    ) -> Mapping[str, float]:
        """Metrics of this step: ``belief`` after the update, the chosen ``ids``, their
        ``rollout``."""


@runtime_checkable
class PromptGroups(Protocol):
    """An environment that knows a feature group of each prompt (for example the harness's
    digit tier), which rules with a per-group prior use (``insight-eb:prior=group``)."""

    @property
    def prompt_groups(self) -> np.ndarray | None:
        """Integer group id of each prompt, shape ``(pool_size,)``, or ``None``."""


class FixedRateEnvironment:
    """Prompts with fixed, known success rates and a learner that never changes.

    Rollout rewards are ``Bernoulli(rate)``. Useful to test the loop end to end and to
    check that beliefs converge to the true rates.

    Parameters
    ----------
    rates : array_like, shape (N,)
        True success rate of each prompt, in [0, 1].
    """

    def __init__(self, rates: ArrayLike) -> None:
        r = check_probability(rates, "rates")
        if r.ndim != 1 or r.size == 0:
            raise ValueError(f"rates must be a non-empty 1-d array, got shape {r.shape}")
        self.rates = r

    @property
    def pool_size(self) -> int:
        return self.rates.size

    def rollout(self, ids: np.ndarray, k: int, rng: np.random.Generator) -> Rollout:
        ids = check_ids(ids, "ids", self.pool_size)
        return bernoulli_rollout(self.rates[ids], check_int(k, "k", min_value=1), rng)

    def learn(
        self, ids: np.ndarray, rollout: Rollout, rng: np.random.Generator
    ) -> Mapping[str, float]:
        return {"train/true_rate_chosen": float(self.rates[ids].mean())}

    def true_rates(self, ids: np.ndarray) -> np.ndarray:
        """The fixed rates of ``ids`` (privileged, see :class:`TrueRates`)."""
        return self.rates[check_ids(ids, "ids", self.pool_size)]

    def evaluate(self, rng: np.random.Generator) -> Mapping[str, float]:
        return {"eval/mean_rate": float(self.rates.mean())}

    def diagnostics(
        self, belief: BetaBelief, ids: np.ndarray, rollout: Rollout
    ) -> Mapping[str, float]:
        """Belief calibration on the whole pool: mean absolute error of the mean belief."""
        return {"belief/mean_abs_error": float(np.abs(belief.mean - self.rates).mean())}
