"""Results of the RLVR harness study: loading or re-running, Figure 4, rankings.

:func:`load_harness` reads a saved study folder (``RESULTS/rlvr-cpu-study``, written by
``insight-bayes rlvr-study configs/rlvr/cpu.toml``) when it holds ``steps.parquet``.
Otherwise it runs the tiny ``configs/rlvr/smoke.toml`` study (seconds on CPU) into
``RESULTS/scratch/rlvr-smoke-<config digest>`` and says so in :attr:`HarnessResults.source`; a full
CPU study takes about an hour and is never started from here.

:func:`simulator_ranking` asks whether the simulator predicts the harness's ranking of
rules: it fits a pool composition to the harness's starting success rates (the warm-up
policy's per-prompt rates), runs the learning simulator with the harness's ``M``, ``K``,
``M_hat`` and steps, and compares the rules' ranks by mean held-out accuracy over the
run (area under the curve, no target needed) with Spearman's rho and Kendall's tau.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from insight_bayes.results.targets import bootstrap_speedups
from paper_figures.curves import curves_by_rule, interval_by_rule, interval_legend
from paper_figures.style import apply_style, ordered_rules

__all__ = [
    "SMOKE_CONFIG",
    "HarnessResults",
    "fig4_harness",
    "fit_composition",
    "harness_regressions",
    "harness_table",
    "load_harness",
    "simulator_ranking",
    "simulator_scenario",
]

log = logging.getLogger(__name__)

#: The tiny study run when no saved study exists.
SMOKE_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "rlvr" / "smoke.toml"
STUDY_FOLDER = "rlvr-cpu-study"


@dataclass(frozen=True)
class HarnessResults:
    """A harness study's tidy tables and its configuration."""

    folder: Path
    config: dict[str, Any]
    steps: pd.DataFrame
    prompts: pd.DataFrame
    pool: pd.DataFrame
    stt: pd.DataFrame
    speedups: pd.DataFrame
    source: str

    @property
    def rules(self) -> list[str]:
        return ordered_rules(self.steps["rule"].unique())

    @property
    def metric(self) -> str:
        return self.config.get("study", {}).get("metric", "eval/pass1")

    @property
    def target(self) -> float:
        return float(self.config.get("study", {}).get("target", 0.5))

    @property
    def seeds(self) -> int:
        return int(self.steps["seed"].nunique())

    def describe(self) -> str:
        """One line: task, pool, model, M, K, steps, seeds."""
        c = self.config
        loop, task, model = c.get("loop", {}), c.get("task", {}), c.get("model", {})
        return (
            f"task {task.get('name')} (pool {task.get('pool_size')}, test "
            f"{task.get('test_size')}), TinyLM {model.get('n_layer')}x{model.get('d_model')}, "
            f"M={loop.get('m')}, K={loop.get('k')}, M_hat={loop.get('candidate_ratio')}M, "
            f"{loop.get('steps')} steps, {self.seeds} seed(s)"
        )


def _speedups(stt: pd.DataFrame, n_boot: int = 2000) -> pd.DataFrame:
    stt = stt.assign(scenario="harness")
    sp = bootstrap_speedups(stt, baseline="random", n_boot=n_boot)
    rol = bootstrap_speedups(stt, baseline="random", measure="rollouts_to_target", n_boot=n_boot)
    rol = rol[["rule", "speedup", "ci_low", "ci_high"]].rename(
        columns={"speedup": "rollout_speedup", "ci_low": "rollout_ci_low",
                 "ci_high": "rollout_ci_high"}
    )  # fmt: skip
    return sp.merge(rol, on="rule")


@functools.lru_cache(maxsize=4)
def load_harness(results: Path, quick: bool = False) -> HarnessResults:
    """A saved harness study from ``results``, else the smoke study run now.

    ``quick`` changes nothing here (the smoke study is already tiny); it is accepted so
    that every loader has the same signature.
    """
    from insight_bayes.results.targets import steps_to_target

    results = Path(results)
    folder = results / STUDY_FOLDER
    if (folder / "steps.parquet").exists():
        manifest = json.loads((folder / "manifest.json").read_text())
        source = f"saved study {folder} (git {str(manifest.get('git_revision'))[:10]})"
    else:
        from insight_bayes.rlvr.study import load_config, run_study

        config = load_config(SMOKE_CONFIG)
        folder = results / "scratch" / f"rlvr-smoke-{config.digest()}"  # one per config
        log.info("no saved harness study in %s: running %s", results / STUDY_FOLDER, SMOKE_CONFIG)
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # the tiny model is fastest on one thread
        try:
            run_study(config, folder, device="cpu", progress=False)
        finally:
            torch.set_num_threads(threads)
        manifest = json.loads((folder / "manifest.json").read_text())
        source = (
            f"SMOKE study (no saved study in {results / STUDY_FOLDER}): "
            f"configs/rlvr/smoke.toml run now into {folder}"
        )
    config = manifest["config"]
    steps = pd.read_parquet(folder / "steps.parquet")
    prompts = pd.read_parquet(folder / "prompts.parquet")
    pool = pd.read_parquet(folder / "pool.parquet")
    study = config.get("study", {})
    stt = steps_to_target(
        steps, float(study.get("target", 0.5)), metric=study.get("metric", "eval/pass1")
    )
    return HarnessResults(folder, config, steps, prompts, pool, stt, _speedups(stt), source)


def fig4_harness(h: HarnessResults) -> plt.Figure:
    """Figure 4 (harness): held-out pass@1 curves, and speed-ups in steps and in rollouts."""
    apply_style()
    fig, axes = plt.subplots(
        1, 2, figsize=(9.0, 3.4), constrained_layout=True, gridspec_kw={"width_ratios": [1.5, 1]}
    )
    from matplotlib.ticker import MaxNLocator

    curves_by_rule(axes[0], h.steps, h.metric, n_markers=20)
    axes[0].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].axhline(h.target, color="0.3", linestyle=":", linewidth=1)
    axes[0].set(
        xlabel="GRPO step",
        ylabel=f"held-out {h.metric.split('/')[-1].replace('pass1', 'pass@1')} (mean over seeds)",
        title=f"harness: held-out accuracy ({h.seeds} seed(s); target {h.target:g} dotted)",
    )
    axes[0].legend(loc="best", fontsize=7)
    rules = list(h.speedups.sort_values("speedup", ascending=False)["rule"])
    interval_by_rule(
        axes[1], h.speedups, estimate="speedup", low="ci_low", high="ci_high", rules=rules,
        offset=0.12,
    )  # fmt: skip
    interval_by_rule(
        axes[1], h.speedups, estimate="rollout_speedup", low="rollout_ci_low",
        high="rollout_ci_high", rules=rules, offset=-0.12, filled=False,
    )  # fmt: skip
    interval_legend(
        axes[1], "per step", "per rollout", loc="upper center", bbox_to_anchor=(0.5, -0.16),
        ncol=2, fontsize=7,
    )  # fmt: skip
    axes[1].set(
        xlabel="speed-up vs random (to target; 95% bootstrap over seeds)",
        title="speed-up (>1: faster; best on top)",
    )
    return fig


def harness_table(h: HarnessResults) -> pd.DataFrame:
    """Rules against the harness's metrics (one row per rule, best speed-up first)."""
    from paper_figures.tables import fmt_interval

    trained = h.steps[h.steps["step"] > 0]
    last = (
        h.steps[h.steps[h.metric].notna()]
        .sort_values("step")
        .groupby(["rule", "seed"])[h.metric]
        .last()
        .groupby("rule")
        .mean()
    )
    g = trained.groupby("rule")
    sp = h.speedups.set_index("rule")
    rows = []
    for rule in sp.sort_values("speedup", ascending=False).index:
        r = sp.loc[rule]
        rows.append(
            {
                "rule": rule,
                f"final {h.metric}": last.get(rule, np.nan),
                "steps to target": f"{r['mean_cost']:.1f}"
                + (f" ({int(r['n_censored'])} cens.)" if r["n_censored"] else ""),
                "speed-up [95% CI]": fmt_interval(r["speedup"], r["ci_low"], r["ci_high"]),
                "informative share": g["informative_share"].mean().get(rule, np.nan),
                "rollouts / step": g["rollouts"].mean().get(rule, np.nan),
                "s / step": g["step_seconds"].mean().get(rule, np.nan),
                "speed-up per rollout [95% CI]": fmt_interval(
                    r["rollout_speedup"], r["rollout_ci_low"], r["rollout_ci_high"]
                ),
            }
        )
    return pd.DataFrame(rows)


# ------------------------------------------------------------ simulator ranking
def starting_rates(h: HarnessResults) -> np.ndarray:
    """Per-prompt success rates of the warm-up policy (first-visit rates as fallback)."""
    rates = h.pool["warmup_rate"].to_numpy(np.float64) if "warmup_rate" in h.pool else None
    if rates is None or np.isnan(rates).all():
        first = h.prompts.sort_values("step").groupby("prompt_id").head(1)
        rates = (first["successes"] / first["trials"]).to_numpy(np.float64)
    return rates[np.isfinite(rates)]


def fit_composition(rates: np.ndarray, edge: float = 0.01):
    """A :class:`~simulations.environments.PoolComposition` matching observed rates.

    Shares of rates at 0 and at 1 become the unsolvable and solved shares; the rest is
    fitted with a Beta by the method of moments (``Beta(1, 1)`` when fewer than 2 rates
    or no spread).
    """
    from simulations.environments import PoolComposition

    r = np.asarray(rates, dtype=np.float64)
    if r.size == 0 or np.any((r < 0) | (r > 1)):
        raise ValueError(f"rates must be a non-empty array in [0, 1], got {r!r}")
    low, high = float(np.mean(r <= 0.0)), float(np.mean(r >= 1.0))
    mid = r[(r > 0.0) & (r < 1.0)]
    a = b = 1.0
    if mid.size >= 2 and mid.var() > 0:
        m, v = mid.mean(), mid.var()
        common = max(m * (1 - m) / v - 1.0, 0.1)
        a, b = float(max(m * common, 0.05)), float(max((1 - m) * common, 0.05))
    return PoolComposition(
        unsolvable_share=low, solved_share=high, mid_alpha=a, mid_beta=b, edge=edge
    )


def simulator_scenario(h: HarnessResults):
    """A learning scenario with the harness's starting rates, M, K, M_hat and steps."""
    from insight_bayes.loop import LoopConfig
    from simulations.environments import LearningConfig, Verifier
    from simulations.scenarios import Scenario

    comp = fit_composition(starting_rates(h))
    loop = h.config.get("loop", {})
    task = h.config.get("task", {})
    scenario = Scenario(
        name="harness-like",
        version=1,
        description=(
            f"learning pool shaped like the harness's starting rates: {comp.unsolvable_share:.0%} "
            f"at 0, {comp.solved_share:.0%} at 1, the rest Beta({comp.mid_alpha:.2f}, "
            f"{comp.mid_beta:.2f})"
        ),
        env=LearningConfig(
            pool_size=int(task.get("pool_size", len(h.pool))),
            heldout_size=max(int(task.get("test_size", 128)), 128),
            n_groups=4,
            composition=comp,
            verifier=Verifier(),
        ),
        loop=LoopConfig(
            m=int(loop.get("m", 32)),
            k=int(loop.get("k", 8)),
            steps=int(loop.get("steps", 100)),
            candidate_ratio=float(loop.get("candidate_ratio", 16)),
            eval_every=1,
        ),
        target_accuracy=0.6,
    )
    # the name carries a digest of the whole configuration, so that results folders
    # never mix runs of two different harness-like pools
    digest = hashlib.sha256(repr(scenario).encode()).hexdigest()[:8]
    return scenario.with_changes(name=f"harness-like-{digest}")


def _auc(steps: pd.DataFrame, metric: str) -> pd.Series:
    ev = steps[steps[metric].notna() & (steps["step"] > 0)]
    return ev.groupby(["rule", "seed"])[metric].mean().groupby("rule").mean()


def simulator_ranking(
    h: HarnessResults, out: Path, *, seeds: int = 10
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Ranks of the harness's rules by held-out AUC in the harness and in the simulator.

    Returns the table (``rule, harness_auc, simulator_auc, harness_rank,
    simulator_rank``) and ``{"spearman_rho", "spearman_p", "kendall_tau", "kendall_p",
    "n_rules"}`` (NaN with fewer than 3 rules or ties everywhere).
    """
    from scipy import stats

    from simulations.sweep import run_sweep

    scenario = simulator_scenario(h)
    rules = h.rules
    sim = run_sweep(scenario, rules, seeds, out, workers=1, progress=False).steps
    table = pd.DataFrame(
        {"harness_auc": _auc(h.steps, h.metric), "simulator_auc": _auc(sim, "eval/accuracy")}
    ).reindex(rules)
    table["harness_rank"] = table["harness_auc"].rank(ascending=False)
    table["simulator_rank"] = table["simulator_auc"].rank(ascending=False)
    stat: dict[str, float] = {"n_rules": float(len(rules))}
    if len(rules) >= 3:
        with np.errstate(invalid="ignore"):
            rho = stats.spearmanr(table["harness_auc"], table["simulator_auc"])
            tau = stats.kendalltau(table["harness_auc"], table["simulator_auc"])
        stat.update(
            spearman_rho=float(rho.statistic),
            spearman_p=float(rho.pvalue),
            kendall_tau=float(tau.statistic),
            kendall_p=float(tau.pvalue),
        )
    else:
        stat.update(spearman_rho=np.nan, spearman_p=np.nan, kendall_tau=np.nan, kendall_p=np.nan)
    table = table.reset_index().rename(columns={"index": "rule"})
    stat["scenario"] = scenario.description  # type: ignore[assignment]
    return table, stat


def regression_data(h: HarnessResults, outcome: str = "success_gain") -> pd.DataFrame:
    """Chosen prompts with their belief terms and a realised gain (rows with no gain dropped).

    Adds ``difficulty = m (1 - m)`` and ``evidence = 1 / (n + 1)`` from the belief
    before the choice (``m = alpha / n``, ``n = alpha + beta``; Eq. 8's two factors).
    """
    from insight_bayes.models.information_regression import information_terms

    df = h.prompts.copy()
    terms = information_terms(df["alpha"].to_numpy(), df["beta"].to_numpy())
    for name, values in terms.items():
        df[name] = values
    return df[df[outcome].notna()].reset_index(drop=True)


def harness_regressions(
    h: HarnessResults,
    outcomes: tuple[str, ...] = ("success_gain", "step_logprob_gain"),
    **fit_kwargs: Any,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Regress each realised gain on the difficulty and evidence terms (PyMC).

    ``success_gain``: the chosen prompt's own success-rate change at its next visit;
    ``step_logprob_gain``: the held-out answer log-likelihood gain (nats/token) of the
    step that trained on it. Outcomes with too few rows or a term that does not vary
    (tiny smoke studies) are skipped with a note. Returns the stacked summaries
    (``outcome`` column first) and the fits by outcome (or the reason one was skipped).
    """
    from insight_bayes.models.information_regression import fit_information_regression

    tables, fits = [], {}
    for outcome in outcomes:
        if outcome not in h.prompts:
            fits[outcome] = f"no column {outcome!r} in the study's prompts table"
            continue
        data = regression_data(h, outcome)
        try:
            fit = fit_information_regression(data, outcome, **fit_kwargs)
        except ValueError as err:
            fits[outcome] = f"skipped: {err}"
            log.info("regression of %s skipped: %s", outcome, err)
            continue
        fits[outcome] = fit
        tables.append(fit.summary.assign(outcome=outcome, n_obs=fit.n_obs))
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    if not table.empty:
        table = table[["outcome", *[c for c in table.columns if c != "outcome"]]]
    return table, fits
