"""The ``insight-bayes`` command.

Each subcommand lives in the module that owns its work and is imported only when
used, so ``insight-bayes demo`` never imports PyTorch or PyMC. A subcommand module
provides ``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

#: name -> (module, one-line help). Modules are imported lazily.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("insight_bayes.demo", "print the selection table of every rule on a small pool"),
    "sweep": ("simulations.cli", "simulate every rule over seeds on a scenario; speed-ups"),
    "ablations": ("simulations.ablations_cli", "the five ablations of InSight; their table"),
    "rlvr-study": ("insight_bayes.rlvr.study_cli", "GRPO rules x seeds from one cached warm-up"),
    "rlvr-intervention": (
        "insight_bayes.rlvr.intervention_cli",
        "first-order effects of quintile batches at checkpoints of a Random run",
    ),
    "sweep-like-study": (
        "simulations.harness_like",
        "simulate a harness study's rules on a pool shaped like its warm-up rates",
    ),
    "figures": ("paper_figures.__main__", "regenerate every figure and table of the paper"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="insight-bayes",
        description="Information-guided prompt selection for RLVR (InSight, arXiv 2603.01907).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=help_text, description=module.__doc__)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``insight-bayes`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # Build only the parser of the chosen subcommand when it is known (fast, light imports).
    parser = build_parser_for(argv)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    return int(args._module.run(args) or 0)


def build_parser_for(argv: Sequence[str]) -> argparse.ArgumentParser:
    """A parser holding only the subcommand named in ``argv`` (all of them otherwise)."""
    chosen = next((a for a in argv if not a.startswith("-")), None)
    if chosen not in SUBCOMMANDS:
        return build_parser()
    saved = dict(SUBCOMMANDS)
    try:
        SUBCOMMANDS.clear()
        SUBCOMMANDS[chosen] = saved[chosen]
        return build_parser()
    finally:
        SUBCOMMANDS.clear()
        SUBCOMMANDS.update(saved)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
