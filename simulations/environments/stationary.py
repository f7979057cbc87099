"""A stationary pool: fixed latent success rates drawn from an RLVR-shaped mixture.

No learning happens, so this environment isolates two questions: how well each rule
finds informative prompts (groups whose ``K`` rewards are not all equal), and how well
the beliefs are calibrated against the true rates.

The default pool mimics real RLVR training sets: a share of prompts the model cannot
solve (rate near 0), a share it has already solved (rate near 1), and the rest spread
between them by a Beta distribution.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from insight_bayes.beliefs.beta_belief import BetaBelief
from insight_bayes.rewards import Rollout, bernoulli_outcomes, informative_probability
from insight_bayes.validation import (
    RngLike,
    as_generator,
    check_ids,
    check_int,
    check_probability,
    check_real,
)
from simulations.environments.calibration import belief_calibration
from simulations.environments.noise import Verifier

__all__ = ["PoolComposition", "StationaryConfig", "StationaryPool"]


@dataclass(frozen=True)
class PoolComposition:
    """Mixture of success rates of a prompt pool.

    With probability ``unsolvable_share`` a prompt's rate is ``U(0, edge)``, with
    probability ``solved_share`` it is ``U(1 - edge, 1)``, otherwise it is
    ``Beta(mid_alpha, mid_beta)``.

    Attributes
    ----------
    unsolvable_share, solved_share : float
        Shares of (nearly) unsolvable and already-solved prompts; their sum <= 1.
    mid_alpha, mid_beta : float
        Beta shape of the remaining prompts' rates (> 0).
    edge : float
        Width of the near-0 and near-1 bands, in (0, 0.5).
    """

    unsolvable_share: float = 0.35
    solved_share: float = 0.15
    mid_alpha: float = 1.2
    mid_beta: float = 1.5
    edge: float = 0.01

    def __post_init__(self) -> None:
        check_real(self.unsolvable_share, "unsolvable_share", low=0.0, high=1.0)
        check_real(self.solved_share, "solved_share", low=0.0, high=1.0)
        if self.unsolvable_share + self.solved_share > 1.0:
            raise ValueError(
                "unsolvable_share + solved_share must be <= 1; got "
                f"{self.unsolvable_share} + {self.solved_share}"
            )
        check_real(self.mid_alpha, "mid_alpha", low=0.0, low_inclusive=False)
        check_real(self.mid_beta, "mid_beta", low=0.0, low_inclusive=False)
        check_real(self.edge, "edge", low=0.0, high=0.5, low_inclusive=False, high_inclusive=False)

    def sample(self, n: int, rng: RngLike) -> np.ndarray:
        """Draw ``n`` success rates, shape ``(n,)``, in (0, 1)."""
        n = check_int(n, "n", min_value=1)
        gen = as_generator(rng)
        kind = gen.choice(
            3,
            size=n,
            p=[
                self.unsolvable_share,
                self.solved_share,
                1.0 - self.unsolvable_share - self.solved_share,
            ],
        )
        u = gen.random(n)
        mid = gen.beta(self.mid_alpha, self.mid_beta, size=n)
        rates = np.where(kind == 0, self.edge * u, np.where(kind == 1, 1.0 - self.edge * u, mid))
        return np.clip(rates, 1e-6, 1.0 - 1e-6)


@dataclass(frozen=True)
class StationaryConfig:
    """A stationary pool: its size, composition and verifier.

    Attributes
    ----------
    pool_size : int
        Prompts in the pool (>= 1).
    composition : PoolComposition
        Distribution of the fixed success rates.
    verifier : Verifier
        Reward noise and grading.
    """

    pool_size: int = 2000
    composition: PoolComposition = field(default_factory=PoolComposition)
    verifier: Verifier = field(default_factory=Verifier)

    def __post_init__(self) -> None:
        check_int(self.pool_size, "pool_size", min_value=1)

    def build(self, rng: RngLike) -> StationaryPool:
        """The environment with rates drawn from ``rng``."""
        return StationaryPool(self.composition.sample(self.pool_size, rng), self.verifier)


class StationaryPool:
    """Prompts with fixed success rates; rollouts through a :class:`Verifier`.

    Parameters
    ----------
    rates : ndarray, shape (N,)
        True rates of a correct answer, in [0, 1].
    verifier : Verifier, optional
        Clean binary rewards by default.
    """

    def __init__(self, rates: np.ndarray, verifier: Verifier | None = None) -> None:
        r = check_probability(rates, "rates")
        if r.ndim != 1 or r.size == 0:
            raise ValueError(f"rates must be a non-empty 1-d array, got shape {r.shape}")
        self.rates = r
        self.verifier = verifier or Verifier()

    @property
    def pool_size(self) -> int:
        return self.rates.size

    @property
    def observed_rates(self) -> np.ndarray:
        """Rates of a verified success (what binary beliefs estimate), shape (N,)."""
        return self.verifier.observed_success_rate(self.rates)

    def rollout(self, ids: np.ndarray, k: int, rng: np.random.Generator) -> Rollout:
        """``k`` rollouts per prompt: correctness ``Bernoulli(phi)``, then the verifier."""
        ids = check_ids(ids, "ids", self.pool_size)
        correct = bernoulli_outcomes(self.rates[ids], check_int(k, "k", min_value=1), rng)
        return Rollout(self.verifier.rewards(correct, rng), correct)

    def true_rates(self, ids: np.ndarray) -> np.ndarray:
        """True rates of a correct answer (privileged: for the oracle ceilings only)."""
        return self.rates[check_ids(ids, "ids", self.pool_size)]

    def learn(
        self, ids: np.ndarray, rollout: Rollout, rng: np.random.Generator
    ) -> Mapping[str, float]:
        """No learning; reports the true rates of the chosen prompts."""
        return {
            "train/true_rate_chosen": float(self.rates[ids].mean()),
            "train/expected_informative": float(
                np.mean(informative_probability(self.observed_rates[ids], rollout.k))
            ),
        }

    def evaluate(self, rng: np.random.Generator) -> Mapping[str, float]:
        """The pool's mean success rate (constant)."""
        return {"eval/accuracy": float(self.rates.mean())}

    def diagnostics(
        self, belief: BetaBelief, ids: np.ndarray, rollout: Rollout
    ) -> Mapping[str, float]:
        """Belief calibration against the observable rates (see :func:`belief_calibration`)."""
        return belief_calibration(belief, self.observed_rates, ids)
