"""Rollout rewards: binarisation for the Beta belief and the informative-group test.

Rules see binary outcomes; tasks may give graded rewards (Countdown: 1 correct, 0.1
well formatted, 0 otherwise). The conversion is always explicit and lives here.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from insight_bayes.validation import check_real, describe_bad

__all__ = ["RewardMode", "binarize_rewards", "informative_groups"]

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
