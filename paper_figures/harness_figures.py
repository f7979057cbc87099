"""The RLVR harness study: reading it, Figure 4 and its table.

:func:`load_harness` reads a saved study folder (``RESULTS/rlvr-cpu-study``, written by
``insight-bayes rlvr-study configs/rlvr/cpu.toml``) or, with ``quick``, the smoke study
``RESULTS/scratch/rlvr-smoke``. Whether the simulator predicts the harness is
:mod:`paper_figures.prediction_figures`. Nothing here trains or simulates: a missing folder
raises :class:`~paper_figures.sources.MissingResult` naming the command that makes it,
(``insight-bayes reproduce`` runs it).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from insight_bayes.analysis.speedups import speedup_columns
from insight_bayes.results.reader import load_results
from paper_figures.curves import curves_by_rule, interval_by_rule, interval_legend
from paper_figures.sources import HARNESS, pick, shown
from paper_figures.style import apply_style, ordered_rules

__all__ = [
    "HarnessResults",
    "fig4_harness",
    "harness_table",
    "load_harness",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HarnessResults:
    """A harness study's tidy tables and its configuration."""

    folder: Path
    config: dict[str, Any]
    steps: pd.DataFrame
    prompts: pd.DataFrame
    pool: pd.DataFrame
    stt: pd.DataFrame
    speedups: pd.DataFrame
    source: str

    @property
    def rules(self) -> list[str]:
        return ordered_rules(self.steps["rule"].unique())

    @property
    def metric(self) -> str:
        return self.config.get("study", {}).get("metric", "eval/pass1")

    @property
    def target(self) -> float:
        return float(self.config.get("study", {}).get("target", 0.5))

    @property
    def seeds(self) -> int:
        return int(self.steps["seed"].nunique())

    def describe(self) -> str:
        """One line: task, pool, model, M, K, steps, seeds."""
        c = self.config
        loop, task, model = c.get("loop", {}), c.get("task", {}), c.get("model", {})
        return (
            f"task {task.get('name')} (pool {task.get('pool_size')}, test "
            f"{task.get('test_size')}), TinyLM {model.get('n_layer')}x{model.get('d_model')}, "
            f"M={loop.get('m')}, K={loop.get('k')}, M_hat={loop.get('candidate_ratio')}M, "
            f"{loop.get('steps')} steps, {self.seeds} seed(s)"
        )


@functools.lru_cache(maxsize=4)
def load_harness(results: Path, quick: bool = False) -> HarnessResults:
    """The saved harness study (or, with ``quick``, the smoke study) with its speed-ups.

    Parameters
    ----------
    results : Path
        Folder of saved results (``results/``).
    quick : bool
        Read the smoke study ``RESULTS/scratch/rlvr-smoke`` instead.
    """
    saved = pick(HARNESS, quick)
    folder = saved.require(Path(results))
    res = load_results(folder)
    source = (
        f"{'SMOKE study (numbers are only a smoke test): ' if quick else ''}saved study "
        f"{shown(folder)} (git {str(res.manifest.get('git_revision'))[:10]})"
    )
    config = res.manifest["config"]
    steps, prompts, pool = res.steps, res.table("prompts"), res.table("pool")
    stt = res.table("steps_to_target")
    speedups = speedup_columns(res.table("summary"))
    return HarnessResults(folder, config, steps, prompts, pool, stt, speedups, source)


def fig4_harness(h: HarnessResults) -> plt.Figure:
    """Figure 4 (harness): held-out pass@1 curves, and speed-ups in steps and in rollouts."""
    apply_style()
    fig, axes = plt.subplots(
        1, 2, figsize=(9.0, 3.4), constrained_layout=True, gridspec_kw={"width_ratios": [1.5, 1]}
    )
    from matplotlib.ticker import MaxNLocator

    curves_by_rule(axes[0], h.steps, h.metric, n_markers=20)
    axes[0].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].axhline(h.target, color="0.3", linestyle=":", linewidth=1)
    axes[0].set(
        xlabel="GRPO step",
        ylabel=f"held-out {h.metric.split('/')[-1].replace('pass1', 'pass@1')} (mean over seeds)",
        title=f"harness: held-out accuracy ({h.seeds} seed(s); target {h.target:g} dotted)",
    )
    axes[0].legend(loc="best", fontsize=7)
    rules = list(h.speedups.sort_values("speedup", ascending=False)["rule"])
    interval_by_rule(
        axes[1], h.speedups, estimate="speedup", low="ci_low", high="ci_high", rules=rules,
        offset=0.12,
    )  # fmt: skip
    interval_by_rule(
        axes[1], h.speedups, estimate="rollout_speedup", low="rollout_ci_low",
        high="rollout_ci_high", rules=rules, offset=-0.12, filled=False,
    )  # fmt: skip
    interval_legend(
        axes[1], "per step", "per rollout", loc="upper center", bbox_to_anchor=(0.5, -0.16),
        ncol=2, fontsize=7,
    )  # fmt: skip
    axes[1].set(
        xlabel="speed-up vs random (to target; 95% bootstrap over seeds)",
        title="speed-up (>1: faster; best on top)",
    )
    return fig


def harness_table(h: HarnessResults) -> pd.DataFrame:
    """Rules against the harness's metrics (one row per rule, best speed-up first)."""
    from insight_bayes.analysis.summaries import study_summary
    from paper_figures.tables import fmt_interval

    s = study_summary(h.steps, h.speedups, h.metric)
    return pd.DataFrame(
        {
            "rule": s["rule"],
            f"final {h.metric}": s["final_metric"],
            "steps to target": [
                f"{cost:.1f}" + (f" ({int(n)} cens.)" if n else "")
                for cost, n in zip(s["mean_cost"], s["n_censored"], strict=True)
            ],
            "speed-up [95% CI]": [
                fmt_interval(a, b, c)
                for a, b, c in zip(s["speedup"], s["ci_low"], s["ci_high"], strict=True)
            ],
            "informative share": s["informative_share"],
            "rollouts / step": s["rollouts"],
            "s / step": s["step_seconds"],
            "speed-up per rollout [95% CI]": [
                fmt_interval(a, b, c)
                for a, b, c in zip(
                    s["rollout_speedup"], s["rollout_ci_low"], s["rollout_ci_high"], strict=True
                )
            ],
        }
    )
