"""The lag belief: a Beta belief that measures its own realised lag on revisited prompts.

The ``mu`` it suggests is :func:`insight_bayes.learning_signal.adaptive_mu`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from insight_bayes.beliefs.beta_belief import BetaBelief
from insight_bayes.validation import check_ids, check_real

__all__ = ["LagBelief"]


class LagBelief(BetaBelief):
    r"""A Beta belief that also measures its own realised lag on revisited prompts.

    Each :meth:`update` first reads the mean belief ``m_i = alpha_i / n_i`` of the
    updated prompts, then applies the usual update (Eq. 6). For the prompts that had been
    observed before (evidence above the prior's, ``n_i > alpha0 + beta0``) it adds the
    residuals of the realised successes to running totals that forget at rate
    ``memory`` per update call:

    .. math::
        R \leftarrow \rho R + \sum_i (S_i - K_i m_i), \qquad
        T \leftarrow \rho T + \sum_i K_i, \qquad
        \hat\delta = R / T

    ``lag = R / T`` (0 before any revisit) is the average amount by which the realised
    success rate of a revisited prompt exceeded what its belief predicted: positive
    while the learner improves on prompts faster than their beliefs follow. Prompts at
    the prior are left out: their mean (1/2 under ``Beta(1, 1)``) says nothing about
    their difficulty, and ``mu`` does not rank them against each other.

    Parameters
    ----------
    n_prompts, alpha0, beta0, discount
        As for :class:`~insight_bayes.beliefs.beta_belief.BetaBelief`.
    memory : float, default 0.5
        ``rho`` in [0, 1): the weight of the earlier totals at each update call (0: the
        last update's revisited groups only). With one update per training step of
        ``M`` groups, 0.5 gives an estimate from about the last two steps.

    Attributes
    ----------
    lag : float
        ``R / T``, in [-1, 1].
    """

    def __init__(
        self,
        n_prompts: int,
        *,
        alpha0: float = 1.0,
        beta0: float = 1.0,
        discount: float = 1.0,
        memory: float = 0.5,
    ) -> None:
        super().__init__(n_prompts, alpha0=alpha0, beta0=beta0, discount=discount)
        self.memory = check_real(memory, "memory", low=0.0, high=1.0, high_inclusive=False)
        self._lag_residual = 0.0
        self._lag_trials = 0.0

    @property
    def lag(self) -> float:
        """Realised lag ``R / T`` of revisited prompts (0 before the first revisit)."""
        if self._lag_trials <= 0.0:
            return 0.0
        return float(np.clip(self._lag_residual / self._lag_trials, -1.0, 1.0))

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", memory={self.memory}, lag={self.lag:.3g})"

    def update(
        self,
        ids: ArrayLike,
        successes: ArrayLike,
        trials: ArrayLike,
        *,
        discount: float | None = None,
        fractional: bool = False,
    ) -> None:
        """The update of :meth:`BetaBelief.update`, plus the lag totals (atomic as well)."""
        ids_arr = check_ids(ids, "ids", self.n_prompts)
        mean_before = self.mean[ids_arr]
        revisited = self.evidence[ids_arr] > (self.alpha0 + self.beta0) * (1.0 + 1e-12)
        super().update(ids_arr, successes, trials, discount=discount, fractional=fractional)
        s = np.asarray(successes, dtype=np.float64)[revisited]
        t = np.asarray(trials, dtype=np.float64)[revisited]
        self._lag_residual = self.memory * self._lag_residual + float(
            np.sum(s - t * mean_before[revisited])
        )
        self._lag_trials = self.memory * self._lag_trials + float(np.sum(t))

    # ------------------------------------------------------------ copies and state
    def copy(self) -> LagBelief:
        return LagBelief.from_state_dict(self.state_dict())

    def state_dict(self) -> dict[str, Any]:
        """:meth:`BetaBelief.state_dict` plus ``memory``, ``lag_residual``, ``lag_trials``."""
        state = super().state_dict()
        state.update(
            memory=self.memory, lag_residual=self._lag_residual, lag_trials=self._lag_trials
        )
        return state

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> LagBelief:
        """Rebuild from :meth:`state_dict`; a plain belief's state starts the lag at 0."""
        base = BetaBelief.from_state_dict(state)
        memory = float(np.asarray(state.get("memory", 0.5)))
        out = cls(
            base.n_prompts,
            alpha0=base.alpha0,
            beta0=base.beta0,
            discount=base.discount,
            memory=memory,
        )
        out._alpha, out._beta = base._alpha, base._beta
        residual = float(np.asarray(state.get("lag_residual", 0.0)))
        trials = float(np.asarray(state.get("lag_trials", 0.0)))
        if not (np.isfinite(residual) and np.isfinite(trials) and trials >= 0.0):
            raise ValueError(
                f"saved lag totals must be finite with lag_trials >= 0; got "
                f"lag_residual={residual!r}, lag_trials={trials!r}"
            )
        if abs(residual) > trials * (1.0 + 1e-9):
            raise ValueError(
                f"saved |lag_residual| must not exceed lag_trials; got {residual!r} > {trials!r}"
            )
        out._lag_residual, out._lag_trials = residual, trials
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replace this belief's state in place (validated first).

        A state without the lag totals (a plain :class:`BetaBelief`'s, as
        :class:`~insight_bayes.integrations.OnlineSelector` saves) keeps this belief's
        ``memory`` and restarts the totals at 0.
        """
        other = LagBelief.from_state_dict({"memory": self.memory, **state})
        self.alpha0, self.beta0, self.discount = other.alpha0, other.beta0, other.discount
        self._alpha, self._beta = other._alpha, other._beta
        self.memory = other.memory
        self._lag_residual, self._lag_trials = other._lag_residual, other._lag_trials
