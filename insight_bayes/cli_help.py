"""Help text of the ``insight-bayes`` command: docstrings turned into plain text.

A subcommand's description is its module's docstring, written in reStructuredText for
the documentation. :func:`plain_text` removes the markup a terminal would show raw
(````literals````, ``:role:`targets```, ``**strong**``, a paragraph's closing ``::``)
and keeps the line breaks; :class:`HelpFormatter` prints descriptions as they are
written (so usage examples keep their lines) and shows the default of every option
whose help does not already give it.

>>> print(plain_text("Reads ``steps.parquet`` with :func:`~insight_bayes.results.load_results`::"))
Reads steps.parquet with load_results:
"""

from __future__ import annotations

import argparse
import re

__all__ = ["HelpFormatter", "plain_text"]

# :role:`target`, :domain:role:`~a.b.c`, :role:`title <target>`
_ROLE = re.compile(r":(?:[A-Za-z]+:)?[A-Za-z]+:`([^`]+)`")
_LITERAL = re.compile(r"``(.+?)``")
_STRONG = re.compile(r"\*\*(.+?)\*\*")
_DEFAULT_ROLE = re.compile(r"(?<![`\w])`([^`]+)`(?![`\w])")


def _role_text(match: re.Match[str]) -> str:
    target = match.group(1).strip()
    titled = re.fullmatch(r"(.+?)\s*<[^>]+>", target)
    if titled:
        return titled.group(1)
    if target.startswith("~"):
        return target[1:].rsplit(".", 1)[-1]
    return target


def plain_text(text: str | None) -> str:
    """``text`` without reStructuredText inline markup, line breaks kept.

    ````x```` and ```x``` become ``x``; ``:func:`~a.b.c``` becomes ``c`` (the full
    name without ``~``, the title of ``:ref:`title <target>```); ``**x**`` becomes
    ``x``; a line ending in ``::`` ends in ``:``; an ``.. directive::`` line and a
    ``# doctest:`` comment are dropped. Leading and trailing blank lines are removed.
    """
    if not text:
        return ""
    out = []
    for line in text.strip("\n").splitlines():
        if re.match(r"\s*\.\. [\w:-]+::", line):
            continue
        line = _ROLE.sub(_role_text, line)
        line = _LITERAL.sub(r"\1", line)
        line = _STRONG.sub(r"\1", line)
        line = re.sub(r"\s*#\s*doctest:.*$", "", line)
        line = _DEFAULT_ROLE.sub(r"\1", line)
        if line.rstrip().endswith("::"):
            stripped = line.rstrip()[:-2].rstrip()
            line = f"{stripped}:" if stripped else ""
        out.append(line.rstrip())
    return "\n".join(out).strip("\n")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions as written (line breaks kept); option helps with their defaults.

    An option's default is appended, ``(default: X)``, unless its help already names a
    default, the default is ``None`` or ``False``, or the option is a flag.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "default" in text
            or action.default is None
            or action.default is False
            or action.default == argparse.SUPPRESS
            or action.nargs == 0
            or not action.option_strings
        ):
            return text
        return f"{text} (default: %(default)s)"
