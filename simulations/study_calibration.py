"""The calibration of the measured learner on one study's Random runs (nothing about any
other rule enters it); :mod:`simulations.predict` predicts from it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from insight_bayes.validation import check_int
from simulations.harness_record import HarnessRecord
from simulations.scenarios import Scenario
from simulations.study_data import (
    DEPLETION_GRID,
    LR_GRID,
    StudyData,
    simulate_run,
    study_scenario,
)

__all__ = ["Calibration", "calibrate", "fit_run_noise"]


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
