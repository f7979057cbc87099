"""The machinery of the ``insight-bayes`` command: parser, dispatch and error policy.

The command itself, with its table of subcommands, is :mod:`insight_bayes_cli`, a
module above every layer: the library never imports the simulator or the figures.
Each subcommand lives in the module that owns its work and is imported only when
used, so ``insight-bayes demo`` never imports PyTorch or PyMC. A subcommand module
provides ``add_arguments(parser)`` and ``run(args) -> int``.

Errors
------
A user error prints one line, ``insight-bayes <command>: error: <message>``, and exits
with status 2 (argparse's convention):

- a value refused at parse time by an argument type (:mod:`insight_bayes.cli_types`:
  counts below 1, a target outside (0, 1], an unknown rule, a missing config file; a
  layer's own types, e.g. an unknown scenario) or by argparse itself (an unknown option
  or command);
- a ``ValueError`` that the package's own code raised while the command ran (its
  checkers raise it for invalid input, e.g. a config file whose contents are invalid,
  or a saved file that is corrupt), a file that does not decode (``JSONDecodeError``,
  ``UnicodeDecodeError``) and a ``FileNotFoundError``.

``-v`` (before or after the command) also prints the traceback of a run-time user
error. Any other exception is a bug and propagates with its traceback; so does a
``ValueError`` raised inside another library (NumPy refusing a shape, say), which
means that the package passed it something it should have checked first.

Ctrl-C prints one line and exits with status 130: for a sweep or a study,
``insight-bayes sweep: interrupted: 3 of 20 runs saved in OUT; resume with: <command>``
(the runs finished so far stay; the same command resumes them).

Help is plain text: a subcommand's description is its module's docstring without its
reStructuredText markup (:func:`insight_bayes.cli_help.plain_text`), line breaks kept.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import shlex
import sys
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn

from insight_bayes.cli_help import HelpFormatter, plain_text

#: A table of subcommands: name -> (module, one-line help), in the order of ``--help``.
Commands = Mapping[str, tuple[str, str]]

#: Folder of the library, whose ``ValueError`` is a refusal of the user's input.
PACKAGE_FOLDERS: tuple[Path, ...] = (Path(__file__).resolve().parent,)


def is_user_error(err: BaseException, folders: Sequence[Path] = PACKAGE_FOLDERS) -> bool:
    """Whether an exception raised while a command ran is the user's (exit 2, one line).

    A ``FileNotFoundError``, a file that does not decode, and a ``ValueError`` raised
    by the project's own code (its innermost frame lies in one of ``folders``, by default
    :data:`PACKAGE_FOLDERS`).
    """
    if isinstance(err, FileNotFoundError | json.JSONDecodeError | UnicodeDecodeError):
        return True
    if not isinstance(err, ValueError) or err.__traceback__ is None:
        return False
    tb = err.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    raised_in = Path(tb.tb_frame.f_code.co_filename).resolve()
    return any(folder in raised_in.parents for folder in folders)


class CommandParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line: ``<prog>: error: <message>``.

    argparse's own ``error`` also prints the usage; here ``--help`` shows it instead.
    Subcommand parsers inherit the class, so their ``prog`` names the command.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser(commands: Commands) -> CommandParser:
    """The parser of ``insight-bayes`` with the given subcommands."""
    parser = CommandParser(
        prog="insight-bayes",
        description="Information-guided prompt selection for RLVR (InSight, arXiv 2603.01907).",
        formatter_class=HelpFormatter,
    )
    verbose = {"action": "store_true", "help": "log at INFO level; tracebacks of errors"}
    parser.add_argument("-v", "--verbose", **verbose)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in commands.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(
            name,
            help=help_text,
            description=plain_text(module.__doc__),
            formatter_class=HelpFormatter,
        )
        # also accepted after the command; SUPPRESS keeps a -v given before it
        p.add_argument("-v", "--verbose", default=argparse.SUPPRESS, **verbose)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def build_parser_for(argv: Sequence[str], commands: Commands) -> CommandParser:
    """A parser holding only the subcommand named in ``argv`` (all of ``commands`` otherwise)."""
    chosen = next((a for a in argv if not a.startswith("-")), None)
    if chosen not in commands:
        return build_parser(commands)
    return build_parser({chosen: commands[chosen]})


def dispatch(
    argv: Sequence[str] | None,
    commands: Commands,
    folders: Sequence[Path] = PACKAGE_FOLDERS,
) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), run the chosen subcommand; its exit status.

    ``folders`` are the packages whose ``ValueError`` is the user's (see
    :func:`is_user_error`).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    # Build only the parser of the chosen subcommand when it is known (fast, light imports).
    parser = build_parser_for(argv, commands)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args._module.run(args) or 0)
    except KeyboardInterrupt as err:
        # Ctrl-C: one line, no traceback; a runner's RunsInterrupted says what was saved
        command = shlex.join(["insight-bayes", *argv])
        what = f": {err}; resume with" if hasattr(err, "saved") else "; run again with"
        print(f"{parser.prog} {args.command}: interrupted{what}: {command}", file=sys.stderr)
        return 130
    except Exception as err:
        if not is_user_error(err, folders):
            raise
        if args.verbose:
            traceback.print_exc()
        message = " ".join(str(err).split("\n")) or type(err).__name__
        if not args.verbose:
            message += " (run with -v for the traceback)"
        print(f"{parser.prog} {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit("the command is 'insight-bayes' (or 'python -m insight_bayes_cli')")
