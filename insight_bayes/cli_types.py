"""Argument types of the ``insight-bayes`` command: values checked at parse time.

Each function converts one command-line string and returns the converted value, or
raises :class:`argparse.ArgumentTypeError` with a message that shows the value and says
what is allowed; argparse then prints ``insight-bayes <command>: error: argument
<option>: <message>`` and exits with status 2 (see :mod:`insight_bayes.cli`). Used as
``parser.add_argument("--workers", type=positive_int)``.

Imports stay light (no NumPy, pandas or PyTorch) so that building a parser is fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = [
    "existing_file",
    "int_at_least",
    "nonnegative_int",
    "nonnegative_ints",
    "positive_float",
    "positive_int",
    "rule_label",
    "rule_labels",
    "toml_file",
    "unit_interval",
]


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _number(text: str, expected: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None


def positive_int(text: str) -> int:
    """An integer ``>= 1`` (counts: seeds, workers, replicates, threads).

    >>> positive_int("3")
    3
    """
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def int_at_least(minimum: int):
    """An argument type for integers ``>= minimum`` (e.g. bootstrap replicates, >= 100).

    >>> int_at_least(100)("2000")
    2000
    """

    def parse(text: str) -> int:
        value = _integer(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}")
        return value

    parse.__name__ = f"int_at_least_{minimum}"
    return parse


def nonnegative_int(text: str) -> int:
    """An integer ``>= 0`` (a step count that may be zero, a seed)."""
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def nonnegative_ints(text: str) -> tuple[int, ...]:
    """Comma-separated integers >= 0, at least one (``"0,25,50"``: draws, seeds, steps)."""
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"expected integers >= 0, got {text!r}")
    return values


def positive_float(text: str) -> float:
    """A finite number ``> 0`` (seconds: a time budget, a measured speed).

    >>> positive_float("420")
    420.0
    """
    value = _number(text, "a number > 0")
    if not 0.0 < value < float("inf"):  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def unit_interval(text: str) -> float:
    """A number in ``(0, 1]`` (an accuracy target: 0 is reached before training).

    >>> unit_interval("0.5")
    0.5
    """
    value = _number(text, "a number in (0, 1]")
    if not 0.0 < value <= 1.0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text!r}")
    return value


def existing_file(text: str) -> Path:
    """The path of a file that exists (a config file)."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"no such file: {text!r}")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"not a file: {text!r}")
    return path


def toml_file(text: str) -> Path:
    """The path of an existing file that parses as TOML (a study config).

    Only the syntax is checked here; the contents are validated by the command, whose
    ``ValueError`` names the field that is wrong.
    """
    import tomllib

    path = existing_file(text)
    try:
        with path.open("rb") as f:
            tomllib.load(f)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not a valid TOML file: {err}") from None
    return path


def rule_label(text: str) -> str:
    """One rule label that builds a selector (see :func:`rule_labels`), with its name in
    the registered spelling (the paper's ``InSight`` is ``insight``).

    >>> rule_label("InSight:mu=0.1")
    'insight:mu=0.1'
    """
    from insight_bayes.selectors import canonical_rule_label, selector_from_label

    try:
        selector_from_label(text.strip())
        return canonical_rule_label(text.strip())
    except (TypeError, ValueError) as err:
        raise argparse.ArgumentTypeError(f"rule label {text!r}: {err}") from None


def rule_labels(text: str) -> list[str]:
    """Comma-separated rule labels, each of which builds a selector.

    The label syntax is :func:`insight_bayes.selectors.parse_rule_label`'s
    (``"name"`` or ``"name:param=value"``). Since parameters are separated by commas
    too, a part that looks like ``param=value`` continues the label before it:
    ``"random,insight:mu=0.1,eta=3"`` is two labels. Each label is built once with
    :func:`insight_bayes.selectors.selector_from_label`, so an unknown rule or a
    parameter the rule does not take is refused here with the rule's own message.

    >>> rule_labels("random,insight:mu=0.1,eta=3")
    ['random', 'insight:mu=0.1,eta=3']
    """
    labels: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if labels and "=" in part and ":" not in part:
            labels[-1] += f",{part}"
        else:
            labels.append(part)
    if not labels:
        raise argparse.ArgumentTypeError(f"expected at least one rule label, got {text!r}")
    return [rule_label(label) for label in labels]
