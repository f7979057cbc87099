"""The ``insight-bayes`` command.

Each subcommand lives in the module that owns its work and is imported only when
used, so ``insight-bayes demo`` never imports PyTorch or PyMC. A subcommand module
provides ``add_arguments(parser)`` and ``run(args) -> int``.

Errors
------
A user error prints one line, ``insight-bayes <command>: error: <message>``, and exits
with status 2 (argparse's convention):

- a value refused at parse time by an argument type (:mod:`insight_bayes.cli_types`:
  counts below 1, a target outside (0, 1], an unknown rule or scenario, a missing
  config file) or by argparse itself (an unknown option or command);
- a ``ValueError`` that the package's own code raised while the command ran (its
  checkers raise it for invalid input, e.g. a config file whose contents are invalid,
  or a saved file that is corrupt), a file that does not decode (``JSONDecodeError``,
  ``UnicodeDecodeError``) and a ``FileNotFoundError``.

``-v`` (before or after the command) also prints the traceback of a run-time user
error. Any other exception is a bug and propagates with its traceback; so does a
``ValueError`` raised inside another library (NumPy refusing a shape, say), which
means that the package passed it something it should have checked first.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn

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
    "rlvr-gradients": (
        "insight_bayes.rlvr.gradients_cli",
        "a group's AdamW-applied update at Random-run checkpoints: noise, transfer, memorisation",
    ),
    "sim-vs-harness": (
        "simulations.sim_vs_harness",
        "calibrate the simulator on harness studies' Random runs; predict the other rules",
    ),
    "figures": ("paper_figures.__main__", "regenerate every figure and table of the paper"),
}

#: Folders of the packages whose ``ValueError`` is a refusal of the user's input.
PACKAGE_FOLDERS: tuple[Path, ...] = tuple(
    Path(__file__).resolve().parents[1] / name
    for name in ("insight_bayes", "simulations", "paper_figures")
)


def is_user_error(err: BaseException) -> bool:
    """Whether an exception raised while a command ran is the user's (exit 2, one line).

    A ``FileNotFoundError``, a file that does not decode, and a ``ValueError`` raised
    by this package's own code (its innermost frame lies in :data:`PACKAGE_FOLDERS`).
    """
    if isinstance(err, FileNotFoundError | json.JSONDecodeError | UnicodeDecodeError):
        return True
    if not isinstance(err, ValueError) or err.__traceback__ is None:
        return False
    tb = err.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    raised_in = Path(tb.tb_frame.f_code.co_filename).resolve()
    return any(folder in raised_in.parents for folder in PACKAGE_FOLDERS)


class CommandParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line: ``<prog>: error: <message>``.

    argparse's own ``error`` also prints the usage; here ``--help`` shows it instead.
    Subcommand parsers inherit the class, so their ``prog`` names the command.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser(commands: Mapping[str, tuple[str, str]] | None = None) -> CommandParser:
    """The parser of ``insight-bayes`` with the given subcommands (all by default)."""
    commands = SUBCOMMANDS if commands is None else commands
    parser = CommandParser(
        prog="insight-bayes",
        description="Information-guided prompt selection for RLVR (InSight, arXiv 2603.01907).",
    )
    verbose = {"action": "store_true", "help": "log at INFO level; tracebacks of errors"}
    parser.add_argument("-v", "--verbose", **verbose)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in commands.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=help_text, description=module.__doc__)
        # also accepted after the command; SUPPRESS keeps a -v given before it
        p.add_argument("-v", "--verbose", default=argparse.SUPPRESS, **verbose)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def build_parser_for(argv: Sequence[str]) -> CommandParser:
    """A parser holding only the subcommand named in ``argv`` (all of them otherwise)."""
    chosen = next((a for a in argv if not a.startswith("-")), None)
    if chosen not in SUBCOMMANDS:
        return build_parser()
    return build_parser({chosen: SUBCOMMANDS[chosen]})


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
    try:
        return int(args._module.run(args) or 0)
    except Exception as err:
        if not is_user_error(err):
            raise
        if args.verbose:
            traceback.print_exc()
        message = " ".join(str(err).split("\n")) or type(err).__name__
        if not args.verbose:
            message += " (run with -v for the traceback)"
        print(f"{parser.prog} {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
