"""The settings of the learning pool: :class:`LearningConfig` and the tables it holds.

:class:`LearningConfig` is what :class:`~simulations.environments.learning.LearningPool`
simulates (the pool, the learner and its optimiser, memorisation, the verifier), validated
on construction; :func:`rate_table` builds the learner's measured tables (a quantity as a
function of the success rate). The learner's equations are described in
:mod:`simulations.environments.learning`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import logit

from insight_bayes.validation import RngLike, check_int, check_real
from simulations.environments.noise import Verifier
from simulations.environments.stationary import PoolComposition

if TYPE_CHECKING:
    from simulations.environments.learning import LearningPool

__all__ = ["LearningConfig", "rate_table"]


@dataclass(frozen=True)
class LearningConfig:
    """Configuration of a :class:`LearningPool` (see the module docstring for the model).

    Attributes
    ----------
    pool_size : int
        Training prompts (>= 1).
    heldout_size : int
        Held-out prompts used only for ``eval/accuracy`` (>= 1).
    n_groups : int
        Skill groups ``G`` (>= 1).
    composition : PoolComposition
        Distribution of the initial success rates (train and held-out alike).
    group_spread : float
        Standard deviation of the per-group shift of the difficulty logits (>= 0).
    learning_rate : float
        Step size of the group abilities (> 0), logits per unit of mean gradient.
    transfer : float
        Share of each group's update spread evenly over all groups, in [0, 1].
    memorization_rate : float
        Step size of the prompt-specific offsets ``u_i`` (>= 0); does not reach held-out.
    forgetting : float
        Per-step decay of abilities and offsets toward their start, in [0, 1).
    advantage_eps : float
        ``eps`` of the group-normalised advantage (> 0).
    calibration_sample : int
        Pool-wide belief metrics use a fixed random sample of this many prompts when
        the pool is larger (the whole pool otherwise); keeps 10^6-prompt pools fast.
    verifier : Verifier
        Reward noise and grading.
    learner : {"linear", "adam", "measured"}
        How the group abilities step: proportional to the mean gradient, along its
        Adam direction (``learning_rate`` is then the step in logits), or the measured
        learner (noisy group updates, clipping, warm-up, memorisation through the
        optimiser; see the module docstring).
    adam_beta1, adam_beta2, adam_eps : float
        Adam's moment decays and stabiliser (``learner="adam"`` only).
    ability_cap : float, optional
        Bound on the expressed ability, ``cap tanh(theta / cap)`` (> 0); ``None``: none.
    eval_samples : int
        0: ``eval/accuracy`` is the exact expected pass@1. ``S > 0``: the mean of ``S``
        sampled outcomes per held-out prompt.
    update_noise, signal_weight, group_energy : tuple of (float, float)
        ``learner="measured"``: measured ``(success rate, value)`` tables at ``K =
        table_reference_k`` (rates increasing in (0, 1), values > 0): the held-out
        noise-to-signal of a mixed group, its held-out signal per unit of ``g``, its
        squared gradient norm. Empty: no noise, weight 1, no energy (``"shared"`` needs
        ``group_energy``).
    table_reference_k : int
        The ``K`` of the tables.
    noise_k_exponent, energy_k_exponent : float
        The tables scale as ``(table_reference_k / K)^exponent``.
    coherence : float
        ``c2`` in [0, 1]: the coherent share of the batch's squared norm.
    max_grad_norm : float, optional
        Clipping threshold of ``sqrt(E_t)`` (``"shared"`` only); ``None``: none.
    measured_optimizer : {"shared", "adam", "sgd"}
        ``learner="measured"``: the shared-preconditioner AdamW model, or the limits'.
    transfer_depletion : float, optional
        ``learner="measured"``: ``n0`` of the depletion of a prompt's transfer with its
        earlier mixed groups (> 0); ``None``: none.
    warmup_steps : int
        ``learner="measured"``: linear learning-rate ramp ``min(1, t / warmup_steps)``.
    memorize_through_optimizer : bool
        ``learner="measured"``: the prompt offsets step under the optimiser's scale.
    """

    pool_size: int = 2000
    heldout_size: int = 512
    n_groups: int = 8
    composition: PoolComposition = field(default_factory=PoolComposition)
    group_spread: float = 0.5
    learning_rate: float = 2.0
    transfer: float = 0.2
    memorization_rate: float = 0.5
    forgetting: float = 0.0
    advantage_eps: float = 1e-6
    calibration_sample: int = 20_000
    verifier: Verifier = field(default_factory=Verifier)
    learner: str = "linear"
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_eps: float = 1e-8
    ability_cap: float | None = None
    eval_samples: int = 0
    update_noise: tuple[tuple[float, float], ...] = ()
    signal_weight: tuple[tuple[float, float], ...] = ()
    group_energy: tuple[tuple[float, float], ...] = ()
    table_reference_k: int = 8
    noise_k_exponent: float = 1.0
    energy_k_exponent: float = 0.5
    coherence: float = 0.0
    max_grad_norm: float | None = None
    measured_optimizer: str = "shared"
    transfer_depletion: float | None = None
    warmup_steps: int = 0
    memorize_through_optimizer: bool = True

    def __post_init__(self) -> None:
        check_int(self.pool_size, "pool_size", min_value=1)
        check_int(self.heldout_size, "heldout_size", min_value=1)
        check_int(self.n_groups, "n_groups", min_value=1)
        check_real(self.group_spread, "group_spread", low=0.0)
        check_real(self.learning_rate, "learning_rate", low=0.0, low_inclusive=False)
        check_real(self.transfer, "transfer", low=0.0, high=1.0)
        check_real(self.memorization_rate, "memorization_rate", low=0.0)
        check_real(self.forgetting, "forgetting", low=0.0, high=1.0, high_inclusive=False)
        check_real(self.advantage_eps, "advantage_eps", low=0.0, low_inclusive=False)
        check_int(self.calibration_sample, "calibration_sample", min_value=1)
        if self.learner not in ("linear", "adam", "measured"):
            raise ValueError(
                f"learner must be 'linear', 'adam' or 'measured', got {self.learner!r}"
            )
        if self.measured_optimizer not in ("shared", "adam", "sgd"):
            raise ValueError(
                "measured_optimizer must be 'shared', 'adam' or 'sgd', "
                f"got {self.measured_optimizer!r}"
            )
        check_int(self.table_reference_k, "table_reference_k", min_value=1)
        check_int(self.warmup_steps, "warmup_steps", min_value=0)
        check_real(self.noise_k_exponent, "noise_k_exponent")
        check_real(self.energy_k_exponent, "energy_k_exponent")
        check_real(self.coherence, "coherence", low=0.0, high=1.0)
        if self.transfer_depletion is not None:
            check_real(self.transfer_depletion, "transfer_depletion", low=0.0, low_inclusive=False)
        if self.max_grad_norm is not None:
            check_real(self.max_grad_norm, "max_grad_norm", low=0.0, low_inclusive=False)
        for name in ("update_noise", "signal_weight", "group_energy"):
            _check_table(getattr(self, name), name)
        if (
            self.learner == "measured"
            and self.measured_optimizer == "shared"
            and not self.group_energy
        ):
            raise ValueError("measured_optimizer='shared' needs the group_energy table")
        check_real(self.adam_beta1, "adam_beta1", low=0.0, high=1.0, high_inclusive=False)
        check_real(self.adam_beta2, "adam_beta2", low=0.0, high=1.0, high_inclusive=False)
        check_real(self.adam_eps, "adam_eps", low=0.0, low_inclusive=False)
        if self.ability_cap is not None:
            check_real(self.ability_cap, "ability_cap", low=0.0, low_inclusive=False)
        check_int(self.eval_samples, "eval_samples", min_value=0)

    def build(self, rng: RngLike) -> LearningPool:
        """A fresh learner and pool drawn from ``rng``."""
        from simulations.environments.learning import LearningPool

        return LearningPool(self, rng)


def _check_table(table: tuple[tuple[float, float], ...], name: str) -> None:
    """Refuse a rate table that is not increasing rates in (0, 1) with values > 0."""
    if not table:
        return
    arr = np.asarray(table, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must be (rate, value) pairs")
    rates, values = arr.T
    if np.any(rates <= 0) or np.any(rates >= 1) or np.any(np.diff(rates) <= 0):
        raise ValueError(f"{name} rates must increase strictly inside (0, 1)")
    if np.any(values <= 0) or not np.all(np.isfinite(values)):
        raise ValueError(f"{name} values must be finite and > 0")


def rate_table(
    rates: np.ndarray,
    table: tuple[tuple[float, float], ...],
    k: int = 8,
    reference_k: int = 8,
    exponent: float = 0.0,
) -> np.ndarray:
    """A measured ``(rate, value)`` table at success rates ``rates`` and ``K = k``.

    ``value(phi, K) = exp(interp(logit phi; logit rates, log values)) (k_ref / K)^a``:
    log-linear on the logit of the rate between the table's points, flat beyond its
    ends (the measured learner's tables, see the module docstring).

    Parameters
    ----------
    rates : array_like
        Success rates in [0, 1].
    table : tuple of (float, float)
        Measured ``(rate, value)`` pairs at ``reference_k``; empty: ones.
    k, reference_k : int
        Rollouts per group, and the table's.
    exponent : float
        ``a`` of the ``K`` scaling.
    """
    rates = np.asarray(rates, dtype=np.float64)
    if not table:
        return np.ones_like(rates)
    points = np.asarray(table, dtype=np.float64)
    x = logit(np.clip(rates, 1e-6, 1 - 1e-6))
    log_v = np.interp(x, logit(points[:, 0]), np.log(points[:, 1]))
    return np.exp(log_v) * (reference_k / k) ** exponent
