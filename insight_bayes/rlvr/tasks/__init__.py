"""Verifiable tasks: seeded problems, stable ids, difficulty features, safe verifiers."""

from insight_bayes.rlvr.tasks.arithmetic import Addition, count_carries
from insight_bayes.rlvr.tasks.base import (
    CORRECT_REWARD,
    FORMAT_REWARD,
    Grade,
    Problem,
    Task,
    available_tasks,
    make_splits,
    make_task,
    prompt_id,
    register_task,
)
from insight_bayes.rlvr.tasks.countdown import Countdown, ExpressionError, evaluate_expression

__all__ = [
    "CORRECT_REWARD",
    "FORMAT_REWARD",
    "Addition",
    "Countdown",
    "ExpressionError",
    "Grade",
    "Problem",
    "Task",
    "available_tasks",
    "count_carries",
    "evaluate_expression",
    "make_splits",
    "make_task",
    "prompt_id",
    "register_task",
]
