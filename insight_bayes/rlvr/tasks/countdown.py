"""Countdown: reach a target from 3 or 4 numbers with ``+ - * /`` (the paper's planning task).

Prompt ``"25,3,7=46:"`` asks for an expression over the numbers 25, 3, 7 that equals 46,
each number used at most once, for example ``"(7-3)*25-54"`` is wrong (54 is not given)
and ``"25+3*7"`` is right. The verifier is a small recursive-descent parser evaluated in
exact rational arithmetic (:class:`fractions.Fraction`), never ``eval``; every input is
bounded (length, nesting depth, digits per number, size of intermediate values), so
hostile output scores 0 without an exception or a hang.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from insight_bayes.rlvr.tasks.base import (
    CORRECT_REWARD,
    FORMAT_REWARD,
    Grade,
    Problem,
    prompt_id,
    register_task,
)
from insight_bayes.validation import check_int

__all__ = ["Countdown", "ExpressionError", "evaluate_expression"]

#: Longest expression the verifier reads (characters).
MAX_EXPRESSION_CHARS = 64
#: Deepest parenthesis nesting accepted.
MAX_DEPTH = 8
#: Most digits in one number.
MAX_NUMBER_DIGITS = 6
#: Largest numerator or denominator of any intermediate value.
MAX_MAGNITUDE = 10**12

_SPLIT_NUMBER = re.compile(r"[0-9] +[0-9]")


class ExpressionError(ValueError):
    """The text is not a well-formed, bounded arithmetic expression."""


def evaluate_expression(text: str) -> tuple[Fraction, list[int]]:
    """Parse and evaluate ``text`` exactly; return its value and the numbers it uses.

    Grammar (no unary minus, no implicit multiplication, spaces ignored)::

        expr   := term (('+' | '-') term)*
        term   := factor (('*' | '/') factor)*
        factor := NUMBER | '(' expr ')'

    Raises
    ------
    ExpressionError
        For anything else: empty or too long text, unknown characters, unbalanced or too
        deep parentheses, numbers over ``MAX_NUMBER_DIGITS`` digits, division by zero,
        or an intermediate value beyond ``MAX_MAGNITUDE``.
    """
    if not isinstance(text, str):
        raise ExpressionError(f"expression must be a string, got {type(text).__name__}")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    if _SPLIT_NUMBER.search(text):
        raise ExpressionError("unexpected space between digits")
    parser = _Parser(text.replace(" ", ""))
    value = parser.expr(0)
    if parser.pos != len(parser.text):
        raise ExpressionError(f"unexpected {parser.text[parser.pos]!r} at {parser.pos}")
    return value, parser.numbers


class _Parser:
    def __init__(self, text: str) -> None:
        if not text:
            raise ExpressionError("empty expression")
        self.text = text
        self.pos = 0
        self.numbers: list[int] = []

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expr(self, depth: int) -> Fraction:
        value = self.term(depth)
        while self.peek() in ("+", "-") and self.peek():
            op = self.text[self.pos]
            self.pos += 1
            rhs = self.term(depth)
            value = _bounded(value + rhs if op == "+" else value - rhs)
        return value

    def term(self, depth: int) -> Fraction:
        value = self.factor(depth)
        while self.peek() in ("*", "/") and self.peek():
            op = self.text[self.pos]
            self.pos += 1
            rhs = self.factor(depth)
            if op == "*":
                value = _bounded(value * rhs)
            else:
                if rhs == 0:
                    raise ExpressionError("division by zero")
                value = _bounded(value / rhs)
        return value

    def factor(self, depth: int) -> Fraction:
        c = self.peek()
        if c == "(":
            if depth >= MAX_DEPTH:
                raise ExpressionError(f"parentheses nested deeper than {MAX_DEPTH}")
            self.pos += 1
            value = self.expr(depth + 1)
            if self.peek() != ")":
                raise ExpressionError("unbalanced parentheses")
            self.pos += 1
            return value
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in "0123456789":
            self.pos += 1
            if self.pos - start > MAX_NUMBER_DIGITS:
                raise ExpressionError(f"number with more than {MAX_NUMBER_DIGITS} digits")
        if self.pos == start:
            raise ExpressionError(f"expected a number or '(' at {start}")
        number = int(self.text[start : self.pos])
        self.numbers.append(number)
        return Fraction(number)


def _bounded(value: Fraction) -> Fraction:
    if abs(value.numerator) > MAX_MAGNITUDE or value.denominator > MAX_MAGNITUDE:
        raise ExpressionError(f"intermediate value beyond {MAX_MAGNITUDE}")
    return value


@register_task("countdown")
@dataclass(frozen=True)
class Countdown:
    """Countdown with ``min_numbers`` to ``max_numbers`` source numbers in ``[1, max_number]``.

    The generator combines all the numbers in a random order with random operations
    (keeping every intermediate value a positive integer) and takes the result as the
    target, so every problem has the stored solution. Any expression that uses each
    given number at most once and equals the target is accepted.

    Attributes
    ----------
    min_numbers, max_numbers : int
        Range of the count of source numbers (3 or 4 in the paper).
    max_number : int
        Largest source number.
    max_target : int
        Largest target (and intermediate value) of a generated problem.
    """

    min_numbers: int = 3
    max_numbers: int = 4
    max_number: int = 25
    max_target: int = 200
    alphabet: str = "0123456789+-*/()=,:"
    name: str = "countdown"

    #: Many expressions reach the target: pass@1 must be sampled.
    unique_answer = False

    def __post_init__(self) -> None:
        check_int(self.min_numbers, "min_numbers", min_value=2, max_value=6)
        check_int(self.max_numbers, "max_numbers", min_value=self.min_numbers, max_value=6)
        check_int(self.max_number, "max_number", min_value=2, max_value=999)
        check_int(self.max_target, "max_target", min_value=2, max_value=99999)

    @property
    def max_prompt_chars(self) -> int:
        return self.max_numbers * (len(str(self.max_number)) + 1) + len(str(self.max_target)) + 1

    @property
    def max_answer_chars(self) -> int:
        # numbers, n - 1 operators and at most two parentheses per operator
        return self.max_numbers * len(str(self.max_target)) + 3 * (self.max_numbers - 1)

    def sample(self, rng: np.random.Generator) -> Problem:
        for _ in range(1000):
            n = int(rng.integers(self.min_numbers, self.max_numbers + 1))
            numbers = [int(x) for x in rng.integers(1, self.max_number + 1, size=n)]
            built = self._combine(numbers, rng)
            if built is not None:
                target, solution, ops = built
                prompt = f"{','.join(map(str, numbers))}={target}:"
                return Problem(
                    id=prompt_id(self.name, prompt),
                    prompt=prompt,
                    solution=solution,
                    truth={"numbers": numbers, "target": target},
                    features={
                        "numbers": float(n),
                        "target": float(target),
                        "mul_div": float(sum(op in "*/" for op in ops)),
                    },
                )
        raise RuntimeError("countdown generator failed 1000 times in a row")  # pragma: no cover

    def _combine(
        self, numbers: list[int], rng: np.random.Generator
    ) -> tuple[int, str, list[str]] | None:
        items = [(v, str(v), True) for v in numbers]  # value, text, is_atom
        ops: list[str] = []
        while len(items) > 1:
            i, j = (int(x) for x in rng.choice(len(items), size=2, replace=False))
            (a, ta, aa), (b, tb, ab) = items[i], items[j]
            if a < b:
                (a, ta, aa), (b, tb, ab) = (b, tb, ab), (a, ta, aa)
            choices = (
                ["+", "*"] + (["-"] if a > b else []) + (["/"] if b > 1 and a % b == 0 else [])
            )
            op = str(rng.choice(choices))
            value = {"+": a + b, "-": a - b, "*": a * b, "/": a // b if b else 0}[op]
            if value < 1 or value > self.max_target:
                return None
            ta = ta if aa or op in "+-" and not ta.startswith("(") else f"({ta})"
            tb = tb if ab else f"({tb})"
            text = f"{ta}{op}{tb}"
            items = [it for n, it in enumerate(items) if n not in (i, j)] + [(value, text, False)]
            ops.append(op)
        value, text, _ = items[0]
        return value, text, ops

    def grade(self, problem: Problem, completion: str) -> Grade:
        """1 if correct; 0.1 if a well-formed expression that is wrong or uses numbers
        not given (or one too often); 0 if it does not parse or cannot be evaluated."""
        if not isinstance(completion, str) or len(completion) > MAX_EXPRESSION_CHARS:
            return Grade(0.0, False)
        try:
            value, used = evaluate_expression(completion.strip())
        except ExpressionError:
            return Grade(0.0, False)
        given = Counter(int(x) for x in problem.truth["numbers"])
        if Counter(used) - given or value != int(problem.truth["target"]):
            return Grade(FORMAT_REWARD, False)
        return Grade(CORRECT_REWARD, True)
