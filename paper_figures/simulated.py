"""The simulated Countdown sweep: reading it, Figure 4 and the main table.

:func:`load_simulation` reads ``RESULTS/sim-countdown-paper`` (the committed reference
sweep, with the PyMC posterior that ``insight-bayes sweep ... --bayes`` saved) or, with
``quick``, the small stand-in ``RESULTS/scratch/sim-quick``. It never simulates or fits:
a missing folder raises :class:`~paper_figures.sources.MissingResult` naming the command
that makes it (``insight-bayes reproduce`` runs it). Everything is read through
:func:`insight_bayes.results.load_results`: the steps, and the steps-to-target and
speed-ups the report stage saved (``steps_to_target.csv``, ``summary.csv``).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from insight_bayes.analysis.speedups import speedup_columns
from insight_bayes.results.reader import load_results
from paper_figures.curves import curves_by_rule, interval_by_rule, interval_legend
from paper_figures.sources import SIMULATED, pick, shown
from paper_figures.style import apply_style, ordered_rules
from paper_figures.tables import fmt_interval
from simulations.scenarios import Scenario, get_scenario

__all__ = [
    "SimResults",
    "fig4_simulated",
    "load_simulation",
    "main_table",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimResults:
    """A saved sweep of one scenario with its analysis (tables are tidy pandas frames)."""

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


@functools.lru_cache(maxsize=4)
def load_simulation(results: Path, quick: bool = False) -> SimResults:
    """The saved paper-shaped sweep (or its quick stand-in) with its analysis.

    Parameters
    ----------
    results : Path
        Folder of saved results (``results/``).
    quick : bool
        Read the small ``quick`` sweep (``RESULTS/scratch/sim-quick``) instead.
    """
    saved = pick(SIMULATED, quick)
    folder = saved.require(Path(results))
    res = load_results(folder)
    manifest = res.manifest
    keys = list(manifest.get("config", {}).get("scenarios") or manifest.get("scenarios", {}))
    scenario = get_scenario("quick" if quick else "countdown-paper")
    if scenario.key not in keys:
        raise ValueError(f"{folder} holds scenarios {keys}, not {scenario.key}")

    def of_scenario(table: pd.DataFrame) -> pd.DataFrame:
        return table[table["scenario"] == scenario.key].reset_index(drop=True)

    steps = of_scenario(res.steps)
    seeds = int(steps["seed"].nunique())
    posterior = (
        res.table("speedup_posterior") if (folder / "speedup_posterior.csv").exists() else None
    )
    source = (
        f"{'QUICK stand-in, not the paper scenario: ' if quick else ''}saved sweep {shown(folder)} "
        f"(scenario {scenario.key}, {seeds} seeds, git {str(manifest.get('git_revision'))[:10]}, "
        f"{manifest.get('updated', manifest.get('created', '?'))[:10]})"
    )
    stt = of_scenario(res.table("steps_to_target"))
    summary = of_scenario(res.table("summary"))
    seconds = steps[steps["step"] > 0].groupby("rule")["step_seconds"].mean()
    summary["ms_per_step"] = summary["rule"].map(seconds) * 1e3
    speedups = speedup_columns(summary)
    return SimResults(scenario, steps, stt, speedups, summary, posterior, source, seeds)


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
        title=f"held-out accuracy ({sim.seeds} seeds, 95% band)",
    )
    # the legend sits beside the panels, off the curves
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right upper", fontsize=7)
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
