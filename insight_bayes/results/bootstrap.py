"""The units of a comparison and their bootstrap: seeds, or (draw, seed) resampled in two
stages; percentile intervals; how much of a measure's variance lies between task draws.

The one home of the resampling every table of :mod:`insight_bayes.results` uses
(:mod:`~insight_bayes.results.targets` explains the design).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from insight_bayes.validation import RngLike, as_generator

__all__ = ["between_draw_share", "hierarchical_bootstrap_index"]


def _run_keys(df: pd.DataFrame) -> list[str]:
    """``scenario``, ``draw`` (when present), ``rule``, ``seed``."""
    return [c for c in ("scenario", "draw", "rule", "seed") if c in df.columns]


def _group_keys(df: pd.DataFrame) -> list[str]:
    """Keys that split a table into independent comparisons: scenario, target.

    With a ``draw`` column the scenario is the draw's own study key (nested in the
    draw), so the draws of one study are compared together: target only.
    """
    keys = ("target",) if "draw" in df.columns else ("scenario", "target")
    return [c for c in keys if c in df.columns]


def _unit_keys(df: pd.DataFrame) -> list[str]:
    """The keys of one run within a rule: ``seed``, or ``(draw, seed)`` across draws."""
    return ["draw", "seed"] if "draw" in df.columns else ["seed"]


def _unit_draws(index: pd.Index) -> np.ndarray:
    """The draw of every unit of an index made by :func:`_unit_keys` (0 without draws)."""
    if isinstance(index, pd.MultiIndex):
        return index.get_level_values("draw").to_numpy()
    return np.zeros(len(index), dtype=np.int64)


def hierarchical_bootstrap_index(
    draws: Sequence[int] | np.ndarray, n_boot: int, rng: RngLike = 0
) -> tuple[np.ndarray, np.ndarray | None]:
    """Units of every replicate of a two-stage (draws, then seeds) bootstrap.

    The units are runs labelled by their task draw. A replicate draws ``D`` draws with
    replacement among the ``D`` present, then, within each drawn draw ``d``, ``n_d``
    of its ``n_d`` units with replacement (the two-stage bootstrap of nested data,
    Davison and Hinkley 1997, sec. 3.8). Applying the same indices to a rule's and to
    the baseline's values ordered by the same ``(draw, seed)`` keeps them paired.

    Parameters
    ----------
    draws : sequence of int
        Draw label of each unit (length ``n``); with a single draw the replicate is the
        plain seed bootstrap, ``rng.integers(n, size=(n_boot, n))``, unchanged.
    n_boot : int
        Replicates.
    rng : Generator, int or None
        Source of the resampling.

    Returns
    -------
    idx : ndarray of int, shape (n_boot, L)
        Indices into the units.
    weight : ndarray of float, shape (n_boot, L), or None
        1 for the slots that count and 0 for padding (draws of unequal sizes); ``None``
        when every slot counts. Use :func:`_replicate_means`.
    """
    gen = as_generator(rng)
    draws = np.asarray(draws)
    if draws.ndim != 1 or draws.size == 0:
        raise ValueError("draws must label at least one unit")
    labels, inverse = np.unique(draws, return_inverse=True)
    if labels.size == 1:
        return gen.integers(draws.size, size=(n_boot, draws.size)), None
    sizes = np.bincount(inverse)
    n_draws, widest = labels.size, int(sizes.max())
    table = np.zeros((n_draws, widest), dtype=np.int64)  # unit indices of each draw, padded
    for d in range(n_draws):
        members = np.flatnonzero(inverse == d)
        table[d, : members.size] = members
    pick = gen.integers(n_draws, size=(n_boot, n_draws))
    n_pick = sizes[pick][..., None]  # (n_boot, D, 1)
    position = np.floor(gen.random((n_boot, n_draws, widest)) * n_pick).astype(np.int64)
    idx = table[pick[..., None], position].reshape(n_boot, n_draws * widest)
    if (sizes == widest).all():
        return idx, None
    weight = (np.arange(widest) < n_pick).astype(np.float64).reshape(n_boot, n_draws * widest)
    return idx, weight


def _replicate_means(values: np.ndarray, idx: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
    """Mean of ``values`` over each replicate of :func:`hierarchical_bootstrap_index`."""
    if weight is None:
        return values[idx].mean(axis=1)
    return (values[idx] * weight).sum(axis=1) / weight.sum(axis=1)


def between_draw_share(values: np.ndarray, draws: np.ndarray) -> float:
    r"""Share of the variance of per-run ``values`` that lies between task draws.

    .. math::
        \frac{\sum_d n_d (\bar x_d - \bar x)^2}{\sum_{d,s} (x_{ds} - \bar x)^2}
        \in [0, 1],

    the between-draw sum of squares over the total (one-way ANOVA's eta squared). The
    speed-up tables apply it to each run's log speed-up, ``log T_base - log T_rule``
    (dimensionless), the AUC table to each run's AUC gain. 0 when every draw has the same
    mean; 1 when seeds agree within every draw; 0 when the values do not vary at all
    (agree to 12 significant digits: a rule exactly twice as fast in every run).
    """
    values = np.asarray(values, dtype=np.float64)
    draws = np.asarray(draws)
    if not np.isfinite(values).all():
        raise ValueError("between_draw_share needs finite values")
    if np.ptp(values) <= 1e-12 * max(1.0, float(np.abs(values).max())):
        return 0.0
    total = float(np.sum((values - values.mean()) ** 2))
    labels, inverse = np.unique(draws, return_inverse=True)
    means = np.bincount(inverse, weights=values) / np.bincount(inverse)
    between = float(np.sum(np.bincount(inverse) * (means - values.mean()) ** 2))
    return min(between / total, 1.0)


def _paired_effects(
    base: pd.Series, rule: pd.Series, transform: str
) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-unit effects of ``rule`` versus ``base`` (Series indexed by (draw, seed)).

    ``transform = "log"``: ``log base - log rule``; ``"diff"``: ``rule - base``. A unit
    without a baseline run at its (draw, seed) is compared with the baseline's mean
    (of the log, for "log") in its draw; draws without baseline runs are left out.
    ``None`` when a log is undefined (a cost of 0).
    """
    if transform == "log":
        if (base <= 0).any() or (rule <= 0).any():
            return None
        base, rule = np.log(base), np.log(rule)
    draw_mean = base.groupby(level="draw").mean()
    ref = pd.Series(
        [base.get(k, draw_mean.get(k[0], np.nan)) for k in rule.index], index=rule.index
    )
    keep = ref.notna().to_numpy()
    effect = (ref - rule) if transform == "log" else (rule - ref)
    return effect.to_numpy(float)[keep], _unit_draws(rule.index)[keep]


def _shared_units(base: pd.Index, rule: pd.Index, min_shared: int = 2) -> list | None:
    """The units (seeds, or (draw, seed)) both a rule and the baseline ran, sorted.

    A comparison is paired on them when there are at least ``min_shared``; ``None``
    otherwise (the comparison is then of the two rules' means). A study cut short (a
    time budget that trained the baseline's next seed but not every rule's) still
    compares on the seeds every rule has.
    """
    shared = sorted(set(base) & set(rule))
    return shared if len(shared) >= min_shared else None


def _percentile_interval(boot: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1.0 - level) / 2.0
    return float(np.quantile(boot, tail)), float(np.quantile(boot, 1.0 - tail))
