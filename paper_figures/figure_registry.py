"""The list of every figure and table, and the runner that writes them.

Each entry is a function ``make(ctx) -> list[Path]`` that writes its files into
``ctx.out`` from saved results (see :mod:`paper_figures.sources`). Adding a figure is
adding one entry here. An entry whose results are missing raises
:class:`~paper_figures.sources.MissingResult`; :func:`run_all` skips it, keeps the
one-line message naming the command that makes the result, and draws the rest.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from paper_figures import decomposition
from paper_figures.sources import MissingResult
from paper_figures.style import save_figure
from paper_figures.tables import save_table

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FigureContext:
    """Where figures go, where saved results are read from, and which ones.

    ``quick`` reads the small stand-ins under ``RESULTS/scratch/`` (CI). Nothing is ever
    written under ``results`` (``insight-bayes reproduce`` makes what is missing).
    """

    out: Path
    results: Path
    quick: bool = False

    def command(self) -> str:
        quick = " --quick" if self.quick else ""
        return f"insight-bayes figures --out {self.out} --results {self.results}{quick}"


def _closed_form(name: str, build: Callable, what: str) -> Callable[[FigureContext], list[Path]]:
    def make(ctx: FigureContext) -> list[Path]:
        caption = (
            f"{what} Closed forms of insight_bayes, no data. "
            f"Made by `{ctx.command()}` (paper_figures.decomposition.{build.__name__})."
        )
        return save_figure(build(), ctx.out, name, caption)

    return make


FIGURES: dict[str, Callable[[FigureContext], list[Path]]] = {
    "fig2_variance_reduction": _closed_form(
        "fig2_variance_reduction",
        decomposition.fig_variance_reduction,
        "Figure 2. Expected variance reduction dV = m(1-m)/(n+1)^2 (Eq. 8) over mean belief m "
        "and evidence n: a difficulty term times an evidence term.",
    ),
    "fig_information_vs_evidence": _closed_form(
        "fig_information_vs_evidence",
        decomposition.fig_information_vs_evidence,
        "Mutual information I_K (Eq. 13) against evidence for K = 1, 4, 8, 16, with the "
        "large-evidence form 0.5 ln(1 + K/(n+1)) dotted (Proposition 5.1).",
    ),
    "fig3_weight": _closed_form(
        "fig3_weight",
        decomposition.fig_weight,
        "Figure 3. Difficulty weight w(m) = m(1-m) exp(-eta (m-mu)^2) (Eq. 15) for several "
        "mu (eta = 3) and eta (mu = 0.3).",
    ),
    "fig_wmi_landscape": _closed_form(
        "fig_wmi_landscape",
        decomposition.fig_wmi_landscape,
        "WMI landscape w(m) I_8 over (m, n) and the 64 prompts each rule keeps from the same "
        "1,024 candidates of a 2,000-prompt pool after 150 random steps (seed 0).",
    ),
}


@functools.cache
def _simulation(ctx: FigureContext):
    """The saved simulated sweep, read once per figures run and shared."""
    from paper_figures.simulated import load_simulation

    return load_simulation(ctx.results, ctx.quick)


@functools.cache
def _harness(ctx: FigureContext):
    """The saved harness study, read once per figures run and shared."""
    from paper_figures.harness_figures import load_harness

    return load_harness(ctx.results, ctx.quick)


@functools.cache
def _ablation_table(ctx: FigureContext):
    """The saved ablation table and its source, read once per figures run."""
    from paper_figures.ablation_report import load_ablations

    return load_ablations(ctx.results, ctx.quick)


_LOADERS = (_simulation, _harness, _ablation_table)


def _made_by(ctx: FigureContext, function: str) -> str:
    return f"Made by `{ctx.command()}` ({function})."


def _fig4_simulated(ctx: FigureContext) -> list[Path]:
    from paper_figures.simulated import fig4_simulated

    sim = _simulation(ctx)
    post = (
        " Open markers: median and 94% HDI of the hierarchical censored PyMC model."
        if sim.posterior is not None
        else " (No PyMC posterior saved: `insight-bayes sweep ... --bayes` fits it.)"
    )
    caption = (
        f"Figure 4 (simulated Countdown). Left: held-out accuracy per training step, mean over "
        f"seeds with a 95% band, every rule at M={sim.scenario.loop.m}, "
        f"K={sim.scenario.loop.k}, M_hat={sim.scenario.resolved_m_hat()}. Right: speed-up in "
        f"steps to accuracy {sim.scenario.target_accuracy:g} versus Random; filled markers: "
        f"paired bootstrap 95% interval over seeds.{post} Source: {sim.source}. "
        + _made_by(ctx, "paper_figures.simulated.fig4_simulated")
    )
    return save_figure(fig4_simulated(sim), ctx.out, "fig4_simulated", caption)


def _fig4_harness(ctx: FigureContext) -> list[Path]:
    from paper_figures.harness_figures import fig4_harness

    h = _harness(ctx)
    caption = (
        f"Figure 4 (RLVR harness). Left: held-out {h.metric} of GRPO from one warm-up policy, "
        f"mean over seeds with a 95% band. Right: speed-up to {h.metric} >= {h.target:g} "
        f"versus Random per step (filled) and per rollout (open), bootstrap over seeds. "
        f"Configuration: {h.describe()}. Source: {h.source}. "
        + _made_by(ctx, "paper_figures.harness_figures.fig4_harness")
    )
    return save_figure(fig4_harness(h), ctx.out, "fig4_harness", caption)


def _table_main(ctx: FigureContext) -> list[Path]:
    from paper_figures.simulated import main_table

    sim = _simulation(ctx)
    caption = (
        f"Main table (simulated Countdown, {sim.scenario.key}): rules against metrics. Final "
        f"held-out accuracy (mean ± sd over {sim.seeds} seeds); steps to accuracy "
        f"{sim.scenario.target_accuracy:g} (censored runs count at the horizon); speed-up versus "
        "Random with a paired bootstrap 95% interval (and the PyMC posterior 94% HDI when "
        "fitted); share of informative groups; rollouts per step (Dynamic Sampling's extra "
        f"rollouts included); speed-up per rollout. Source: {sim.source}. "
        + _made_by(ctx, "paper_figures.simulated.main_table")
    )
    return save_table(main_table(sim), ctx.out, "table_main", caption)


def _table_harness(ctx: FigureContext) -> list[Path]:
    from paper_figures.harness_figures import harness_table

    h = _harness(ctx)
    caption = (
        f"Harness table: rules against metrics of the RLVR harness ({h.describe()}). Final "
        f"held-out {h.metric}, steps to {h.target:g}, speed-ups per step and per rollout with "
        "bootstrap 95% intervals over seeds, informative share, rollouts and seconds per step. "
        f"Source: {h.source}. " + _made_by(ctx, "paper_figures.harness_figures.harness_table")
    )
    return save_table(harness_table(h), ctx.out, "table_harness", caption)


def _ablations(ctx: FigureContext) -> list[Path]:
    from paper_figures.ablation_report import ablation_titles, fig_ablations, printable

    table, source = _ablation_table(ctx)
    paths = []
    for name, title in ablation_titles(table).items():
        caption = (
            f"Ablation: {title}. Each variant versus Random on the same scenario and "
            "seeds: final accuracy (mean ± sd), steps to target, speed-up with paired "
            f"bootstrap 95% interval, informative share. Source: {source}. "
            + _made_by(ctx, "paper_figures.ablation_report.printable")
        )
        paths += save_table(printable(table, name), ctx.out, f"table_ablation_{name}", caption)
    caption = (
        "Ablations of InSight: speed-up versus Random to the accuracy target (paired bootstrap "
        f"95% intervals over seeds). Source: {source}. "
        + _made_by(ctx, "paper_figures.ablation_report.fig_ablations")
    )
    return paths + save_figure(fig_ablations(table), ctx.out, "fig_ablations", caption)


def _cost(ctx: FigureContext) -> list[Path]:
    from paper_figures.cost import cost_table, fig_cost

    sim = _simulation(ctx)
    h = _harness(ctx)
    where = f"Simulated: {sim.source}. Harness: {h.describe()}; {h.source}."
    caption = (
        "Cost of Dynamic Sampling. Top: rollouts per training step (extra rollouts that "
        "Dynamic Sampling spends to replace uninformative groups included) and wall time per "
        "step. Bottom: speed-up versus Random to the target per training step (filled) and per "
        f"rollout (open), paired bootstrap 95% intervals. {where} "
        + _made_by(ctx, "paper_figures.cost.fig_cost")
    )
    paths = save_figure(fig_cost(sim, h), ctx.out, "fig_cost", caption)
    caption = (
        "Cost comparison with Dynamic Sampling: rollouts and wall time (ms) per step, speed-up "
        f"per step and per rollout (paired bootstrap 95% intervals). {where} "
        + _made_by(ctx, "paper_figures.cost.cost_table")
    )
    return paths + save_table(cost_table(sim, h), ctx.out, "table_cost", caption)


def _saved_folder(ctx: FigureContext, pair) -> tuple[Path, str]:
    """The folder of a saved result and its caption
    source: the folder and the command that makes it."""
    from paper_figures.sources import pick

    saved = pick(pair, ctx.quick)
    folder = saved.require(Path(ctx.results))
    quick = "QUICK stand-in: " if ctx.quick and pair[0] is not pair[1] else ""
    source = f"{quick}{folder}, made by '{saved.command(Path(ctx.results))}'"
    _FOLDER_SOURCES[str(folder)] = source
    return folder, source


#: Sources of the folders read through :func:`_saved_folder` in the current run.
_FOLDER_SOURCES: dict[str, str] = {}


def _fidelity_of(pair, grid: str, suffix: str):
    """The fidelity figure and table of one saved grid (``suffix`` names the files)."""

    def make(ctx: FigureContext) -> list[Path]:
        from paper_figures.fidelity_figures import (
            fidelity_printable,
            fig_fidelity,
            load_fidelity,
        )

        folder, source = _saved_folder(ctx, pair)
        fidelity, summary, cells = load_fidelity(folder)
        caption = (
            f"Fidelity of the paper's claims in the simulator's {grid}. Each cell: the share "
            "of relative targets (25-100% of Random's gain) at which the claim was reproduced "
            "minus the share at which it was refuted (paired bootstrap 95% intervals over "
            f"seeds). Source: {source}. "
            + _made_by(ctx, "paper_figures.fidelity_figures.fig_fidelity")
        )
        paths = save_figure(fig_fidelity(fidelity, cells), ctx.out, f"fig_{suffix}", caption)
        caption = (
            f"The paper's claims over the {grid}: cases (cells x relative targets) where "
            "each is reproduced, refuted or unresolved (95% interval straddles the boundary), "
            "and the verdict (holds / refuted everywhere, or depends on the assumptions). "
            f"Source: {source}. " + _made_by(ctx, "insight_bayes.analysis.fidelity.claim_summary")
        )
        return paths + save_table(fidelity_printable(summary), ctx.out, f"table_{suffix}", caption)

    return make


def _fidelity(ctx: FigureContext) -> list[Path]:
    from paper_figures.sources import ROBUSTNESS

    grid = ("robustness grid (memorisation x belief discount x the linear and Adam-like "
            "learners on the paper-shaped pool, and pools from weak to strong)")  # fmt: skip
    return _fidelity_of(ROBUSTNESS, grid, "fidelity")(ctx)


def _fidelity_measured(ctx: FigureContext) -> list[Path]:
    from paper_figures.sources import MEASURED

    grid = ("grid under the learner measured on the GRPO harness (belief discount on the "
            "paper-shaped pool, and pools from weak to strong)")  # fmt: skip
    return _fidelity_of(MEASURED, grid, "fidelity_measured")(ctx)


def _tiered(ctx: FigureContext) -> list[Path]:
    from paper_figures.sources import TIERED
    from paper_figures.tiered import fig_tiered, tiered_table

    folder, source = _saved_folder(ctx, TIERED)
    caption = (
        "The tiered harness study: GRPO on reversed addition (warm-up on 1-4 digits, pool and "
        "test on 1-6 digits in a 6-digit frame). Left: held-out exact pass@1 (mean and band "
        "over seeds). Right: speed-up versus Random to relative targets (the step-0 value plus "
        "25-100% of Random's final gain), paired bootstrap 95% intervals over seeds. "
        f"Source: {source}. " + _made_by(ctx, "paper_figures.tiered.fig_tiered")
    )
    paths = save_figure(fig_tiered(folder), ctx.out, "fig_tiered", caption)
    caption = (
        "The tiered harness study per rule: binary informative share of the trained groups "
        "(recomputed from the choices table), speed-up curve, speed-up per rollout, and the "
        "learning-curve AUC gain over Random, with paired bootstrap 95% intervals. "
        f"Source: {source}. " + _made_by(ctx, "paper_figures.tiered.tiered_table")
    )
    return paths + save_table(tiered_table(folder), ctx.out, "table_tiered", caption)


def _sim_vs_harness(ctx: FigureContext) -> list[Path]:
    from paper_figures.prediction_figures import (
        agreement_line,
        fig_sim_vs_harness,
        sim_vs_harness_table,
    )
    from paper_figures.sources import SIM_VS_HARNESS

    folder, source = _saved_folder(ctx, SIM_VS_HARNESS)
    caption = (
        "Does the simulator predict the harness? The learning simulator is calibrated on "
        "Random's runs alone in each of three harness studies (the measured warm-up pool; "
        "learning rate, transfer, memorisation and forgetting fitted to Random's held-out "
        "curve and training success), then predicts every other rule. Left: realised against "
        "predicted speed-up in steps to 50% of Random's gain, 95% intervals on both axes "
        "(paired bootstrap over seeds), dotted: identity. Right: the fit, Random's held-out "
        f"gain in the harness (95% intervals) and in its calibrated simulator. "
        f"{agreement_line(folder)}. Source: {source}. "
        + _made_by(ctx, "paper_figures.prediction_figures.fig_sim_vs_harness")
    )
    paths = save_figure(fig_sim_vs_harness(folder), ctx.out, "fig_sim_vs_harness", caption)
    caption = (
        "Predicted (calibrated simulator) and realised (harness) speed-ups in steps to 50% of "
        f"Random's gain, with 95% intervals; {agreement_line(folder)}. Source: {source}. "
        + _made_by(ctx, "insight_bayes.analysis.agreement.agreement_stats")
    )
    return paths + save_table(
        sim_vs_harness_table(folder), ctx.out, "table_sim_vs_harness", caption
    )


def _intervention(ctx: FigureContext) -> list[Path]:
    from paper_figures.sources import INTERVENTION
    from paper_figures.tiered import fig_intervention, intervention_table

    folder, source = _saved_folder(ctx, INTERVENTION)
    caption = (
        "A causal test of InSight's two terms: batches stratified so that the evidence term "
        "(MI at the belief) varies at a fixed difficulty weight and the reverse, under the flat "
        "and the empirical-Bayes prior, at checkpoints (> 0) of Random runs over task draws; "
        "mean first-order effect of each batch's AdamW-applied, clipped update on exact "
        "held-out pass@1 per level; dotted: uniform control batches. "
        f"Source: {source}. " + _made_by(ctx, "paper_figures.tiered.fig_intervention")
    )
    paths = save_figure(fig_intervention(folder), ctx.out, "fig_intervention", caption)
    caption = (
        "Causal-test slopes: the applied update's held-out effect (points) on the batch-mean "
        "log weight and log evidence term in one model with cell intercepts (draw, run, "
        "checkpoint), per prior; 95% hierarchical-bootstrap intervals (draws, runs, batches), "
        "batch-bootstrap intervals, VIF, placebo permutation p. "
        f"Source: {source}. " + _made_by(ctx, "insight_bayes.analysis.causal_slopes.causal_slopes")
    )
    return paths + save_table(intervention_table(folder), ctx.out, "table_intervention", caption)


def _beyond(ctx: FigureContext) -> list[Path]:
    from paper_figures.beyond_figures import beyond_printable, fig_beyond, load_beyond
    from paper_figures.sources import BEYOND

    folder, source = _saved_folder(ctx, BEYOND)
    b = load_beyond(folder, "quick" if ctx.quick else "countdown-paper")
    where = f"Scenario {b.scenario.key}, {b.seeds} seeds. Source: {source}."
    caption = (
        "The rules beyond InSight (beliefs that track the policy, scores about the "
        "learning signal, adaptive mu, noisy and graded rewards) against InSight, Random and "
        "the oracle that knows the true current rates. Left: speed-up versus Random in steps "
        f"to each held-out accuracy target ({', '.join(f'{t:g}' for t in b.targets)}), paired "
        "bootstrap 95% intervals over seeds (censored runs count at the horizon). Right: "
        "share of the chosen prompts whose true rate lies in the belief's 90% interval "
        "(belief/coverage_chosen, a diagnostic no rule reads), mean over seeds with a 95% "
        f"band; nominal 0.9 dotted. {where} "
        + _made_by(ctx, "paper_figures.beyond_figures.fig_beyond")
    )
    paths = save_figure(fig_beyond(b), ctx.out, "fig_beyond", caption)
    caption = (
        f"The rules beyond InSight at held-out accuracy {b.scenario.target_accuracy:g}: "
        "speed-up versus Random, ratio to InSight (mean steps of InSight over the rule's) and "
        "share of the oracle's speed-up (mean steps of the oracle over the rule's), each with "
        "a paired bootstrap 95% interval over seeds; final held-out accuracy (mean ± sd); "
        "censored runs; belief coverage of the chosen prompts' true rates by the 90% interval, "
        f"averaged over step windows. The issue's goal: ratio to InSight >= 1.10 with its "
        f"interval above 1, and >= 0.85 of the oracle. {where} "
        + _made_by(ctx, "insight_bayes.analysis.beyond.beyond_table")
    )
    return paths + save_table(beyond_printable(b), ctx.out, "table_beyond", caption)


FIGURES.update(
    {
        "fig4_simulated": _fig4_simulated,
        "fig4_harness": _fig4_harness,
        "table_main": _table_main,
        "table_harness": _table_harness,
        "ablations": _ablations,
        "cost": _cost,
        "sim_vs_harness": _sim_vs_harness,
        "fidelity": _fidelity,
        "fidelity_measured": _fidelity_measured,
        "tiered": _tiered,
        "intervention": _intervention,
        "beyond": _beyond,
    }
)


@dataclass
class FiguresReport:
    """What :func:`run_all` did: files written, saved results read, figures skipped."""

    written: list[Path] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)  # figure name -> message


def run_all(ctx: FigureContext, only: list[str] | None = None) -> FiguresReport:
    """Write every figure (or those named in ``only``) from saved results.

    A figure whose saved results are missing is skipped and its one-line message (which
    names the command that makes them) kept in :attr:`FiguresReport.missing`.
    """
    names = list(FIGURES) if not only else only
    unknown = sorted(set(names) - set(FIGURES))
    if unknown:
        raise ValueError(f"unknown figure(s) {unknown}; available: {', '.join(FIGURES)}")
    for loader in _LOADERS:
        loader.cache_clear()  # each run reads the results as they are now
    _FOLDER_SOURCES.clear()
    report = FiguresReport()
    for name in tqdm(names, desc="figures", leave=False):
        log.info("making %s", name)
        try:
            report.written.extend(FIGURES[name](ctx))
        except MissingResult as err:
            log.info("skipped %s: %s", name, err)
            report.missing[name] = str(err)
    for loader in _LOADERS:
        if loader.cache_info().currsize:
            loaded = loader(ctx)
            report.sources.append(loaded[1] if isinstance(loaded, tuple) else loaded.source)
    report.sources.extend(_FOLDER_SOURCES.values())
    return report
