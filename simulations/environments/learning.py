r"""A learning pool: success rates rise as a simulated learner trains with GRPO.

The model, in full
------------------
* Each training prompt ``i`` has a skill group ``g_i`` (one of ``G``), a difficulty
  ``d_i`` (a logit) and a prompt-specific offset ``u_i`` (memorisation, starts at 0).
  The learner has an ability ``theta_g`` per skill group (starts at 0).
* Success rate (probability of a correct answer)::

      phi_i = sigmoid(theta_{g_i} + u_i - d_i)

  Difficulties are drawn so that the initial rates follow a
  :class:`~simulations.environments.stationary.PoolComposition` (unsolvable, solved,
  and spread-out prompts), plus a per-group shift ``N(0, group_spread^2)``.
* **Held-out prompts** are drawn from the same distribution, belong to the same skill
  groups, and are never trained on: ``eval/accuracy`` is their mean success rate
  ``mean_h sigmoid(theta_{g_h} - d_h)`` (the exact expected pass@1).
* **GRPO-style update.** A rollout is correct, ``c ~ Bernoulli(phi)``; the verifier
  (:class:`~simulations.environments.noise.Verifier`) turns it into a reward ``r``.
  Each chosen group of ``K`` rewards gets group-normalised advantages
  ``A_k = (r_k - mean(r)) / (std(r) + eps)`` (population std,
  :func:`insight_bayes.rewards.group_advantages`, the convention the harness's GRPO
  shares); a group whose rewards are all equal has ``A = 0`` and teaches nothing. The
  policy-gradient estimate with respect to the prompt's logit is the score-function average

      g_i = (1/K) sum_k A_k (c_k - phi_i)

  (``d log p(c) / d logit = c - phi``). For clean binary rewards this is ``std(r)``: the
  learner gains most from prompts with the most outcome variability. Noise and graded
  rewards enter only through ``A``: a flipped reward pushes the wrong way, a format-only
  reward difference carries no correctness signal.
* The ability step averages over the ``M`` chosen groups (as the GRPO loss does), and is
  shared between skill groups by a transfer matrix
  ``T = (1 - transfer) I + transfer 11^T / G``::

      theta <- theta + learning_rate * T (1/M) sum_i e_{g_i} g_i
      u_i   <- u_i + memorization_rate * g_i      (chosen prompts only)

* **Adam-like learner** (``learner="adam"``): the group step is the Adam direction of
  the group gradients (running first and second moments, bias-corrected), so its size
  no longer scales with the raw gradient: ``theta <- theta + learning_rate * T d``,
  ``d = m_hat / (sqrt(v_hat) + eps)``. This is how a real optimiser makes the step
  insensitive to the advantage's scale.
* **Saturation** (``ability_cap``): the ability a skill group can express is bounded,
  ``theta_eff = cap tanh(theta / cap)``, so held-out accuracy saturates as a real
  learning curve does; gradients carry the chain factor ``1 - tanh^2(theta / cap)``.
* **Sampled evaluation** (``eval_samples > 0``): ``eval/accuracy`` is then the mean of
  ``eval_samples`` Bernoulli draws per held-out prompt (a sampled pass@1, from its own
  random stream), so intervals over seeds include evaluation noise;
  ``eval/accuracy_exact`` then holds the exact expectation.
* **Forgetting.** Before each step, ``theta <- theta - forgetting * theta`` and
  ``u <- (1 - forgetting) u``: unpractised skill decays toward the start.

* **Measured learner** (``learner="measured"``): the learner built from what
  ``results/rlvr-gradients`` measured on the GRPO harness, between the two limits above.
  Every table below is a ``(success rate, value)`` list measured at ``K = k_ref``,
  log-interpolated on the logit of the rate and flat beyond its ends
  (:func:`~simulations.environments.learner_tables.rate_table`), scaled to other ``K``
  by ``(k_ref / K)^exponent``.

  - *Signal by success rate* (``signal_weight``): a mixed group's held-out signal, per
    unit of the GRPO scalar ``g_i``, depends on its rate (the harness's low-rate mixed
    groups transfer more per group than the score function says);
    ``g_i <- w(phi_i) g_i``.
  - *Held-out noise* (``update_noise``): the group's effect on the held-out objective is
    its signal plus zero-mean noise, ``g_i (1 + sqrt(nts(phi_i, K)) z_i)``,
    ``z_i ~ N(0, 1)``; all-equal groups stay exactly zero, as on the harness.
  - *The optimiser sees the whole update* (``measured_optimizer="shared"``): a mixed
    group's gradient has squared norm ``e(phi, K)`` (``group_energy``, harness units),
    almost all of it prompt-specific or noise: the batch's squared norm is
    ``E_t = [(1 - c2) sum_i e_i + c2 (sum_i sqrt(e_i))^2] / M^2`` over its mixed groups
    (``coherence`` ``c2``, the coherent share). Clipping to ``max_grad_norm`` scales the
    step when ``sqrt(E_t)`` exceeds it. AdamW's second moment is shared by the shared
    (transferable) and prompt-specific parameters, so it is tracked as one running mean
    ``v`` of ``E_t``; the skill-group step is ``m_hat / sqrt(v_hat)`` with ``m`` the
    running mean of the skill-group gradient. Under this optimiser the held-out step
    grows like the batch's summed signal over the square root of its summed energy,
    about ``sqrt(n_mixed)``, not like ``n_mixed`` (linear limit) or not at all (Adam
    limit). ``"adam"`` and ``"sgd"`` are the two limits' optimisers.
  - *Transfer depletes with repetition* (``transfer_depletion`` ``n0``): what a prompt
    can teach the shared parameters is used up as it is trained: the shared part of a
    mixed group's gradient is scaled by ``1 / (1 + c_i / n0)``, ``c_i`` the prompt's
    earlier mixed (updating) groups, while its memorisation part is not; a rule that
    re-selects the same prompts then memorises them (own gain ``>>`` transfer) and its
    held-out gain stalls. ``None``: no depletion.
  - *Warm-up* (``warmup_steps``): a linear learning-rate ramp ``min(1, t / W)``.
  - *Memorisation through the optimiser* (``memorize_through_optimizer``): the prompt
    offsets step ``u_i <- u_i + lr_t memorization_rate s g_i / (M sqrt(v_hat))`` (``s``
    the clipping factor; ``v_hat`` the optimiser's second moment, 1 under ``"sgd"``), so
    ``memorization_rate`` is the own-prompt logit step per unit of the group's share of
    the skill-group step and a prompt chosen again and again is memorised at the pace the
    harness measured (own gain ``>>`` transfer) and leaves the mixed pool.

  With no tables, ``warmup_steps=0`` and ``memorize_through_optimizer=False`` it is
  exactly the linear learner (``measured_optimizer="sgd"``) or the Adam-like learner
  (``"adam"``).

Knobs: ``learning_rate``, ``transfer``, ``memorization_rate``, ``forgetting``, the pool
composition, the number of skill groups, the verifier, the learner (``linear``,
``adam`` or ``measured``), ``ability_cap`` and ``eval_samples``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit, logit

from insight_bayes.beliefs.beta_belief import BetaBelief
from insight_bayes.rewards import (
    Rollout,
    bernoulli_outcomes,
    informative_probability,
)
from insight_bayes.validation import RngLike, as_generator, check_ids, check_int, check_real
from simulations.environments.calibration import belief_calibration
from simulations.environments.learner_tables import _check_table, grpo_logit_gradient, rate_table
from simulations.environments.noise import Verifier
from simulations.environments.stationary import PoolComposition

__all__ = ["LearningConfig", "LearningPool"]


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
        return LearningPool(self, rng)


class LearningPool:
    """Prompts whose success rates rise as a simulated GRPO learner trains on them.

    Implements :class:`insight_bayes.environment.Environment`; see the module docstring.

    Parameters
    ----------
    config : LearningConfig
    rng : Generator, int or None
        Draws the pool (difficulties and skill groups of train and held-out prompts).
    """

    def __init__(self, config: LearningConfig, rng: RngLike = None) -> None:
        self.config = config
        gen = as_generator(rng)
        c = config
        shift = gen.normal(0.0, c.group_spread, size=c.n_groups)
        self.groups = gen.integers(c.n_groups, size=c.pool_size)
        self.heldout_groups = gen.integers(c.n_groups, size=c.heldout_size)
        rate0 = c.composition.sample(c.pool_size, gen)
        heldout_rate0 = c.composition.sample(c.heldout_size, gen)
        self.difficulty = -logit(rate0) + shift[self.groups]
        self.heldout_difficulty = -logit(heldout_rate0) + shift[self.heldout_groups]
        self.ability = np.zeros(c.n_groups)
        self.offset = np.zeros(c.pool_size)
        self.verifier = c.verifier
        self.calibration_ids = (
            np.sort(gen.choice(c.pool_size, c.calibration_sample, replace=False))
            if c.pool_size > c.calibration_sample
            else None
        )
        self._moments = np.zeros((2, c.n_groups))  # Adam's m and v
        self._shared_v = 0.0  # the measured learner's shared second moment
        self._mixed_count = np.zeros(c.pool_size)  # earlier mixed groups per prompt
        self._updates = 0
        # sampled evaluation draws from its own stream, so it never shifts the rollouts
        self._eval_rng = np.random.default_rng(gen.integers(2**63)) if c.eval_samples else None

    # --------------------------------------------------------------- rates
    @property
    def pool_size(self) -> int:
        return self.config.pool_size

    @property
    def expressed_ability(self) -> np.ndarray:
        """The ability the groups express: ``theta``, or ``cap tanh(theta / cap)``."""
        cap = self.config.ability_cap
        return self.ability if cap is None else cap * np.tanh(self.ability / cap)

    def rates_of(self, ids: np.ndarray) -> np.ndarray:
        """Current success rates of training prompts ``ids``."""
        ability = self.expressed_ability
        return expit(ability[self.groups[ids]] + self.offset[ids] - self.difficulty[ids])

    def true_rates(self, ids: np.ndarray) -> np.ndarray:
        """Current rates of a correct answer (privileged: for the oracle ceilings only)."""
        return self.rates_of(check_ids(ids, "ids", self.pool_size))

    @property
    def rates(self) -> np.ndarray:
        """Current success rates of the whole training pool, shape (N,)."""
        return expit(self.expressed_ability[self.groups] + self.offset - self.difficulty)

    @property
    def heldout_rates(self) -> np.ndarray:
        """Current success rates of the held-out prompts, shape (H,)."""
        return expit(self.expressed_ability[self.heldout_groups] - self.heldout_difficulty)

    # ----------------------------------------------------------- protocol
    def rollout(self, ids: np.ndarray, k: int, rng: np.random.Generator) -> Rollout:
        """``k`` rollouts per prompt: correctness at the current rates, then the verifier."""
        ids = check_ids(ids, "ids", self.pool_size)
        correct = bernoulli_outcomes(self.rates_of(ids), check_int(k, "k", min_value=1), rng)
        return Rollout(self.verifier.rewards(correct, rng), correct)

    def learn(
        self, ids: np.ndarray, rollout: Rollout, rng: np.random.Generator
    ) -> Mapping[str, float]:
        """One GRPO-style step on the chosen groups (see the module docstring).

        The gradient uses the rollout's true correctness (``rollout.correct``) for the
        score ``c - phi`` and its (possibly noisy or graded) rewards for the advantage.
        """
        c = self.config
        ids = check_ids(ids, "ids", self.pool_size)
        if not isinstance(rollout, Rollout) or rollout.groups != ids.size:
            raise ValueError(f"learn() needs the Rollout of the {ids.size} chosen prompts")
        rewards, correct = rollout.rewards, rollout.correct
        rates = self.rates_of(ids)
        p_obs = self.verifier.observed_success_rate(rates)
        grad = grpo_logit_gradient(rewards, correct, rates, c.advantage_eps)
        if c.forgetting:
            self.ability *= 1.0 - c.forgetting
            self.offset *= 1.0 - c.forgetting
        if c.learner == "measured":
            return self._learn_measured(ids, rollout, rates, grad, p_obs, rng)
        per_group = np.bincount(self.groups[ids], weights=grad, minlength=c.n_groups) / ids.size
        if c.ability_cap is not None:  # chain rule through theta_eff = cap tanh(theta / cap)
            per_group = per_group * (1.0 - np.tanh(self.ability / c.ability_cap) ** 2)
        direction = self._adam(per_group) if c.learner == "adam" else per_group
        step = (1.0 - c.transfer) * direction + c.transfer * direction.mean()
        self.ability += c.learning_rate * step
        if c.memorization_rate:
            np.add.at(self.offset, ids, c.memorization_rate * grad)
        return self._learn_metrics(rates, p_obs, rollout, grad)

    def _learn_metrics(
        self, rates: np.ndarray, p_obs: np.ndarray, rollout: Rollout, grad: np.ndarray
    ) -> dict[str, float]:
        return {
            "train/true_rate_chosen": float(rates.mean()),
            "train/expected_informative": float(np.mean(informative_probability(p_obs, rollout.k))),
            "train/gradient": float(grad.mean()),
            "train/ability_mean": float(self.ability.mean()),
        }

    def _learn_measured(
        self,
        ids: np.ndarray,
        rollout: Rollout,
        rates: np.ndarray,
        grad: np.ndarray,
        p_obs: np.ndarray,
        rng: np.random.Generator,
    ) -> dict[str, float]:
        """One step of the measured learner (module docstring, "Measured learner")."""
        c = self.config
        k = rollout.k
        mixed = grad != 0.0
        if c.signal_weight:
            grad = grad * rate_table(rates, c.signal_weight)
        if c.update_noise:  # zero-mean multiplicative noise; all-equal groups stay 0
            nts = rate_table(rates, c.update_noise, k, c.table_reference_k, c.noise_k_exponent)
            grad = grad * (1.0 + np.sqrt(nts) * rng.standard_normal(grad.size))
        m = ids.size
        shared = grad
        if c.transfer_depletion is not None:
            shared = grad / (1.0 + self._mixed_count[ids] / c.transfer_depletion)
            np.add.at(self._mixed_count, ids, mixed.astype(np.float64))
        per_group = np.bincount(self.groups[ids], weights=shared, minlength=c.n_groups) / m
        if c.ability_cap is not None:
            per_group = per_group * (1.0 - np.tanh(self.ability / c.ability_cap) ** 2)
        steps_done = self._updates + 1
        ramp = min(1.0, steps_done / c.warmup_steps) if c.warmup_steps else 1.0
        scale, energy = 1.0, 0.0
        if c.measured_optimizer == "shared":
            e = mixed * rate_table(
                rates, c.group_energy, k, c.table_reference_k, c.energy_k_exponent
            )
            coherent = np.sum(np.sqrt(e)) ** 2
            energy = float(((1.0 - c.coherence) * e.sum() + c.coherence * coherent) / m**2)
            if c.max_grad_norm is not None and energy > c.max_grad_norm**2:
                scale = c.max_grad_norm / np.sqrt(energy)
                energy = c.max_grad_norm**2
            per_group = per_group * scale
            self._updates += 1
            mom = self._moments[0]
            mom *= c.adam_beta1
            mom += (1.0 - c.adam_beta1) * per_group
            self._shared_v = c.adam_beta2 * self._shared_v + (1.0 - c.adam_beta2) * energy
            m_hat = mom / (1.0 - c.adam_beta1**self._updates)
            v_hat = self._shared_v / (1.0 - c.adam_beta2**self._updates)
            precondition = 1.0 / (np.sqrt(v_hat) + c.adam_eps)
            direction = m_hat * precondition
        elif c.measured_optimizer == "adam":
            direction = self._adam(per_group)
            v_hat = self._moments[1] / (1.0 - c.adam_beta2**self._updates)
            precondition = 1.0 / (np.sqrt(v_hat.mean()) + c.adam_eps)
        else:
            self._updates += 1
            direction, precondition = per_group, 1.0
        step = (1.0 - c.transfer) * direction + c.transfer * direction.mean()
        self.ability += c.learning_rate * ramp * step
        if c.memorization_rate:
            if c.memorize_through_optimizer:
                mem = c.learning_rate * ramp * c.memorization_rate * precondition * scale
                np.add.at(self.offset, ids, mem * grad / m)
            else:
                np.add.at(self.offset, ids, c.memorization_rate * grad)
        out = self._learn_metrics(rates, p_obs, rollout, grad)
        out["train/grad_norm"] = float(np.sqrt(energy)) if energy else 0.0
        return out

    def _adam(self, gradient: np.ndarray) -> np.ndarray:
        """Adam's bias-corrected direction for this step's group gradients."""
        c = self.config
        self._updates += 1
        m, v = self._moments
        m *= c.adam_beta1
        m += (1.0 - c.adam_beta1) * gradient
        v *= c.adam_beta2
        v += (1.0 - c.adam_beta2) * gradient**2
        m_hat = m / (1.0 - c.adam_beta1**self._updates)
        v_hat = v / (1.0 - c.adam_beta2**self._updates)
        return m_hat / (np.sqrt(v_hat) + c.adam_eps)

    def evaluate(self, rng: np.random.Generator) -> Mapping[str, float]:
        """Held-out accuracy (exact, or sampled with ``eval_samples``) and pool rate."""
        exact = float(self.heldout_rates.mean())
        out = {"eval/accuracy": exact, "eval/train_accuracy": float(self.rates.mean())}
        if self._eval_rng is not None:
            draws = bernoulli_outcomes(self.heldout_rates, self.config.eval_samples, self._eval_rng)
            out["eval/accuracy"] = float(draws.mean())
            out["eval/accuracy_exact"] = exact
        return out

    def diagnostics(
        self, belief: BetaBelief, ids: np.ndarray, rollout: Rollout
    ) -> Mapping[str, float]:
        """Belief calibration against the current observable rates (see
        :func:`~simulations.environments.calibration.belief_calibration`; pool-wide
        metrics on ``calibration_ids`` when the pool exceeds ``calibration_sample``)."""
        observe = self.verifier.observed_success_rate
        if self.calibration_ids is None:
            return belief_calibration(belief, observe(self.rates), ids)
        return belief_calibration(
            belief,
            observe(self.rates_of(self.calibration_ids)),
            ids,
            subset=self.calibration_ids,
            chosen_rates=observe(self.rates_of(ids)),
        )
