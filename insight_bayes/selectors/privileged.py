"""Privileged rules: ceilings that read an environment's true current success rates.

They answer "how fast could selection be?" and "how much of a rule's gap is its belief?",
and nothing else. They read the rates through the explicit
:class:`~insight_bayes.environment.TrueRates` interface, which only simulators offer, and
only after :meth:`~insight_bayes.selectors.Selector.bind` connects them to an
environment (the selection loop binds every rule; for a normal rule binding is a no-op).
They are refused by :class:`~insight_bayes.integrations.OnlineSelector` and by any
environment of real training.

* ``oracle`` (:class:`Oracle`): the top ``M`` by expected learning signal under the
  true rates, ``E[std(r)]`` (:func:`insight_bayes.rewards.expected_group_std`).
* ``oracle-score`` (:class:`OracleScore`): another rule's own score computed on the
  true rates: the belief's means replaced by the true rates, its evidence kept
  (``alpha' = p n``, ``beta' = (1 - p) n``). It separates the quality of a rule's score
  from the error of its belief, e.g. ``"oracle-score:rule=insight"``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from insight_bayes.beliefs.beta_belief import BetaBelief
from insight_bayes.environment import TrueRates
from insight_bayes.rewards import expected_group_std
from insight_bayes.selectors.base import Selector
from insight_bayes.selectors.registry import register_selector, selector_from_label

__all__ = ["Oracle", "OracleScore", "PrivilegedSelector"]

#: True rates are clipped to [EDGE, 1 - EDGE] when they become Beta means.
EDGE = 1e-9


@dataclass(frozen=True)
class PrivilegedSelector(Selector):
    """A rule that reads true success rates: usable only once bound to a simulator."""

    privileged: ClassVar[bool] = True
    # set by bind() on a copy; not a parameter of the rule (no init, no repr)
    _env: Any = field(default=None, init=False, repr=False, compare=False)

    def bind(self, env: Any) -> Selector:
        if not isinstance(env, TrueRates):
            raise ValueError(
                f"rule {self.name!r} is privileged: it reads true success rates, which "
                f"{type(env).__name__} does not offer (only simulators implement "
                "TrueRates). It is a ceiling for simulations, not a rule for real training"
            )
        bound = copy.copy(self)
        object.__setattr__(bound, "_env", env)
        return bound

    def _true_rates(self, ids: np.ndarray) -> np.ndarray:
        if self._env is None:
            raise RuntimeError(
                f"privileged rule {self.name!r} is not bound to an environment; "
                "SelectionLoop binds it (rule.bind(env)) to a simulator"
            )
        return np.asarray(self._env.true_rates(ids), dtype=np.float64)


@register_selector("oracle")
@dataclass(frozen=True)
class Oracle(PrivilegedSelector):
    """Ceiling: top ``M`` by ``E[std(r)]`` of ``K`` rewards at the true current rates."""

    def score(self, candidates, belief, k, rng):
        return expected_group_std(self._true_rates(candidates), k)


@register_selector("oracle-score")
@dataclass(frozen=True)
class OracleScore(PrivilegedSelector):
    """A rule's own score on the true rates (the belief's means replaced by them).

    Attributes
    ----------
    rule : str
        Label of the rule whose score is used (its defaults), e.g. ``"insight"``.
    """

    rule: str = "insight"
    _inner: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        inner = selector_from_label(self.rule)
        if inner.privileged:
            raise ValueError(f"oracle-score needs a non-privileged rule, got {self.rule!r}")
        object.__setattr__(self, "_inner", inner)  # built once, not at every step

    def score(self, candidates, belief, k, rng):
        p = np.clip(self._true_rates(candidates), EDGE, 1.0 - EDGE)
        n = belief.evidence[candidates]
        state = belief.state_dict()
        state["alpha"][candidates] = p * n
        state["beta"][candidates] = (1.0 - p) * n
        return self._inner.score(candidates, BetaBelief.from_state_dict(state), k, rng)
