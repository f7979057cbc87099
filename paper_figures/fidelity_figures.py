"""The fidelity of the paper's claims across the robustness grid: a figure and a table.

Reads the tables that ``insight-bayes sweep countdown-paper --grid robustness`` writes
(:mod:`simulations.grid`, :mod:`insight_bayes.analysis.fidelity`) and draws them.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from insight_bayes.results.reader import read_table
from paper_figures.style import apply_style, greek

__all__ = ["fidelity_printable", "fig_fidelity", "load_fidelity"]


def load_fidelity(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(fidelity, summary, cells)`` of a saved grid."""
    folder = Path(folder)
    return (
        read_table(folder, "fidelity"),
        read_table(folder, "fidelity_summary"),
        read_table(folder, "cells"),
    )


def _cell_label(cell) -> str:
    """A grid cell as a reader names it: ``memorisation 0.1, λ 0.9, Adam`` or ``weak pool``."""
    strength = getattr(cell, "strength", "base")
    if isinstance(strength, str) and strength != "base":
        return f"{strength} pool"
    if str(cell.learner) == "measured":  # memorisation is measured there, not a knob
        return f"$\\lambda$ {cell.discount:g}, measured learner"
    learner = {"linear": "linear", "adam": "Adam-like"}.get(str(cell.learner), str(cell.learner))
    return f"memorisation {cell.memorization:g}, $\\lambda$ {cell.discount:g}, {learner}"


def fig_fidelity(fidelity: pd.DataFrame, cells: pd.DataFrame) -> plt.Figure:
    """Claims (rows) by grid cells (columns): the share of targets where the claim was
    reproduced minus the share where it was refuted (+1 purple: holds at every target,
    -1 orange: refuted at every target, 0: unresolved or mixed). A colour-blind-safe
    diverging map; the cells are labelled by their settings (memorisation, discount,
    learner, pool)."""
    apply_style()
    names = dict(zip(cells["scenario"], cells["cell"], strict=True))
    labels = {row.cell: _cell_label(row) for row in cells.itertuples()}
    df = fidelity.assign(
        cell=fidelity["scenario"].map(names).fillna(fidelity["scenario"]),
        score=fidelity["status"].map({"reproduced": 1.0, "refuted": -1.0}).fillna(0.0),
    )
    grid = df.pivot_table(index="text", columns="cell", values="score", aggfunc="mean")
    order = [t for t in dict.fromkeys(fidelity["text"]) if t in grid.index]
    columns = [c for c in cells["cell"] if c in grid.columns] + [
        c for c in grid.columns if c not in set(cells["cell"])
    ]
    grid = grid.loc[order, columns]
    fig, ax = plt.subplots(figsize=(0.42 * grid.shape[1] + 4.5, 0.42 * grid.shape[0] + 2.2))
    image = ax.imshow(grid.to_numpy(float), cmap="PuOr", vmin=-1, vmax=1, aspect="auto")
    ax.set_yticks(np.arange(grid.shape[0]), [greek(t) for t in grid.index])
    ax.set_xticks(np.arange(grid.shape[1]), [labels.get(c, c) for c in grid.columns],
                  rotation=70, ha="right", fontsize=7)  # fmt: skip
    ax.set_xticks(np.arange(-0.5, grid.shape[1]), minor=True)
    ax.set_yticks(np.arange(-0.5, grid.shape[0]), minor=True)
    ax.grid(which="minor", color="white", linewidth=1)
    ax.tick_params(which="minor", length=0)
    cbar = fig.colorbar(image, ax=ax, fraction=0.03, pad=0.01)
    cbar.set_label("reproduced - refuted (share of targets)")
    ax.set_title("Where the paper's claims hold in the simulator")
    fig.tight_layout()
    return fig


def fidelity_printable(summary: pd.DataFrame) -> pd.DataFrame:
    """The claim summary as a table: claim, cases, reproduced / refuted / unresolved, verdict."""
    return pd.DataFrame(
        {
            "claim": summary["text"],
            "cases": summary["cases"],
            "reproduced": summary["reproduced"],
            "refuted": summary["refuted"],
            "unresolved": summary["unresolved"],
            "verdict": summary["verdict"],
        }
    )
