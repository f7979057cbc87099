"""Draw every figure and table of the paper from saved results into one folder.

    insight-bayes figures --out figures [--results results] [--quick]
    python -m paper_figures --out figures

Figures come as PDF and PNG with a ``.caption.txt`` beside each (the caption names the
command and the saved results that made it); tables as Markdown and LaTeX. The figures
only draw: they read the result folders under RESULTS and never train, simulate, fit or
write there. A missing result is named with the command that makes it, for example::

    results/sim-countdown-paper is missing: run 'insight-bayes sweep countdown-paper ...'

and the figures that need it are skipped (exit status 1); ``insight-bayes reproduce``
runs every such command. ``--quick`` reads small stand-ins under RESULTS/scratch/ instead
(CI; marked QUICK or SMOKE in the captions), made by ``insight-bayes reproduce --quick``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger("paper_figures")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("figures"), help="output folder")
    parser.add_argument(
        "--results", type=Path, default=Path("results"), help="folder of saved results to read"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="read small stand-ins under RESULTS/scratch/ (CI; made by reproduce --quick)",
    )
    parser.add_argument(
        "--only", nargs="*", default=None, help="subset of figure and table names (see --list)"
    )
    parser.add_argument("--list", action="store_true", help="list the figure names and exit")


def run(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")  # files only; notebooks keep their inline backend
    # Imported here: building the command's parser must stay light (no pandas, no PyMC).
    from paper_figures.figure_registry import FIGURES, FigureContext, run_all

    if args.list:
        print("\n".join(FIGURES))
        return 0
    ctx = FigureContext(out=args.out, results=args.results, quick=args.quick)
    report = run_all(ctx, only=args.only)
    for source in report.sources:
        print(f"read {source}")
    for path in report.written:
        print(path)
    print(f"{len(report.written)} files written to {args.out}")
    if report.missing:
        for message in dict.fromkeys(report.missing.values()):
            print(message, file=sys.stderr)
        print(
            f"skipped {len(report.missing)} of {len(FIGURES) if not args.only else len(args.only)}"
            f" (missing results): {', '.join(report.missing)}; run the command(s) above "
            "('insight-bayes reproduce' runs them all)",
            file=sys.stderr,
        )
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m paper_figures", description=__doc__)
    add_arguments(parser)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
