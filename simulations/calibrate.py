r"""Calibrate the learning simulator on a harness study's Random runs.

Does the simulator predict the harness? The test here is out of sample: the simulator's
knobs are fitted to **Random's** harness runs only, then the calibrated simulator
predicts every other rule's speed-up, which is compared with the speed-up the harness
realised.

What the calibration reads from a study folder (:func:`harness_record`)
-----------------------------------------------------------------------
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

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from insight_bayes.loop import LoopConfig, SelectionLoop
from insight_bayes.selectors import selector_from_label
from insight_bayes.validation import RngLike, as_generator, check_int, check_real
from simulations.environments import LearningConfig, LearningPool
from simulations.scenarios import Scenario

__all__ = [
    "CALIBRATED_KNOBS",
    "FIT_START",
    "EmpiricalLearningConfig",
    "HarnessRecord",
    "KnobFit",
    "calibrated_scenario",
    "fit_knobs",
    "fit_tier_priors",
    "harness_record",
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


# ---------------------------------------------------------------- the starting pool
def fit_tier_priors(
    successes: np.ndarray, trials: np.ndarray, tiers: np.ndarray
) -> dict[int, tuple[float, float]]:
    r"""Maximum-likelihood Beta prior of each tier from Beta-Binomial counts.

    For tier ``t`` with counts ``(s_i, n_i)``, maximises
    :math:`\sum_i \log \mathrm{BetaBin}(s_i \mid n_i, a_t, b_t)` over ``a_t, b_t`` in
    ``[1e-3, 1e3]`` (log scale). A tier whose counts are all 0 gets a prior piled near 0
    (``a_t`` at its lower bound), as it should.

    Parameters
    ----------
    successes, trials : array_like of int, shape (N,)
        Warm-up successes and samples per prompt, ``0 <= s <= n``, ``n >= 1``.
    tiers : array_like of int, shape (N,)
        Tier (skill group) of each prompt.

    Returns
    -------
    dict
        ``{tier: (a_t, b_t)}``.
    """
    s = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    t = np.asarray(tiers)
    if not (s.shape == n.shape == t.shape) or s.ndim != 1 or s.size == 0:
        raise ValueError("successes, trials and tiers must be 1-D arrays of one length >= 1")
    if np.any(n < 1) or np.any(s < 0) or np.any(s > n) or np.any(s != np.round(s)):
        raise ValueError("need whole successes with 0 <= successes <= trials and trials >= 1")
    priors: dict[int, tuple[float, float]] = {}
    for tier in np.unique(t):
        si, ni = s[t == tier], n[t == tier]

        def nll(x: np.ndarray, si: np.ndarray = si, ni: np.ndarray = ni) -> float:
            a, b = np.exp(np.clip(x, np.log(1e-3), np.log(1e3)))
            return -float(stats.betabinom.logpmf(si, ni, a, b).sum())

        mean = (si.sum() + 0.5) / (ni.sum() + 1.0)
        start = np.log([max(mean, 1e-3), max(1.0 - mean, 1e-3)])
        res = optimize.minimize(nll, start, method="Nelder-Mead", options={"xatol": 1e-4})
        a, b = np.exp(np.clip(res.x, np.log(1e-3), np.log(1e3)))
        priors[int(tier)] = (float(a), float(b))
    return priors


@dataclass(frozen=True)
class EmpiricalLearningConfig(LearningConfig):
    """A :class:`~simulations.environments.LearningConfig` whose pool is a measured one.

    Each training prompt's skill group is its measured tier and its starting rate a draw
    from the posterior of its warm-up counts under the tier's prior (drawn per seed, so
    the measurement's uncertainty enters the intervals). Held-out prompts draw a tier in
    the pool's proportions and a rate from the tier's prior. Every other knob is the
    base class's.

    Attributes
    ----------
    start_successes, start_trials : tuple of int
        Warm-up counts per training prompt (``pool_size`` of them).
    start_groups : tuple of int
        Tier of each prompt, in ``[0, n_groups)``.
    tier_priors : tuple of (float, float)
        ``(a_t, b_t)`` per tier (``n_groups`` of them), see :func:`fit_tier_priors`.
    """

    start_successes: tuple[int, ...] = ()
    start_trials: tuple[int, ...] = ()
    start_groups: tuple[int, ...] = ()
    tier_priors: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        n = self.pool_size
        for name in ("start_successes", "start_trials", "start_groups"):
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"{name} needs pool_size={n} entries, got {len(getattr(self, name))}"
                )
        if len(self.tier_priors) != self.n_groups:
            raise ValueError(f"tier_priors needs n_groups={self.n_groups} pairs")
        groups = np.asarray(self.start_groups)
        if groups.min() < 0 or groups.max() >= self.n_groups:
            raise ValueError(f"start_groups must lie in [0, {self.n_groups})")
        if any(not (a > 0 and b > 0) for a, b in self.tier_priors):
            raise ValueError("tier_priors must be pairs of positive numbers")

    def build(self, rng: RngLike) -> LearningPool:
        gen = as_generator(rng)
        pool = LearningPool(self, gen)  # draws (and then replaces) a composition pool
        s = np.asarray(self.start_successes, dtype=np.float64)
        n = np.asarray(self.start_trials, dtype=np.float64)
        groups = np.asarray(self.start_groups, dtype=np.int64)
        prior = np.asarray(self.tier_priors, dtype=np.float64)
        rate0 = gen.beta(prior[groups, 0] + s, prior[groups, 1] + n - s)
        held_groups = groups[gen.integers(groups.size, size=self.heldout_size)]
        held_rate0 = gen.beta(prior[held_groups, 0], prior[held_groups, 1])
        tiny = 1e-9
        pool.groups = groups
        pool.heldout_groups = held_groups
        pool.difficulty = -special.logit(np.clip(rate0, tiny, 1 - tiny))
        pool.heldout_difficulty = -special.logit(np.clip(held_rate0, tiny, 1 - tiny))
        return pool


# ---------------------------------------------------------------- the harness record
@dataclass(frozen=True)
class HarnessRecord:
    """What the calibration fits to, read from a harness study's Random runs.

    Attributes
    ----------
    name : str
        A label (the study folder's name).
    successes, trials, tiers : ndarray, shape (N,)
        Warm-up counts and tier index (0..T-1) of every pool prompt.
    tier_labels : tuple
        The tier values (e.g. digits) of the indices.
    m, k, steps : int
        The study's batch, rollouts and horizon.
    candidate_ratio : float
    eval_steps : ndarray
        Steps at which the held-out gain is compared.
    heldout_gain, heldout_se : ndarray
        Random's mean gain of the study metric over its step-0 value, and its standard
        error over seeds (floored at a small value).
    train_bins : ndarray, shape (B + 1,)
        Edges of the step bins of the training-success curve.
    train_success, train_se : ndarray, shape (B,)
        Random's mean success of the trained groups per bin, and its standard error.
    n_seeds : int
    rules : tuple of str
        Every rule of the study.
    fractions : tuple of float
        The study's relative-target fractions.
    tier_priors : tuple of (float, float)
        Each tier's Beta prior (:func:`fit_tier_priors`), fitted on construction when
        not given.
    """

    name: str
    successes: np.ndarray
    trials: np.ndarray
    tiers: np.ndarray
    tier_labels: tuple
    m: int
    k: int
    steps: int
    candidate_ratio: float
    eval_steps: np.ndarray
    heldout_gain: np.ndarray
    heldout_se: np.ndarray
    train_bins: np.ndarray
    train_success: np.ndarray
    train_se: np.ndarray
    n_seeds: int
    rules: tuple[str, ...] = ()
    fractions: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)
    extra: dict[str, Any] = field(default_factory=dict)
    tier_priors: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        if not self.tier_priors:  # fitted once here, not at every evaluation of a fit
            priors = fit_tier_priors(self.successes, self.trials, self.tiers)
            object.__setattr__(
                self, "tier_priors", tuple(priors[t] for t in range(len(self.tier_labels)))
            )


def _binned(values: pd.DataFrame, column: str, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over seeds of ``column`` averaged within step bins."""
    v = values[values[column].notna()].copy()
    v["bin"] = np.digitize(v["step"], edges[1:-1])
    per_seed = v.groupby(["seed", "bin"])[column].mean().unstack("bin")
    per_seed = per_seed.reindex(columns=range(len(edges) - 1))
    mean = per_seed.mean().to_numpy()
    n = per_seed.notna().sum().to_numpy()
    se = per_seed.std(ddof=1).to_numpy() / np.sqrt(np.maximum(n, 1))
    return mean, se


def harness_record(
    folder: str | Path,
    *,
    tier_column: str | None = None,
    n_eval: int = 10,
    bin_width: int = 10,
    se_floor: float = 1e-3,
) -> HarnessRecord:
    """Read a harness study folder into a :class:`HarnessRecord` (Random's runs only).

    Parameters
    ----------
    folder : path
        A study folder (``manifest.json``, ``pool.parquet``, ``steps.parquet``).
    tier_column : str, optional
        The pool's tier column; default its first ``feature_*`` column (one tier when it
        has none).
    n_eval : int
        Evaluation steps compared, spread evenly over ``1..steps``.
    bin_width : int
        Steps per bin of the training-success curve.
    se_floor : float
        Smallest standard error used in the objective (keeps a flat point finite).
    """
    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    config = manifest["config"]
    study, loop = config["study"], config["loop"]
    pool = pd.read_parquet(folder / "pool.parquet").sort_values("prompt_id")
    n_rate = int(study.get("pool_rate_samples", 16))
    if "warmup_rate" not in pool or pool["warmup_rate"].isna().any():
        raise ValueError(f"{folder}/pool.parquet lacks measured warm-up rates (warmup_rate)")
    successes = np.round(pool["warmup_rate"].to_numpy() * n_rate)
    trials = np.full(successes.size, float(n_rate))
    features = [c for c in pool.columns if c.startswith("feature_")]
    column = tier_column or (features[0] if features else None)
    if column is None:
        labels, tiers = (0,), np.zeros(successes.size, dtype=np.int64)
    else:
        labels_arr, tiers = np.unique(pool[column].to_numpy(), return_inverse=True)
        labels = tuple(labels_arr.tolist())
    metric = study["metric"]
    steps = pd.read_parquet(folder / "steps.parquet")
    base = study.get("baseline", "random")
    random = steps[steps["rule"] == base]
    if random.empty:
        raise ValueError(f"{folder} has no runs of the baseline {base!r}")
    horizon = int(loop["steps"])
    evaluated = random[random[metric].notna()]
    start = evaluated[evaluated["step"] == 0].set_index("seed")[metric]
    gain = evaluated.assign(gain=evaluated[metric] - evaluated["seed"].map(start))
    eval_steps = np.unique(np.linspace(1, horizon, n_eval).round().astype(int))
    at = gain[gain["step"].isin(eval_steps)].pivot_table(
        index="seed", columns="step", values="gain"
    )
    at = at.reindex(columns=eval_steps)
    if at.isna().any().any():
        raise ValueError(f"{folder}: {metric} is not evaluated at every step {eval_steps.tolist()}")
    edges = np.arange(1, horizon + 2, bin_width, dtype=float)
    if edges[-1] < horizon + 1:
        edges = np.append(edges, horizon + 1)
    train_mean, train_se = _binned(random, "train/correct", edges)
    n_seeds = int(random["seed"].nunique())
    return HarnessRecord(
        name=folder.name,
        successes=successes,
        trials=trials,
        tiers=tiers.astype(np.int64),
        tier_labels=labels,
        m=int(loop["m"]),
        k=int(loop["k"]),
        steps=horizon,
        candidate_ratio=float(loop.get("candidate_ratio", 8)),
        eval_steps=eval_steps,
        heldout_gain=at.mean().to_numpy(),
        heldout_se=np.maximum(at.std(ddof=1).to_numpy() / np.sqrt(len(at)), se_floor),
        train_bins=edges,
        train_success=train_mean,
        train_se=np.maximum(train_se, se_floor),
        n_seeds=n_seeds,
        rules=tuple(dict.fromkeys(steps["rule"])),
        fractions=tuple(study.get("target_fractions") or (0.25, 0.5, 0.75, 1.0)),
        extra={"metric": metric, "start": float(start.mean()), "folder": str(folder)},
    )


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
