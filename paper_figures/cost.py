"""The cost of Dynamic Sampling against one-pass rules: rollouts and wall time per step.

Dynamic Sampling draws extra rollouts to discard uninformative groups, so it can gain
per *step* while losing per *rollout*. This module draws both speed-ups side by side,
for the simulated sweep and for the harness study (numbers from
:func:`insight_bayes.analysis.summaries.cost_frame`).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from insight_bayes.analysis.summaries import cost_frame
from paper_figures.curves import bar_by_rule, interval_by_rule, interval_legend
from paper_figures.harness_figures import HarnessResults
from paper_figures.simulated import SimResults
from paper_figures.style import apply_style
from paper_figures.tables import fmt_interval

__all__ = ["cost_table", "fig_cost"]


def _cost_frame(sim: SimResults, h: HarnessResults) -> pd.DataFrame:
    return cost_frame([("simulated", sim.steps, sim.speedups), ("harness", h.steps, h.speedups)])


def cost_table(sim: SimResults, h: HarnessResults) -> pd.DataFrame:
    """The cost comparison as printed in the paper (one row per setting and rule)."""
    f = _cost_frame(sim, h)
    return pd.DataFrame(
        {
            "setting": f["setting"],
            "rule": f["rule"],
            "rollouts / step": f["rollouts_per_step"],
            "ms / step": f["ms_per_step"].map("{:.1f}".format),
            "speed-up per step [95% CI]": [
                fmt_interval(a, b, c)
                for a, b, c in zip(f["speedup"], f["ci_low"], f["ci_high"], strict=True)
            ],  # fmt: skip
            "speed-up per rollout [95% CI]": [
                fmt_interval(a, b, c)
                for a, b, c in zip(
                    f["rollout_speedup"], f["rollout_ci_low"], f["rollout_ci_high"], strict=True
                )
            ],
        }
    )


def fig_cost(sim: SimResults, h: HarnessResults) -> plt.Figure:
    """Rollouts per step (bars, wall time noted) and speed-up per step versus per rollout."""
    apply_style()
    f = _cost_frame(sim, h)
    fig, axes = plt.subplots(2, 2, figsize=(9.0, 6.4), constrained_layout=True)
    for col, (setting, label) in enumerate(
        (("simulated", f"simulated ({sim.scenario.key})"), ("harness", "RLVR harness"))
    ):
        sub = f[f["setting"] == setting].set_index("rule")
        notes = sub["ms_per_step"].map(
            lambda v: f"{v:.0f} ms/step" if np.isfinite(v) and v >= 10 else f"{v:.1f} ms/step"
        )
        bar_by_rule(axes[0, col], sub["rollouts_per_step"], notes=notes)
        axes[0, col].set(xlabel="rollouts per training step", title=f"{label}: cost per step")
        order = list(sub["speedup"].sort_values(ascending=False).index)
        interval_by_rule(
            axes[1, col], sub.reset_index(), estimate="speedup", low="ci_low", high="ci_high",
            rules=order, offset=0.14,
        )  # fmt: skip
        interval_by_rule(
            axes[1, col], sub.reset_index(), estimate="rollout_speedup", low="rollout_ci_low",
            high="rollout_ci_high", rules=order, offset=-0.14, filled=False,
        )  # fmt: skip
        axes[1, col].set(xlabel="speed-up vs random to target", title=f"{label}: speed-up")
        interval_legend(
            axes[1, col], "per training step", "per rollout", loc="upper center",
            bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=7,
        )  # fmt: skip
    return fig
