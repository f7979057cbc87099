"""Multi-digit addition written least-significant digit first.

Operands and answer are written in reverse digit order (``"321+54="`` asks for
``123 + 45`` and expects ``"861"``, that is ``168`` reversed), which lets a small causal
model emit each digit after the digits it depends on. Difficulty per prompt: the number
of digits of the longer operand and the number of carries.
"""

from __future__ import annotations

from dataclasses import dataclass

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

__all__ = ["Addition", "count_carries"]


def count_carries(a: int, b: int) -> int:
    """Number of carries when adding the non-negative integers ``a`` and ``b``."""
    carries, carry = 0, 0
    while a or b:
        carry = 1 if (a % 10 + b % 10 + carry) >= 10 else 0
        carries += carry
        a, b = a // 10, b // 10
    return carries


@register_task("addition")
@dataclass(frozen=True)
class Addition:
    """Reversed-digit addition of two numbers of ``min_digits`` to ``max_digits`` digits.

    Attributes
    ----------
    min_digits, max_digits : int
        Range of the number of digits of each operand (drawn per prompt, per operand).
        The tier of a prompt is its ``digits`` feature (the longer operand).
    fixed_width : bool
        Pad operands to ``frame_digits`` and the answer to ``frame_digits + 1`` digits.
    frame_digits : int, optional
        Width of the fixed frame (default ``max_digits``). A warm-up on easy tiers uses
        the frame of the full task (``max_digits=4, frame_digits=6`` for a 1-6 digit
        pool), so that both write prompts and answers the same way.

    Every problem has exactly one correct completion (:attr:`unique_answer`), so pass@1
    can be computed exactly from the policy's log-probability of the solution.
    """

    min_digits: int = 1
    max_digits: int = 5
    fixed_width: bool = True
    frame_digits: int | None = None
    alphabet: str = "0123456789+="
    name: str = "addition"

    def __post_init__(self) -> None:
        check_int(self.min_digits, "min_digits", min_value=1)
        check_int(self.max_digits, "max_digits", min_value=self.min_digits, max_value=30)
        if self.frame_digits is not None:
            check_int(self.frame_digits, "frame_digits", min_value=self.max_digits, max_value=30)

    #: One correct completion per problem: exact pass@1 is exp(log p(solution + eos)).
    unique_answer = True

    @property
    def frame(self) -> int:
        """Digits of the fixed frame (operands are padded to it)."""
        return self.max_digits if self.frame_digits is None else self.frame_digits

    @property
    def max_prompt_chars(self) -> int:
        return 2 * self.frame + 2

    @property
    def max_answer_chars(self) -> int:
        return self.frame + 1

    def sample(self, rng: np.random.Generator) -> Problem:
        da, db = (int(d) for d in rng.integers(self.min_digits, self.max_digits + 1, size=2))
        a, b = (_draw_number(d, rng) for d in (da, db))
        width, answer_width = (self.frame, self.frame + 1) if self.fixed_width else (0, 0)
        prompt = f"{_reversed(a, width)}+{_reversed(b, width)}="
        return Problem(
            id=prompt_id(self.name, prompt),
            prompt=prompt,
            solution=_reversed(a + b, answer_width),
            truth={"a": a, "b": b},
            features={"digits": float(max(da, db)), "carries": float(count_carries(a, b))},
        )

    def grade(self, problem: Problem, completion: str) -> Grade:
        """1 for the right reversed sum, 0.1 for digits only but wrong, 0 otherwise."""
        if not isinstance(completion, str) or len(completion) > self.max_answer_chars + 8:
            return Grade(0.0, False)
        text = completion.strip()
        if not text or not text.isascii() or not text.isdigit():
            return Grade(0.0, False)
        if text == problem.solution:
            return Grade(CORRECT_REWARD, True)
        return Grade(FORMAT_REWARD, False)


def _reversed(x: int, width: int) -> str:
    return str(x).zfill(width)[::-1]


def _draw_number(digits: int, rng: np.random.Generator) -> int:
    first = int(rng.integers(1, 10)) if digits > 1 else int(rng.integers(0, 10))
    rest = rng.integers(0, 10, size=digits - 1)
    return int(str(first) + "".join(str(int(d)) for d in rest))
