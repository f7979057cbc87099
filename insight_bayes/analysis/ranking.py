"""Does the simulator predict a harness study's ranking of rules?

A pool composition is fitted to the study's starting success rates (the warm-up
policy's per-prompt rates, :func:`starting_rates`, :func:`fit_composition`); the
learning simulator runs with the study's ``M``, ``K``, ``M_hat`` and steps
(:func:`simulator_scenario`; the sweep itself is ``insight-bayes sweep-like-study``);
and the rules' ranks by mean held-out accuracy over the run (area under the curve, no
target needed, :func:`heldout_auc`) are compared with Spearman's rho and Kendall's tau
(:func:`rank_agreement`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from simulations.environments import PoolComposition
    from simulations.scenarios import Scenario

__all__ = [
    "fit_composition",
    "heldout_auc",
    "rank_agreement",
    "simulator_scenario",
    "starting_rates",
]


def starting_rates(pool: pd.DataFrame, prompts: pd.DataFrame) -> np.ndarray:
    """Per-prompt success rates of the warm-up policy (first-visit rates as fallback).

    Parameters
    ----------
    pool : DataFrame
        A study's ``pool`` table (``warmup_rate`` per prompt when measured).
    prompts : DataFrame
        A study's ``prompts`` table (``step, prompt_id, successes, trials``), used when
        ``pool`` has no warm-up rates.

    Returns
    -------
    ndarray, shape (N,)
        Finite rates in [0, 1].
    """
    rates = pool["warmup_rate"].to_numpy(np.float64) if "warmup_rate" in pool else None
    if rates is None or np.isnan(rates).all():
        first = prompts.sort_values("step").groupby("prompt_id").head(1)
        rates = (first["successes"] / first["trials"]).to_numpy(np.float64)
    return rates[np.isfinite(rates)]


def fit_composition(rates: np.ndarray, edge: float = 0.01) -> PoolComposition:
    """A :class:`~simulations.environments.PoolComposition` matching observed rates.

    Shares of rates at 0 and at 1 become the unsolvable and solved shares; the rest is
    fitted with a Beta by the method of moments (``Beta(1, 1)`` when fewer than 2 rates
    or no spread).

    Parameters
    ----------
    rates : array_like, shape (N,)
        Observed success rates in [0, 1].
    edge : float
        The composition's margin around 0 and 1 (see ``PoolComposition``).

    Examples
    --------
    >>> comp = fit_composition([0.0, 0.0, 1.0, 0.2, 0.4, 0.6])
    >>> round(comp.unsolvable_share, 3), round(comp.solved_share, 3)
    (0.333, 0.167)
    """
    from simulations.environments import PoolComposition

    r = np.asarray(rates, dtype=np.float64)
    if r.size == 0 or np.any((r < 0) | (r > 1)):
        raise ValueError(f"rates must be a non-empty array in [0, 1], got {r!r}")
    low, high = float(np.mean(r <= 0.0)), float(np.mean(r >= 1.0))
    mid = r[(r > 0.0) & (r < 1.0)]
    a = b = 1.0
    if mid.size >= 2 and mid.var() > 0:
        m, v = mid.mean(), mid.var()
        common = max(m * (1 - m) / v - 1.0, 0.1)
        a, b = float(max(m * common, 0.05)), float(max((1 - m) * common, 0.05))
    return PoolComposition(
        unsolvable_share=low, solved_share=high, mid_alpha=a, mid_beta=b, edge=edge
    )


def simulator_scenario(config: Mapping[str, Any], rates: np.ndarray) -> Scenario:
    """A learning scenario with a study's starting rates, M, K, M_hat and steps.

    Parameters
    ----------
    config : mapping
        The study's configuration as saved in its manifest (``task``, ``loop``
        sections).
    rates : array_like
        The study's starting success rates (:func:`starting_rates`).

    Returns
    -------
    Scenario
        Named ``harness-like-<digest>``: the digest covers the whole configuration, so
        results folders never mix runs of two different harness-like pools.
    """
    from insight_bayes.loop import LoopConfig
    from simulations.environments import LearningConfig, Verifier
    from simulations.scenarios import Scenario

    comp = fit_composition(rates)
    loop = config.get("loop", {})
    task = config.get("task", {})
    scenario = Scenario(
        name="harness-like",
        version=1,
        description=(
            f"learning pool shaped like the harness's starting rates: {comp.unsolvable_share:.0%} "
            f"at 0, {comp.solved_share:.0%} at 1, the rest Beta({comp.mid_alpha:.2f}, "
            f"{comp.mid_beta:.2f})"
        ),
        env=LearningConfig(
            pool_size=int(task.get("pool_size", len(rates))),
            heldout_size=max(int(task.get("test_size", 128)), 128),
            n_groups=4,
            composition=comp,
            verifier=Verifier(),
        ),
        loop=LoopConfig(
            m=int(loop.get("m", 32)),
            k=int(loop.get("k", 8)),
            steps=int(loop.get("steps", 100)),
            candidate_ratio=float(loop.get("candidate_ratio", 16)),
            eval_every=1,
        ),
        target_accuracy=0.6,
    )
    digest = hashlib.sha256(repr(scenario).encode()).hexdigest()[:8]
    return scenario.with_changes(name=f"harness-like-{digest}")


def heldout_auc(steps: pd.DataFrame, metric: str) -> pd.Series:
    """Mean of ``metric`` over the evaluated training steps of each run, averaged per rule.

    The area under the held-out curve divided by its length: a ranking measure that
    needs no target. Step 0 (before training) is left out.

    Returns
    -------
    Series
        Indexed by rule.
    """
    evaluated = steps[steps[metric].notna() & (steps["step"] > 0)]
    return evaluated.groupby(["rule", "seed"])[metric].mean().groupby("rule").mean()


def rank_agreement(
    harness_steps: pd.DataFrame,
    simulator_steps: pd.DataFrame,
    rules: Sequence[str],
    *,
    harness_metric: str = "eval/pass1",
    simulator_metric: str = "eval/accuracy",
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Ranks of ``rules`` by held-out AUC in the harness and in the simulator.

    Parameters
    ----------
    harness_steps, simulator_steps : DataFrame
        The study's and the harness-like sweep's steps tables.
    rules : sequence of str
        The rules to rank (the study's), in table order.
    harness_metric, simulator_metric : str
        The held-out metric of each.

    Returns
    -------
    table : DataFrame
        ``rule, harness_auc, simulator_auc, harness_rank, simulator_rank`` (rank 1: the
        largest AUC).
    stat : dict
        ``spearman_rho, spearman_p, kendall_tau, kendall_p, n_rules`` (NaN with fewer
        than 3 rules or when one side does not vary).
    """
    from scipy import stats

    rules = list(rules)
    table = pd.DataFrame(
        {
            "harness_auc": heldout_auc(harness_steps, harness_metric),
            "simulator_auc": heldout_auc(simulator_steps, simulator_metric),
        }
    ).reindex(rules)
    table["harness_rank"] = table["harness_auc"].rank(ascending=False)
    table["simulator_rank"] = table["simulator_auc"].rank(ascending=False)
    stat: dict[str, float] = {"n_rules": float(len(rules))}
    constant = table["harness_auc"].nunique() < 2 or table["simulator_auc"].nunique() < 2
    if len(rules) >= 3 and not constant:
        rho = stats.spearmanr(table["harness_auc"], table["simulator_auc"])
        tau = stats.kendalltau(table["harness_auc"], table["simulator_auc"])
        stat.update(
            spearman_rho=float(rho.statistic),
            spearman_p=float(rho.pvalue),
            kendall_tau=float(tau.statistic),
            kendall_p=float(tau.pvalue),
        )
    else:
        stat.update(spearman_rho=np.nan, spearman_p=np.nan, kendall_tau=np.nan, kendall_p=np.nan)
    table = table.reset_index().rename(columns={"index": "rule"})
    return table, stat
