"""What a harness study's Random runs tell the simulator: the starting pool and the curves.

:func:`harness_record` reads a study folder into a :class:`HarnessRecord`: the warm-up
pool's counts and tiers (each tier a Beta prior, :func:`fit_tier_priors`), Random's
held-out curve and its per-step training success. :class:`EmpiricalLearningConfig` is
the learning pool that starts from those counts. The fit itself is
:mod:`simulations.calibrate`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from insight_bayes.validation import RngLike, as_generator
from simulations.environments import LearningConfig, LearningPool

__all__ = ["EmpiricalLearningConfig", "HarnessRecord", "fit_tier_priors", "harness_record"]


# ---------------------------------------------------------------- the starting pool
def fit_tier_priors(
    successes: np.ndarray, trials: np.ndarray, tiers: np.ndarray
) -> dict[int, tuple[float, float]]:
    r"""Maximum-likelihood Beta prior of each tier from Beta-Binomial counts.

    For tier ``t`` with counts ``(s_i, n_i)``, maximises
    :math:`\sum_i \log \mathrm{BetaBin}(s_i \mid n_i, a_t, b_t)` over ``a_t, b_t`` in
    ``[1e-3, 1e3]`` (log scale). A tier whose counts are all 0 gets a prior piled near 0
    (``a_t`` at its lower bound), as it should.

    Parameters
    ----------
    successes, trials : array_like of int, shape (N,)
        Warm-up successes and samples per prompt, ``0 <= s <= n``, ``n >= 1``.
    tiers : array_like of int, shape (N,)
        Tier (skill group) of each prompt.

    Returns
    -------
    dict
        ``{tier: (a_t, b_t)}``.
    """
    s = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    t = np.asarray(tiers)
    if not (s.shape == n.shape == t.shape) or s.ndim != 1 or s.size == 0:
        raise ValueError("successes, trials and tiers must be 1-D arrays of one length >= 1")
    if np.any(n < 1) or np.any(s < 0) or np.any(s > n) or np.any(s != np.round(s)):
        raise ValueError("need whole successes with 0 <= successes <= trials and trials >= 1")
    priors: dict[int, tuple[float, float]] = {}
    for tier in np.unique(t):
        si, ni = s[t == tier], n[t == tier]

        def nll(x: np.ndarray, si: np.ndarray = si, ni: np.ndarray = ni) -> float:
            a, b = np.exp(np.clip(x, np.log(1e-3), np.log(1e3)))
            return -float(stats.betabinom.logpmf(si, ni, a, b).sum())

        mean = (si.sum() + 0.5) / (ni.sum() + 1.0)
        start = np.log([max(mean, 1e-3), max(1.0 - mean, 1e-3)])
        res = optimize.minimize(nll, start, method="Nelder-Mead", options={"xatol": 1e-4})
        a, b = np.exp(np.clip(res.x, np.log(1e-3), np.log(1e3)))
        priors[int(tier)] = (float(a), float(b))
    return priors


@dataclass(frozen=True)
class EmpiricalLearningConfig(LearningConfig):
    """A :class:`~simulations.environments.LearningConfig` whose pool is a measured one.

    Each training prompt's skill group is its measured tier and its starting rate a draw
    from the posterior of its warm-up counts under the tier's prior (drawn per seed, so
    the measurement's uncertainty enters the intervals). Held-out prompts draw a tier in
    the pool's proportions and a rate from the tier's prior. Every other knob is the
    base class's.

    Attributes
    ----------
    start_successes, start_trials : tuple of int
        Warm-up counts per training prompt (``pool_size`` of them).
    start_groups : tuple of int
        Tier of each prompt, in ``[0, n_groups)``.
    tier_priors : tuple of (float, float)
        ``(a_t, b_t)`` per tier (``n_groups`` of them), see :func:`fit_tier_priors`.
    """

    start_successes: tuple[int, ...] = ()
    start_trials: tuple[int, ...] = ()
    start_groups: tuple[int, ...] = ()
    tier_priors: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        n = self.pool_size
        for name in ("start_successes", "start_trials", "start_groups"):
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"{name} needs pool_size={n} entries, got {len(getattr(self, name))}"
                )
        if len(self.tier_priors) != self.n_groups:
            raise ValueError(f"tier_priors needs n_groups={self.n_groups} pairs")
        groups = np.asarray(self.start_groups)
        if groups.min() < 0 or groups.max() >= self.n_groups:
            raise ValueError(f"start_groups must lie in [0, {self.n_groups})")
        if any(not (a > 0 and b > 0) for a, b in self.tier_priors):
            raise ValueError("tier_priors must be pairs of positive numbers")

    def build(self, rng: RngLike) -> LearningPool:
        gen = as_generator(rng)
        pool = LearningPool(self, gen)  # draws (and then replaces) a composition pool
        s = np.asarray(self.start_successes, dtype=np.float64)
        n = np.asarray(self.start_trials, dtype=np.float64)
        groups = np.asarray(self.start_groups, dtype=np.int64)
        prior = np.asarray(self.tier_priors, dtype=np.float64)
        rate0 = gen.beta(prior[groups, 0] + s, prior[groups, 1] + n - s)
        held_groups = groups[gen.integers(groups.size, size=self.heldout_size)]
        held_rate0 = gen.beta(prior[held_groups, 0], prior[held_groups, 1])
        tiny = 1e-9
        pool.groups = groups
        pool.heldout_groups = held_groups
        pool.difficulty = -special.logit(np.clip(rate0, tiny, 1 - tiny))
        pool.heldout_difficulty = -special.logit(np.clip(held_rate0, tiny, 1 - tiny))
        return pool


# ---------------------------------------------------------------- the harness record
@dataclass(frozen=True)
class HarnessRecord:
    """What the calibration fits to, read from a harness study's Random runs.

    Attributes
    ----------
    name : str
        A label (the study folder's name).
    successes, trials, tiers : ndarray, shape (N,)
        Warm-up counts and tier index (0..T-1) of every pool prompt.
    tier_labels : tuple
        The tier values (e.g. digits) of the indices.
    m, k, steps : int
        The study's batch, rollouts and horizon.
    candidate_ratio : float
    eval_steps : ndarray
        Steps at which the held-out gain is compared.
    heldout_gain, heldout_se : ndarray
        Random's mean gain of the study metric over its step-0 value, and its standard
        error over seeds (floored at a small value).
    train_bins : ndarray, shape (B + 1,)
        Edges of the step bins of the training-success curve.
    train_success, train_se : ndarray, shape (B,)
        Random's mean success of the trained groups per bin, and its standard error.
    n_seeds : int
    rules : tuple of str
        Every rule of the study.
    fractions : tuple of float
        The study's relative-target fractions.
    tier_priors : tuple of (float, float)
        Each tier's Beta prior (:func:`fit_tier_priors`), fitted on construction when
        not given.
    """

    name: str
    successes: np.ndarray
    trials: np.ndarray
    tiers: np.ndarray
    tier_labels: tuple
    m: int
    k: int
    steps: int
    candidate_ratio: float
    eval_steps: np.ndarray
    heldout_gain: np.ndarray
    heldout_se: np.ndarray
    train_bins: np.ndarray
    train_success: np.ndarray
    train_se: np.ndarray
    n_seeds: int
    rules: tuple[str, ...] = ()
    fractions: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)
    extra: dict[str, Any] = field(default_factory=dict)
    tier_priors: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        if not self.tier_priors:  # fitted once here, not at every evaluation of a fit
            priors = fit_tier_priors(self.successes, self.trials, self.tiers)
            object.__setattr__(
                self, "tier_priors", tuple(priors[t] for t in range(len(self.tier_labels)))
            )


def _binned(values: pd.DataFrame, column: str, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over seeds of ``column`` averaged within step bins."""
    v = values[values[column].notna()].copy()
    v["bin"] = np.digitize(v["step"], edges[1:-1])
    per_seed = v.groupby(["seed", "bin"])[column].mean().unstack("bin")
    per_seed = per_seed.reindex(columns=range(len(edges) - 1))
    mean = per_seed.mean().to_numpy()
    n = per_seed.notna().sum().to_numpy()
    se = per_seed.std(ddof=1).to_numpy() / np.sqrt(np.maximum(n, 1))
    return mean, se


def harness_record(
    folder: str | Path,
    *,
    tier_column: str | None = None,
    n_eval: int = 10,
    bin_width: int = 10,
    se_floor: float = 1e-3,
) -> HarnessRecord:
    """Read a harness study folder into a :class:`HarnessRecord` (Random's runs only).

    Parameters
    ----------
    folder : path
        A study folder (``manifest.json``, ``pool.parquet``, ``steps.parquet``).
    tier_column : str, optional
        The pool's tier column; default its first ``feature_*`` column (one tier when it
        has none).
    n_eval : int
        Evaluation steps compared, spread evenly over ``1..steps``.
    bin_width : int
        Steps per bin of the training-success curve.
    se_floor : float
        Smallest standard error used in the objective (keeps a flat point finite).
    """
    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    config = manifest["config"]
    study, loop = config["study"], config["loop"]
    pool = pd.read_parquet(folder / "pool.parquet").sort_values("prompt_id")
    n_rate = int(study.get("pool_rate_samples", 16))
    if "warmup_rate" not in pool or pool["warmup_rate"].isna().any():
        raise ValueError(f"{folder}/pool.parquet lacks measured warm-up rates (warmup_rate)")
    successes = np.round(pool["warmup_rate"].to_numpy() * n_rate)
    trials = np.full(successes.size, float(n_rate))
    features = [c for c in pool.columns if c.startswith("feature_")]
    column = tier_column or (features[0] if features else None)
    if column is None:
        labels, tiers = (0,), np.zeros(successes.size, dtype=np.int64)
    else:
        labels_arr, tiers = np.unique(pool[column].to_numpy(), return_inverse=True)
        labels = tuple(labels_arr.tolist())
    metric = study["metric"]
    steps = pd.read_parquet(folder / "steps.parquet")
    base = study.get("baseline", "random")
    random = steps[steps["rule"] == base]
    if random.empty:
        raise ValueError(f"{folder} has no runs of the baseline {base!r}")
    horizon = int(loop["steps"])
    evaluated = random[random[metric].notna()]
    start = evaluated[evaluated["step"] == 0].set_index("seed")[metric]
    gain = evaluated.assign(gain=evaluated[metric] - evaluated["seed"].map(start))
    eval_steps = np.unique(np.linspace(1, horizon, n_eval).round().astype(int))
    at = gain[gain["step"].isin(eval_steps)].pivot_table(
        index="seed", columns="step", values="gain"
    )
    at = at.reindex(columns=eval_steps)
    if at.isna().any().any():
        raise ValueError(f"{folder}: {metric} is not evaluated at every step {eval_steps.tolist()}")
    edges = np.arange(1, horizon + 2, bin_width, dtype=float)
    if edges[-1] < horizon + 1:
        edges = np.append(edges, horizon + 1)
    train_mean, train_se = _binned(random, "train/correct", edges)
    n_seeds = int(random["seed"].nunique())
    return HarnessRecord(
        name=folder.name,
        successes=successes,
        trials=trials,
        tiers=tiers.astype(np.int64),
        tier_labels=labels,
        m=int(loop["m"]),
        k=int(loop["k"]),
        steps=horizon,
        candidate_ratio=float(loop.get("candidate_ratio", 8)),
        eval_steps=eval_steps,
        heldout_gain=at.mean().to_numpy(),
        heldout_se=np.maximum(at.std(ddof=1).to_numpy() / np.sqrt(len(at)), se_floor),
        train_bins=edges,
        train_success=train_mean,
        train_se=np.maximum(train_se, se_floor),
        n_seeds=n_seeds,
        rules=tuple(dict.fromkeys(steps["rule"])),
        fractions=tuple(study.get("target_fractions") or (0.25, 0.5, 0.75, 1.0)),
        extra={"metric": metric, "start": float(start.mean()), "folder": str(folder)},
    )
