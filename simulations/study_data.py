"""A harness study as the predictor reads it: its Random runs, its design as a scenario, and
one simulated run of it. The prediction itself is :mod:`simulations.predict`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from insight_bayes.loop import LoopConfig, SelectionLoop
from insight_bayes.selectors import selector_from_label
from insight_bayes.validation import check_int, check_real
from simulations.harness_record import EmpiricalLearningConfig, HarnessRecord, harness_record
from simulations.scenarios import Scenario
from simulations.structure import learner_settings

__all__ = [
    "LR_GRID",
    "ROLLOUT_RULES",
    "StudyData",
    "depletion_grid",
    "lr_grid",
    "read_study",
    "simulate_run",
    "study_scenario",
]

#: Rules whose extra rollouts make a per-rollout speed-up differ from the per-step one.
ROLLOUT_RULES = ("dynamic-sampling",)

#: The default learning-rate grid (log-spaced) of the calibration.
LR_GRID = tuple(np.exp(np.linspace(np.log(3e-3), np.log(3.0), 21)).tolist())

#: The default grid of the transfer depletion ``n0`` (``None``: no depletion).
DEPLETION_GRID: tuple[float | None, ...] = (0.25, 0.5, 1.0, 2.0, 4.0, None)


def lr_grid(points: int, low: float = 3e-3, high: float = 3.0) -> tuple[float, ...]:
    """``points`` learning rates log-spaced over ``[low, high]`` (one: their geometric mean)."""
    check_int(points, "points", min_value=1)
    if points == 1:
        return (float(np.sqrt(low * high)),)
    return tuple(np.exp(np.linspace(np.log(low), np.log(high), points)).tolist())


def depletion_grid(text: str) -> tuple[float | None, ...]:
    """Parse ``"0.5,1,none"`` into transfer depletions (``none``: no depletion)."""
    values: list[float | None] = []
    for item in filter(None, (t.strip().lower() for t in text.split(","))):
        values.append(
            None
            if item in ("none", "inf")
            else check_real(float(item), "n0", low=0.0, low_inclusive=False)
        )
    if not values:
        raise ValueError("the depletion grid needs at least one value ('none' for none)")
    return tuple(values)


# ------------------------------------------------------------------------ the study
@dataclass(frozen=True)
class StudyData:
    """A harness study folder, read for prediction.

    Attributes
    ----------
    name : str
        The folder's name.
    folder : Path
    records : tuple of HarnessRecord
        One per task draw (Random's curves, the measured pool, the loop).
    draws : tuple of int
    rules : tuple of str
        The study's rules (Random first).
    fractions : tuple of float
    n_seeds : int
        Harness seeds per draw.
    warmup_steps : int
        The harness's learning-rate warm-up (``grpo.lr_warmup_steps``).
    max_grad_norm : float or None
        The harness's clipping threshold (``grpo.max_grad_norm``).
    realised : DataFrame or None
        The study's ``speedup_curve.csv`` when it has one.
    """

    name: str
    folder: Path
    records: tuple[HarnessRecord, ...]
    draws: tuple[int, ...]
    rules: tuple[str, ...]
    fractions: tuple[float, ...]
    n_seeds: int
    warmup_steps: int
    max_grad_norm: float | None
    realised: pd.DataFrame | None = field(default=None, compare=False)


def read_study(folder: str | Path) -> StudyData:
    """Read a harness study folder (one draw, or ``draw-<d>/`` sub-folders).

    Parameters
    ----------
    folder : path
        Written by ``rlvr-study`` (or following its schema: ``manifest.json`` with
        ``config.loop``, ``config.study`` and optionally ``config.grpo``,
        ``pool.parquet`` with ``warmup_rate``, ``steps.parquet`` with Random's runs).
    """
    folder = Path(folder)
    subs = sorted(
        (p for p in folder.glob("draw-*") if (p / "pool.parquet").exists()),
        key=lambda p: int(p.name.split("-")[1]),
    )
    parts = subs if subs else [folder]
    records = tuple(harness_record(p) for p in parts)
    draws = tuple(int(p.name.split("-")[1]) for p in subs) if subs else (0,)
    manifest = json.loads((parts[0] / "manifest.json").read_text())
    grpo = manifest["config"].get("grpo", {})
    realised_path = folder / "speedup_curve.csv"
    realised = pd.read_csv(realised_path) if realised_path.exists() else None
    rules = tuple(dict.fromkeys(["random", *records[0].rules]))
    clip = grpo.get("max_grad_norm")
    return StudyData(
        name=folder.name,
        folder=folder,
        records=records,
        draws=draws,
        rules=rules,
        fractions=records[0].fractions,
        n_seeds=min(r.n_seeds for r in records),
        warmup_steps=int(grpo.get("lr_warmup_steps", 0)),
        max_grad_norm=float(clip) if clip else None,
        realised=realised,
    )


def study_scenario(
    record: HarnessRecord,
    structure: dict[str, Any],
    learning_rate: float,
    *,
    warmup_steps: int = 0,
    max_grad_norm: float | None = None,
    transfer_depletion: float | None = None,
) -> Scenario:
    """The measured-learner scenario of one draw's measured pool at ``learning_rate``.

    The structure's fields (:func:`simulations.structure.learner_settings`) and the
    harness's warm-up and clipping are fixed; ``learning_rate`` and
    ``transfer_depletion`` are the calibrated knobs.
    """
    check_real(learning_rate, "learning_rate", low=0.0, low_inclusive=False)
    n_groups = len(record.tier_labels)
    env = EmpiricalLearningConfig(
        pool_size=record.successes.size,
        heldout_size=512,
        n_groups=n_groups,
        group_spread=0.0,
        learning_rate=float(learning_rate),
        forgetting=0.0,
        warmup_steps=warmup_steps,
        max_grad_norm=max_grad_norm,
        transfer_depletion=transfer_depletion,
        start_successes=tuple(int(x) for x in record.successes),
        start_trials=tuple(int(x) for x in record.trials),
        start_groups=tuple(int(x) for x in record.tiers),
        tier_priors=record.tier_priors,
        **learner_settings(structure, n_groups),
    )
    loop = LoopConfig(
        m=record.m, k=record.k, steps=record.steps,
        candidate_ratio=record.candidate_ratio, eval_every=1,
    )  # fmt: skip
    return Scenario(
        name=f"measured-{record.name}",
        version=1,
        description=f"measured learner on {record.name}'s pool, learning rate {learning_rate:.4g}",
        env=env,
        loop=loop,
    )


def simulate_run(scenario: Scenario, rule: str, seed: int) -> dict[str, np.ndarray]:
    """One simulated run: held-out accuracy, cumulative rollouts, training success.

    Returns arrays over steps ``0..T`` (``accuracy``, ``rollouts``) and ``1..T``
    (``train``: the chosen groups' mean rate; ``grad_norm``: the batch's norm in
    harness units).
    """
    env = scenario.build_env(seed)
    loop = SelectionLoop(env, selector_from_label(rule), scenario.loop, seed=1000 + seed)
    acc, rollouts, train, norm = [], [0.0], [], []
    total = 0.0
    for step in loop.iter_steps():
        acc.append(step.metrics["eval/accuracy"])
        if step.step > 0:
            total += float(step.rollouts)
            rollouts.append(total)
            train.append(step.metrics["train/true_rate_chosen"])
            norm.append(step.metrics.get("train/grad_norm", np.nan))
    return {
        "accuracy": np.asarray(acc),
        "rollouts": np.asarray(rollouts),
        "train": np.asarray(train),
        "grad_norm": np.asarray(norm),
    }
