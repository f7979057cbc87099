r"""Predict what a harness study will report for each rule, from its Random runs alone.

Three parts, each a function:

1. **The study** (:func:`read_study`): a harness study folder as ``rlvr-study`` writes it
   (``manifest.json``, ``pool.parquet``, ``steps.parquet``; a multi-draw study holds one
   such folder per task draw, ``draw-<d>/``). Only Random's runs are read for the fit;
   the realised speed-ups (``speedup_curve.csv``) are read only to be compared.
2. **Calibration** (:func:`calibrate`): the measured learner's structure is fixed
   (:mod:`simulations.structure`); per study only what Random's curves identify is
   fitted, on a grid: the learning rate and the depletion ``n0`` of a prompt's
   transfer with repetition (Random re-trains each prompt a few times, and its
   held-out curve bends as it does). The objective is that of
   :mod:`simulations.calibrate`, summed over draws,
   ``L = sum_draws [sum_e z_e^2 + sum_b z_b^2]`` (Random's held-out gain and
   training-success curves, :func:`simulations.harness_record.harness_record`, each point's
   z-score against its standard error over the harness's seeds). The calibration
   posterior on the grid is ``w ~ exp(-(L - L_min) / (2 phi))`` with the
   over-dispersion ``phi = max(1, L_min / n_points)`` (a misfit the model cannot remove
   widens the posterior rather than pinning it).

   **The harness's own run-to-run noise.** A harness run's held-out curve wanders
   about its expectation far more than the simulator's (a transformer's training noise,
   not a rule's effect). Per study, from Random's runs alone, the excess of the
   harness's across-seed variance of the held-out gain at step ``t`` over the
   simulator's is fitted as ``s_w^2 + s_r^2 t`` (white evaluation noise plus a random
   walk; non-negative least squares), and every simulated run of a pseudo study below
   gets that noise added (independently per run, none at step 0, the shared warm-up).
3. **Prediction** (:func:`predict_study`): ``n_lr`` settings drawn from that
   posterior (systematic resampling); at each, every rule runs ``seeds`` simulated seeds per
   draw (seed ``s`` draws the same pool for every rule and learning rate: common random
   numbers, as the harness pairs rules on a seed's warm-up). Then ``n_boot`` pseudo
   harness studies are drawn: a learning rate from the samples, and per draw the
   harness's number of seeds, resampled with replacement from the simulated ones (paired
   over rules), with the run-to-run noise above added. Each pseudo study is analysed
   as the harness analyses itself: targets
   per draw at ``a_0(s) + f * mean_s(final_Random(s) - a_0(s))`` (each simulated seed
   has its own pool, so its own start), interpolated steps to target, censored at the
   horizon, and the speed-up ``mean(T_Random) / mean(T_rule)`` over the study's
   (draw, seed) runs. The predicted speed-up is the median over pseudo studies and the
   prediction interval its ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles: it
   holds the calibration's uncertainty and the harness's own sampling noise at its
   seeds and draws. A rule that spends extra rollouts (Dynamic Sampling) is also
   predicted per rollout (rule label ``<rule>/rollouts``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
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
    "Calibration",
    "StudyData",
    "calibrate",
    "depletion_grid",
    "lr_grid",
    "predict_study",
    "pseudo_studies",
    "read_study",
    "scores",
    "scores_markdown",
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


# ------------------------------------------------------------------ calibration
@dataclass(frozen=True)
class Calibration:
    """The calibration of one study (:func:`calibrate`).

    Attributes
    ----------
    settings : tuple of (float, float or None)
        The grid's ``(learning_rate, transfer_depletion)`` pairs.
    loss, weight : ndarray
        The objective ``L`` and the posterior weight of each pair.
    best : (float, float or None)
        The minimiser.
    dispersion : float
        ``phi`` (module docstring).
    n_points : int
        Points in the objective.
    noise_white, noise_walk : float
        ``s_w^2`` and ``s_r^2`` of the harness's run-to-run noise (module docstring).
    curves : DataFrame
        Random's harness curves and the simulated ones at ``best`` (per draw).
    """

    settings: tuple[tuple[float, float | None], ...]
    loss: np.ndarray
    weight: np.ndarray
    best: tuple[float, float | None]
    dispersion: float
    n_points: int
    noise_white: float
    noise_walk: float
    curves: pd.DataFrame

    def samples(self, n: int) -> list[tuple[float, float | None]]:
        """``n`` settings drawn from the posterior by systematic resampling."""
        check_int(n, "n", min_value=1)
        cdf = np.cumsum(self.weight) / self.weight.sum()
        picks = np.searchsorted(cdf, (np.arange(n) + 0.5) / n)
        return [self.settings[min(int(i), len(self.settings) - 1)] for i in picks]

    def table(self, study: str) -> pd.DataFrame:
        """The grid as a tidy table (one row per setting)."""
        return pd.DataFrame({
            "study": study,
            "learning_rate": [a for a, _ in self.settings],
            "transfer_depletion": [np.nan if b is None else b for _, b in self.settings],
            "loss": self.loss, "weight": self.weight,
        })  # fmt: skip


def _random_runs(scenario: Scenario, seeds: Sequence[int]) -> list[dict[str, np.ndarray]]:
    return [simulate_run(scenario, "random", seed) for seed in seeds]


def _curves_of(
    runs: list[dict[str, np.ndarray]], record: HarnessRecord
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean Random gain at ``record.eval_steps``, success per bin, batch norms."""
    idx = np.digitize(np.arange(1, record.steps + 1), record.train_bins[1:-1])
    gains = [run["accuracy"][record.eval_steps] - run["accuracy"][0] for run in runs]
    trains = [np.bincount(idx, weights=run["train"]) / np.bincount(idx) for run in runs]
    norms = [np.nanmean(run["grad_norm"]) for run in runs]
    return np.mean(gains, axis=0), np.mean(trains, axis=0), np.asarray(norms)


def _seed_variance(values: np.ndarray) -> np.ndarray:
    """Unbiased across-row variance per column of ``values`` (rows: seeds)."""
    if values.shape[0] < 2:
        return np.full(values.shape[1], np.nan)
    return values.var(axis=0, ddof=1)


def _harness_variance(record: HarnessRecord) -> np.ndarray:
    """Across-seed variance of Random's held-out gain at steps ``0..T`` (harness)."""
    folder = Path(record.extra["folder"])
    metric = record.extra["metric"]
    steps = pd.read_parquet(folder / "steps.parquet", columns=["rule", "seed", "step", metric])
    rows = steps[steps["rule"] == "random"].pivot_table(index="seed", columns="step",
                                                          values=metric)  # fmt: skip
    rows = rows.reindex(columns=range(record.steps + 1)).to_numpy(np.float64)
    return _seed_variance(rows - rows[:, :1])


def fit_run_noise(harness_var: np.ndarray, sim_var: np.ndarray) -> tuple[float, float]:
    r"""``(s_w^2, s_r^2)`` of the excess variance ``v_h(t) - v_s(t) ~ s_w^2 + s_r^2 t``.

    Non-negative least squares over steps ``t >= 1`` where both are finite.
    """
    from scipy.optimize import nnls

    t = np.arange(harness_var.size, dtype=np.float64)
    ok = (t >= 1) & np.isfinite(harness_var) & np.isfinite(sim_var)
    if ok.sum() < 2:
        return 0.0, 0.0
    coef, _ = nnls(np.c_[np.ones(ok.sum()), t[ok]], harness_var[ok] - sim_var[ok])
    return float(coef[0]), float(coef[1])


def calibrate(
    study: StudyData,
    structure: dict[str, Any],
    *,
    grid: Sequence[float] = LR_GRID,
    depletion: Sequence[float | None] = DEPLETION_GRID,
    fit_seeds: int = 4,
    noise_seeds: int = 8,
    progress: Callable[[str], None] | None = None,
) -> Calibration:
    """Fit the per-study knobs to Random's curves of every draw (module docstring, 2).

    Parameters
    ----------
    study : StudyData
    structure : dict
        :func:`simulations.structure.fit_structure`'s output.
    grid : sequence of float
        Learning rates tried (increasing).
    depletion : sequence of float or None
        Transfer depletions ``n0`` tried (``None``: none).
    fit_seeds : int
        Simulated Random runs per draw and setting (seeds ``0..fit_seeds-1``).
    noise_seeds : int
        Simulated Random runs per draw at the best setting for the run-noise fit.
    progress : callable, optional
        Called with a line per setting.
    """
    check_int(fit_seeds, "fit_seeds", min_value=1)
    check_int(noise_seeds, "noise_seeds", min_value=2)
    grid_arr = np.asarray(grid, dtype=np.float64)
    if grid_arr.ndim != 1 or grid_arr.size < 1 or np.any(np.diff(grid_arr) <= 0):
        raise ValueError("grid must hold increasing learning rates")
    if not depletion:
        raise ValueError("depletion must hold at least one value (None: no depletion)")
    settings = tuple((float(lr), n0) for n0 in depletion for lr in grid_arr)
    seeds = list(range(fit_seeds))

    def scenario_of(record: HarnessRecord, lr: float, n0: float | None) -> Scenario:
        return study_scenario(
            record, structure, lr, warmup_steps=study.warmup_steps,
            max_grad_norm=study.max_grad_norm, transfer_depletion=n0,
        )  # fmt: skip

    losses = []
    n_points = 0
    for lr, n0 in settings:
        total, n_points = 0.0, 0
        for record in study.records:
            gain, train, _ = _curves_of(_random_runs(scenario_of(record, lr, n0), seeds), record)
            z_h = (gain - record.heldout_gain) / record.heldout_se
            ok = np.isfinite(record.train_success)
            z_t = (train[ok] - record.train_success[ok]) / record.train_se[ok]
            total += float(np.sum(z_h**2) + np.sum(z_t**2))
            n_points += z_h.size + z_t.size
        losses.append(total)
        if progress is not None:
            progress(f"  {study.name}: lr {lr:.4g} n0 {n0} loss {total:.4g}")
    loss = np.asarray(losses)
    best_i = int(np.argmin(loss))
    dispersion = max(1.0, float(loss[best_i]) / max(n_points, 1))
    weight = np.exp(-(loss - loss[best_i]) / (2.0 * dispersion))
    weight = weight / weight.sum()
    best = settings[best_i]
    rows, h_vars, s_vars = [], [], []
    for d, record in enumerate(study.records):
        runs = _random_runs(scenario_of(record, *best), list(range(noise_seeds)))
        gain, train, norm = _curves_of(runs, record)
        h_vars.append(_harness_variance(record))
        acc = np.array([run["accuracy"] for run in runs])
        s_vars.append(_seed_variance(acc - acc[:, :1]))
        draw = study.draws[d]
        rows.append(pd.DataFrame({
            "study": study.name, "draw": draw, "curve": "heldout_gain", "x": record.eval_steps,
            "harness": record.heldout_gain, "harness_se": record.heldout_se, "simulator": gain,
        }))  # fmt: skip
        mids = (record.train_bins[:-1] + record.train_bins[1:] - 1) / 2
        rows.append(pd.DataFrame({
            "study": study.name, "draw": draw, "curve": "train_success", "x": mids,
            "harness": record.train_success, "harness_se": record.train_se, "simulator": train,
        }))  # fmt: skip
        rows.append(pd.DataFrame({
            "study": study.name, "draw": [draw], "curve": "grad_norm_mean", "x": [np.nan],
            "harness": [_harness_grad_norm(study, d)], "harness_se": [np.nan],
            "simulator": [float(np.mean(norm))],
        }))  # fmt: skip
    horizon = min(v.size for v in h_vars)
    white, walk = fit_run_noise(
        np.nanmean([v[:horizon] for v in h_vars], axis=0),
        np.nanmean([v[:horizon] for v in s_vars], axis=0),
    )
    return Calibration(
        settings=settings,
        loss=loss,
        weight=weight,
        best=best,
        dispersion=dispersion,
        n_points=n_points,
        noise_white=white,
        noise_walk=walk,
        curves=pd.concat(rows, ignore_index=True),
    )


def _harness_grad_norm(study: StudyData, index: int) -> float:
    """Random's mean batch gradient norm on the harness (a check of the structure)."""
    folder = Path(study.records[index].extra["folder"])
    steps = pd.read_parquet(folder / "steps.parquet", columns=["rule", "step", "train/grad_norm"])
    rows = steps[(steps["rule"] == "random") & (steps["step"] > 0)]
    return float(rows["train/grad_norm"].mean()) if len(rows) else float("nan")


# --------------------------------------------------------------------- prediction
def _job(args: tuple) -> tuple[tuple, dict[str, np.ndarray]]:
    key, scenario, rule, seed = args
    return key, simulate_run(scenario, rule, seed)


def _steps_to(acc: np.ndarray, cost: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Interpolated cost (steps or rollouts) at which ``acc`` first reaches each target.

    ``acc``, ``cost``: shape (T + 1,); censored at ``cost[-1]``. The crossing is that of
    :func:`insight_bayes.results.targets.steps_to_target` (linear between evaluations).
    """
    running = np.maximum.accumulate(acc)
    j = np.searchsorted(running, targets, side="left")
    out = np.full(targets.shape, cost[-1], dtype=np.float64)
    hit = j < acc.size
    first = hit & (j == 0)
    out[first] = cost[0]
    mid = hit & (j > 0)
    jj = j[mid]
    a0, a1 = acc[jj - 1], acc[jj]
    c0, c1 = cost[jj - 1], cost[jj]
    out[mid] = c0 + (targets[mid] - a0) / (a1 - a0) * (c1 - c0)
    return out


def pseudo_studies(
    runs: dict[tuple[str, int, int, int], dict[str, np.ndarray]],
    rules: Sequence[str],
    n_lr: int,
    n_draws: int,
    seeds: int,
    n_seeds: int,
    fractions: Sequence[float],
    *,
    n_boot: int = 1000,
    rng: np.random.Generator | int = 0,
    measure: str = "steps",
    noise: tuple[float, float] = (0.0, 0.0),
) -> dict[str, np.ndarray]:
    """Speed-ups of ``n_boot`` pseudo harness studies (module docstring, 3).

    Parameters
    ----------
    runs : dict
        ``(rule, lr_index, draw_index, seed) -> simulate_run output``.
    rules : sequence of str
        Rules to score (Random is the baseline and must be in ``runs``).
    n_lr, n_draws, seeds : int
        Learning-rate samples, draws and simulated seeds per draw in ``runs``.
    n_seeds : int
        The harness's seeds per draw.
    fractions : sequence of float
    n_boot : int
    rng : Generator or int
    measure : {"steps", "rollouts"}
    noise : (float, float)
        ``(s_w^2, s_r^2)`` of the run-to-run noise added to each run (module docstring).

    Returns
    -------
    dict
        ``rule -> array (n_boot, len(fractions))`` of speed-ups.
    """
    gen = np.random.default_rng(rng)
    fr = np.asarray(fractions, dtype=np.float64)
    s_w, s_r = np.sqrt(max(noise[0], 0.0)), np.sqrt(max(noise[1], 0.0))
    out = {rule: np.empty((n_boot, fr.size)) for rule in rules}

    def noisy(acc: np.ndarray) -> np.ndarray:
        if s_w == 0.0 and s_r == 0.0:
            return acc
        extra = s_w * gen.standard_normal(acc.size) + s_r * np.cumsum(gen.standard_normal(acc.size))
        extra -= extra[0]  # none at step 0 (the shared warm-up)
        extra[0] = 0.0
        return acc + extra

    for b in range(n_boot):
        j = int(gen.integers(n_lr))
        base_cost = np.zeros(fr.size)
        rule_cost = {rule: np.zeros(fr.size) for rule in rules}
        for d in range(n_draws):
            pick = gen.integers(seeds, size=n_seeds)
            curves = {
                (rule, int(s)): noisy(runs[(rule, j, d, int(s))]["accuracy"])
                for rule in ("random", *rules)
                for s in pick
            }
            starts = np.array([curves[("random", int(s))][0] for s in pick])
            finals = np.array([curves[("random", int(s))][-1] for s in pick])
            gain = float(np.mean(finals - starts))
            for s, a0 in zip(pick, starts, strict=True):
                targets = a0 + fr * gain
                for rule in ("random", *rules):
                    run = runs[(rule, j, d, int(s))]
                    acc = curves[(rule, int(s))]
                    cost = (
                        np.arange(acc.size, dtype=np.float64)
                        if measure == "steps"
                        else run["rollouts"]
                    )
                    t = _steps_to(acc, cost, targets)
                    if rule == "random":
                        base_cost += t
                    else:
                        rule_cost[rule] += t
        for rule in rules:
            out[rule][b] = base_cost / np.maximum(rule_cost[rule], 1e-12)
    return out


def predict_study(
    study: StudyData,
    structure: dict[str, Any],
    calibration: Calibration,
    *,
    rules: Sequence[str] | None = None,
    seeds: int = 8,
    n_lr: int = 5,
    n_boot: int = 1000,
    level: float = 0.90,
    workers: int = 1,
    progress: Callable[[str], None] | None = None,
    settings: Sequence[tuple[float, float | None]] | None = None,
) -> pd.DataFrame:
    """Predicted speed-ups of ``rules`` on ``study`` with prediction intervals.

    Parameters
    ----------
    study : StudyData
    structure : dict
    calibration : Calibration
    rules : sequence of str, optional
        Default: the study's rules other than Random.
    seeds : int
        Simulated seeds per draw, rule and learning rate (at least the harness's).
    n_lr : int
        Settings drawn from the calibration posterior.
    n_boot : int
        Pseudo harness studies.
    level : float
        Prediction-interval level.
    workers : int
        Processes for the simulated runs.
    progress : callable, optional
    settings : sequence of (float, float or None), optional
        ``(learning_rate, transfer_depletion)`` pairs to use instead of the posterior
        draws (e.g. ``advise``'s grid).

    Returns
    -------
    DataFrame
        ``study, rule, fraction, predicted, predicted_low, predicted_high`` (rules that
        spend extra rollouts also as ``<rule>/rollouts``).
    """
    check_int(seeds, "seeds", min_value=1)
    check_real(level, "level", low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    rules = [r for r in (rules or study.rules) if r != "random"]
    chosen = list(settings) if settings is not None else calibration.samples(n_lr)
    jobs = []
    for j, (lr, n0) in enumerate(chosen):
        for d, record in enumerate(study.records):
            scenario = study_scenario(
                record, structure, float(lr), warmup_steps=study.warmup_steps,
                max_grad_norm=study.max_grad_norm, transfer_depletion=n0,
            )  # fmt: skip
            for rule in ("random", *rules):
                for s in range(seeds):
                    jobs.append(((rule, j, d, s), scenario, rule, s))
    runs: dict[tuple, dict[str, np.ndarray]] = {}
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for i, (key, run) in enumerate(pool.map(_job, jobs, chunksize=4)):
                runs[key] = run
                if progress is not None and (i + 1) % 50 == 0:
                    progress(f"  {study.name}: {i + 1}/{len(jobs)} simulated runs")
    else:
        for i, job in enumerate(jobs):
            key, run = _job(job)
            runs[key] = run
            if progress is not None and (i + 1) % 50 == 0:
                progress(f"  {study.name}: {i + 1}/{len(jobs)} simulated runs")
    lo_q, hi_q = (1 - level) / 2, (1 + level) / 2
    common = (len(chosen), len(study.records), seeds, study.n_seeds, study.fractions)
    noise = (calibration.noise_white, calibration.noise_walk)
    rows = []
    for measure, suffix, picked in (
        ("steps", "", rules),
        ("rollouts", "/rollouts", [r for r in rules if r in ROLLOUT_RULES]),
    ):
        if not picked:
            continue
        boot = pseudo_studies(runs, picked, *common, n_boot=n_boot, measure=measure, noise=noise)
        for rule in picked:
            logs = np.log(boot[rule])
            for f, frac in enumerate(study.fractions):
                rows.append({
                    "study": study.name, "rule": rule + suffix, "fraction": float(frac),
                    "predicted": float(np.exp(np.median(logs[:, f]))),
                    "predicted_low": float(np.exp(np.quantile(logs[:, f], lo_q))),
                    "predicted_high": float(np.exp(np.quantile(logs[:, f], hi_q))),
                })  # fmt: skip
    return pd.DataFrame(rows)


def realised_table(study: StudyData) -> pd.DataFrame:
    """The harness's realised speed-ups of ``study`` in :func:`predict_study`'s rows."""
    if study.realised is None:
        raise ValueError(f"{study.folder} has no speedup_curve.csv to compare with")
    cur = study.realised
    rows = []
    for r in cur.itertuples():
        if r.rule == "random":
            continue
        rows.append({"study": study.name, "rule": r.rule, "fraction": float(r.fraction),
                     "realised": r.speedup, "realised_low": r.ci_low,
                     "realised_high": r.ci_high})  # fmt: skip
        if r.rule in ROLLOUT_RULES and hasattr(r, "rollout_speedup"):
            rows.append({"study": study.name, "rule": f"{r.rule}/rollouts",
                         "fraction": float(r.fraction), "realised": r.rollout_speedup,
                         "realised_low": r.rollout_ci_low,
                         "realised_high": r.rollout_ci_high})  # fmt: skip
    return pd.DataFrame(rows)


def scores(table: pd.DataFrame, fractions: Sequence[float] = (0.5, 0.75, 1.0)) -> pd.DataFrame:
    r"""The issue's three scores of a predictions table, overall and per study.

    Over the rows at ``fractions`` (one row per (study, rule, fraction), Random
    excluded): mean absolute log error ``mean |log predicted - log realised|``; share
    of realised values inside ``[predicted_low, predicted_high]``; and, per study at
    fraction 1, Spearman's rho of predicted vs realised (NaN with fewer than 3 rules).
    Rows ``scope = "all"`` hold every rule; ``scope = "per-step"`` leaves out the
    ``<rule>/rollouts`` rows (each rule counted once).
    """
    from scipy import stats

    t = table[table["fraction"].isin(fractions) & (table["rule"] != "random")]
    t = t.dropna(subset=["predicted", "realised"])
    rows = []
    for scope, sub in (("all", t), ("per-step", t[~t["rule"].str.endswith("/rollouts")])):
        for study, part in [("all", sub), *sub.groupby("study")]:
            err = np.abs(np.log(part["predicted"]) - np.log(part["realised"]))
            inside = (part["realised"] >= part["predicted_low"]) & (
                part["realised"] <= part["predicted_high"]
            )
            top = part[part["fraction"] == 1.0]
            if study == "all":
                rhos = [
                    stats.spearmanr(g["predicted"], g["realised"])[0]
                    for _, g in top.groupby("study")
                    if len(g) >= 3
                ]
                rho = float(np.nanmean(rhos)) if rhos else float("nan")
            else:
                rho = (
                    float(stats.spearmanr(top["predicted"], top["realised"])[0])
                    if len(top) >= 3
                    else float("nan")
                )
            rows.append({
                "scope": scope, "study": study, "points": len(part),
                "male": float(err.mean()), "coverage": float(inside.mean()),
                "spearman_at_1": rho,
            })  # fmt: skip
    return pd.DataFrame(rows)


def scores_markdown(score: pd.DataFrame, scope: str = "per-step") -> str:
    """The scores table of ``scope`` as a Markdown table (the docs page embeds it verbatim).

    One row per study and one for all of them: points, mean absolute log error, 90%
    coverage, within-study Spearman at fraction 1, each to three decimals.
    """
    rows = score[score["scope"] == scope]
    lines = [
        "| study | points | MALE (goal <= 0.10) | 90% coverage (goal >= 0.80) "
        "| Spearman at 100% (goal >= 0.5) |",
        "|---|---|---|---|---|",
    ]
    order = [s for s in rows["study"] if s != "all"] + ["all"]
    for study in order:
        r = rows[rows["study"] == study].iloc[0]
        name = "all studies (Spearman: mean over studies)" if study == "all" else study
        lines.append(
            f"| {name} | {int(r['points'])} | {r['male']:.3f} | {r['coverage']:.3f} "
            f"| {r['spearman_at_1']:.3f} |"
        )
    return "\n".join(lines)
