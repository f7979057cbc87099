"""The paper's ablations of InSight, as sweeps and tables (shared by notebook 2 and figures).

Five ablations, each a set of *variants* (a rule label on a scenario) compared with
Random on the same scenario and seeds (paired pools):

* ``components``: MI alone (``mi``), the weight alone (``weight``), their product
  (``insight``);
* ``belief``: the mean belief (``insight``) versus a Thompson draw (``insight-sampled``);
* ``mu``: ``insight`` with ``mu`` in {0.1, 0.3, 0.7} (``eta`` at its default 3);
* ``m_hat``: ``insight`` with ``M_hat`` in {8, 12, 16} x ``M``. The paper-shaped pool
  (2,000 prompts) is smaller than ``8 M = 2048``, which caps every ``M_hat`` at the pool,
  so this ablation runs on a copy of the base scenario whose pool holds
  ``24 M`` prompts (:func:`m_hat_scenario`);
* ``discount``: ``insight`` with the belief discount ``lambda`` in {1.0, 0.9, 0.7}
  (Eq. 6).

Variants that change the scenario (``m_hat``, ``discount``) get their own scenario name
(``<base>-mhat8``, ``<base>-lambda0.9``), so their runs never mix with the base's in a
results folder, and Random is run on each of them. They draw their pools from the base
scenario's seeds (:meth:`~simulations.scenarios.Scenario.variant`), so a variant and its
base meet the same pool at the same seed: the comparison is paired (a larger ``m_hat``
pool extends the same random stream).

>>> from simulations.ablations import ablation_plan
>>> [a.name for a in ablation_plan("quick")]
['components', 'belief', 'mu', 'm_hat', 'discount']
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from insight_bayes.results.summary import summary_table
from insight_bayes.results.targets import bootstrap_speedups, steps_to_target
from simulations.scenarios import Scenario, get_scenario
from simulations.sweep import claim_sweep_folder, run_sweep

__all__ = [
    "ABLATIONS",
    "Ablation",
    "Variant",
    "ablation_plan",
    "ablation_table",
    "discount_scenario",
    "m_hat_scenario",
    "run_ablations",
]

log = logging.getLogger(__name__)

#: Ablation names, in the order of the paper's tables.
ABLATIONS = ("components", "belief", "mu", "m_hat", "discount")


@dataclass(frozen=True)
class Variant:
    """One row of an ablation table: a label, a rule label and the scenario it runs on."""

    label: str
    rule: str
    scenario: Scenario


@dataclass(frozen=True)
class Ablation:
    """A named ablation: its title and its variants (each compared with Random)."""

    name: str
    title: str
    variants: tuple[Variant, ...]


def m_hat_scenario(base: str | Scenario, ratio: float) -> Scenario:
    """``base`` with ``M_hat = ratio * M`` over a pool of at least ``24 M`` prompts."""
    base = get_scenario(base)
    pool = max(base.env.pool_size, 24 * base.loop.m)
    return base.variant(
        f"mhat{ratio:g}",
        f"pool {pool}, M_hat = {ratio:g} M",
        env=dataclasses.replace(base.env, pool_size=pool),
        loop=dataclasses.replace(base.loop, candidate_ratio=float(ratio), m_hat=None),
    )


def discount_scenario(base: str | Scenario, discount: float) -> Scenario:
    """``base`` with belief discount ``lambda = discount`` (``base`` itself for 1.0)."""
    base = get_scenario(base)
    if discount == base.discount:
        return base
    return base.variant(
        f"lambda{discount:g}", f"belief discount {discount:g}", discount=float(discount)
    )


def ablation_plan(
    base: str | Scenario = "countdown-paper",
    *,
    mus: tuple[float, ...] = (0.1, 0.3, 0.7),
    ratios: tuple[float, ...] = (8, 12, 16),
    discounts: tuple[float, ...] = (1.0, 0.9, 0.7),
) -> list[Ablation]:
    """The five ablations on ``base`` (see the module docstring)."""
    base = get_scenario(base)

    def mu_rule(mu: float) -> str:
        return "insight" if mu == 0.3 else f"insight:mu={mu:g}"

    return [
        Ablation(
            "components",
            "Components of the score",
            (
                Variant("MI alone", "mi", base),
                Variant("weight alone", "weight", base),
                Variant("product", "insight", base),
            ),
        ),
        Ablation(
            "belief",
            "Belief used in the score",
            (
                Variant("mean belief", "insight", base),
                Variant("Thompson draw", "insight-sampled", base),
            ),
        ),
        Ablation(
            "mu",
            "Target difficulty mu (eta = 3)",
            tuple(Variant(f"mu = {mu:g}", mu_rule(mu), base) for mu in mus),
        ),
        Ablation(
            "m_hat",
            f"Candidates M_hat (pool {max(base.env.pool_size, 24 * base.loop.m)})",
            tuple(Variant(f"M_hat = {r:g} M", "insight", m_hat_scenario(base, r)) for r in ratios),
        ),
        Ablation(
            "discount",
            "Belief discount lambda",
            tuple(
                Variant(f"lambda = {d:g}", "insight", discount_scenario(base, d)) for d in discounts
            ),
        ),
    ]


def run_ablations(
    plan: list[Ablation],
    seeds: int,
    out: str | Path,
    *,
    baseline: str = "random",
    workers: int | None = 1,
    progress: bool = False,
    overwrite: bool = False,
) -> pd.DataFrame:
    """Run every scenario of ``plan`` with its variants' rules and ``baseline``.

    ``out`` must be new, or hold this plan at these seeds (then it is resumed: runs
    already there are skipped), unless ``overwrite`` deletes its results first. Each
    scenario is then one :func:`simulations.sweep.run_sweep` extending ``out``. Returns
    the consolidated steps table of all of them.
    """
    rules: dict[str, list[str]] = defaultdict(lambda: [baseline])
    scenarios: dict[str, Scenario] = {}
    for ablation in plan:
        for v in ablation.variants:
            scenarios[v.scenario.key] = v.scenario
            if v.rule not in rules[v.scenario.key]:
                rules[v.scenario.key].append(v.rule)
    # the folder holds this plan's scenarios at these seeds, or nothing (the calls below
    # extend it, each scenario with its own rules)
    claim_sweep_folder(out, list(scenarios.values()), None, list(range(seeds)),
                       overwrite=overwrite, extendable=False)  # fmt: skip
    frames = []
    for key, scenario in scenarios.items():
        log.info("ablations: %s with %s", key, rules[key])
        result = run_sweep(
            scenario, rules[key], seeds, out, workers=workers, progress=progress, extend=True
        )
        frames.append(result.steps)
    return pd.concat(frames, ignore_index=True)


def ablation_table(
    plan: list[Ablation],
    steps: pd.DataFrame,
    *,
    baseline: str = "random",
    n_boot: int = 2000,
    rng: int = 0,
) -> pd.DataFrame:
    """One row per (ablation, variant): accuracy, steps-to-target and speed-up vs Random.

    Steps-to-target uses each variant scenario's own ``target_accuracy``; the speed-up
    is versus ``baseline`` on the same scenario and seeds (paired bootstrap, see
    :func:`insight_bayes.results.bootstrap_speedups`).

    Returns
    -------
    DataFrame
        ``ablation, title, variant, rule, scenario, final_accuracy, final_accuracy_sd,
        informative_share, info_gain, steps_to_target (mean), n_censored, speedup,
        ci_low, ci_high``.
    """
    tables = []
    for key in dict.fromkeys(v.scenario.key for a in plan for v in a.variants):
        scenario = next(v.scenario for a in plan for v in a.variants if v.scenario.key == key)
        sdf = steps[steps["scenario"] == key]
        if sdf.empty:
            raise ValueError(f"steps holds no runs of scenario {key}")
        stt = steps_to_target(sdf, scenario.target_accuracy)
        sp = bootstrap_speedups(stt, baseline=baseline, n_boot=n_boot, rng=rng)
        tables.append(summary_table(sdf, sp))
    summary = pd.concat(tables, ignore_index=True).set_index(["scenario", "rule"])
    rows = []
    for ablation in plan:
        for v in ablation.variants:
            if (v.scenario.key, v.rule) not in summary.index:
                raise ValueError(f"steps holds no runs of {v.rule!r} on {v.scenario.key}")
            s = summary.loc[(v.scenario.key, v.rule)]
            rows.append(
                {
                    "ablation": ablation.name,
                    "title": ablation.title,
                    "variant": v.label,
                    "rule": v.rule,
                    "scenario": v.scenario.key,
                    "final_accuracy": s.get("final_accuracy"),
                    "final_accuracy_sd": s.get("final_accuracy_sd"),
                    "informative_share": s.get("informative_share"),
                    "info_gain": s.get("info_gain"),
                    "steps_to_target": s.get("mean_cost"),
                    "n_censored": s.get("n_censored"),
                    "speedup": s.get("speedup"),
                    "ci_low": s.get("ci_low"),
                    "ci_high": s.get("ci_high"),
                }
            )
    return pd.DataFrame(rows)
