r"""Predict what a harness study will report for each rule, from its Random runs alone.

Issue 17, steps 4-5. Three parts, each a function:

1. **The study** (:func:`read_study`): a harness study folder as ``rlvr-study`` writes it
   (``manifest.json``, ``pool.parquet``, ``steps.parquet``; a multi-draw study holds one
   such folder per task draw, ``draw-<d>/``). Only Random's runs are read for the fit;
   the realised speed-ups (``speedup_curve.csv``) are read only to be compared.
2. **Calibration** (:func:`calibrate`): the measured learner's structure is fixed
   (:mod:`simulations.structure`); per study only the learning rate is fitted, on a log
   grid, to Random's held-out gain and training-success curves of every draw
   (:func:`simulations.calibrate.harness_record`), by the objective of
   :mod:`simulations.calibrate`, summed over draws:
   ``L(lr) = sum_draws [sum_e z_e^2 + sum_b z_b^2]`` (each point's z-score against its
   standard error over the harness's seeds). Its calibration posterior on the grid is
   ``w(lr) ~ exp(-(L(lr) - L_min) / (2 phi))`` with the over-dispersion
   ``phi = max(1, L_min / n_points)`` (a misfit the model cannot remove widens the
   posterior rather than pinning it).
3. **Prediction** (:func:`predict_study`): ``n_lr`` learning rates at equally spaced
   quantiles of that posterior; at each, every rule runs ``seeds`` simulated seeds per
   draw (seed ``s`` draws the same pool for every rule and learning rate: common random
   numbers, as the harness pairs rules on a seed's warm-up). Then ``n_boot`` pseudo
   harness studies are drawn: a learning rate from the samples, and per draw the
   harness's number of seeds, resampled with replacement from the simulated ones (paired
   over rules). Each pseudo study is analysed as the harness analyses itself: targets
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
from simulations.calibrate import EmpiricalLearningConfig, HarnessRecord, harness_record
from simulations.scenarios import Scenario
from simulations.structure import learner_settings

__all__ = [
    "Calibration",
    "StudyData",
    "calibrate",
    "predict_study",
    "pseudo_studies",
    "read_study",
    "scores",
    "simulate_run",
    "study_scenario",
]

#: Rules whose extra rollouts make a per-rollout speed-up differ from the per-step one.
ROLLOUT_RULES = ("dynamic-sampling",)

#: The default learning-rate grid (log-spaced) of the calibration.
LR_GRID = tuple(np.exp(np.linspace(np.log(1e-3), np.log(3.0), 61)).tolist())


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
) -> Scenario:
    """The measured-learner scenario of one draw's measured pool at ``learning_rate``.

    The structure's fields (:func:`simulations.structure.learner_settings`) and the
    harness's warm-up and clipping are fixed; ``learning_rate`` is the calibrated knob.
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
    """The learning-rate calibration of one study (:func:`calibrate`).

    Attributes
    ----------
    grid, loss, weight : ndarray
        Learning rates, the objective ``L`` at each, and the posterior weights.
    best : float
        The grid's minimiser.
    samples : ndarray
        Learning rates at equally spaced posterior quantiles (:meth:`quantiles`).
    dispersion : float
        ``phi`` (module docstring).
    n_points : int
        Points in the objective.
    curves : DataFrame
        Random's harness curves and the simulated ones at ``best`` (per draw).
    """

    grid: np.ndarray
    loss: np.ndarray
    weight: np.ndarray
    best: float
    dispersion: float
    n_points: int
    curves: pd.DataFrame

    def quantiles(self, n: int) -> np.ndarray:
        """``n`` learning rates at the posterior's ``(i + 1/2) / n`` quantiles (log grid)."""
        check_int(n, "n", min_value=1)
        cdf = np.cumsum(self.weight)
        cdf = cdf / cdf[-1]
        q = (np.arange(n) + 0.5) / n
        return np.exp(np.interp(q, cdf - self.weight / 2 / self.weight.sum(), np.log(self.grid)))


def _random_curves(
    scenario: Scenario, record: HarnessRecord, seeds: Sequence[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean simulated Random gain at ``record.eval_steps``, success per bin, batch norm."""
    gains, trains, norms = [], [], []
    idx = np.digitize(np.arange(1, record.steps + 1), record.train_bins[1:-1])
    for seed in seeds:
        run = simulate_run(scenario, "random", seed)
        acc = run["accuracy"]
        gains.append(acc[record.eval_steps] - acc[0])
        trains.append(np.bincount(idx, weights=run["train"]) / np.bincount(idx))
        norms.append(np.nanmean(run["grad_norm"]))
    return np.mean(gains, axis=0), np.mean(trains, axis=0), np.asarray(norms)


def calibrate(
    study: StudyData,
    structure: dict[str, Any],
    *,
    grid: Sequence[float] = LR_GRID,
    fit_seeds: int = 4,
    progress: Callable[[str], None] | None = None,
) -> Calibration:
    """Fit the learning rate to Random's curves of every draw (module docstring, 2).

    Parameters
    ----------
    study : StudyData
    structure : dict
        :func:`simulations.structure.fit_structure`'s output.
    grid : sequence of float
        Learning rates tried (increasing).
    fit_seeds : int
        Simulated Random runs per draw and learning rate (seeds ``0..fit_seeds-1``).
    progress : callable, optional
        Called with a line per grid point.
    """
    check_int(fit_seeds, "fit_seeds", min_value=1)
    grid_arr = np.asarray(grid, dtype=np.float64)
    if grid_arr.ndim != 1 or grid_arr.size < 2 or np.any(np.diff(grid_arr) <= 0):
        raise ValueError("grid must hold at least two increasing learning rates")
    seeds = list(range(fit_seeds))
    losses, sims = [], []
    n_points = 0
    for lr in grid_arr:
        total, per_draw = 0.0, []
        n_points = 0
        for record in study.records:
            scenario = study_scenario(
                record, structure, lr,
                warmup_steps=study.warmup_steps, max_grad_norm=study.max_grad_norm,
            )  # fmt: skip
            gain, train, norm = _random_curves(scenario, record, seeds)
            z_h = (gain - record.heldout_gain) / record.heldout_se
            ok = np.isfinite(record.train_success)
            z_t = (train[ok] - record.train_success[ok]) / record.train_se[ok]
            total += float(np.sum(z_h**2) + np.sum(z_t**2))
            n_points += z_h.size + z_t.size
            per_draw.append((gain, train, norm))
        losses.append(total)
        sims.append(per_draw)
        if progress is not None:
            progress(f"  {study.name}: lr {lr:.4g} loss {total:.4g}")
    loss = np.asarray(losses)
    best_i = int(np.argmin(loss))
    dispersion = max(1.0, float(loss[best_i]) / max(n_points, 1))
    weight = np.exp(-(loss - loss[best_i]) / (2.0 * dispersion))
    weight = weight / weight.sum()
    rows = []
    for d, (record, (gain, train, norm)) in enumerate(
        zip(study.records, sims[best_i], strict=True)
    ):
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
    return Calibration(
        grid=grid_arr,
        loss=loss,
        weight=weight,
        best=float(grid_arr[best_i]),
        dispersion=dispersion,
        n_points=n_points,
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

    Returns
    -------
    dict
        ``rule -> array (n_boot, len(fractions))`` of speed-ups.
    """
    gen = np.random.default_rng(rng)
    fr = np.asarray(fractions, dtype=np.float64)
    out = {rule: np.empty((n_boot, fr.size)) for rule in rules}
    for b in range(n_boot):
        j = int(gen.integers(n_lr))
        base_cost = np.zeros(fr.size)
        rule_cost = {rule: np.zeros(fr.size) for rule in rules}
        for d in range(n_draws):
            pick = gen.integers(seeds, size=n_seeds)
            starts = np.array([runs[("random", j, d, s)]["accuracy"][0] for s in pick])
            finals = np.array([runs[("random", j, d, s)]["accuracy"][-1] for s in pick])
            gain = float(np.mean(finals - starts))
            for s, a0 in zip(pick, starts, strict=True):
                targets = a0 + fr * gain
                for rule in ("random", *rules):
                    run = runs[(rule, j, d, int(s))]
                    cost = (
                        np.arange(run["accuracy"].size, dtype=np.float64)
                        if measure == "steps"
                        else run["rollouts"]
                    )
                    if measure != "steps" and rule == "random":
                        cost = runs[("random", j, d, int(s))]["rollouts"]
                    t = _steps_to(run["accuracy"], cost, targets)
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
    learning_rates: Sequence[float] | None = None,
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
        Learning-rate samples from the calibration posterior.
    n_boot : int
        Pseudo harness studies.
    level : float
        Prediction-interval level.
    workers : int
        Processes for the simulated runs.
    progress : callable, optional
    learning_rates : sequence of float, optional
        Use these instead of the posterior quantiles (e.g. ``advise``'s grid).

    Returns
    -------
    DataFrame
        ``study, rule, fraction, predicted, predicted_low, predicted_high`` (rules that
        spend extra rollouts also as ``<rule>/rollouts``).
    """
    check_int(seeds, "seeds", min_value=1)
    check_real(level, "level", low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    rules = [r for r in (rules or study.rules) if r != "random"]
    lrs = (
        np.asarray(learning_rates, dtype=np.float64)
        if learning_rates is not None
        else calibration.quantiles(n_lr)
    )
    jobs = []
    for j, lr in enumerate(lrs):
        for d, record in enumerate(study.records):
            scenario = study_scenario(
                record, structure, float(lr),
                warmup_steps=study.warmup_steps, max_grad_norm=study.max_grad_norm,
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
    common = (lrs.size, len(study.records), seeds, study.n_seeds, study.fractions)
    rows = []
    for measure, suffix, chosen in (
        ("steps", "", rules),
        ("rollouts", "/rollouts", [r for r in rules if r in ROLLOUT_RULES]),
    ):
        if not chosen:
            continue
        boot = pseudo_studies(runs, chosen, *common, n_boot=n_boot, measure=measure)
        for rule in chosen:
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
