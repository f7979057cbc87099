r"""Predict what a harness study will report for each rule, from its Random runs alone.

Three parts, each a function:

1. **The study** (:func:`~simulations.study_data.read_study`): a harness study folder
   as ``rlvr-study`` writes it
   (``manifest.json``, ``pool.parquet``, ``steps.parquet``; a multi-draw study holds one
   such folder per task draw, ``draw-<d>/``). Only Random's runs are read for the fit;
   the realised speed-ups (``speedup_curve.csv``) are read only to be compared.
2. **Calibration** (:func:`~simulations.study_calibration.calibrate`): the measured
   learner's structure is fixed
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

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from insight_bayes.validation import check_int, check_real
from simulations.study_calibration import Calibration
from simulations.study_data import ROLLOUT_RULES, StudyData, simulate_run, study_scenario

__all__ = ["predict_study", "pseudo_studies"]


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
