"""Regenerate every figure and table of the paper into one folder.

    python -m paper_figures --out figures [--quick]
    insight-bayes figures --out figures [--quick]

Figures come as PDF and PNG with a ``.caption.txt`` beside each (the caption names the
command and configuration that made it); tables as Markdown and LaTeX. Results saved
under ``results/`` are read when present; what is missing is re-run (``--quick`` shrinks
those runs for CI and says so in the captions).
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
        "--quick", action="store_true", help="small re-runs for missing results (CI)"
    )
    parser.add_argument(
        "--only", nargs="*", default=None, help="subset of figure and table names (see --list)"
    )
    parser.add_argument("--list", action="store_true", help="list the figure names and exit")


def run(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")  # files only; notebooks keep their inline backend
    # Imported here: building the command's parser must stay light (no pandas, no PyMC).
    from paper_figures.registry import FIGURES, FigureContext, run_all

    if args.list:
        print("\n".join(FIGURES))
        return 0
    ctx = FigureContext(out=args.out, results=args.results, quick=args.quick)
    written = run_all(ctx, only=args.only)
    for path in written:
        print(path)
    print(f"{len(written)} files written to {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m paper_figures", description=__doc__)
    add_arguments(parser)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
