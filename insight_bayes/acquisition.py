"""Acquisition scores: the InSight weight and WMI score (Eq. 15-16) and every baseline's score.

Every score here is *higher is better*: selectors keep the top ``M`` candidates. Rules
that the papers phrase as "smallest distance" are returned negated.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from insight_bayes.beta import _broadcast_params, _scalar_or_array, mutual_information
from insight_bayes.validation import check_int, check_probability, check_real

__all__ = [
    "PAPER_ETA",
    "PAPER_MU",
    "difficulty_weight",
    "distance_score",
    "inverse_evidence_score",
    "wmi_score",
]


#: The paper's centre of the difficulty weight (Eq. 15): the success rate it prefers.
PAPER_MU: float = 0.3
#: The paper's sharpness of the difficulty weight's tilt toward ``PAPER_MU`` (Eq. 15).
PAPER_ETA: float = 3.0


def _check_weight_params(mu: float, eta: float) -> tuple[float, float]:
    mu = check_real(mu, "mu", low=0.0, high=1.0)
    eta = check_real(eta, "eta", low=0.0)
    return mu, eta


def difficulty_weight(
    mean: ArrayLike, mu: float = PAPER_MU, eta: float = PAPER_ETA
) -> np.ndarray | float:
    r"""The difficulty (aleatoric) weight of InSight (Eq. 15).

    .. math::
        w(m) = m (1 - m) \exp\!\left(-\eta (m - \mu)^2\right)

    ``m (1 - m)`` is the outcome variance of one rollout (largest at 0.5, zero for
    prompts that always or never succeed); the Gaussian factor tilts the choice toward
    difficulty level ``mu``. Dimensionless, in [0, 1/4].

    Parameters
    ----------
    mean : array_like
        Success rate in [0, 1]: the mean belief ``alpha / (alpha + beta)`` for InSight,
        or a Thompson sample for the sampled ablation.
    mu : float, default 0.3
        Preferred success rate, in [0, 1]. The paper's setting is 0.3 (its appendix's
        "3.0" is outside the admissible range; see docs).
    eta : float, default 3.0
        Strength of the tilt, >= 0; ``eta = 0`` leaves the plain variance filter.

    Examples
    --------
    >>> difficulty_weight(0.3)  # at the preferred level only m (1 - m) remains
    0.21
    """
    mu, eta = _check_weight_params(mu, eta)
    m = check_probability(mean, "mean")
    return _scalar_or_array(m * (1.0 - m) * np.exp(-eta * (m - mu) ** 2))


def wmi_score(
    alpha: ArrayLike, beta: ArrayLike, k: int, mu: float = PAPER_MU, eta: float = PAPER_ETA
) -> np.ndarray | float:
    r"""InSight's weighted mutual information acquisition score (Eq. 16), nats.

    .. math::
        A(\tau) = w(m_\tau)\, I_K(\alpha_\tau, \beta_\tau), \qquad m_\tau = \alpha_\tau / n_\tau

    The weight uses the *mean* belief, never a sampled success rate; ``I_K`` is the
    exact mutual information of :func:`insight_bayes.beta.mutual_information`.

    Parameters
    ----------
    alpha, beta : array_like
        Beta belief of each candidate, finite and > 0; broadcast together.
    k : int
        Rollouts per prompt in training (the same ``K`` as the GRPO group size).
    mu, eta : float
        Weight parameters, see :func:`difficulty_weight`.

    Returns
    -------
    float or ndarray
        Score in nats (weight is dimensionless), shape ``broadcast(alpha, beta).shape``.

    Examples
    --------
    >>> round(wmi_score(1.0, 1.0, 1), 6)  # 0.25 exp(-3 * 0.2**2) (ln 2 - 1/2)
    0.042827
    """
    k = check_int(k, "k", min_value=1)
    a, b = _broadcast_params(alpha, beta)
    weight = np.asarray(difficulty_weight(a / (a + b), mu, eta))
    return _scalar_or_array(weight * np.asarray(mutual_information(a, b, k)))


def distance_score(rate: ArrayLike, target: float = 0.5) -> np.ndarray | float:
    r"""Negative squared distance to a target success rate (MoPPS, Expected-Difficulty).

    .. math::
        \text{score} = -(\hat\phi - \phi^\ast)^2

    With ``rate`` a Thompson sample this is MoPPS's rule (Qu et al. 2025); with the
    mean belief it is Expected-Difficulty. Higher is better (closer to the target).
    """
    target = check_real(target, "target", low=0.0, high=1.0)
    r = check_probability(rate, "rate")
    return _scalar_or_array(-((r - target) ** 2))


def inverse_evidence_score(alpha: ArrayLike, beta: ArrayLike) -> np.ndarray | float:
    r"""Inverse-Evidence baseline: ``1 / n`` with ``n = alpha + beta`` (larger is less known)."""
    a, b = _broadcast_params(alpha, beta)
    return _scalar_or_array(1.0 / (a + b))
