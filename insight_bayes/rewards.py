"""Rollouts and their rewards: the one home of every per-group formula.

* :class:`Rollout`: what an environment's ``rollout`` returns and its ``learn``
  receives back (rewards, binary correctness, the environment's own payload).
* :func:`bernoulli_outcomes`: ``K`` correct/incorrect draws per prompt at given rates.
* :func:`binarize_rewards`: rewards to the belief's ``(successes, trials)``.
* :func:`informative_groups` (realised) and :func:`informative_probability`
  (expected): whether a group of ``K`` rewards is mixed, so that GRPO learns from it.
* :func:`group_advantages`: GRPO's group-normalised advantage (numpy; the torch
  version in :mod:`insight_bayes.rlvr.grpo` is tested equal to it).

Rules see binary outcomes; tasks may give graded rewards (Countdown: 1 correct, 0.1
well formatted, 0 otherwise). The conversion is always explicit and lives here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from insight_bayes.validation import check_int, check_probability, check_real, describe_bad

__all__ = [
    "ADVANTAGE_DDOF",
    "RewardMode",
    "Rollout",
    "bernoulli_outcomes",
    "bernoulli_rollout",
    "expected_group_std",
    "binarize_rewards",
    "group_std_by_successes",
    "group_advantages",
    "informative_groups",
    "informative_probability",
]

#: Degrees of freedom of the standard deviation in :func:`group_advantages`: the
#: population std (divide by ``K``). TRL and verl divide by ``K - 1``; for a group of
#: ``K`` rewards the two differ by the constant factor ``sqrt(K / (K - 1))``, which
#: AdamW's scale invariance absorbs in the harness and the learning rate in the
#: simulator.
ADVANTAGE_DDOF = 0


@dataclass(frozen=True)
class Rollout:
    """``K`` rollouts of each of ``G`` prompts, as an environment produced them.

    :meth:`insight_bayes.environment.Environment.rollout` returns one, and the selection
    loop hands the very same object (or the part of it a rollout filter kept) back to
    ``learn``: no state is hidden in the environment between the two calls.

    Attributes
    ----------
    rewards : ndarray of float64, shape (G, K)
        Rewards as the trainer sees them (graded, possibly from a noisy verifier).
    correct : ndarray of bool, shape (G, K)
        Whether each response was actually correct. For a real task with an exact
        verifier this is the verifier's verdict; a simulated noisy verifier may report
        a reward that disagrees with it.
    payload : tuple, optional
        The environment's own per-group data (e.g. the sampled completions), one entry
        per group, kept aligned with the rows by :meth:`take` and :meth:`concat`.
    """

    rewards: np.ndarray
    correct: np.ndarray
    payload: tuple[Any, ...] | None = None

    def __post_init__(self) -> None:
        rewards = np.asarray(self.rewards, dtype=np.float64)
        correct = np.asarray(self.correct)
        if rewards.ndim != 2:
            raise ValueError(f"rewards must have shape (groups, K), got shape {rewards.shape}")
        if correct.shape != rewards.shape:
            raise ValueError(
                f"correct must have the shape of rewards {rewards.shape}, got {correct.shape}"
            )
        if correct.dtype != bool:
            raise TypeError(f"correct must be boolean, got dtype {correct.dtype}")
        if not np.all(np.isfinite(rewards)):
            raise ValueError(
                f"rewards must be finite; got {describe_bad(rewards[~np.isfinite(rewards)])}"
            )
        payload = self.payload
        if payload is not None:
            payload = tuple(payload)
            if len(payload) != rewards.shape[0]:
                raise ValueError(
                    f"payload must hold one entry per group ({rewards.shape[0]}), "
                    f"got {len(payload)}"
                )
        object.__setattr__(self, "rewards", rewards)
        object.__setattr__(self, "correct", correct)
        object.__setattr__(self, "payload", payload)

    @property
    def groups(self) -> int:
        """Number of prompts ``G``."""
        return self.rewards.shape[0]

    @property
    def k(self) -> int:
        """Rollouts per prompt ``K``."""
        return self.rewards.shape[1]

    def take(self, rows: ArrayLike | slice) -> Rollout:
        """The groups at positions, boolean mask or slice ``rows``, payload included."""
        idx = np.arange(self.groups)[rows if isinstance(rows, slice) else np.asarray(rows)]
        payload = None if self.payload is None else tuple(self.payload[i] for i in idx)
        return Rollout(self.rewards[idx], self.correct[idx], payload)

    @classmethod
    def concat(cls, parts: Sequence[Rollout]) -> Rollout:
        """The groups of ``parts`` stacked in order (all with the same ``K``)."""
        if not parts:
            raise ValueError("concat needs at least one Rollout")
        ks = {p.k for p in parts}
        if len(ks) != 1:
            raise ValueError(f"rollouts to concatenate have different K: {sorted(ks)}")
        has_payload = {p.payload is not None for p in parts}
        if len(has_payload) != 1:
            raise ValueError("either every rollout has a payload or none has")
        payload = (
            tuple(item for p in parts for item in p.payload) if has_payload == {True} else None
        )
        return cls(
            np.concatenate([p.rewards for p in parts]),
            np.concatenate([p.correct for p in parts]),
            payload,
        )


def bernoulli_outcomes(rates: ArrayLike, k: int, rng: np.random.Generator) -> np.ndarray:
    """``K`` independent correct/incorrect outcomes per prompt: ``c ~ Bernoulli(p)``.

    Draws one ``(G, K)`` block of uniforms, ``c = u < p`` (the draw every simulator in
    the package makes, so changing environments never changes the random stream).

    Parameters
    ----------
    rates : array_like, shape (G,)
        Success rates in [0, 1].
    k : int
        Rollouts per prompt, >= 1.
    rng : numpy.random.Generator
        Source of the uniforms.

    Returns
    -------
    ndarray of bool, shape (G, K)
    """
    p = check_probability(rates, "rates")
    if p.ndim != 1:
        raise ValueError(f"rates must be 1-d, got shape {p.shape}")
    k = check_int(k, "k", min_value=1)
    return rng.random((p.size, k)) < p[:, None]


#: How rewards become belief counts: ``"binary"`` (reward >= threshold) or ``"fractional"``.
RewardMode = Literal["binary", "fractional"]


def binarize_rewards(
    rewards: ArrayLike, *, mode: RewardMode = "binary", threshold: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Turn a ``(groups, K)`` array of rollout rewards into ``(successes, trials)``.

    Parameters
    ----------
    rewards : array_like, shape (G, K)
        Rewards of the ``K`` rollouts of each of ``G`` prompts; finite.
    mode : {"binary", "fractional"}
        ``"binary"`` counts a rollout as a success when ``reward >= threshold`` (MoPPS's
        public implementation uses ``reward >= 1``, so Countdown's 0.1 format reward is a
        failure). ``"fractional"`` uses the rewards as fractional counts, which must lie
        in [0, 1]: ``successes = sum(rewards)``.
    threshold : float
        Success threshold for ``"binary"``.

    Returns
    -------
    successes : ndarray, shape (G,)
        Float64 (integer-valued in binary mode).
    trials : ndarray, shape (G,)
        ``K`` for every group.
    """
    r = np.asarray(rewards, dtype=np.float64)
    if r.ndim != 2:
        raise ValueError(f"rewards must have shape (groups, K), got shape {r.shape}")
    if not np.all(np.isfinite(r)):
        raise ValueError(f"rewards must be finite; got {describe_bad(r[~np.isfinite(r)])}")
    trials = np.full(r.shape[0], float(r.shape[1]))
    if mode == "binary":
        threshold = check_real(threshold, "threshold")
        return (r >= threshold).sum(axis=1).astype(np.float64), trials
    if mode == "fractional":
        bad = (r < 0.0) | (r > 1.0)
        if np.any(bad):
            raise ValueError(f"fractional rewards must lie in [0, 1]; got {describe_bad(r[bad])}")
        return r.sum(axis=1), trials
    raise ValueError(f"mode must be 'binary' or 'fractional', got {mode!r}")


def bernoulli_rollout(rates: ArrayLike, k: int, rng: np.random.Generator) -> Rollout:
    """A clean binary :class:`Rollout`: reward 1 for a correct outcome, 0 otherwise.

    The outcomes are :func:`bernoulli_outcomes` ``(rates, k, rng)``; a verifier that adds
    noise or grades answers wraps those outcomes instead
    (:class:`simulations.environments.noise.Verifier`).
    """
    correct = bernoulli_outcomes(rates, k, rng)
    return Rollout(correct.astype(np.float64), correct)


def informative_probability(rates: ArrayLike, k: int) -> np.ndarray:
    r"""Probability that ``K`` Bernoulli(p) outcomes are not all equal (a mixed group).

    .. math::
        P(\text{mixed}) = 1 - p^K - (1 - p)^K

    The expected counterpart of :func:`informative_groups`: a group whose binary
    outcomes are all equal has zero GRPO advantage. Equals ``E[std(r) > 0]``; it is 0 at
    ``p`` in {0, 1} and largest, ``1 - 2^{1-K}``, at ``p = 1/2``.

    Parameters
    ----------
    rates : array_like
        Success rates in [0, 1] (any shape).
    k : int
        Rollouts per group, >= 1 (``K = 1`` is never mixed).

    Returns
    -------
    ndarray, shape of ``rates``

    Examples
    --------
    >>> float(informative_probability(0.5, 2))
    0.5
    """
    k = check_int(k, "k", min_value=1)
    p = check_probability(rates, "rates")
    return 1.0 - p**k - (1.0 - p) ** k


def expected_group_std(rates: ArrayLike, k: int) -> np.ndarray:
    r"""Expected population standard deviation of ``K`` Bernoulli(p) rewards.

    .. math::
        E[\operatorname{std}(r)] = \sum_{s=0}^{K} \binom{K}{s} p^s (1-p)^{K-s}
                                   \sqrt{\tfrac{s}{K}\left(1 - \tfrac{s}{K}\right)}

    The expected GRPO learning signal of a prompt with clean binary rewards: with the
    group advantage of :func:`group_advantages`, the policy-gradient component along the
    prompt's logit is ``std(r)`` (see :mod:`simulations.environments.learning`). Zero at
    ``p`` in {0, 1}; at most ``1/2``.

    Parameters
    ----------
    rates : array_like
        Success rates in [0, 1] (any shape).
    k : int
        Rollouts per group, >= 1.

    Returns
    -------
    ndarray, shape of ``rates``
    """
    from scipy.stats import binom

    k = check_int(k, "k", min_value=1)
    p = check_probability(rates, "rates")
    s = np.arange(k + 1)
    return np.sum(binom.pmf(s, k, p[..., None]) * group_std_by_successes(k), axis=-1)


def group_std_by_successes(k: int) -> np.ndarray:
    r"""Standard deviation of a binary group of ``K`` rewards with ``s`` ones, ``s = 0..K``.

    .. math::
        \sigma_s = \sqrt{\frac{s (K - s)}{K (K - d)}}, \qquad d = \text{ADVANTAGE\_DDOF}

    With the package's population std (``d = 0``) this is
    ``sqrt(s/K (1 - s/K))``: the std that :func:`group_advantages` divides by. The one
    home of this table; :func:`expected_group_std` (known rate) and
    :func:`insight_bayes.learning_signal.predictive_group_std` (Beta belief) average it.

    Parameters
    ----------
    k : int
        Rollouts per group, >= 1 (``K = 1`` gives ``[0, 0]``).

    Returns
    -------
    ndarray, shape (K + 1,)
    """
    k = check_int(k, "k", min_value=1)
    s = np.arange(k + 1, dtype=np.float64)
    if k - ADVANTAGE_DDOF <= 0:
        return np.zeros(k + 1)
    return np.sqrt(s * (k - s) / (k * (k - ADVANTAGE_DDOF)))


def group_advantages(rewards: ArrayLike, eps: float = 1e-6) -> np.ndarray:
    r"""GRPO's group-normalised advantages, row by row.

    .. math::
        A_{gk} = \frac{r_{gk} - \bar r_g}{\operatorname{std}(r_g) + \epsilon},
        \qquad \operatorname{std}(r_g) = \sqrt{\tfrac{1}{K} \sum_k (r_{gk} - \bar r_g)^2}

    The population standard deviation (:data:`ADVANTAGE_DDOF` = 0), the one convention
    of the package: the simulator's learner and the harness's torch GRPO
    (:func:`insight_bayes.rlvr.grpo.group_advantages`, tested equal) both use it. A
    group whose rewards are all equal gets advantage 0 and teaches nothing.

    Parameters
    ----------
    rewards : array_like, shape (G, K)
        Finite rewards of ``K`` rollouts of each of ``G`` prompts.
    eps : float
        Added to the standard deviation, > 0.

    Returns
    -------
    ndarray, shape (G, K)
    """
    r = np.asarray(rewards, dtype=np.float64)
    if r.ndim != 2:
        raise ValueError(f"rewards must have shape (groups, K), got shape {r.shape}")
    if not np.all(np.isfinite(r)):
        raise ValueError(f"rewards must be finite; got {describe_bad(r[~np.isfinite(r)])}")
    eps = check_real(eps, "eps", low=0.0, low_inclusive=False)
    centred = r - r.mean(axis=1, keepdims=True)
    return centred / (r.std(axis=1, ddof=ADVANTAGE_DDOF, keepdims=True) + eps)


def informative_groups(rewards: ArrayLike) -> np.ndarray:
    """Boolean mask of groups whose ``K`` rewards are not all equal.

    A group whose rewards are all equal has zero group-normalised GRPO advantage and
    teaches nothing; Dynamic Sampling drops such groups.

    Parameters
    ----------
    rewards : array_like, shape (G, K)

    Returns
    -------
    ndarray of bool, shape (G,)
    """
    r = np.asarray(rewards, dtype=np.float64)
    if r.ndim != 2:
        raise ValueError(f"rewards must have shape (groups, K), got shape {r.shape}")
    return np.ptp(r, axis=1) > 0
