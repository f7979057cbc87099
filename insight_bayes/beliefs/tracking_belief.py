"""The tracking belief: Beta beliefs whose success rates drift between visits.

The walk, its propagation and the clock are described in
:mod:`insight_bayes.beliefs.tracking_maths`; the drift fit is
:mod:`insight_bayes.beliefs.drift`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from insight_bayes.beliefs.beta_belief import BetaBelief, read_only
from insight_bayes.beliefs.drift import DriftFit, DriftParams
from insight_bayes.beliefs.prior import EmpiricalBayesPrior
from insight_bayes.beliefs.tracking_maths import (
    _check_solved,
    _propagate_ids_parallel,
    _propagate_ids_serial,
    _stored_moments,
)
from insight_bayes.beta import PARALLEL_MIN_SIZE
from insight_bayes.validation import (
    check_ids,
    check_int,
)

__all__ = ["TRACKING_FORMAT_VERSION", "TrackingBelief"]


#: Version tag of :meth:`TrackingBelief.state_dict`.
TRACKING_FORMAT_VERSION = 1


class TrackingBelief(BetaBelief):
    r"""Beta beliefs whose success rates drift between visits (logit random walk).

    The stored ``Beta(alpha_i, beta_i)`` is the belief at prompt ``i``'s last visit
    (the prior at clock 0 for unseen prompts). ``alpha`` and ``beta`` are the
    beliefs propagated to the current clock with :func:`propagate_beta` under the
    current :class:`DriftParams` (so scores and calibration read current beliefs), and
    :meth:`current` propagates only the prompts asked for.

    **The clock** advances by one at every :meth:`update` call (one loop step). An
    update first propagates the updated prompts to the clock (the time of their
    rollouts), adds the revisited ones' predictive log likelihoods to the drift fit,
    applies the discounted conjugate update (Eq. 6) to the propagated Beta, stamps
    the visit and advances the clock; the drift estimate is then refreshed.

    Parameters
    ----------
    n_prompts : int
        Pool size.
    alpha0, beta0, discount : float
        As for :class:`~insight_bayes.beliefs.beta_belief.BetaBelief`.
    drift : DriftParams, optional
        Fixed drift; ``None`` (default) fits it online with ``fit``.
    fit : DriftFit, optional
        The empirical-Bayes fit (default grids) used when ``drift`` is ``None``.
    prior : EmpiricalBayesPrior, optional
        A prior learned from the pool's counts (:mod:`insight_bayes.beliefs.prior`). It sets the
        stored Beta of every prompt not yet visited (re-stamped at the current clock
        after each refit, since it describes the pool as of now) and the target Eq. 6's
        discount forgets toward; a visited prompt's belief has moved on by propagation,
        so a later refit does not rewrite it.
    """

    def __init__(
        self,
        n_prompts: int,
        *,
        alpha0: float = 1.0,
        beta0: float = 1.0,
        discount: float = 1.0,
        drift: DriftParams | None = None,
        fit: DriftFit | None = None,
        prior: EmpiricalBayesPrior | None = None,
    ) -> None:
        super().__init__(n_prompts, alpha0=alpha0, beta0=beta0, discount=discount, prior=prior)
        if drift is not None and not isinstance(drift, DriftParams):
            raise TypeError(f"drift must be DriftParams or None, got {type(drift).__name__}")
        if drift is not None and fit is not None:
            raise ValueError("give either a fixed drift or a fit, not both")
        self.fixed_drift = drift
        self.fit = None if drift is not None else (fit if fit is not None else DriftFit())
        self.drift = drift if drift is not None else self.fit.estimate()
        self.clock = 0
        self._last = np.zeros(n_prompts, dtype=np.int64)
        self._visited = np.zeros(n_prompts, dtype=bool)
        self._cache: tuple[np.ndarray, np.ndarray] | None = None
        self._refresh_moments()

    def _refresh_moments(self, ids: np.ndarray | None = None) -> None:
        """Logit moments of the stored Betas (computed at update, reused by every score)."""
        if ids is None:
            self._m0, self._v0 = _stored_moments(self._alpha, self._beta)
        else:
            self._m0[ids], self._v0[ids] = _stored_moments(self._alpha[ids], self._beta[ids])

    # ------------------------------------------------------------------ views
    def current(self, ids: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Beliefs of ``ids`` propagated to the current clock, ``(alpha', beta')``."""
        ids_arr = check_ids(ids, "ids", self.n_prompts)
        if self._cache is not None:
            return self._cache[0][ids_arr], self._cache[1][ids_arr]
        d = self.drift
        out_a = np.empty(ids_arr.size)
        out_b = np.empty(ids_arr.size)
        big = ids_arr.size >= PARALLEL_MIN_SIZE
        kernel = _propagate_ids_parallel if big else _propagate_ids_serial
        kernel(
            ids_arr, self._alpha, self._beta, self._m0, self._v0, self._last, self._visited,
            self.clock, d.trend, d.diffusion, d.jump, out_a, out_b,
        )  # fmt: skip
        _check_solved(out_a, out_b)
        return out_a, out_b

    def _pool(self) -> tuple[np.ndarray, np.ndarray]:
        if self._cache is None:
            self._cache = self.current(np.arange(self.n_prompts))
        return self._cache

    @property
    def alpha(self) -> np.ndarray:
        return read_only(self._pool()[0])

    @property
    def beta(self) -> np.ndarray:
        return read_only(self._pool()[1])

    @property
    def stored_alpha(self) -> np.ndarray:
        """Belief parameters at each prompt's last visit (read-only)."""
        return read_only(self._alpha)

    @property
    def stored_beta(self) -> np.ndarray:
        return read_only(self._beta)

    @property
    def last_visit(self) -> np.ndarray:
        """Clock of each prompt's last update (0 and not visited for unseen prompts)."""
        return self._last.copy()

    @property
    def mean(self) -> np.ndarray:
        a, b = self._pool()
        return a / (a + b)

    @property
    def evidence(self) -> np.ndarray:
        a, b = self._pool()
        return a + b

    def __repr__(self) -> str:
        d = self.drift
        return (
            f"TrackingBelief(n_prompts={self.n_prompts}, clock={self.clock}, "
            f"trend={d.trend:.3g}, diffusion={d.diffusion:.3g}, jump={d.jump:.3g}, "
            f"{'fixed' if self.fit is None else 'fitted'})"
        )

    # ----------------------------------------------------------------- update
    def update(
        self,
        ids: ArrayLike,
        successes: ArrayLike,
        trials: ArrayLike,
        *,
        discount: float | None = None,
        fractional: bool = False,
    ) -> None:
        """Propagate, fit, update (Eq. 6 on the propagated Beta), stamp; clock += 1.

        Validation is that of :meth:`BetaBelief.update`; on any error nothing changes
        (the clock included). Arguments as there.
        """
        ids_arr = check_ids(ids, "ids", self.n_prompts)
        unique = np.unique(ids_arr)
        cur_a, cur_b = self.current(unique)
        saved = (self._alpha[unique].copy(), self._beta[unique].copy(), self._cache)
        self._alpha[unique], self._beta[unique] = cur_a, cur_b
        self._cache = None
        try:
            super().update(ids_arr, successes, trials, discount=discount, fractional=fractional)
        except Exception:
            self._alpha[unique], self._beta[unique], self._cache = saved
            raise
        if self.fit is not None:
            s = np.asarray(successes, dtype=np.float64)
            t = np.asarray(trials, dtype=np.float64)
            _, inverse = np.unique(ids_arr, return_inverse=True)
            s_sum = np.bincount(inverse, weights=s, minlength=unique.size)
            t_sum = np.bincount(inverse, weights=t, minlength=unique.size)
            again = self._visited[unique] & (t_sum > 0)
            self.fit.add(
                saved[0][again],
                saved[1][again],
                (self.clock - self._last[unique][again]).astype(np.float64),
                self._visited[unique][again],
                s_sum[again],
                t_sum[again],
            )
        self._refresh_moments(unique)
        self._last[unique] = self.clock
        self._visited[unique] = True
        self.clock += 1
        if self.fit is not None:
            self.drift = self.fit.estimate()
        if self.__dict__.pop("_prior_refitted", False):
            fresh = np.flatnonzero(~self._visited)
            self._alpha[fresh], self._beta[fresh] = self.prior.alpha_beta(fresh)
            self._last[fresh] = self.clock
            self._refresh_moments(fresh)
        self._cache = None

    def _prior_moved(self) -> None:
        """After a refit of the learned prior: unvisited prompts take it at the end of
        :meth:`update` (visited ones keep their propagated beliefs)."""
        self._prior_refitted = True

    # ------------------------------------------------------------ pool growth
    def grow(self, n_new: int, *, groups: ArrayLike | None = None) -> np.ndarray:
        """Append ``n_new`` prompts at the prior, as of the current clock."""
        new = super().grow(n_new, groups=groups)
        self._last = np.concatenate([self._last, np.full(new.size, self.clock, dtype=np.int64)])
        self._visited = np.concatenate([self._visited, np.zeros(new.size, dtype=bool)])
        self._cache = None
        self._refresh_moments()
        return new

    def copy(self) -> TrackingBelief:
        return TrackingBelief.from_state_dict(self.state_dict())

    # ------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, Any]:
        """Plain-data state: the base fields (stored, last-visit Betas) plus the clock,
        visits, drift and fit (``tracking_*`` keys)."""
        state = super().state_dict()
        state.update(
            {
                "tracking_format_version": TRACKING_FORMAT_VERSION,
                "tracking_clock": self.clock,
                "tracking_last": self._last.copy(),
                "tracking_visited": self._visited.copy(),
                "tracking_drift": [self.drift.trend, self.drift.diffusion, self.drift.jump],
                "tracking_fixed": self.fit is None,
            }
        )
        if self.fit is not None:
            state.update({f"tracking_fit_{k}": v for k, v in self.fit.state_dict().items()})
        return state

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> TrackingBelief:
        """Rebuild from :meth:`state_dict`; refuses a plain BetaBelief state with a reason."""
        if "tracking_format_version" not in state:
            raise ValueError(
                "this state has no tracking fields (clock, last visits, drift fit): it was "
                "written by a plain BetaBelief, or a caller dropped the tracking_* keys"
            )
        version = int(np.asarray(state["tracking_format_version"]))
        if version != TRACKING_FORMAT_VERSION:
            raise ValueError(
                f"tracking format_version {version} is not supported "
                f"(expected {TRACKING_FORMAT_VERSION})"
            )
        base = BetaBelief.from_state_dict(state)
        trend, diffusion, jump = (float(x) for x in np.asarray(state["tracking_drift"]))
        drift = DriftParams(trend=trend, diffusion=diffusion, jump=jump)
        fixed = bool(np.asarray(state["tracking_fixed"]))
        fit = None
        if not fixed:
            prefix = "tracking_fit_"
            fit = DriftFit.from_state_dict(
                {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            )
        out = cls(
            base.n_prompts,
            alpha0=base.alpha0,
            beta0=base.beta0,
            discount=base.discount,
            drift=drift if fixed else None,
            fit=fit,
            prior=base.prior,
        )
        out.drift = drift
        out._alpha, out._beta = base._alpha, base._beta
        if base.prior is not None:
            out._successes, out._failures = base._successes, base._failures
        out.clock = check_int(int(np.asarray(state["tracking_clock"])), "clock", min_value=0)
        last = np.asarray(state["tracking_last"], dtype=np.int64)
        visited = np.asarray(state["tracking_visited"], dtype=bool)
        if last.shape != (base.n_prompts,) or visited.shape != (base.n_prompts,):
            raise ValueError(f"saved last visits must have shape ({base.n_prompts},)")
        if np.any(last < 0) or np.any(last > out.clock):
            raise ValueError(f"saved last visits must lie in [0, clock={out.clock}]")
        out._last, out._visited = last.copy(), visited.copy()
        out._refresh_moments()
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replace this belief's state in place (validated first)."""
        other = TrackingBelief.from_state_dict(state)
        self.__dict__.update(other.__dict__)
