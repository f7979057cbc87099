"""Every subcommand's --help: plain text, line breaks kept, every option explained."""

from __future__ import annotations

import argparse
import re

import pytest

from insight_bayes.cli_help import plain_text
from insight_bayes_cli import SUBCOMMANDS, build_parser

#: reStructuredText that must not reach a terminal.
RST = [
    re.compile(r"``"),
    re.compile(r":(?:py:)?(?:mod|func|class|meth|attr|data|ref|doc|obj|exc|math):`"),
    re.compile(r"::\s*$", re.MULTILINE),
    re.compile(r"^\s*\.\. \w+::", re.MULTILINE),
]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[name] = sub
                found.update({f"{name} {k}": v for k, v in _subparsers(sub).items()})
    return found


PARSER = build_parser()
COMMANDS = _subparsers(PARSER)


def test_every_subcommand_is_walked():
    assert set(SUBCOMMANDS) <= set(COMMANDS)


@pytest.mark.parametrize("name", ["insight-bayes", *COMMANDS])
def test_help_is_plain_text_and_every_option_has_help(name):
    parser = PARSER if name == "insight-bayes" else COMMANDS[name]
    text = parser.format_help()
    for pattern in RST:
        assert not pattern.search(text), f"{name} --help shows {pattern.pattern!r}"
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        label = "/".join(action.option_strings) or action.dest
        assert action.help and action.help != argparse.SUPPRESS and action.help.strip(), (
            f"{name}: {label} has no help"
        )


@pytest.mark.parametrize("name", list(SUBCOMMANDS))
def test_descriptions_keep_their_line_breaks(name):
    import importlib

    module = importlib.import_module(SUBCOMMANDS[name][0])
    text = COMMANDS[name].format_help()
    for line in plain_text(module.__doc__).splitlines():
        if line.strip():
            assert line.rstrip() in text.splitlines(), f"{name}: {line!r} was re-wrapped"


def test_demo_shows_its_defaults():
    text = COMMANDS["demo"].format_help()
    for option, default in [("--pool", 2000), ("--m", 64), ("--k", 8), ("--seed", 0)]:
        assert re.search(rf"{option} \S+\s+.*\(default: {default}\)", text), option


def test_plain_text_removes_the_markup_and_keeps_the_lines():
    doc = """Reads ``steps.parquet`` (:func:`~insight_bayes.results.load_results`,
:mod:`insight_bayes.results`, :ref:`the guide <guide>`, `default role`, **bold**).

Example::

    insight-bayes sweep quick --seeds 2   # doctest: +SKIP

.. note::
"""
    assert plain_text(doc) == (
        "Reads steps.parquet (load_results,\n"
        "insight_bayes.results, the guide, default role, bold).\n"
        "\n"
        "Example:\n"
        "\n"
        "    insight-bayes sweep quick --seeds 2"
    )
