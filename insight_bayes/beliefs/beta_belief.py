"""The Beta belief over every prompt's success rate and its discounted update (Eq. 3, 6).

``BetaBelief`` holds two float64 arrays, ``alpha`` and ``beta``, one entry per prompt
of the pool, and knows nothing of models or selection rules.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike

from insight_bayes.beliefs.prior import EmpiricalBayesPrior
from insight_bayes.validation import (
    SavedFileError,
    check_ids,
    check_int,
    check_real,
    describe_bad,
    read_npz_file,
)

__all__ = ["BELIEF_FORMAT_VERSION", "BetaBelief", "read_only"]

#: Version tag written into saved beliefs; bump when the layout changes.
BELIEF_FORMAT_VERSION = 1


def read_only(array: np.ndarray) -> np.ndarray:
    """A view of ``array`` that refuses writes: how every belief hands out its state."""
    view = array.view()
    view.flags.writeable = False
    return view


class BetaBelief:
    r"""Independent ``Beta(alpha_i, beta_i)`` beliefs over the success rates of N prompts.

    Parameters
    ----------
    n_prompts : int
        Pool size ``N >= 1``.
    alpha0, beta0 : float, default 1.0
        Prior (Eq. 3), finite and > 0; also the target the discount forgets toward.
    discount : float, default 1.0
        ``lambda`` of Eq. 6 in [0, 1]; 1 is plain conjugate updating (the paper's
        setting), smaller values forget old evidence as the policy drifts.
    prior : EmpiricalBayesPrior, optional
        A prior learned from the pool (:mod:`insight_bayes.beliefs.prior`) in place of
        ``(alpha0, beta0)``. The belief then keeps each prompt's discounted counts
        ``S_i <- lambda S_i + s``, ``F_i <- lambda F_i + f`` and, whenever the prior is
        refitted, ``alpha_i = a0[g_i] + S_i``, ``beta_i = b0[g_i] + F_i`` (Eq. 6
        forgets toward the learned prior). Between refits the update is Eq. 6 with
        per-prompt ``(a0, b0)``.

    Attributes
    ----------
    alpha, beta : ndarray, shape (N,)
        Current parameters (read-only views; change them through :meth:`update`).

    Examples
    --------
    >>> belief = BetaBelief(3)
    >>> belief.update([0, 0, 2], successes=[2, 1, 0], trials=[4, 4, 4])
    >>> belief.alpha.tolist(), belief.beta.tolist()
    ([4.0, 1.0, 1.0], [6.0, 1.0, 5.0])
    """

    def __init__(
        self,
        n_prompts: int,
        *,
        alpha0: float = 1.0,
        beta0: float = 1.0,
        discount: float = 1.0,
        prior: EmpiricalBayesPrior | None = None,
    ) -> None:
        n_prompts = check_int(n_prompts, "n_prompts", min_value=1)
        self.alpha0 = check_real(alpha0, "alpha0", low=0.0, low_inclusive=False)
        self.beta0 = check_real(beta0, "beta0", low=0.0, low_inclusive=False)
        self.discount = check_real(discount, "discount", low=0.0, high=1.0)
        self._alpha = np.full(n_prompts, self.alpha0)
        self._beta = np.full(n_prompts, self.beta0)
        self.prior = None
        if prior is not None:
            self._attach_prior(prior, np.zeros(n_prompts), np.zeros(n_prompts))

    # ------------------------------------------------------------ learned prior
    def _attach_prior(
        self, prior: EmpiricalBayesPrior, successes: np.ndarray, failures: np.ndarray
    ) -> None:
        if not isinstance(prior, EmpiricalBayesPrior):
            raise TypeError(f"prior must be an EmpiricalBayesPrior, got {type(prior).__name__}")
        if prior.n_prompts != self.n_prompts:
            raise ValueError(
                f"the prior covers {prior.n_prompts} prompts but the belief {self.n_prompts}"
            )
        self.prior = prior
        self._successes, self._failures = successes, failures
        BetaBelief._prior_moved(self)

    def _prior_moved(self) -> None:
        """Re-derive ``alpha = a0[g] + S``, ``beta = b0[g] + F`` after a refit."""
        a0, b0 = self.prior.alpha_beta()
        self._alpha, self._beta = a0 + self._successes, b0 + self._failures

    # ------------------------------------------------------------------ views
    @property
    def alpha(self) -> np.ndarray:
        return read_only(self._alpha)

    @property
    def beta(self) -> np.ndarray:
        return read_only(self._beta)

    @property
    def n_prompts(self) -> int:
        return self._alpha.size

    def __len__(self) -> int:
        return self._alpha.size

    @property
    def mean(self) -> np.ndarray:
        """Mean belief ``m = alpha / (alpha + beta)`` (the paper's phi-bar)."""
        return self._alpha / (self._alpha + self._beta)

    @property
    def evidence(self) -> np.ndarray:
        """Evidence ``n = alpha + beta`` (pseudo-count of observed rollouts plus prior)."""
        return self._alpha + self._beta

    def __repr__(self) -> str:
        prior = (self.alpha0, self.beta0) if self.prior is None else self.prior
        return (
            f"BetaBelief(n_prompts={self.n_prompts}, prior={prior}, "
            f"discount={self.discount}, mean evidence={self.evidence.mean():.3g})"
        )

    # ----------------------------------------------------------------- update
    #: Whether :meth:`observe` reads the raw rewards rather than the counts (a belief over
    #: graded rewards); a replay of counts alone cannot rebuild such a belief.
    needs_rewards: ClassVar[bool] = False

    def observe(
        self,
        ids: ArrayLike,
        rewards: ArrayLike,
        successes: ArrayLike,
        trials: ArrayLike,
        *,
        fractional: bool = False,
    ) -> None:
        """Take one round's rollouts: the selection loop's and the online selector's update.

        A belief over success rates uses the counts (:meth:`update`, Eq. 6; ``successes``
        and ``trials`` are :func:`~insight_bayes.rewards.binarize_rewards` of ``rewards``);
        a belief over graded rewards (:class:`~insight_bayes.beliefs.dirichlet.DirichletBelief`)
        overrides this to read ``rewards``. Atomic, as :meth:`update`.
        """
        self.update(ids, successes, trials, fractional=fractional)

    def update(
        self,
        ids: ArrayLike,
        successes: ArrayLike,
        trials: ArrayLike,
        *,
        discount: float | None = None,
        fractional: bool = False,
    ) -> None:
        r"""Discounted conjugate update of the prompts in ``ids`` (Eq. 6).

        .. math::
            \alpha' = \lambda \alpha + (1 - \lambda)\alpha_0 + S, \qquad
            \beta'  = \lambda \beta  + (1 - \lambda)\beta_0  + K - S

        Only the listed prompts change. An id repeated within one call is one step's
        evidence for that prompt: its successes and trials are summed and the discount
        is applied once, so the result does not depend on the order of the rows.
        The update is atomic: on any error the belief is left unchanged.

        Parameters
        ----------
        ids : array_like of int, shape (G,)
            Prompt indices in ``[0, N)``.
        successes, trials : array_like, shape (G,)
            Successes ``S`` and rollouts ``K`` of each group, ``0 <= S <= K``.
            Successes must be integers unless ``fractional=True``.
        discount : float, optional
            ``lambda`` for this call; defaults to the belief's ``discount``.
        fractional : bool, default False
            Accept non-integer successes (fractional counts of graded rewards in
            [0, 1], see :func:`binarize_rewards`). Off by default so that a graded
            reward cannot enter a binary belief by accident.
        """
        ids_arr = check_ids(ids, "ids", self.n_prompts)
        lam = (
            self.discount
            if discount is None
            else check_real(discount, "discount", low=0.0, high=1.0)
        )
        s = np.asarray(successes, dtype=np.float64)
        t = np.asarray(trials, dtype=np.float64)
        for name, arr in (("successes", s), ("trials", t)):
            if arr.shape != ids_arr.shape:
                raise ValueError(
                    f"{name} must have the shape of ids {ids_arr.shape}, got {arr.shape}"
                )
            ok = np.isfinite(arr) & (arr >= 0)
            if not np.all(ok):
                raise ValueError(f"{name} must be finite and >= 0; got {describe_bad(arr[~ok])}")
        if np.any(t != np.round(t)):
            raise ValueError(
                f"trials must be whole numbers of rollouts; got {describe_bad(t[t != np.round(t)])}"
            )
        if np.any(s > t):
            bad = s > t
            raise ValueError(
                f"successes must not exceed trials; got successes {s[bad][:3].tolist()} "
                f"for trials {t[bad][:3].tolist()}"
            )
        if not fractional and np.any(s != np.round(s)):
            raise ValueError(
                "successes must be whole numbers; got "
                f"{describe_bad(s[s != np.round(s)])}. Binarise graded rewards with "
                "binarize_rewards(..., mode='binary') or pass fractional=True"
            )
        if ids_arr.size == 0:
            return
        unique, inverse = np.unique(ids_arr, return_inverse=True)
        s_sum = np.bincount(inverse, weights=s, minlength=unique.size)
        t_sum = np.bincount(inverse, weights=t, minlength=unique.size)
        if self.prior is None:
            a0, b0 = self.alpha0, self.beta0
        else:
            a0, b0 = self.prior.alpha_beta(unique)
            counts_s, counts_f = self._successes.copy(), self._failures.copy()
            counts_s[unique] = lam * counts_s[unique] + s_sum
            counts_f[unique] = lam * counts_f[unique] + (t_sum - s_sum)
            moved = self.prior.observe(counts_s, counts_f)  # changes nothing if it raises
            self._successes, self._failures = counts_s, counts_f
        self._alpha[unique] = lam * self._alpha[unique] + (1.0 - lam) * a0 + s_sum
        self._beta[unique] = lam * self._beta[unique] + (1.0 - lam) * b0 + (t_sum - s_sum)
        if self.prior is not None and moved:
            self._prior_moved()

    # ------------------------------------------------------------ pool growth
    def grow(self, n_new: int, *, groups: ArrayLike | None = None) -> np.ndarray:
        """Append ``n_new`` prompts at the prior; return their ids.

        ``groups`` (shape ``(n_new,)``) are their group ids, needed by (and only by) a
        learned prior per group.
        """
        n_new = check_int(n_new, "n_new", min_value=0)
        start = self.n_prompts
        new = np.arange(start, start + n_new)
        if self.prior is not None:
            if groups is not None and np.asarray(groups).size != n_new:
                raise ValueError(f"groups must give one id per new prompt ({n_new})")
            self.prior.grow(groups, n_new=n_new)
            a0, b0 = self.prior.alpha_beta(new)
            self._successes = np.concatenate([self._successes, np.zeros(n_new)])
            self._failures = np.concatenate([self._failures, np.zeros(n_new)])
        elif groups is not None:
            raise ValueError("group ids are for a belief with a learned prior per group")
        else:
            a0, b0 = np.full(n_new, self.alpha0), np.full(n_new, self.beta0)
        self._alpha = np.concatenate([self._alpha, a0])
        self._beta = np.concatenate([self._beta, b0])
        return new

    def copy(self) -> BetaBelief:
        other = BetaBelief.__new__(BetaBelief)
        other.alpha0, other.beta0, other.discount = self.alpha0, self.beta0, self.discount
        other._alpha = self._alpha.copy()
        other._beta = self._beta.copy()
        other.prior = None
        if self.prior is not None:
            other.prior = self.prior.copy()
            other._successes, other._failures = self._successes.copy(), self._failures.copy()
        return other

    # ------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, Any]:
        """Plain-data state (arrays and floats) for a trainer's checkpoint.

        A learned prior adds its state under ``prior_*`` keys and the counts under
        ``prior_successes`` and ``prior_failures`` (absent without one, so files written
        before learned priors existed read back unchanged).
        """
        state = {
            "format_version": BELIEF_FORMAT_VERSION,
            "alpha": self._alpha.copy(),
            "beta": self._beta.copy(),
            "alpha0": self.alpha0,
            "beta0": self.beta0,
            "discount": self.discount,
        }
        if self.prior is not None:
            state.update({f"prior_{k}": v for k, v in self.prior.state_dict().items()})
            state["prior_successes"] = self._successes.copy()
            state["prior_failures"] = self._failures.copy()
        return state

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> BetaBelief:
        """Rebuild a belief from :meth:`state_dict`; refuses unknown versions and bad values."""
        version = int(np.asarray(state.get("format_version", -1)))
        if version != BELIEF_FORMAT_VERSION:
            raise ValueError(
                f"belief format_version {version} is not supported "
                f"(expected {BELIEF_FORMAT_VERSION})"
            )
        alpha = np.asarray(state["alpha"], dtype=np.float64)
        beta = np.asarray(state["beta"], dtype=np.float64)
        if alpha.ndim != 1 or alpha.shape != beta.shape:
            raise ValueError(
                f"alpha and beta must be 1-d of equal shape, got {alpha.shape} and {beta.shape}"
            )
        for name, arr in (("alpha", alpha), ("beta", beta)):
            if not np.all(np.isfinite(arr) & (arr > 0)):
                raise ValueError(f"saved {name} must be finite and > 0")
        out = cls(
            alpha.size,
            alpha0=float(np.asarray(state["alpha0"])),
            beta0=float(np.asarray(state["beta0"])),
            discount=float(np.asarray(state["discount"])),
        )
        if "prior_format_version" in state:
            counts = {}
            for key in ("prior_successes", "prior_failures"):
                arr = np.asarray(state[key], dtype=np.float64)
                if arr.shape != alpha.shape or not np.all(np.isfinite(arr) & (arr >= 0)):
                    raise ValueError(f"saved {key} must be {alpha.size} finite counts >= 0")
                counts[key] = arr.copy()
            prior = EmpiricalBayesPrior.from_state_dict(
                {k[len("prior_") :]: v for k, v in state.items() if k.startswith("prior_")}
            )
            out._attach_prior(prior, counts["prior_successes"], counts["prior_failures"])
        out._alpha = alpha.copy()
        out._beta = beta.copy()
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replace this belief's state in place (validated first)."""
        other = BetaBelief.from_state_dict(state)
        self.alpha0, self.beta0, self.discount = other.alpha0, other.beta0, other.discount
        self._alpha, self._beta = other._alpha, other._beta
        self.prior = other.prior
        if other.prior is not None:
            self._successes, self._failures = other._successes, other._failures

    def save(self, path: str | Path) -> Path:
        """Write the belief to a ``.npz`` file (no pickle), atomically; returns the path.

        Every field of :meth:`state_dict` is written: its arrays as arrays, the rest as
        JSON in ``meta``, so a subclass (a tracking, noisy or graded belief) is saved
        whole and read back by its own :meth:`load`.
        """
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(".npz")
        import io

        from insight_bayes.atomic import atomic_write_bytes

        state = self.state_dict()
        arrays = {k: v for k, v in state.items() if isinstance(v, np.ndarray)}
        meta = {k: np.asarray(v).tolist() for k, v in state.items() if k not in arrays}
        buffer = io.BytesIO()
        np.savez(buffer, **arrays, meta=np.array(json.dumps(meta)))
        atomic_write_bytes(path, buffer.getvalue())  # a crash never leaves half a file
        return path

    @classmethod
    def load(cls, path: str | Path) -> BetaBelief:
        """Read a belief written by :meth:`save`.

        Raises ``FileNotFoundError`` if there is no such file, and
        :class:`~insight_bayes.validation.SavedFileError` (a ``ValueError``) naming the
        file and what was expected if it is corrupt, truncated, of another kind or
        holds invalid values.
        """
        path = Path(path)
        expected = "a belief written by BetaBelief.save (arrays alpha, beta and meta)"
        data = read_npz_file(path, expected, ("alpha", "beta", "meta"))
        try:
            meta = json.loads(str(data["meta"]))
            if not isinstance(meta, dict):
                raise ValueError(f"meta must be a JSON object, got {type(meta).__name__}")
            arrays = {k: v for k, v in data.items() if k != "meta"}
            return cls.from_state_dict({**meta, **arrays})
        except (ValueError, KeyError, TypeError) as err:
            message = f"missing field {err}" if isinstance(err, KeyError) else str(err)
            raise SavedFileError(f"{path}: {message}; expected {expected}") from None
