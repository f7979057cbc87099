"""Pictures of any saved sweep or study: its learning curves and its speed-ups.

:func:`plot_folder` reads a results folder through
:func:`insight_bayes.results.load_results` and writes two PNGs, in the figures' style
(:mod:`paper_figures.style`):

* ``learning_curve.png``: the held-out metric per step, mean over seeds with a 95% band
  (+-1.96 SE), the target dotted;
* ``speedup.png``: the speed-up in steps to the target versus the baseline with its 95%
  paired-bootstrap interval, fastest rule on top (a dashed line at 1).

A folder with several scenarios (a grid, the ablations) gets one panel per scenario
(the first nine). It is also the ``insight-bayes plot FOLDER [--out DIR]`` command, which
first prints the folder's headline and summary table
(:func:`insight_bayes.results.headline.summary_text`). matplotlib is imported only when
something is drawn.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from insight_bayes.results.reader import Results

__all__ = ["add_arguments", "folder_summary", "plot_folder", "run"]

#: Files :func:`plot_folder` writes.
LEARNING_CURVE = "learning_curve.png"
SPEEDUP = "speedup.png"

#: Most scenario panels drawn for a folder holding several scenarios.
MAX_PANELS = 9

#: Resolution of the PNGs.
DPI = 160


def folder_summary(results: Results, *, n_boot: int = 2000) -> pd.DataFrame:
    """The folder's summary: its ``summary.csv`` when that has speed-ups, else computed.

    A sweep or a study writes ``summary.csv`` at its analysis settings; a folder without
    one (or with another kind of table there, such as the ablations') is summarised from
    its steps table
    (:meth:`insight_bayes.results.reader.Results.summary`).
    """
    try:
        table = results.table("summary")
    except FileNotFoundError:
        table = None
    if table is not None:
        keys = [c for c in ("scenario", "rule") if c in table.columns]
        if {"rule", "speedup", "ci_low", "ci_high"} <= set(table.columns) and not (
            table.duplicated(keys).any()
        ):
            return table
    return results.summary(n_boot=n_boot)


def _panels(frame: pd.DataFrame) -> list[tuple[str | None, pd.DataFrame]]:
    if "scenario" not in frame.columns or frame["scenario"].nunique() <= 1:
        return [(None, frame)]
    names = list(dict.fromkeys(frame["scenario"]))[:MAX_PANELS]
    return [(name, frame[frame["scenario"] == name]) for name in names]


def _grid(n: int, width: float, height: float):
    import matplotlib.pyplot as plt

    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(width * cols, height * rows), squeeze=False, constrained_layout=True
    )
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _learning_curve(results: Results, path: Path) -> Path:
    import matplotlib.pyplot as plt

    from paper_figures.curves import curves_by_rule

    panels = _panels(results.steps)
    fig, axes = _grid(len(panels), 5.2, 3.4)
    n_seeds = len(results.seeds)
    for ax, (name, steps) in zip(axes, panels, strict=True):
        curves_by_rule(ax, steps, results.metric)
        ax.axhline(results.target, color="0.3", linestyle=":", linewidth=1)
        ax.annotate(
            f"target {results.target:g}",
            (0.01, results.target),
            xycoords=("axes fraction", "data"),
            ha="left",
            va="bottom",
            fontsize=7,
            color="0.3",
        )
        ax.set(xlabel="training step", ylabel=f"{results.metric} (mean over seeds)")
        if name is not None:
            ax.set_title(name)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", fontsize=7)
    fig.suptitle(f"{results.folder.name}: {n_seeds} seeds, 95% band")
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def _speedup(results: Results, summary: pd.DataFrame, path: Path) -> Path | None:
    import matplotlib.pyplot as plt

    from paper_figures.curves import interval_by_rule

    table = summary.dropna(subset=["speedup"]) if "speedup" in summary.columns else summary[:0]
    if table.empty:
        return None
    panels = _panels(table)
    n_rules = table["rule"].nunique()
    fig, axes = _grid(len(panels), 4.2, 0.9 + 0.24 * n_rules)
    for ax, (name, rows) in zip(axes, panels, strict=True):
        interval_by_rule(ax, rows, estimate="speedup", low="ci_low", high="ci_high")
        ax.set_xlabel(f"speed-up vs {results.baseline} (steps to {results.metric} >= "
                      f"{results.target:g})")  # fmt: skip
        if name is not None:
            ax.set_title(name)
    fig.suptitle(f"{results.folder.name}: 95% paired bootstrap interval; >1 is faster")
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_folder(
    folder: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    summary: pd.DataFrame | None = None,
) -> list[Path]:
    """Write ``learning_curve.png`` and ``speedup.png`` of a saved sweep or study.

    Parameters
    ----------
    folder : path
        A results folder (anything :func:`~insight_bayes.results.load_results` reads).
    out : path, optional
        Where the PNGs go (default: ``folder``).
    summary : DataFrame, optional
        The folder's summary (default: :func:`folder_summary`).

    Returns
    -------
    list of Path
        The files written (no speed-up picture when the folder has no speed-ups).
    """
    from insight_bayes.results import load_results
    from paper_figures.style import apply_style

    results = load_results(folder)
    out_dir = Path(out) if out is not None else results.folder
    out_dir.mkdir(parents=True, exist_ok=True)
    apply_style()
    written = [_learning_curve(results, out_dir / LEARNING_CURVE)]
    speedup = _speedup(results, folder_summary(results) if summary is None else summary,
                       out_dir / SPEEDUP)  # fmt: skip
    if speedup is not None:
        written.append(speedup)
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``insight-bayes plot``."""
    from insight_bayes.cli_types import int_at_least

    parser.add_argument("folder", help="a saved sweep or study (a folder with steps.parquet)")
    parser.add_argument("--out", default=None, help="folder for the PNGs (default: FOLDER itself)")
    parser.add_argument(
        "--n-boot",
        type=int_at_least(100),
        default=2000,
        help="bootstrap replicates when the folder has no summary.csv (default 2000)",
    )


def run(args: argparse.Namespace) -> int:
    """Entry point of ``insight-bayes plot``."""
    from insight_bayes.results import load_results
    from insight_bayes.results.headline import summary_text
    from insight_bayes.results.reader import manifest_horizon

    results = load_results(args.folder)
    summary = folder_summary(results, n_boot=args.n_boot)
    print(summary_text(summary, baseline=results.baseline, metric=results.metric,
                       target=results.target,
                       horizon=manifest_horizon(results.manifest)))  # fmt: skip
    written = plot_folder(results.folder, args.out, summary=summary)
    print(f"\npictures: {', '.join(str(p) for p in written)}")
    return 0
