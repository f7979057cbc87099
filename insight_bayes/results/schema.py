"""The one tidy per-step schema, and the one builder of it from the loop's records.

Sweeps (simulated environments) and harness studies (GRPO) both run
:class:`insight_bayes.loop.SelectionLoop` and turn its
:class:`~insight_bayes.loop.StepRecord`\\ s into two tables with :class:`RunTables`:

* ``steps``: one row per (scenario, rule, seed, step); ``step = 0`` is the evaluation
  before training. Columns are documented in :data:`STEP_COLUMNS`; environments add
  their own metrics under a namespace (``eval/``, ``train/``, ``belief/``, ``info/``):
  the simulator ``eval/accuracy`` and ``belief/mae_pool``, the harness ``eval/pass1``,
  ``eval/greedy`` and ``train/loss`` for instance.
* ``choices``: one row per chosen prompt and step (:data:`CHOICE_COLUMNS`), beliefs
  taken before the update.

:func:`check_steps` and :func:`check_choices` validate a table against the schema and
return it, with errors that name the column.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from insight_bayes.beta import beta_entropy, mutual_information
from insight_bayes.validation import check_int

if TYPE_CHECKING:
    from insight_bayes.beliefs.beta_belief import BetaBelief
    from insight_bayes.loop import StepRecord

__all__ = [
    "CHOICE_COLUMNS",
    "METRIC_NAMESPACES",
    "REQUIRED_STEP_COLUMNS",
    "STEP_COLUMNS",
    "RunTables",
    "check_choices",
    "check_steps",
    "timing_columns",
]

#: Documented columns of the steps table: name -> (dtype kind, meaning). Kinds: ``O``
#: text, ``i`` integer, ``f`` real (NaN where not measured, e.g. at ``step = 0``).
STEP_COLUMNS: dict[str, tuple[str, str]] = {
    "scenario": ("O", "scenario key of a sweep (name@vN) or study key (rlvr-<task>@<digest>)"),
    "rule": ("O", "rule label, 'name' or 'name:param=value,...'"),
    "seed": ("i", "seed of the run as asked (the pool and warm-up are paired across rules)"),
    "step": ("i", "training step; 0 is the evaluation before training"),
    "run_seed": ("O", "root seed the loop ran on (text: derived seeds exceed int64)"),
    "m": ("i", "prompts trained on at this step"),
    "train_reward": ("f", "mean reward of the step's rollouts"),
    "informative_share": (
        "f",
        "share of trained groups whose binary outcomes (reward >= threshold) are mixed",
    ),
    "chosen_evidence": ("f", "mean alpha + beta of the chosen beliefs before the update"),
    "chosen_mean_belief": ("f", "mean alpha / (alpha + beta) of the chosen beliefs"),
    "chosen_score": ("f", "mean selection score of the chosen prompts"),
    "rollouts": ("i", "rollouts spent at this step (a rollout filter's extra ones included)"),
    "extra_rollouts": ("i", "rollouts beyond m * k"),
    "rounds": ("i", "generation rounds of the rule's rollout filter (1 unless it refills)"),
    "selection_seconds": ("f", "wall time of the selection"),
    "step_seconds": ("f", "wall time of the whole step"),
    "info/expected_gain": ("f", "sum over chosen prompts of I_K(alpha, beta) before (Eq. 13)"),
    "info/entropy_drop": ("f", "sum of the realised Beta entropy drops H(before) - H(after)"),
}

#: Columns every steps table has.
REQUIRED_STEP_COLUMNS = ("scenario", "rule", "seed", "step", "rollouts", "train_reward")

#: Namespaces of environment metrics (any ``<namespace>/<name>`` column is allowed).
METRIC_NAMESPACES = ("eval", "train", "belief", "info")

#: Columns of the choices table, in order: name -> (dtype kind, meaning).
CHOICE_COLUMNS: dict[str, tuple[str, str]] = {
    "scenario": ("O", "as in the steps table"),
    "rule": ("O", "as in the steps table"),
    "seed": ("i", "as in the steps table"),
    "step": ("i", "training step (>= 1)"),
    "prompt_id": ("i", "index of the prompt in the pool"),
    "rank": ("i", "0 for the best score of the step"),
    "alpha": ("f", "Beta alpha of the prompt before the update"),
    "beta": ("f", "Beta beta of the prompt before the update"),
    "score": ("f", "selection score"),
    "successes": ("f", "successes among the prompt's rollouts (belief counts)"),
    "trials": ("f", "trials counted (k)"),
}


def timing_columns(columns: Any) -> list[str]:
    """The wall-time columns (``*_seconds``) among ``columns``: they differ between runs."""
    return [c for c in columns if str(c).endswith("_seconds")]


class RunTables:
    """Builds one run's ``(steps, choices)`` tables from its step records.

    Call :meth:`add` with each record as the loop yields it, passing the loop's belief
    (already updated by that step) so that the realised entropy drop can be computed,
    then :meth:`frames`.

    Parameters
    ----------
    scenario : str
        Scenario or study key written into both tables.
    seed : int
        The run's seed as asked (``seed`` column).
    run_seed : int
        The loop's root seed (``run_seed`` column).
    k : int
        Rollouts per prompt (the ``K`` of ``info/expected_gain``).
    keep_choices : bool
        Also build the choices table.

    Examples
    --------
    >>> import numpy as np
    >>> from insight_bayes import FixedRateEnvironment, LoopConfig, SelectionLoop
    >>> loop = SelectionLoop(FixedRateEnvironment(np.linspace(0, 1, 20)), "insight",
    ...                      LoopConfig(m=2, k=4, steps=2, eval_every=1), seed=0)
    >>> tables = RunTables("demo@v1", seed=0, run_seed=0, k=4)
    >>> for record in loop.iter_steps():
    ...     tables.add(record, loop.belief)
    >>> steps, choices = tables.frames()
    >>> len(steps), len(choices)
    (3, 4)
    """

    def __init__(
        self, scenario: str, *, seed: int, run_seed: int, k: int, keep_choices: bool = True
    ) -> None:
        self.scenario = str(scenario)
        self.seed = check_int(seed, "seed", min_value=0)
        self.run_seed = check_int(run_seed, "run_seed", min_value=0)
        self.k = check_int(k, "k", min_value=1)
        self.keep_choices = bool(keep_choices)
        self._rows: list[dict[str, Any]] = []
        self._choices: list[dict[str, np.ndarray]] = []
        self._rule: str | None = None

    def add(self, record: StepRecord, belief: BetaBelief | None = None) -> None:
        """Add one record; ``belief`` is the loop's belief right after this step.

        Without ``belief`` the ``info/entropy_drop`` column is left out.
        """
        row = record.summary()
        self._rule = record.rule
        ids = np.asarray(record.ids)
        if ids.size:
            a0 = np.asarray(record.alpha_before, dtype=np.float64)
            b0 = np.asarray(record.beta_before, dtype=np.float64)
            row["info/expected_gain"] = float(np.sum(mutual_information(a0, b0, self.k)))
            if belief is not None:
                a1, b1 = belief.alpha[ids], belief.beta[ids]
                drop = beta_entropy(a0, b0) - beta_entropy(a1, b1)
                row["info/entropy_drop"] = float(np.sum(drop))
            if self.keep_choices:
                self._choices.append(
                    {
                        "step": np.full(ids.size, record.step),
                        "prompt_id": ids,
                        "rank": np.arange(ids.size),
                        "alpha": a0,
                        "beta": b0,
                        "score": np.asarray(record.scores),
                        "successes": np.asarray(record.successes),
                        "trials": np.asarray(record.trials),
                    }
                )
        self._rows.append(row)

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """``(steps, choices)``; ``choices`` is None unless ``keep_choices``."""
        steps = pd.DataFrame(self._rows)
        steps.insert(0, "scenario", self.scenario)
        steps["seed"] = self.seed
        steps["run_seed"] = str(self.run_seed)
        if not self.keep_choices:
            return steps, None
        names = [c for c in CHOICE_COLUMNS if c not in ("scenario", "rule", "seed")]
        if self._choices:
            choices = pd.DataFrame(
                {n: np.concatenate([part[n] for part in self._choices]) for n in names}
            )
        else:
            dtypes = {"i": np.int64, "f": np.float64}
            choices = pd.DataFrame(
                {n: np.empty(0, dtype=dtypes[CHOICE_COLUMNS[n][0]]) for n in names}
            )
        choices.insert(0, "seed", self.seed)
        choices.insert(0, "rule", self._rule if self._rule is not None else "")
        choices.insert(0, "scenario", self.scenario)
        return steps, choices


def _kind_ok(series: pd.Series, kind: str) -> bool:
    if kind == "O":
        return bool(series.map(lambda v: isinstance(v, str)).all())
    if kind == "i":
        return pd.api.types.is_integer_dtype(series)
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _check_columns(df: pd.DataFrame, documented: Mapping[str, tuple[str, str]], table: str) -> None:
    for name, (kind, _) in documented.items():
        if name in df.columns and not _kind_ok(df[name], kind):
            expected = {"O": "text", "i": "integer", "f": "numeric"}[kind]
            raise ValueError(
                f"{table} column {name!r} must be {expected}, got dtype {df[name].dtype}"
            )


def check_steps(df: pd.DataFrame) -> pd.DataFrame:
    """Validate a steps table against the schema and return it.

    Checks: the required columns (:data:`REQUIRED_STEP_COLUMNS`) are present; every
    documented column present has its documented type; every other column is an
    environment metric ``<namespace>/<name>`` with a namespace of
    :data:`METRIC_NAMESPACES` or a timing column ``*_seconds``; ``step >= 0``;
    ``rollouts >= 0``; one row per (scenario, rule, seed, step).
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"steps must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in REQUIRED_STEP_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"steps table lacks required column(s) {missing}")
    _check_columns(df, STEP_COLUMNS, "steps")
    for name in df.columns:
        if name in STEP_COLUMNS or str(name).endswith("_seconds"):
            continue
        namespace, sep, rest = str(name).partition("/")
        if not sep or not rest or namespace not in METRIC_NAMESPACES:
            raise ValueError(
                f"steps column {name!r} is neither documented (STEP_COLUMNS) nor a metric "
                f"'<namespace>/<name>' with a namespace in {list(METRIC_NAMESPACES)}"
            )
        if not pd.api.types.is_numeric_dtype(df[name]):
            raise ValueError(f"metric column {name!r} must be numeric, got {df[name].dtype}")
    if (df["step"] < 0).any():
        raise ValueError("steps column 'step' has negative values")
    if (df["rollouts"] < 0).any():
        raise ValueError("steps column 'rollouts' has negative values")
    dup = df.duplicated(["scenario", "rule", "seed", "step"])
    if dup.any():
        first = df.loc[dup, ["scenario", "rule", "seed", "step"]].iloc[0].to_dict()
        raise ValueError(f"steps table has more than one row for {first}")
    return df


def check_choices(df: pd.DataFrame) -> pd.DataFrame:
    """Validate a choices table (:data:`CHOICE_COLUMNS`, exactly, in any order); return it."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"choices must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in CHOICE_COLUMNS if c not in df.columns]
    extra = [c for c in df.columns if c not in CHOICE_COLUMNS]
    if missing or extra:
        raise ValueError(f"choices table: missing column(s) {missing}, unknown column(s) {extra}")
    _check_columns(df, CHOICE_COLUMNS, "choices")
    if len(df) and (df["step"] < 1).any():
        raise ValueError("choices column 'step' must be >= 1 (no choices before training)")
    if len(df) and ((df["alpha"] <= 0) | (df["beta"] <= 0)).any():
        raise ValueError("choices columns 'alpha' and 'beta' must be > 0")
    return df
