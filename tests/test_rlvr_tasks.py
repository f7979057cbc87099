"""Tasks and verifiers: seeded generation, stable ids, JSONL, disjoint splits, hostile output."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from insight_bayes.rlvr.tasks import (
    Addition,
    Countdown,
    ExpressionError,
    Problem,
    available_tasks,
    count_carries,
    evaluate_expression,
    make_splits,
    make_task,
    prompt_id,
)


def _carries_by_columns(a: int, b: int) -> int:
    """Independent route: column sums on zero-padded digit strings."""
    width = max(len(str(a)), len(str(b)))
    da, db = str(a).zfill(width)[::-1], str(b).zfill(width)[::-1]
    carry, count = 0, 0
    for x, y in zip(da, db, strict=True):
        carry = (int(x) + int(y) + carry) // 10
        count += carry
    return count


def test_registry():
    assert {"addition", "countdown"} <= set(available_tasks())
    with pytest.raises(ValueError, match="unknown task 'sudoku'"):
        make_task("sudoku")
    with pytest.raises(TypeError, match="addition"):
        make_task("addition", digits=3)
    with pytest.raises(ValueError, match="max_digits"):
        make_task("addition", min_digits=4, max_digits=2)


@pytest.mark.parametrize("a,b,expected", [(0, 0, 0), (5, 5, 1), (999, 1, 3), (123, 456, 0)])
def test_count_carries_by_hand(a, b, expected):
    assert count_carries(a, b) == expected


@given(st.integers(0, 10**12), st.integers(0, 10**12))
def test_count_carries_matches_column_route(a, b):
    assert count_carries(a, b) == _carries_by_columns(a, b)


@pytest.mark.parametrize("fixed_width", [True, False])
def test_addition_problems_are_correct(fixed_width):
    task = Addition(min_digits=1, max_digits=4, fixed_width=fixed_width)
    rng = np.random.default_rng(0)
    for _ in range(200):
        p = task.sample(rng)
        a, b = p.truth["a"], p.truth["b"]
        left, right = p.prompt[:-1].split("+")
        assert int(left[::-1]) == a and int(right[::-1]) == b
        assert int(p.solution[::-1]) == a + b
        assert p.features["carries"] == count_carries(a, b)
        assert p.features["digits"] == max(len(str(a)), len(str(b)))
        assert len(p.prompt) <= task.max_prompt_chars
        assert len(p.solution) <= task.max_answer_chars
        assert task.grade(p, p.solution).correct
        assert set(p.prompt + p.solution) <= set(task.alphabet)


def test_addition_grades():
    task = Addition(max_digits=3)
    p = task.sample(np.random.default_rng(3))
    assert task.grade(p, p.solution) == task.grade(p, " " + p.solution + " ")
    assert task.grade(p, p.solution).reward == 1.0
    wrong = ("1" if p.solution[0] != "1" else "2") + p.solution[1:]
    assert task.grade(p, wrong).reward == pytest.approx(0.1)
    assert not task.grade(p, wrong).correct
    for bad in ["", "abc", "12+3", "-12", "1" * 10_000, "١٢"]:
        assert task.grade(p, bad).reward == 0.0


@pytest.mark.parametrize(
    "text,value,numbers",
    [
        ("1+2*3", 7, [1, 2, 3]),
        ("(1+2)*3", 9, [1, 2, 3]),
        ("8/3", Fraction(8, 3), [8, 3]),
        ("10-4-3", 3, [10, 4, 3]),
        ("2*(3+(4-1))", 12, [2, 3, 4, 1]),
        (" 6 / 4 * 2 ", 3, [6, 4, 2]),
    ],
)
def test_expression_values(text, value, numbers):
    got, used = evaluate_expression(text)
    assert got == value and used == numbers


@pytest.mark.parametrize(
    "text,match",
    [
        ("", "empty"),
        ("1/0", "division by zero"),
        ("4/(2-2)", "division by zero"),
        ("(" * 9 + "1" + ")" * 9, "nested"),
        ("1234567+1", "digits"),
        ("999999*999999*999999", "beyond"),
        ("1+", "expected a number"),
        ("(1+2", "unbalanced"),
        ("1 2", "unexpected"),
        ("-1+2", "expected a number"),
        ("2**3", "expected a number"),
        ("1" * 100, "longer"),
        ("__import__('os')", "expected a number"),
    ],
)
def test_expression_errors(text, match):
    with pytest.raises(ExpressionError, match=match):
        evaluate_expression(text)


def test_countdown_problems_are_solvable():
    task = Countdown()
    rng = np.random.default_rng(1)
    for _ in range(300):
        p = task.sample(rng)
        assert 3 <= len(p.truth["numbers"]) <= 4
        assert 1 <= p.truth["target"] <= task.max_target
        assert task.grade(p, p.solution) == task.grade(p, p.solution).__class__(1.0, True)
        assert len(p.prompt) <= task.max_prompt_chars
        assert len(p.solution) <= task.max_answer_chars
        assert set(p.prompt + p.solution) <= set(task.alphabet)


def test_countdown_grades():
    p = Problem(
        id="x", prompt="25,3,7=46:", solution="25+3*7", truth={"numbers": [25, 3, 7], "target": 46}
    )
    task = Countdown()
    assert task.grade(p, "3*7+25").correct
    assert task.grade(p, "25+3*7").reward == 1.0
    assert task.grade(p, "25+7").reward == pytest.approx(0.1)  # well-formed, wrong value
    assert task.grade(p, "25+21").reward == pytest.approx(0.1)  # 21 is not given
    assert task.grade(p, "25+3*7+3-3").reward == pytest.approx(0.1)  # 3 used three times
    assert task.grade(p, "25/0").reward == 0.0
    assert task.grade(p, "46").reward == pytest.approx(0.1)


HOSTILE = [
    "9" * 10_000,
    "(" * 5000 + "1" + ")" * 5000,
    "1/0",
    "99999*99999*99999*99999",
    "\x00\xff" * 50,
    "((((((((((((1))))))))))))",
    "1/(3-3)",
    "🙂" * 100,
]


@pytest.mark.parametrize("task_name", ["addition", "countdown"])
@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_output_scores_zero(task_name, text):
    task = make_task(task_name)
    p = task.sample(np.random.default_rng(0))
    grade = task.grade(p, text)
    assert grade.reward == 0.0 and not grade.correct


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from("0123456789+-*/() x"), max_size=80))
def test_countdown_never_raises(text):
    task = Countdown()
    p = Problem("x", "1,2,3=6:", "1+2+3", {"numbers": [1, 2, 3], "target": 6})
    grade = task.grade(p, text)
    assert grade.reward in (0.0, 0.1, 1.0)
    assert grade.correct == (grade.reward == 1.0)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_addition_never_raises(text):
    task = Addition()
    p = task.sample(np.random.default_rng(0))
    assert task.grade(p, text).reward in (0.0, 0.1, 1.0)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 30), min_size=2, max_size=4))
def test_countdown_accepts_any_sum(numbers):
    """Any expression that uses the numbers once and hits the target is correct."""
    target = sum(numbers)
    p = Problem("x", "", "", {"numbers": numbers, "target": target})
    assert Countdown().grade(p, "+".join(map(str, reversed(numbers)))).correct


def test_stable_ids():
    task = make_task("countdown")
    pool, test = make_splits(task, 40, 10, 7)
    again, _ = make_splits(task, 40, 10, 7)
    assert [p.id for p in pool] == [p.id for p in again]
    assert pool[0].id == prompt_id("countdown", pool[0].prompt)
    assert len({p.id for p in pool}) == len(pool)


@pytest.mark.parametrize("task_name", ["addition", "countdown"])
def test_splits_disjoint_and_test_stable(task_name):
    task = make_task(task_name)
    pool, test = make_splits(task, 100, 30, 0)
    assert len({p.id for p in pool}) == 100 and len({p.id for p in test}) == 30
    assert not {p.prompt for p in pool} & {p.prompt for p in test}
    _, test_again = make_splits(task, 150, 30, 0)
    assert test_again == test  # growing the pool does not change the test set


def test_splits_refuse_impossible_sizes():
    task = make_task("addition", min_digits=1, max_digits=1)  # 100 distinct prompts
    with pytest.raises(ValueError, match="distinct"):
        make_splits(task, 90, 20, 0)


def test_addition_frame_lets_a_warm_up_on_easy_tiers_share_the_pool_format():
    easy = make_task("addition", min_digits=1, max_digits=4, frame_digits=6)
    full = make_task("addition", min_digits=1, max_digits=6)
    rng = np.random.default_rng(0)
    for _ in range(50):
        p = easy.sample(rng)
        assert len(p.prompt) == len(full.sample(rng).prompt) == 2 * 6 + 2
        assert len(p.solution) == 7 and p.features["digits"] <= 4
        a, b = p.truth["a"], p.truth["b"]
        assert int(p.solution[::-1]) == a + b
    assert (easy.max_prompt_chars, easy.max_answer_chars) == (14, 7)
    assert easy.unique_answer and not make_task("countdown").unique_answer
    with pytest.raises(ValueError, match="frame_digits"):
        make_task("addition", max_digits=6, frame_digits=5)
