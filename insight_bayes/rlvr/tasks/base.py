"""The task protocol: seeded problems with stable ids, difficulty features and a verifier.

A task generates :class:`Problem` records from a ``numpy`` generator and grades a model's
completion with a :class:`Grade` (a shaped reward in ``[0, 1]`` and the binary
"correct" outcome that the beliefs use). :func:`make_splits` draws a training pool and a
held-out test set that share no prompt.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from insight_bayes.validation import RngLike, as_generator, check_int

__all__ = [
    "CORRECT_REWARD",
    "FORMAT_REWARD",
    "Grade",
    "Problem",
    "Task",
    "available_tasks",
    "make_splits",
    "make_task",
    "prompt_id",
    "register_task",
]

#: Reward of a correct answer.
CORRECT_REWARD = 1.0
#: Reward of a well-formed but wrong answer (the TinyZero/Countdown format reward).
FORMAT_REWARD = 0.1


@dataclass(frozen=True)
class Problem:
    """One prompt with its ground truth.

    Attributes
    ----------
    id : str
        Stable id: a hash of the task name and prompt text (the same prompt always gets
        the same id, whatever seed drew it).
    prompt : str
        Text given to the model.
    solution : str
        One reference completion (the SFT target); any correct completion is accepted.
    truth : dict
        What the verifier needs (for example the numbers and the target).
    features : dict of str to float
        Difficulty features (digits, carries, numbers used, ...).
    """

    id: str
    prompt: str
    solution: str
    truth: dict[str, Any] = field(default_factory=dict)
    features: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Problem:
        return cls(
            id=str(d["id"]),
            prompt=str(d["prompt"]),
            solution=str(d["solution"]),
            truth=dict(d.get("truth", {})),
            features={k: float(v) for k, v in d.get("features", {}).items()},
        )


@dataclass(frozen=True)
class Grade:
    """Verifier output: shaped ``reward`` in ``[0, 1]`` and binary ``correct``."""

    reward: float
    correct: bool


@runtime_checkable
class Task(Protocol):
    """A verifiable task. ``alphabet`` lists every character of prompts and solutions.

    ``unique_answer`` says whether each problem has exactly one correct completion (then
    pass@1 is computed exactly from log-probabilities instead of sampled).
    """

    name: str
    alphabet: str
    max_prompt_chars: int
    max_answer_chars: int
    unique_answer: bool

    def sample(self, rng: np.random.Generator) -> Problem:
        """Draw one problem."""

    def grade(self, problem: Problem, completion: str) -> Grade:
        """Grade a completion; never raises, never hangs (bounded work per call)."""


def prompt_id(task_name: str, prompt: str) -> str:
    """Stable id of a prompt: ``"<task>-"`` and 12 hex digits of a SHA-256."""
    digest = hashlib.sha256(f"{task_name}\x00{prompt}".encode()).hexdigest()[:12]
    return f"{task_name}-{digest}"


_TASKS: dict[str, Callable[..., Task]] = {}


def register_task(name: str) -> Callable[[type], type]:
    """Class decorator adding a task to the registry under ``name``."""

    def decorator(cls: type) -> type:
        if name in _TASKS:
            raise ValueError(f"a task named {name!r} is already registered")
        cls.name = name
        _TASKS[name] = cls
        return cls

    return decorator


def available_tasks() -> list[str]:
    """Names accepted by :func:`make_task` (registered when :mod:`insight_bayes.rlvr.tasks`,
    which every import of this module goes through, imports the task modules)."""
    return list(_TASKS)


def make_task(name: str, **params: Any) -> Task:
    """Build the registered task ``name`` with its parameters."""
    names = available_tasks()
    if name not in _TASKS:
        raise ValueError(f"unknown task {name!r}; available: {', '.join(names)}")
    try:
        return _TASKS[name](**params)
    except TypeError as err:
        raise TypeError(f"task {name!r}: {err}") from None


def _draw_unique(
    task: Task, n: int, rng: np.random.Generator, taken: set[str], max_tries: int
) -> list[Problem]:
    out: list[Problem] = []
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > max_tries:
            raise ValueError(
                f"task {task.name!r} produced only {len(out)} distinct new prompts out of "
                f"{n} wanted after {max_tries} draws; ask for fewer or widen the task"
            )
        p = task.sample(rng)
        if p.id in taken:
            continue
        taken.add(p.id)
        out.append(p)
    return out


def make_splits(
    task: Task, pool_size: int, test_size: int, rng: RngLike
) -> tuple[list[Problem], list[Problem]]:
    """Draw a training pool and a held-out test set with no prompt in common.

    Prompts are drawn from ``rng`` until ``pool_size + test_size`` distinct ones are
    found; the test set is drawn first so that growing the pool never changes it.
    """
    pool_size = check_int(pool_size, "pool_size", min_value=1)
    test_size = check_int(test_size, "test_size", min_value=0)
    gen = as_generator(rng)
    test_rng, pool_rng = gen.spawn(2)
    taken: set[str] = set()
    budget = 50 * (pool_size + test_size) + 1000
    test = _draw_unique(task, test_size, test_rng, taken, budget)
    pool = _draw_unique(task, pool_size, pool_rng, taken, budget)
    return pool, test
