"""Results of the simulated Countdown sweep: loading or re-running, Figure 4, main table.

:func:`load_simulation` reads ``RESULTS/sim-countdown-paper`` (the committed reference
sweep) when present. Otherwise it re-runs: the paper-shaped sweep itself (9 rules x 10
seeds, seconds) or, with ``quick``, the small ``quick`` scenario with 3 seeds into
``RESULTS/scratch/sim-quick``; :attr:`SimResults.source` says which, for the captions.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from insight_bayes.results.targets import bootstrap_speedups, steps_to_target, summary_table
from paper_figures.curves import curves_by_rule, interval_by_rule, interval_legend
from paper_figures.style import apply_style, ordered_rules
from paper_figures.tables import fmt_interval
from simulations.scenarios import Scenario, get_scenario

__all__ = [
    "SimResults",
    "fig4_simulated",
    "load_simulation",
    "main_table",
    "oracle_ceiling",
]

log = logging.getLogger(__name__)

PAPER_SCENARIO = "countdown-paper"
QUICK_SCENARIO = "quick"


@dataclass(frozen=True)
class SimResults:
    """A sweep of one scenario with its analysis (tables are tidy pandas frames)."""

    scenario: Scenario
    steps: pd.DataFrame
    stt: pd.DataFrame
    speedups: pd.DataFrame
    summary: pd.DataFrame
    posterior: pd.DataFrame | None
    source: str
    seeds: int

    @property
    def rules(self) -> list[str]:
        return ordered_rules(self.steps["rule"].unique())


def _analyse(steps: pd.DataFrame, scenario: Scenario, n_boot: int = 2000):
    stt = steps_to_target(steps, scenario.target_accuracy)
    sp = bootstrap_speedups(stt, baseline="random", n_boot=n_boot)
    per_rollout = bootstrap_speedups(
        stt, baseline="random", measure="rollouts_to_target", n_boot=n_boot
    )
    per_rollout = per_rollout[["scenario", "rule", "speedup", "ci_low", "ci_high"]].rename(
        columns={"speedup": "rollout_speedup", "ci_low": "rollout_ci_low",
                 "ci_high": "rollout_ci_high"}
    )  # fmt: skip
    sp = sp.merge(per_rollout, on=["scenario", "rule"])
    summary = summary_table(steps, sp)
    steps_per_s = steps[steps["step"] > 0].groupby("rule")["step_seconds"].mean()
    summary["ms_per_step"] = summary["rule"].map(steps_per_s) * 1e3
    return stt, sp, summary


@functools.lru_cache(maxsize=4)
def load_simulation(results: Path, quick: bool, fit_posterior: bool = True) -> SimResults:
    """The paper-shaped sweep from ``results`` or re-run (see the module docstring).

    Parameters
    ----------
    results : Path
        Folder of saved results (``results/``).
    quick : bool
        Re-run the small ``quick`` scenario (3 seeds) when nothing is saved.
    fit_posterior : bool
        Fit the PyMC speed-up model when no saved posterior exists (never in quick mode).
    """
    from simulations.sweep import PAPER_RULES, run_sweep

    results = Path(results)
    folder = results / f"sim-{PAPER_SCENARIO}"
    posterior = None
    if (folder / "steps.parquet").exists():
        scenario = get_scenario(PAPER_SCENARIO)
        steps = pd.read_parquet(folder / "steps.parquet")
        manifest = json.loads((folder / "manifest.json").read_text())
        seeds = len(manifest.get("seeds", steps["seed"].unique()))
        source = (
            f"saved sweep {folder} (scenario {scenario.key}, {seeds} seeds, "
            f"git {str(manifest.get('git_revision'))[:10]})"
        )
        if (folder / "speedup_posterior.csv").exists():
            posterior = pd.read_csv(folder / "speedup_posterior.csv")
    elif quick:
        scenario = get_scenario(QUICK_SCENARIO)
        seeds = 3
        out = results / "scratch" / f"sim-{QUICK_SCENARIO}"
        steps = run_sweep(scenario, PAPER_RULES, seeds, out, workers=1, progress=False).steps
        source = (
            f"QUICK re-run, not the paper scenario: {scenario.key} "
            f"({scenario.pool_size} prompts, M={scenario.loop.m}, {scenario.loop.steps} steps), "
            f"{seeds} seeds, in {out}"
        )
    else:
        scenario = get_scenario(PAPER_SCENARIO)
        seeds = 10
        result = run_sweep(scenario, PAPER_RULES, seeds, folder, workers=2, progress=False)
        steps = result.steps
        source = f"sweep re-run now into {folder} (scenario {scenario.key}, {seeds} seeds)"
    steps = steps[steps["scenario"] == scenario.key].reset_index(drop=True)
    stt, sp, summary = _analyse(steps, scenario)
    if posterior is None and fit_posterior and not quick:
        from insight_bayes.models.speedup_fit import fit_speedup

        fit = fit_speedup(stt, baseline="random")
        posterior = fit.summary
        if folder.exists():
            posterior.to_csv(folder / "speedup_posterior.csv", index=False)
    return SimResults(scenario, steps, stt, sp, summary, posterior, source, seeds)


def fig4_simulated(sim: SimResults) -> plt.Figure:
    """Figure 4 (simulated): held-out accuracy curves and speed-ups versus Random.

    Left: mean held-out accuracy over seeds with 95% bands (+-1.96 SE), target dotted.
    Right: speed-up in steps-to-target, bootstrap 95% interval (filled) and the PyMC
    posterior median with its 94% HDI (open) when available.
    """
    apply_style()
    fig, axes = plt.subplots(
        1, 2, figsize=(9.0, 3.6), constrained_layout=True, gridspec_kw={"width_ratios": [1.5, 1]}
    )
    curves_by_rule(axes[0], sim.steps, "eval/accuracy")
    axes[0].axhline(sim.scenario.target_accuracy, color="0.3", linestyle=":", linewidth=1)
    axes[0].annotate(
        f"target {sim.scenario.target_accuracy:g}",
        (0.99, sim.scenario.target_accuracy),
        xycoords=("axes fraction", "data"),
        ha="right",
        va="bottom",
        fontsize=7,
        color="0.3",
    )
    axes[0].set(
        xlabel="training step",
        ylabel="held-out accuracy (mean over seeds)",
        title=f"{sim.scenario.key}: held-out accuracy ({sim.seeds} seeds, 95% band)",
    )
    axes[0].legend(loc="lower right", ncol=2, fontsize=7)
    interval_by_rule(
        axes[1],
        sim.speedups,
        estimate="speedup",
        low="ci_low",
        high="ci_high",
        offset=0.12,
    )
    if sim.posterior is not None:
        interval_by_rule(
            axes[1],
            sim.posterior,
            estimate="speedup_median",
            low="hdi_low",
            high="hdi_high",
            rules=list(sim.speedups.sort_values("speedup", ascending=False)["rule"]),
            offset=-0.12,
            filled=False,
        )
    interval_legend(
        axes[1],
        "bootstrap 95% CI",
        "PyMC posterior 94% HDI" if sim.posterior is not None else None,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
        ncol=2,
        fontsize=7,
    )
    axes[1].set(
        xlabel="speed-up vs random (steps to target)", title="speed-up (>1: faster; best on top)"
    )
    return fig


def main_table(sim: SimResults) -> pd.DataFrame:
    """Rules against metrics: the paper's main table (one row per rule, best first)."""
    s = sim.summary.set_index("rule")
    post = sim.posterior.set_index("rule") if sim.posterior is not None else None
    rows = []
    for rule in s.sort_values("speedup", ascending=False).index:
        r = s.loc[rule]
        row = {
            "rule": rule,
            "final accuracy": f"{r['final_accuracy']:.3f} ± {r['final_accuracy_sd']:.3f}",
            "steps to target": f"{r['mean_cost']:.1f}"
            + (f" ({int(r['n_censored'])} cens.)" if r["n_censored"] else ""),
            "speed-up [95% CI]": fmt_interval(r["speedup"], r["ci_low"], r["ci_high"]),
        }
        if post is not None and rule in post.index:
            p = post.loc[rule]
            row["posterior speed-up [94% HDI]"] = fmt_interval(
                p["speedup_median"], p["hdi_low"], p["hdi_high"]
            )
        row["informative share"] = r["informative_share"]
        row["rollouts / step"] = r["rollouts_per_step"]
        row["speed-up per rollout [95% CI]"] = fmt_interval(
            r["rollout_speedup"], r["rollout_ci_low"], r["rollout_ci_high"]
        )
        rows.append(row)
    return pd.DataFrame(rows)


def oracle_ceiling(
    scenario: str | Scenario, *, seed: int = 0, warmup_steps: int = 10, n_samples: int = 100
) -> pd.DataFrame:
    """Every rule's expected informative groups and information gain against the oracle.

    The scenario's pool (seed ``seed``) is trained on by Random for ``warmup_steps``
    steps; then every rule's next batch is scored in expectation under the true rates
    (:func:`simulations.analytic.compare_rules`) from one draw of ``M_hat`` candidates.
    """
    from insight_bayes.loop import SelectionLoop
    from insight_bayes.selectors import draw_candidates
    from simulations.analytic import compare_rules

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
