r"""Rules on a belief whose prior is learned from the pool (empirical Bayes).

Each rule scores with the same closed form as its paper counterpart, on a
:class:`~insight_bayes.beliefs.beta_belief.BetaBelief` that holds an
:class:`~insight_bayes.beliefs.prior.EmpiricalBayesPrior`: an unseen or little-seen prompt's
belief is the Beta-Binomial fit to every count so far (per group of prompts where group
ids are known) instead of ``Beta(1, 1)``.

Group ids reach the belief in one of two ways: a caller that owns the belief passes
them to :meth:`EmpiricalBayesRule.new_belief` (``OnlineSelector(..., groups=...)``), and
an environment that knows its prompts' features exposes ``prompt_groups`` (an int array,
one id per prompt), which :meth:`EmpiricalBayesRule.bind` picks up (the RLVR harness
gives each prompt's digit tier).

Label options: ``prior=auto|global|group`` (``auto``: per group when group ids are
known, else global), ``refit_every=N`` (refit after every N-th update) and
``group_sd`` (the hierarchical prior's ``tau``), e.g. ``"insight-eb:prior=group,refit_every=5"``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike

from insight_bayes.acquisition import distance_score, wmi_score
from insight_bayes.beliefs.beta_belief import BetaBelief
from insight_bayes.beliefs.prior import EmpiricalBayesPrior
from insight_bayes.beliefs.prior_fit import Hyperprior
from insight_bayes.environment import PromptGroups
from insight_bayes.selectors.base import Selector
from insight_bayes.selectors.registry import register_selector
from insight_bayes.selectors.rules import DifficultyWeighted
from insight_bayes.validation import check_int, check_real

__all__ = ["EB_RULES", "EmpiricalBayesRule", "InSightEB", "MoPPSEB"]

#: The rules on a learned prior, each registered and documented in docs/guide/priors.md.
EB_RULES: tuple[str, ...] = ("insight-eb", "mopps-eb")

_PRIOR_MODES = ("auto", "global", "group")


@dataclass(frozen=True)
class EmpiricalBayesRule(Selector):
    """Base of the rules on a learned prior: builds and insists on a belief with one.

    Attributes
    ----------
    prior : {"auto", "global", "group"}, default "auto"
        One prior for the pool, one per group of prompts (needs group ids), or per
        group exactly when group ids are known.
    refit_every : int, default 1
        Refit the prior after every ``refit_every``-th belief update (>= 1).
    group_sd : float, default 1.0
        ``tau`` of the per-group prior (logits and log pseudo-rollouts), > 0.
    """

    #: Whether :meth:`new_belief` takes group ids (``OnlineSelector(groups=...)`` asks).
    takes_groups: ClassVar[bool] = True
    #: Group ids picked up by :meth:`bind` from an environment (not a parameter).
    _bound_groups: ClassVar[np.ndarray | None] = None

    prior: str = "auto"
    refit_every: int = 1
    group_sd: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.prior not in _PRIOR_MODES:
            raise ValueError(f"prior must be one of {_PRIOR_MODES}, got {self.prior!r}")
        check_int(self.refit_every, "refit_every", min_value=1)
        check_real(self.group_sd, "group_sd", low=0.0, low_inclusive=False)

    def bind(self, env: Any) -> Selector:
        """This rule with the environment's ``prompt_groups`` when it has them."""
        groups = env.prompt_groups if isinstance(env, PromptGroups) else None
        if groups is None or self.prior == "global":
            return self
        bound = copy.copy(self)
        object.__setattr__(bound, "_bound_groups", np.asarray(groups))
        return bound

    def new_belief(
        self, n_prompts: int, *, groups: ArrayLike | None = None, **settings: float
    ) -> BetaBelief:
        """A fresh belief with a learned prior, centred on the experiment's ``(alpha0,
        beta0)`` (its answer before any count).

        Parameters
        ----------
        n_prompts : int
            Pool size.
        groups : array_like of int, shape (n_prompts,), optional
            Group id of each prompt (default: those :meth:`bind` found, if any).
        **settings
            ``alpha0``, ``beta0``, ``discount`` (the rule's own discount wins).
        """
        if self.discount is not None:
            settings = {**settings, "discount": self.discount}
        if groups is None:
            groups = self._bound_groups
        if self.prior == "group" and groups is None:
            raise ValueError(
                f"rule {self.name!r} with prior=group needs group ids: pass groups= (e.g. "
                "OnlineSelector(..., groups=...)) or use an environment with prompt_groups; "
                "prior=global (or auto) fits one prior for the pool"
            )
        hyper = Hyperprior(
            alpha0=settings.get("alpha0", 1.0),
            beta0=settings.get("beta0", 1.0),
            group_sd=self.group_sd,
        )
        prior = EmpiricalBayesPrior(
            n_prompts,
            None if self.prior == "global" else groups,
            refit_every=self.refit_every,
            hyper=hyper,
        )
        return BetaBelief(n_prompts, prior=prior, **settings)

    def check_belief(self, belief: BetaBelief) -> None:
        prior = belief.prior
        if prior is None:
            raise ValueError(
                f"rule {self.name!r} needs a belief with a learned prior, got a "
                f"{type(belief).__name__} with a fixed one; build it with rule.new_belief(...)"
            )
        if self.prior == "group" and not prior.hierarchical:
            raise ValueError(f"rule {self.name!r} has prior=group but the belief's prior is global")
        if self.prior == "global" and prior.hierarchical:
            raise ValueError(f"rule {self.name!r} has prior=global but the belief's is per group")
        super().check_belief(belief)


@register_selector("insight-eb")
@dataclass(frozen=True)
class InSightEB(EmpiricalBayesRule, DifficultyWeighted):
    r"""InSight (Eq. 16) on the belief with a learned prior: ``w(m) I_K(alpha, beta)``.

    Attributes
    ----------
    mu, eta : float
        As for InSight (defaults 0.3 and 3.0).
    prior, refit_every, group_sd
        The learned prior (see :class:`EmpiricalBayesRule`).
    """

    def score(self, candidates, belief, k, rng):
        self.check_belief(belief)
        a, b = belief.alpha[candidates], belief.beta[candidates]
        return np.asarray(wmi_score(a, b, k, self.mu, self.eta))


@register_selector("mopps-eb")
@dataclass(frozen=True)
class MoPPSEB(EmpiricalBayesRule):
    r"""MoPPS on the belief with a learned prior: ``phi_hat ~ Beta(alpha, beta)``, score
    ``-(phi_hat - target)^2``.

    Attributes
    ----------
    target : float, default 0.5
        Preferred success rate, in [0, 1].
    prior, refit_every, group_sd
        The learned prior (see :class:`EmpiricalBayesRule`).
    """

    target: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        check_real(self.target, "target", low=0.0, high=1.0)

    def score(self, candidates, belief, k, rng):
        self.check_belief(belief)
        phi_hat = rng.beta(belief.alpha[candidates], belief.beta[candidates])
        return distance_score(phi_hat, self.target)
