"""The list of every figure and table, and the runner that writes them.

Each entry is a function ``make(ctx) -> list[Path]`` that writes its files into
``ctx.out``. Adding a figure is adding one entry here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from paper_figures import decomposition
from paper_figures.style import save_figure

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FigureContext:
    """Where figures go, where saved results are read from, and whether re-runs are quick."""

    out: Path
    results: Path
    quick: bool = False

    def command(self) -> str:
        quick = " --quick" if self.quick else ""
        return f"insight-bayes figures --out {self.out} --results {self.results}{quick}"


def _closed_form(name: str, build: Callable, what: str) -> Callable[[FigureContext], list[Path]]:
    def make(ctx: FigureContext) -> list[Path]:
        caption = (
            f"{what} Closed forms of insight_bayes, no data. "
            f"Made by `{ctx.command()}` (paper_figures.decomposition.{build.__name__})."
        )
        return save_figure(build(), ctx.out, name, caption)

    return make


FIGURES: dict[str, Callable[[FigureContext], list[Path]]] = {
    "fig2_variance_reduction": _closed_form(
        "fig2_variance_reduction",
        decomposition.fig_variance_reduction,
        "Figure 2. Expected variance reduction dV = m(1-m)/(n+1)^2 (Eq. 8) over mean belief m "
        "and evidence n: a difficulty term times an evidence term.",
    ),
    "fig_information_vs_evidence": _closed_form(
        "fig_information_vs_evidence",
        decomposition.fig_information_vs_evidence,
        "Mutual information I_K (Eq. 13) against evidence for K = 1, 4, 8, 16, with the "
        "large-evidence form 0.5 ln(1 + K/(n+1)) dotted (Proposition 5.1).",
    ),
    "fig3_weight": _closed_form(
        "fig3_weight",
        decomposition.fig_weight,
        "Figure 3. Difficulty weight w(m) = m(1-m) exp(-eta (m-mu)^2) (Eq. 15) for several "
        "mu (eta = 3) and eta (mu = 0.3).",
    ),
    "fig_wmi_landscape": _closed_form(
        "fig_wmi_landscape",
        decomposition.fig_wmi_landscape,
        "WMI landscape w(m) I_8 over (m, n) and the 64 prompts each rule keeps from the same "
        "1,024 candidates of a 2,000-prompt pool after 150 random steps (seed 0).",
    ),
}


def run_all(ctx: FigureContext, only: list[str] | None = None) -> list[Path]:
    """Write every figure (or those named in ``only``); returns the paths written."""
    names = list(FIGURES) if not only else only
    unknown = sorted(set(names) - set(FIGURES))
    if unknown:
        raise ValueError(f"unknown figure(s) {unknown}; available: {', '.join(FIGURES)}")
    written: list[Path] = []
    for name in tqdm(names, desc="figures", leave=False):
        log.info("making %s", name)
        written.extend(FIGURES[name](ctx))
    return written
