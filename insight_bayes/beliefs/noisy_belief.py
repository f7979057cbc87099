"""The noisy-verifier belief: Beta beliefs over true rates, updated through a noisy verifier.

The maths (noise kernel, exact mixture posterior, moment matching, information) live
in :mod:`insight_bayes.beliefs.noisy_maths`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from insight_bayes.beliefs.beta_belief import BetaBelief
from insight_bayes.beliefs.noisy_maths import check_noise_rates, moment_matched_update
from insight_bayes.validation import check_ids

__all__ = ["NoisyBetaBelief"]


class NoisyBetaBelief(BetaBelief):
    r"""Beta beliefs over the *true* success rates, updated through a noisy verifier.

    The reported successes ``S`` of ``K`` rollouts follow ``Binomial(K, p')`` with
    ``p' = eps0 + (1 - eps0 - eps1) p``. The exact posterior is a mixture of ``K + 1``
    Betas (:func:`noisy_posterior_weights`); the belief keeps its moment-matched Beta
    (:func:`moment_matched_update`), after the discount of Eq. 6. With
    ``eps0 = eps1 = 0`` it is :class:`~insight_bayes.beliefs.beta_belief.BetaBelief` exactly.

    Parameters
    ----------
    n_prompts : int
        Pool size.
    eps0, eps1 : float
        The verifier's false-positive and false-negative rates (known; see
        :func:`check_noise_rates`).
    alpha0, beta0, discount : float
        As for :class:`~insight_bayes.beliefs.beta_belief.BetaBelief`.
    """

    def __init__(
        self,
        n_prompts: int,
        *,
        eps0: float,
        eps1: float,
        alpha0: float = 1.0,
        beta0: float = 1.0,
        discount: float = 1.0,
    ) -> None:
        super().__init__(n_prompts, alpha0=alpha0, beta0=beta0, discount=discount)
        self.eps0, self.eps1 = check_noise_rates(eps0, eps1)

    def __repr__(self) -> str:
        return (
            super()
            .__repr__()
            .replace("BetaBelief(", f"NoisyBetaBelief(eps0={self.eps0}, eps1={self.eps1}, ", 1)
        )

    def update(
        self,
        ids: ArrayLike,
        successes: ArrayLike,
        trials: ArrayLike,
        *,
        discount: float | None = None,
        fractional: bool = False,
    ) -> None:
        """Discount (Eq. 6), then the moment-matched noisy update of each listed prompt.

        Rows of the same id are one group (their reported successes and trials are
        summed, which is exact: the likelihood depends on the sums only). Reported
        successes must be whole numbers (``fractional=True`` is refused: a noisy
        verifier's verdict is binary). Atomic: on any error nothing changes.
        """
        if fractional:
            raise ValueError(
                "a noisy-verifier belief needs binary verdicts (whole successes); "
                "use reward_mode='binary'"
            )
        ids_arr = check_ids(ids, "ids", self.n_prompts)
        # validate everything with the parent's rules on a scratch copy (atomic)
        scratch = BetaBelief(self.n_prompts)
        scratch.update(ids_arr, successes, trials, discount=discount)
        lam = self.discount if discount is None else float(discount)
        if ids_arr.size == 0:
            return
        s = np.asarray(successes, dtype=np.float64)
        t = np.asarray(trials, dtype=np.float64)
        unique, inverse = np.unique(ids_arr, return_inverse=True)
        s_sum = np.bincount(inverse, weights=s, minlength=unique.size)
        t_sum = np.bincount(inverse, weights=t, minlength=unique.size)
        a = lam * self._alpha[unique] + (1.0 - lam) * self.alpha0
        b = lam * self._beta[unique] + (1.0 - lam) * self.beta0
        new_a, new_b = a.copy(), b.copy()
        for k in np.unique(t_sum):
            if k == 0:
                continue
            rows = t_sum == k
            new_a[rows], new_b[rows] = moment_matched_update(
                s_sum[rows], int(k), a[rows], b[rows], self.eps0, self.eps1
            )
        if not (
            np.all(np.isfinite(new_a) & (new_a > 0)) and np.all(np.isfinite(new_b) & (new_b > 0))
        ):
            raise FloatingPointError("the moment-matched update left the Beta family")
        self._alpha[unique] = new_a
        self._beta[unique] = new_b

    def copy(self) -> NoisyBetaBelief:
        other = NoisyBetaBelief(1, eps0=self.eps0, eps1=self.eps1)
        other.alpha0, other.beta0, other.discount = self.alpha0, self.beta0, self.discount
        other._alpha = self._alpha.copy()
        other._beta = self._beta.copy()
        return other

    def state_dict(self) -> dict[str, Any]:
        """The parent's state plus ``eps0`` and ``eps1``."""
        return {**super().state_dict(), "eps0": self.eps0, "eps1": self.eps1}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> NoisyBetaBelief:
        """Rebuild from :meth:`state_dict`; the noise rates must be in the state."""
        if "eps0" not in state or "eps1" not in state:
            raise ValueError("a noisy belief's state needs eps0 and eps1")
        plain = BetaBelief.from_state_dict(state)
        out = cls(
            plain.n_prompts,
            eps0=float(np.asarray(state["eps0"])),
            eps1=float(np.asarray(state["eps1"])),
            alpha0=plain.alpha0,
            beta0=plain.beta0,
            discount=plain.discount,
        )
        out._alpha, out._beta = plain._alpha, plain._beta
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replace the state in place. A state without noise rates (a plain
        :class:`~insight_bayes.beliefs.beta_belief.BetaBelief` state, as
        :class:`~insight_bayes.integrations.OnlineSelector` round-trips it) keeps this
        belief's rates; one with other rates is refused."""
        if "eps0" in state or "eps1" in state:
            other = NoisyBetaBelief.from_state_dict(state)
            if (other.eps0, other.eps1) != (self.eps0, self.eps1):
                raise ValueError(
                    f"state has eps0={other.eps0}, eps1={other.eps1} but this belief has "
                    f"eps0={self.eps0}, eps1={self.eps1}"
                )
        plain = BetaBelief.from_state_dict(state)
        self.alpha0, self.beta0, self.discount = plain.alpha0, plain.beta0, plain.discount
        self._alpha, self._beta = plain._alpha, plain._beta
