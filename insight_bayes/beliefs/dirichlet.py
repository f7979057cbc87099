r"""Graded rewards: the maths behind ``insight-graded`` and the Dirichlet belief.

**Graded rewards.** Countdown's rewards 1 / 0.1 / 0 are ``C = 3`` outcome categories.
A Dirichlet belief ``theta ~ Dir(a_1..a_C)`` over the category probabilities with
``K`` categorical rollouts has the Dirichlet-multinomial predictive and the mutual
information (:func:`dirichlet_mutual_information`)

.. math::
    I_K(\mathbf a) = H[\mathrm{Dir}(\mathbf a)]
      - \sum_{\mathbf x} P(\mathbf x)\, H[\mathrm{Dir}(\mathbf a + \mathbf x)],

an exact finite sum over the ``binom(K + C - 1, C - 1)`` compositions ``x`` of ``K``.

Everything is float64 and in nats.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, ClassVar

import numba
import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from insight_bayes import _special
from insight_bayes.beliefs.beta_belief import BetaBelief, read_only
from insight_bayes.beta import (
    PARALLEL_MIN_SIZE,
    _scalar_or_array,
)
from insight_bayes.validation import check_ids, check_int, check_real, describe_bad

__all__ = [
    "DirichletBelief",
    "compositions",
    "dirichlet_entropy",
    "dirichlet_multinomial_pmf",
    "dirichlet_mutual_information",
]


@lru_cache(maxsize=64)
def _compositions_cached(k: int, c: int) -> np.ndarray:
    if c == 1:
        out = np.array([[k]], dtype=np.int64)
    else:
        rows = [
            np.concatenate([np.full((sub.shape[0], 1), first), sub], axis=1)
            for first in range(k, -1, -1)
            for sub in (_compositions_cached(k - first, c - 1),)
        ]
        out = np.concatenate(rows, axis=0)
    out.flags.writeable = False
    return out


def compositions(k: int, c: int) -> np.ndarray:
    """Every way of writing ``K`` as an ordered sum of ``C`` non-negative counts.

    Shape ``(binom(K + C - 1, C - 1), C)``, int64, read-only.

    >>> compositions(2, 2).tolist()
    [[2, 0], [1, 1], [0, 2]]
    """
    k = check_int(k, "k", min_value=0)
    c = check_int(c, "c", min_value=1)
    if math.comb(k + c - 1, c - 1) > 5_000_000:
        raise ValueError(
            f"K={k} rollouts in C={c} categories have {math.comb(k + c - 1, c - 1):,} "
            "compositions; too many for the exact sum"
        )
    return _compositions_cached(k, c)


def _check_concentration(alpha: ArrayLike) -> np.ndarray:
    a = np.asarray(alpha, dtype=np.float64)
    if a.ndim < 1 or a.shape[-1] < 2:
        raise ValueError(
            f"alpha must have the categories on its last axis (at least 2), got shape {a.shape}"
        )
    bad = ~(np.isfinite(a) & (a > 0))
    if np.any(bad):
        raise ValueError(
            f"alpha must be finite and > 0 (Dirichlet concentrations); got {a[bad][:3].tolist()}"
        )
    return a


def dirichlet_entropy(alpha: ArrayLike) -> np.ndarray | float:
    r"""Differential entropy of ``Dir(alpha)`` in nats (categories on the last axis).

    .. math::
        H = \ln B(\mathbf a) + (a_0 - C)\,\psi(a_0) - \sum_j (a_j - 1)\,\psi(a_j),
        \qquad a_0 = \sum_j a_j

    With ``C = 2`` this is the Beta entropy (Eq. 11).
    """
    a = _check_concentration(alpha)
    a0 = a.sum(axis=-1)
    c = a.shape[-1]
    log_b = special.gammaln(a).sum(axis=-1) - special.gammaln(a0)
    out = log_b + (a0 - c) * special.digamma(a0) - ((a - 1.0) * special.digamma(a)).sum(axis=-1)
    return _scalar_or_array(np.asarray(out))


def dirichlet_multinomial_pmf(counts: ArrayLike, alpha: ArrayLike) -> np.ndarray | float:
    r"""Dirichlet-multinomial probability of category ``counts`` (last axis).

    .. math::
        P(\mathbf x) = \frac{K!}{\prod_j x_j!}
                       \frac{\Gamma(a_0)}{\Gamma(a_0 + K)}
                       \prod_j \frac{\Gamma(a_j + x_j)}{\Gamma(a_j)}, \qquad K = \sum_j x_j
    """
    a = _check_concentration(alpha)
    x = np.asarray(counts, dtype=np.float64)
    if np.any(~np.isfinite(x)) or np.any(x < 0) or np.any(x != np.round(x)):
        raise ValueError("counts must be non-negative whole numbers")
    x, a = np.broadcast_arrays(x, a)
    k = x.sum(axis=-1)
    a0 = a.sum(axis=-1)
    log_p = (
        special.gammaln(k + 1.0)
        - special.gammaln(x + 1.0).sum(axis=-1)
        + special.gammaln(a0)
        - special.gammaln(a0 + k)
        + (special.gammaln(a + x) - special.gammaln(a)).sum(axis=-1)
    )
    return _scalar_or_array(np.exp(log_p))


@numba.njit(cache=True, nogil=True)
def _dirichlet_mi_scalar(conc, k, row):  # pragma: no cover - compiled
    # sum_j sum_s BB(s; K, a_j, a_0 - a_j) A(a_j, s) - A(a_0, K), A of _special
    a0 = 0.0
    for j in range(conc.size):
        a0 += conc[j]
    acc_all = 0.0
    for j in range(conc.size):
        a = conc[j]
        b = a0 - a
        _special.fill_information_row(a, k, row)
        weight = 1.0
        total = 1.0
        acc = row[0]
        for s in range(k):
            weight *= (k - s) * (a + s) / ((s + 1.0) * (b + (k - 1 - s)))
            total += weight
            acc += weight * row[s + 1]
            if total > 1e200:
                weight /= total
                acc /= total
                total = 1.0
        acc_all += acc / total
    value = acc_all - _special.information_total(a0, k)
    return value if value > 0.0 else 0.0


@numba.njit(cache=True, nogil=True)
def _dirichlet_mi_serial(conc, k, out):  # pragma: no cover - compiled
    row = np.empty(k + 1)
    for i in range(conc.shape[0]):
        out[i] = _dirichlet_mi_scalar(conc[i], k, row)


@numba.njit(cache=True, parallel=True)
def _dirichlet_mi_parallel(conc, k, out):  # pragma: no cover - compiled
    chunk = 4096
    n_chunks = (conc.shape[0] + chunk - 1) // chunk
    for ch in numba.prange(n_chunks):
        row = np.empty(k + 1)
        for i in range(ch * chunk, min(conc.shape[0], (ch + 1) * chunk)):
            out[i] = _dirichlet_mi_scalar(conc[i], k, row)


def dirichlet_mutual_information(alpha: ArrayLike, k: int) -> np.ndarray | float:
    r"""Mutual information between ``K`` categorical rollouts and their probabilities, nats.

    .. math::
        I_K(\mathbf a) = H[\mathrm{Dir}(\mathbf a)]
            - \sum_{\mathbf x:\ \sum_j x_j = K} P(\mathbf x)\,
              H[\mathrm{Dir}(\mathbf a + \mathbf x)]

    a finite sum over the compositions ``x`` of ``K`` (:func:`compositions`) with
    Dirichlet-multinomial weights. Every posterior has total ``a_0 + K`` and
    ``E_x[psi(a_j + x_j)] - psi(a_j) = psi(a_0 + K) - psi(a_0)`` (both sides are
    ``E[ln theta_j]`` plus constants), so the sum collapses onto the marginal of each
    count, ``x_j ~ BetaBinomial(K, a_j, a_0 - a_j)``, in the cancellation-free form of
    Eq. 13 (:func:`insight_bayes.beta.mutual_information`):

    .. math::
        I_K(\mathbf a) = \sum_{j=1}^{C} \sum_{s=0}^{K}
              \mathrm{BB}(s; K, a_j, a_0 - a_j)\, A(a_j, s) - A(a_0, K),
        \qquad A(x, s) = s\,\psi(x + s) - \ln\frac{\Gamma(x + s)}{\Gamma(x)}

    ``C (K + 1)`` terms instead of ``binom(K + C - 1, C - 1)`` posterior entropies;
    each ``A`` is a sum of positive increments (no cancellation), so the relative
    accuracy is that of InSight's ``I_K``. For ``C = 2`` it is ``I_K(alpha, beta)``.
    Compiled; cost about ``C / 2`` times InSight's information term.

    Parameters
    ----------
    alpha : array_like, shape (..., C)
        Dirichlet concentrations, finite and > 0, categories on the last axis.
    k : int
        Rollouts ``K >= 1``.

    Returns
    -------
    float or ndarray
        Shape ``alpha.shape[:-1]``.
    """
    k = check_int(k, "k", min_value=1)
    a = _check_concentration(alpha)
    flat = np.ascontiguousarray(a.reshape(-1, a.shape[-1]))
    out = np.empty(flat.shape[0])
    kernel = _dirichlet_mi_parallel if flat.shape[0] >= PARALLEL_MIN_SIZE else _dirichlet_mi_serial
    kernel(flat, k, out)
    return _scalar_or_array(out.reshape(a.shape[:-1]))


class DirichletBelief(BetaBelief):
    r"""Dirichlet beliefs over the reward categories of every prompt (graded rewards).

    Categories, in order: **correct** (reward ``>= correct_reward``), **format**
    (reward ``== format_reward``: wrong but well formed) and **other** (reward 0).
    Prompt ``i`` has ``theta_i ~ Dir(c_i1, c_i2, c_i3)``; ``K`` graded rollouts add their
    category counts (conjugate, exact), after the discount of Eq. 6 toward the prior.

    The prior is ``(alpha0, beta0 / 2, beta0 / 2)``, so by the aggregation property the
    binary view ``(alpha, beta) = (c_1, c_2 + c_3)`` (what ``alpha``, ``beta``,
    ``mean`` return) is exactly the Beta belief that binarising at
    ``correct_reward`` would give: InSight's weight sees the same mean belief.

    Binary evidence (:meth:`update`) cannot say which wrong category a failure was,
    and is refused: feed rewards with :meth:`update_from_rewards` (the selection loop
    and :class:`~insight_bayes.integrations.OnlineSelector` call :meth:`observe`, which
    does so).

    Parameters
    ----------
    n_prompts : int
        Pool size.
    correct_reward, format_reward : float
        Reward values of a correct and of a wrong but well-formed answer
        (Countdown: 1 and 0.1), ``0 < format_reward < correct_reward``.
    alpha0, beta0, discount : float
        As for :class:`~insight_bayes.beliefs.beta_belief.BetaBelief`.
    """

    categories = ("correct", "format", "other")

    def __init__(
        self,
        n_prompts: int,
        *,
        correct_reward: float = 1.0,
        format_reward: float = 0.1,
        alpha0: float = 1.0,
        beta0: float = 1.0,
        discount: float = 1.0,
    ) -> None:
        super().__init__(n_prompts, alpha0=alpha0, beta0=beta0, discount=discount)
        self.correct_reward = check_real(
            correct_reward, "correct_reward", low=0.0, low_inclusive=False
        )
        self.format_reward = check_real(
            format_reward, "format_reward", low=0.0, high=self.correct_reward, low_inclusive=False,
            high_inclusive=False,
        )  # fmt: skip
        self._counts = np.tile(self.prior_concentration, (self.n_prompts, 1))
        self._sync()

    @property
    def prior_concentration(self) -> np.ndarray:
        return np.array([self.alpha0, self.beta0 / 2.0, self.beta0 / 2.0])

    @property
    def concentration(self) -> np.ndarray:
        """Dirichlet parameters, shape ``(N, 3)`` (read-only view)."""
        return read_only(self._counts)

    def _sync(self) -> None:
        self._alpha = self._counts[:, 0].copy()
        self._beta = self._counts[:, 1] + self._counts[:, 2]

    def categorize(self, rewards: ArrayLike) -> np.ndarray:
        """Category index (0 correct, 1 format, 2 other) of each reward; refuses others."""
        r = np.asarray(rewards, dtype=np.float64)
        cat = np.full(r.shape, -1, dtype=np.int64)
        cat[np.isclose(r, 0.0, rtol=0.0, atol=1e-9)] = 2
        cat[np.isclose(r, self.format_reward, rtol=0.0, atol=1e-9)] = 1
        cat[r >= self.correct_reward] = 0
        if np.any(cat < 0):
            raise ValueError(
                f"graded rewards must be 0, {self.format_reward} or >= {self.correct_reward}; "
                f"got {describe_bad(r[cat < 0])}"
            )
        return cat

    needs_rewards: ClassVar[bool] = True

    def observe(self, ids, rewards, successes, trials, *, fractional=False) -> None:
        """Take one round's rollouts from their graded ``rewards`` (:meth:`update_from_rewards`;
        the binary counts are not enough)."""
        self.update_from_rewards(ids, rewards)

    def update(self, ids, successes, trials, *, discount=None, fractional=False) -> None:
        raise ValueError(
            "a DirichletBelief needs the graded rewards, not binary counts: call "
            "update_from_rewards(ids, rewards)"
        )

    def update_from_rewards(
        self, ids: ArrayLike, rewards: ArrayLike, *, discount: float | None = None
    ) -> None:
        r"""Discount (Eq. 6) and add each group's category counts (conjugate, exact).

        .. math::
            \mathbf c' = \lambda \mathbf c + (1 - \lambda)\mathbf c_0 + \mathbf x

        Parameters
        ----------
        ids : array_like of int, shape (G,)
            Prompt ids; repeated ids are one step's evidence (counts summed, one discount).
        rewards : array_like, shape (G, K)
            Graded rewards of each group. Atomic: on any error nothing changes.
        """
        ids_arr = check_ids(ids, "ids", self.n_prompts)
        r = np.asarray(rewards, dtype=np.float64)
        if r.ndim != 2 or r.shape[0] != ids_arr.size:
            raise ValueError(f"rewards must have shape (len(ids), K), got {r.shape}")
        lam = (
            self.discount
            if discount is None
            else check_real(discount, "discount", low=0.0, high=1.0)
        )
        cat = self.categorize(r)
        if ids_arr.size == 0:
            return
        counts = np.stack([(cat == j).sum(axis=1) for j in range(3)], axis=1).astype(np.float64)
        unique, inverse = np.unique(ids_arr, return_inverse=True)
        summed = np.zeros((unique.size, 3))
        np.add.at(summed, inverse, counts)
        self._counts[unique] = (
            lam * self._counts[unique] + (1.0 - lam) * self.prior_concentration + summed
        )
        self._alpha[unique] = self._counts[unique, 0]
        self._beta[unique] = self._counts[unique, 1] + self._counts[unique, 2]

    def grow(self, n_new: int) -> np.ndarray:
        out = super().grow(n_new)
        self._counts = np.concatenate(
            [self._counts, np.tile(self.prior_concentration, (out.size, 1))]
        )
        return out

    def copy(self) -> DirichletBelief:
        other = DirichletBelief(
            1, correct_reward=self.correct_reward, format_reward=self.format_reward,
            alpha0=self.alpha0, beta0=self.beta0, discount=self.discount,
        )  # fmt: skip
        other._counts = self._counts.copy()
        other._sync()
        return other

    def state_dict(self) -> dict[str, Any]:
        """The binary view's state plus the category concentrations and reward values."""
        return {
            **super().state_dict(),
            "concentration": self._counts.copy(),
            "correct_reward": self.correct_reward,
            "format_reward": self.format_reward,
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> DirichletBelief:
        if "concentration" not in state:
            raise ValueError("a Dirichlet belief's state needs its concentration (N, 3)")
        plain = BetaBelief.from_state_dict(state)
        counts = np.asarray(state["concentration"], dtype=np.float64)
        if counts.shape != (plain.n_prompts, 3) or not np.all(np.isfinite(counts) & (counts > 0)):
            raise ValueError(f"saved concentration must be ({plain.n_prompts}, 3), finite, > 0")
        out = cls(
            plain.n_prompts,
            correct_reward=float(np.asarray(state["correct_reward"])),
            format_reward=float(np.asarray(state["format_reward"])),
            alpha0=plain.alpha0,
            beta0=plain.beta0,
            discount=plain.discount,
        )
        out._counts = counts.copy()
        out._sync()
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        other = DirichletBelief.from_state_dict(state)
        if (other.correct_reward, other.format_reward) != (self.correct_reward, self.format_reward):
            raise ValueError("state has other reward values than this belief")
        self.alpha0, self.beta0, self.discount = other.alpha0, other.beta0, other.discount
        self._counts = other._counts
        self._sync()
