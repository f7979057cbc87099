"""Every rule's next batch scored in expectation against an oracle that knows the rates."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from simulations.scenarios import Scenario

__all__ = ["oracle_ceiling"]


def oracle_ceiling(
    scenario: str | Scenario, *, seed: int = 0, warmup_steps: int = 10, n_samples: int = 100
) -> pd.DataFrame:
    """Every rule's expected informative groups and information gain against the oracle.

    The scenario's pool (seed ``seed``) is trained on by Random for ``warmup_steps``
    steps (in memory: nothing is written); then every rule's next batch is scored in
    expectation under the true rates (:func:`simulations.analytic.compare_rules`) from
    one draw of ``M_hat`` candidates.

    Parameters
    ----------
    scenario : str or Scenario
        A registered scenario name or a scenario.
    seed : int
        Seed of the pool, of the warm-up loop and of the candidate draw.
    warmup_steps : int
        Random steps before the comparison (the beliefs' evidence).
    n_samples : int
        Monte Carlo samples of each stochastic rule's batch.

    Returns
    -------
    DataFrame
        :func:`simulations.analytic.compare_rules`' table, one row per rule.
    """
    from insight_bayes.loop import SelectionLoop
    from insight_bayes.selectors import draw_candidates
    from simulations.analytic import compare_rules
    from simulations.scenarios import get_scenario

    scenario = get_scenario(scenario)
    env = scenario.build_env(seed)
    cfg = scenario.loop
    loop = SelectionLoop(env, "random", cfg, belief=scenario.new_belief(), seed=seed)
    for _ in range(warmup_steps):
        loop.step()
    rng = np.random.default_rng(seed)
    candidates = draw_candidates(scenario.pool_size, scenario.resolved_m_hat(), rng)
    return compare_rules(
        loop.belief, env.rates, cfg.k, cfg.m, candidates=candidates, n_samples=n_samples, rng=rng
    )
