"""The cost of Dynamic Sampling against one-pass rules: rollouts and wall time per step.

Dynamic Sampling draws extra rollouts to discard uninformative groups, so it can gain
per *step* while losing per *rollout*. This module puts both speed-ups side by side,
for the simulated sweep and for the harness study.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from paper_figures.curves import bar_by_rule, interval_by_rule
from paper_figures.harness import HarnessResults
from paper_figures.simulated import SimResults
from paper_figures.style import apply_style
from paper_figures.tables import fmt_interval

__all__ = ["cost_frame", "cost_table", "fig_cost"]


def cost_frame(sim: SimResults, h: HarnessResults) -> pd.DataFrame:
    """Numeric cost columns per (setting, rule): rollouts and ms per step, both speed-ups."""
    parts = []
    for setting, steps, sp in (
        ("simulated", sim.steps, sim.speedups),
        ("harness", h.steps, h.speedups),
    ):
        trained = steps[steps["step"] > 0].groupby("rule")
        df = sp[["rule", "speedup", "ci_low", "ci_high", "rollout_speedup", "rollout_ci_low",
                 "rollout_ci_high"]].copy()  # fmt: skip
        df["rollouts_per_step"] = df["rule"].map(trained["rollouts"].mean())
        df["ms_per_step"] = df["rule"].map(trained["step_seconds"].mean()) * 1e3
        df.insert(0, "setting", setting)
        parts.append(df)
    return pd.concat(parts, ignore_index=True)


def cost_table(sim: SimResults, h: HarnessResults) -> pd.DataFrame:
    """The cost comparison as printed in the paper (one row per setting and rule)."""
    f = cost_frame(sim, h)
    return pd.DataFrame(
        {
            "setting": f["setting"],
            "rule": f["rule"],
            "rollouts / step": f["rollouts_per_step"],
            "ms / step": f["ms_per_step"].round(1),
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
    """Rollouts per step (bars) and speed-up per step versus per rollout (intervals)."""
    apply_style()
    f = cost_frame(sim, h)
    fig, axes = plt.subplots(2, 2, figsize=(9.0, 6.0), constrained_layout=True)
    for col, (setting, label) in enumerate(
        (("simulated", f"simulated ({sim.scenario.key})"), ("harness", "RLVR harness"))
    ):
        sub = f[f["setting"] == setting]
        bar_by_rule(axes[0, col], sub.set_index("rule")["rollouts_per_step"])
        axes[0, col].set(xlabel="rollouts per training step", title=f"{label}: rollout cost")
        interval_by_rule(
            axes[1, col], sub, estimate="speedup", low="ci_low", high="ci_high", offset=0.14,
            label="per step",
        )  # fmt: skip
        interval_by_rule(
            axes[1, col], sub, estimate="rollout_speedup", low="rollout_ci_low",
            high="rollout_ci_high", offset=-0.14, filled=False, label="per rollout",
        )  # fmt: skip
        axes[1, col].set(
            xlabel="speed-up vs random to target (95% bootstrap)", title=f"{label}: speed-up"
        )
        axes[1, col].legend(loc="lower right", fontsize=7)
        ms = sub.set_index("rule")["ms_per_step"]
        for label_ in axes[0, col].get_yticklabels():
            rule = label_.get_text()
            if rule in ms and np.isfinite(ms[rule]):
                label_.set_text(f"{rule} ({ms[rule]:.0f} ms/step)")
        axes[0, col].set_yticklabels(axes[0, col].get_yticklabels())
    return fig
