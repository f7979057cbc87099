"""The ``insight-bayes`` command: the one table of its subcommands, above every layer.

This package stands above :mod:`insight_bayes`, :mod:`simulations` and
:mod:`paper_figures`, so that the library never imports the layers above it: the
library provides the machinery (:mod:`insight_bayes.cli`: parser, dispatch, one-line
errors with exit status 2) and each layer provides its subcommands' modules; this table
names them. A subcommand module provides ``add_arguments(parser)`` and
``run(args) -> int`` and is imported only when its command is used (or for ``--help``).

To add a subcommand, write its module in the layer that owns the work and add one line
to :data:`SUBCOMMANDS` (its position is its place in ``insight-bayes --help``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from insight_bayes import cli
from insight_bayes.results.plots import register_folder_plotter

__all__ = ["PACKAGE_FOLDERS", "SUBCOMMANDS", "build_parser", "build_parser_for", "main"]

#: name -> (module, one-line help), in the order of ``insight-bayes --help``.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("insight_bayes.demo", "print the selection table of every rule on a small pool"),
    "sweep": ("simulations.sweep_cli", "simulate every rule over seeds on a scenario; speed-ups"),
    "ablations": ("simulations.ablations_cli", "the five ablations of InSight; their table"),
    "rlvr-study": ("insight_bayes.rlvr.study_cli", "GRPO rules x seeds from one cached warm-up"),
    "rlvr-intervention": (
        "insight_bayes.rlvr.intervention_cli",
        "causal test: does the evidence term at a fixed weight raise the applied update's effect",
    ),
    "rlvr-gradients": (
        "insight_bayes.rlvr.gradients_cli",
        "a group's AdamW-applied update at Random-run checkpoints: noise, transfer, memorisation",
    ),
    "sim-vs-harness": (
        "simulations.sim_vs_harness",
        "calibrate the measured learner on harness studies' Random runs; predict the rules",
    ),
    "advise": (
        "simulations.advise",
        "from a folder of Random runs: each pre-rollout rule's predicted speed-up; the pick",
    ),
    "decide": (
        "insight_bayes.decide_cli",
        "over designs (studies or sweeps): the best new rule against the best incumbent, paired",
    ),
    "figures": ("paper_figures.__main__", "regenerate every figure and table of the paper"),
    "plot": ("paper_figures.folder_plots", "headline, summary and pictures of a saved sweep/study"),
    "reproduce": (
        "paper_figures.reproduce",
        "make the results the figures read (missing or incomplete ones only; --quick: CI)",
    ),
}

# The sweep and study commands draw their folder's pictures through this plotter (the
# library draws nothing itself; see insight_bayes.results.plots).
register_folder_plotter("paper_figures.folder_plots:plot_folder")

#: Folders of the packages whose ``ValueError`` is a refusal of the user's input.
PACKAGE_FOLDERS: tuple[Path, ...] = tuple(
    Path(__file__).resolve().parents[1] / name
    for name in ("insight_bayes", "simulations", "paper_figures")
)


def build_parser() -> cli.CommandParser:
    """The parser of ``insight-bayes`` with every subcommand."""
    return cli.build_parser(SUBCOMMANDS)


def build_parser_for(argv: Sequence[str]) -> cli.CommandParser:
    """A parser holding only the subcommand named in ``argv`` (all of them otherwise)."""
    return cli.build_parser_for(argv, SUBCOMMANDS)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``insight-bayes`` console script; the command's exit status."""
    return cli.dispatch(argv, SUBCOMMANDS, PACKAGE_FOLDERS)
