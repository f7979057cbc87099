r"""Calibrate the learning simulator on a harness study's Random runs.

Does the simulator predict the harness? The test here is out of sample: the simulator's
knobs are fitted to **Random's** harness runs only, then the calibrated simulator
predicts every other rule's speed-up, which is compared with the speed-up the harness
realised.

What the calibration reads (:func:`~simulations.harness_record.harness_record`)
-------------------------------------------------------------------------------
* **The warm-up pool table** (``pool.parquet``): each prompt's warm-up success count
  ``s_i`` of ``n`` samples and its tier (a ``feature_*`` column, e.g. the number of
  digits). Each tier ``t`` gets a Beta prior fitted by maximum likelihood to its
  Beta-Binomial counts, and each prompt's starting rate is drawn from its posterior
  ``Beta(a_t + s_i, b_t + n - s_i)`` (empirical Bayes: a 0/16 prompt of a hopeless tier
  starts near 0, one of an easy tier does not). Tiers become the simulator's skill groups;
  held-out prompts are drawn from the tiers' priors in the pool's tier proportions.
* **Random's per-prompt success trajectories**, summarised as the mean success of the
  groups trained on, in bins of steps (``train/correct``), which carries memorisation.
* **Random's held-out curve**: the study metric's gain over its step-0 value.

The fit (:func:`fit_knobs`)
---------------------------
The knobs are the simulator's ``learning_rate``, ``transfer``, ``memorization_rate`` and
``forgetting`` (Adam-like learner, :mod:`simulations.environments.learning`). The
objective is the mean squared z-score of the simulated Random curves (mean over
``seeds`` simulated runs, common random numbers across evaluations) against the
harness's, each point scaled by its standard error over the harness seeds:

.. math::
    L(\kappa) = \frac{1}{|E|}\sum_{e \in E}
        \Big(\frac{\bar g^{\mathrm{sim}}_e(\kappa) - \bar g^{\mathrm{h}}_e}{\mathrm{se}_e}\Big)^2
      + \frac{1}{|B|}\sum_{b \in B}
        \Big(\frac{\bar c^{\mathrm{sim}}_b(\kappa) - \bar c^{\mathrm{h}}_b}{\mathrm{se}_b}\Big)^2

(``g``: held-out gain at evaluation steps ``E``; ``c``: mean training success in step
bins ``B``), minimised by Nelder-Mead over unconstrained transforms of the knobs.
Nothing about any rule other than Random enters the fit.

Prediction (:func:`predict_rules`) then runs every rule of the study on the calibrated
simulator and computes the same speed-up curve the harness reports
(:func:`insight_bayes.results.targets.speedup_curve` at targets relative to Random's
gain, :func:`insight_bayes.results.targets.relative_targets`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, special

from insight_bayes.loop import LoopConfig, SelectionLoop
from insight_bayes.selectors import selector_from_label
from insight_bayes.validation import check_int, check_real
from simulations.harness_record import EmpiricalLearningConfig, HarnessRecord
from simulations.scenarios import Scenario

__all__ = [
    "CALIBRATED_KNOBS",
    "FIT_START",
    "KnobFit",
    "calibrated_scenario",
    "fit_knobs",
    "predict_rules",
    "random_curves",
]

#: The simulator knobs the calibration fits, with their bounds (the transforms keep the
#: optimiser inside them).
CALIBRATED_KNOBS: dict[str, tuple[float, float]] = {
    "learning_rate": (1e-3, 1.0),
    "transfer": (0.0, 1.0),
    "memorization_rate": (0.0, 5.0),
    "forgetting": (0.0, 0.05),
}


#: Where the fit starts (and the knobs' values when a scenario is built without them).
FIT_START: dict[str, float] = {
    "learning_rate": 0.05,
    "transfer": 0.2,
    "memorization_rate": 0.5,
    "forgetting": 0.005,
}


# ------------------------------------------------------------ the calibrated simulator
def calibrated_scenario(record: HarnessRecord, knobs: Mapping[str, float]) -> Scenario:
    """The learning scenario of ``record``'s measured pool with simulator ``knobs``.

    Parameters
    ----------
    record : HarnessRecord
    knobs : mapping
        Values of :data:`CALIBRATED_KNOBS` (missing ones take :data:`FIT_START`'s).
    """
    unknown = set(knobs) - set(CALIBRATED_KNOBS)
    if unknown:
        raise ValueError(f"unknown knobs {sorted(unknown)}; known: {list(CALIBRATED_KNOBS)}")
    settings = FIT_START | {k: float(v) for k, v in knobs.items()}
    env = EmpiricalLearningConfig(
        pool_size=record.successes.size,
        heldout_size=512,
        n_groups=len(record.tier_labels),
        group_spread=0.0,
        learner="adam",
        start_successes=tuple(int(x) for x in record.successes),
        start_trials=tuple(int(x) for x in record.trials),
        start_groups=tuple(int(x) for x in record.tiers),
        tier_priors=record.tier_priors,
        **settings,
    )
    loop = LoopConfig(
        m=record.m,
        k=record.k,
        steps=record.steps,
        candidate_ratio=record.candidate_ratio,
        eval_every=1,
    )
    knob_text = ", ".join(f"{k}={v:.3g}" for k, v in settings.items())
    return Scenario(
        name=f"calibrated-{record.name}",
        version=1,
        description=f"learning simulator calibrated on {record.name}'s Random runs ({knob_text})",
        env=env,
        loop=loop,
    )


def random_curves(
    scenario: Scenario, record: HarnessRecord, seeds: Sequence[int], rule: str = "random"
) -> tuple[np.ndarray, np.ndarray]:
    """Mean simulated held-out gain at ``record.eval_steps`` and training success per bin.

    Runs ``rule`` on ``scenario`` at each seed (pool and loop seeds fixed by the seed:
    common random numbers across knob values).
    """
    gains, trains = [], []
    for seed in seeds:
        env = scenario.build_env(seed)
        loop = SelectionLoop(env, selector_from_label(rule), scenario.loop, seed=1000 + seed)
        acc, success = [], []
        for step in loop.iter_steps():  # step 0 is the evaluation before training
            acc.append(step.metrics["eval/accuracy"])
            if step.step > 0:
                success.append(step.metrics["train/true_rate_chosen"])
        acc_arr = np.asarray(acc)
        gains.append(acc_arr[record.eval_steps] - acc_arr[0])
        idx = np.digitize(np.arange(1, record.steps + 1), record.train_bins[1:-1])
        trains.append(np.bincount(idx, weights=success) / np.bincount(idx))
    return np.mean(gains, axis=0), np.mean(trains, axis=0)


@dataclass(frozen=True)
class KnobFit:
    """The result of :func:`fit_knobs`."""

    knobs: dict[str, float]
    loss: float
    evaluations: int
    heldout_gain: np.ndarray
    train_success: np.ndarray
    start_loss: float


def _to_knob(name: str, x: float) -> float:
    lo, hi = CALIBRATED_KNOBS[name]
    if name == "learning_rate":
        return float(np.exp(np.clip(x, np.log(lo), np.log(hi))))
    return float(lo + (hi - lo) * special.expit(x))


def _from_knob(name: str, value: float) -> float:
    lo, hi = CALIBRATED_KNOBS[name]
    check_real(value, name, low=lo, high=hi)
    if name == "learning_rate":
        return float(np.log(value))
    frac = np.clip((value - lo) / (hi - lo), 1e-4, 1 - 1e-4)
    return float(special.logit(frac))


def fit_knobs(
    record: HarnessRecord,
    *,
    free: Sequence[str] = tuple(CALIBRATED_KNOBS),
    start: Mapping[str, float] | None = None,
    fixed: Mapping[str, float] | None = None,
    seeds: int = 6,
    max_evaluations: int = 120,
    progress: Callable[[int, float], None] | None = None,
) -> KnobFit:
    """Fit the simulator's knobs to ``record``'s Random curves (see the module docstring).

    Parameters
    ----------
    record : HarnessRecord
    free : sequence of str
        Knobs to fit (of :data:`CALIBRATED_KNOBS`).
    start : mapping, optional
        Starting values of the free knobs (default :data:`FIT_START`).
    fixed : mapping, optional
        Values of knobs not fitted.
    seeds : int
        Simulated Random runs averaged per evaluation (seeds ``0..seeds-1``).
    max_evaluations : int
        Nelder-Mead's budget of objective evaluations.
    progress : callable, optional
        Called as ``progress(evaluation, loss)``.

    Returns
    -------
    KnobFit
    """
    free = list(free)
    if not free or set(free) - set(CALIBRATED_KNOBS):
        raise ValueError(f"free must name knobs of {list(CALIBRATED_KNOBS)}, got {free}")
    check_int(seeds, "seeds", min_value=1)
    check_int(max_evaluations, "max_evaluations", min_value=1)
    defaults = {
        "learning_rate": 0.05,
        "transfer": 0.2,
        "memorization_rate": 0.5,
        "forgetting": 0.005,
    }
    start = defaults | dict(start or {})
    fixed = dict(fixed or {})
    seed_list = list(range(seeds))
    calls = [0]

    def knobs_of(x: np.ndarray) -> dict[str, float]:
        return fixed | {name: _to_knob(name, xi) for name, xi in zip(free, x, strict=True)}

    def loss(x: np.ndarray) -> float:
        gain, train = random_curves(calibrated_scenario(record, knobs_of(x)), record, seed_list)
        z_h = (gain - record.heldout_gain) / record.heldout_se
        ok = np.isfinite(record.train_success)
        z_t = (train[ok] - record.train_success[ok]) / record.train_se[ok]
        value = float(np.mean(z_h**2) + np.mean(z_t**2))
        calls[0] += 1
        if progress is not None:
            progress(calls[0], value)
        return value

    x0 = np.array([_from_knob(name, start[name]) for name in free])
    start_loss = loss(x0)
    res = optimize.minimize(
        loss,
        x0,
        method="Nelder-Mead",
        options={"maxfev": max_evaluations, "xatol": 1e-2, "fatol": 1e-3, "initial_simplex": None},
    )
    best = knobs_of(res.x)
    gain, train = random_curves(calibrated_scenario(record, best), record, seed_list)
    return KnobFit(
        knobs=best,
        loss=float(res.fun),
        evaluations=calls[0],
        heldout_gain=gain,
        train_success=train,
        start_loss=start_loss,
    )


# ------------------------------------------------------------------- the prediction
def predict_rules(
    record: HarnessRecord,
    knobs: Mapping[str, float],
    rules: Sequence[str],
    seeds: int,
    out: str | Path,
    *,
    workers: int | None = 1,
    progress: bool = False,
) -> pd.DataFrame:
    """Simulate ``rules`` on the calibrated scenario; their speed-up curve vs Random.

    The sweep is resumable (:func:`simulations.sweep.run_sweep` into ``out``); the curve
    uses the record's relative-target fractions, exactly as the harness study does.

    Returns
    -------
    DataFrame
        :func:`insight_bayes.results.targets.speedup_curve`'s columns plus ``fraction``.
    """
    from insight_bayes.results.targets import relative_targets, speedup_curve
    from simulations.sweep import run_sweep

    scenario = calibrated_scenario(record, knobs)
    rules = list(dict.fromkeys(["random", *rules]))
    result = run_sweep(scenario, rules, seeds, out, workers=workers, progress=progress)
    steps = result.steps
    targets = relative_targets(steps, record.fractions, metric="eval/accuracy", baseline="random")
    curve = speedup_curve(steps, targets, metric="eval/accuracy", baseline="random")
    curve.insert(
        curve.columns.get_loc("target") + 1,
        "fraction",
        curve["target"].map(dict(zip(targets, record.fractions, strict=True))),
    )
    return curve
