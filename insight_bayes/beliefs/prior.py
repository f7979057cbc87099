"""The learned prior a belief holds: per-prompt ``(alpha0_i, beta0_i)``, refitted online.

The fitting maths (the Beta-Binomial marginal likelihood, its regulariser and the
MAP fit) live in :mod:`insight_bayes.beliefs.prior_fit`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from insight_bayes.beliefs.prior_fit import Hyperprior, PriorFit, _check_groups, fit_beta_binomial
from insight_bayes.validation import check_int, describe_bad

__all__ = ["PRIOR_FORMAT_VERSION", "EmpiricalBayesPrior"]


#: Version tag of :meth:`EmpiricalBayesPrior.state_dict`.
PRIOR_FORMAT_VERSION = 1

_DEFAULT_HYPER = Hyperprior()


class EmpiricalBayesPrior:
    r"""The learned prior of a belief: per-prompt ``(alpha0_i, beta0_i)``, refitted online.

    A belief that holds one (``BetaBelief(..., prior=...)``) keeps each prompt's
    discounted counts ``(S_i, F_i)`` and calls :meth:`observe` after every update; every
    ``refit_every`` calls the prior is refitted to all counts (:func:`fit_beta_binomial`,
    warm-started) and the belief becomes ``alpha_i = a0[g_i] + S_i``,
    ``beta_i = b0[g_i] + F_i``.

    Parameters
    ----------
    n_prompts : int
        Pool size ``N``.
    groups : array_like of int, shape (N,), optional
        Group id of each prompt: a hierarchical prior per group with partial pooling.
        ``None``: one global prior.
    n_groups : int, optional
        ``G`` (default ``max(groups) + 1``).
    refit_every : int, default 1
        Refit after every ``refit_every``-th update; 0 never refits (the prior stays at
        the hyperprior's centre, ``Beta(alpha0, beta0)``).
    hyper : Hyperprior
        The regulariser; its centre is the prior before any count.
    """

    def __init__(
        self,
        n_prompts: int,
        groups: ArrayLike | None = None,
        *,
        n_groups: int | None = None,
        refit_every: int = 1,
        hyper: Hyperprior = _DEFAULT_HYPER,
    ) -> None:
        n_prompts = check_int(n_prompts, "n_prompts", min_value=1)
        if not isinstance(hyper, Hyperprior):
            raise TypeError(f"hyper must be a Hyperprior, got {type(hyper).__name__}")
        self.hierarchical = groups is not None
        self.groups, self.n_groups = _check_groups(groups, n_prompts, n_groups)
        self.refit_every = check_int(refit_every, "refit_every", min_value=0)
        self.hyper = hyper
        self.updates = 0
        self.fit: PriorFit | None = None
        c_u, c_v = hyper.centre
        per_group = [c_u] * self.n_groups + [c_v] * self.n_groups if self.hierarchical else []
        self._x = np.array([c_u, c_v, *per_group])

    # ------------------------------------------------------------------ views
    @property
    def n_prompts(self) -> int:
        return self.groups.size

    def group_alpha_beta(self) -> tuple[np.ndarray, np.ndarray]:
        """``(a_g, b_g)`` of every group, shape ``(G,)`` (one entry without groups)."""
        n = self.n_groups
        if self.hierarchical:
            u, v = self._x[2 : 2 + n], self._x[2 + n :]
        else:
            u, v = self._x[:1], self._x[1:2]
        c = np.exp(v)
        return special.expit(u) * c, special.expit(-u) * c

    def alpha_beta(self, ids: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per-prompt prior ``(alpha0_i, beta0_i)`` of ``ids`` (default the whole pool)."""
        a, b = self.group_alpha_beta()
        g = self.groups if ids is None else self.groups[np.asarray(ids, dtype=np.int64)]
        if not self.hierarchical:
            return np.full(g.size, a[0]), np.full(g.size, b[0])
        return a[g], b[g]

    def __repr__(self) -> str:
        a, b = self.group_alpha_beta()
        shown = ", ".join(f"Beta({x:.3g}, {y:.3g})" for x, y in zip(a[:4], b[:4], strict=True))
        more = ", ..." if a.size > 4 else ""
        kind = f"{self.n_groups} groups" if self.hierarchical else "global"
        return f"EmpiricalBayesPrior({kind}: {shown}{more}; refit_every={self.refit_every})"

    # ----------------------------------------------------------------- fitting
    def refit(self, successes: ArrayLike, failures: ArrayLike) -> PriorFit:
        """Refit to every prompt's (discounted) successes and failures, shape ``(N,)``."""
        s = np.asarray(successes, dtype=np.float64)
        f = np.asarray(failures, dtype=np.float64)
        if s.shape != (self.n_prompts,) or f.shape != (self.n_prompts,):
            raise ValueError(
                f"successes and failures must have shape ({self.n_prompts},), "
                f"got {s.shape} and {f.shape}"
            )
        bad = ~(np.isfinite(f) & (f >= 0))
        if np.any(bad):
            raise ValueError(f"failures must be finite and >= 0; got {describe_bad(f[bad])}")
        fit = fit_beta_binomial(
            s,
            s + f,
            self.groups if self.hierarchical else None,
            n_groups=self.n_groups,
            hyper=self.hyper,
            start=self._x,
        )
        self.fit, self._x = fit, fit.x
        return fit

    def observe(self, successes: ArrayLike, failures: ArrayLike) -> bool:
        """Count one belief update; refit when one is due. Returns whether it refitted."""
        due = bool(self.refit_every) and (self.updates + 1) % self.refit_every == 0
        if due:
            self.refit(successes, failures)  # changes nothing if it raises
        self.updates += 1
        return due

    def grow(self, groups: ArrayLike | None = None, n_new: int | None = None) -> None:
        """Append prompts: ``groups`` (their ids) for a grouped prior, else ``n_new``."""
        if self.hierarchical:
            if groups is None:
                raise ValueError("this prior is per group: give the new prompts' group ids")
            new, _ = _check_groups(groups, np.asarray(groups).size, self.n_groups)
        else:
            if groups is not None:
                raise ValueError("this prior is global: it takes no group ids")
            new = np.zeros(check_int(n_new, "n_new", min_value=0), dtype=np.int64)
        self.groups = np.concatenate([self.groups, new])

    def copy(self) -> EmpiricalBayesPrior:
        return EmpiricalBayesPrior.from_state_dict(self.state_dict())

    # ------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, Any]:
        """Plain-data state (arrays and numbers); the belief stores it under ``prior_*``."""
        return {
            "format_version": PRIOR_FORMAT_VERSION,
            "groups": self.groups.copy(),
            "hierarchical": self.hierarchical,
            "n_groups": self.n_groups,
            "refit_every": self.refit_every,
            "hyper": [
                self.hyper.alpha0,
                self.hyper.beta0,
                self.hyper.log_s_sd,
                self.hyper.group_sd,
            ],
            "x": self._x.copy(),
            "updates": self.updates,
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> EmpiricalBayesPrior:
        """Rebuild from :meth:`state_dict` (also after a JSON trip); validates."""
        version = int(np.asarray(state.get("format_version", -1)))
        if version != PRIOR_FORMAT_VERSION:
            raise ValueError(
                f"prior format_version {version} is not supported (expected {PRIOR_FORMAT_VERSION})"
            )
        groups = np.asarray(state["groups"], dtype=np.int64)
        hierarchical = bool(np.asarray(state["hierarchical"]))
        alpha0, beta0, log_s_sd, group_sd = (float(v) for v in np.asarray(state["hyper"]))
        out = cls(
            groups.size,
            groups if hierarchical else None,
            n_groups=int(np.asarray(state["n_groups"])) if hierarchical else None,
            refit_every=int(np.asarray(state["refit_every"])),
            hyper=Hyperprior(alpha0, beta0, log_s_sd, group_sd),
        )
        x = np.asarray(state["x"], dtype=np.float64)
        if x.shape != out._x.shape or not np.all(np.isfinite(x)):
            raise ValueError(f"saved prior coordinates must be {out._x.size} finite numbers")
        out._x = x.copy()
        out.updates = check_int(int(np.asarray(state["updates"])), "updates", min_value=0)
        return out
