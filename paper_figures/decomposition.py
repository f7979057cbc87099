"""Figures of the decomposition: why difficulty alone is not enough (paper Figures 2-3).

Each ``fig_*`` function returns a matplotlib Figure built only from the package's
closed forms; the notebooks show them and :mod:`paper_figures.__main__` saves them.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm

from insight_bayes import (
    difficulty_weight,
    expected_variance_reduction,
    mutual_information,
    mutual_information_asymptotic,
    wmi_score,
)
from insight_bayes.acquisition import PAPER_ETA, PAPER_MU
from insight_bayes.demo import choose_with_every_rule, observed_pool
from paper_figures.style import LINESTYLES, SEQUENTIAL, apply_style, ordered_rules, rule_style


def _mean_evidence_grid(n_means: int = 199, n_evidence: int = 160, n_max: float = 1e3):
    means = np.linspace(0.005, 0.995, n_means)
    evidence = np.geomspace(2.0, n_max, n_evidence)
    mm, nn = np.meshgrid(means, evidence)
    return means, evidence, mm * nn, (1.0 - mm) * nn


def fig_variance_reduction() -> plt.Figure:
    """Figure 2: expected variance reduction (Eq. 8) over mean belief and evidence.

    Left: the landscape ``dV(m, n)``. Middle: ``dV`` against ``m`` for several ``n`` (the
    difficulty term ``m (1 - m)``, scaled). Right: ``dV`` against ``n`` for several
    ``m``: the evidence term ``1 / (n + 1)^2`` makes a well-known prompt near 0.5 worth
    less than a fresh prompt far from 0.5.
    """
    apply_style()
    means, evidence, a, b = _mean_evidence_grid()
    dv = expected_variance_reduction(a, b)
    fig, axes = plt.subplots(1, 3, figsize=(10.0, 3.0), constrained_layout=True)
    mesh = axes[0].pcolormesh(
        means, evidence, dv, norm=LogNorm(vmin=1e-8, vmax=dv.max()), cmap="cividis"
    )
    axes[0].set(
        yscale="log",
        xlabel="mean belief m",
        ylabel="evidence n = alpha + beta",
        title="expected variance reduction",
    )
    axes[0].grid(False)  # no grid over the colour map
    fig.colorbar(mesh, ax=axes[0], label="dV (K = 1)")
    for i, n in enumerate([2, 5, 20, 100]):
        axes[1].plot(
            means,
            expected_variance_reduction(means * n, (1 - means) * n),
            color=SEQUENTIAL[i],
            linestyle=LINESTYLES[i],
            label=f"n = {n}",
        )
    axes[1].set(
        yscale="log", xlabel="mean belief m", ylabel="dV", title="difficulty term m (1 - m)"
    )
    axes[1].legend()
    for i, m in enumerate([0.5, 0.3, 0.1, 0.02]):
        axes[2].plot(
            evidence,
            expected_variance_reduction(m * evidence, (1 - m) * evidence),
            color=SEQUENTIAL[i],
            linestyle=LINESTYLES[i],
            label=f"m = {m}",
        )
    axes[2].plot(
        evidence,
        0.25 / (evidence + 1) ** 2,
        color="grey",
        linewidth=0.8,
        linestyle=":",
        label="0.25 / (n + 1)^2",
    )
    axes[2].set(
        xscale="log",
        yscale="log",
        xlabel="evidence n",
        ylabel="dV",
        title="evidence term 1 / (n + 1)^2",
    )
    axes[2].legend()
    return fig


def fig_information_vs_evidence(ks: tuple[int, ...] = (1, 4, 8, 16)) -> plt.Figure:
    """Mutual information ``I_K`` (Eq. 13) against evidence, with the asymptote overlaid.

    Solid: exact ``I_K`` at mean belief 0.5 (left) and 0.1 (right). Thin dotted:
    ``0.5 ln(1 + K / (n + 1))`` (Proposition 5.1), exact in the large-evidence limit.
    """
    apply_style()
    evidence = np.geomspace(2.0, 1e5, 200)
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.0), constrained_layout=True, sharey=True)
    for ax, m in zip(axes, (0.5, 0.1), strict=True):
        for i, k in enumerate(ks):
            ax.plot(
                evidence,
                mutual_information(m * evidence, (1 - m) * evidence, k),
                color=SEQUENTIAL[i],
                linestyle=LINESTYLES[i],
                label=f"K = {k}",
            )
            ax.plot(
                evidence,
                mutual_information_asymptotic(m * evidence, (1 - m) * evidence, k),
                color=SEQUENTIAL[i],
                linestyle=":",
                linewidth=0.8,
            )
        ax.set(xscale="log", yscale="log", xlabel="evidence n", title=f"mean belief m = {m}")
    axes[0].set_ylabel("I_K (nats)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncol=len(ks),
        title="thick: exact I_K; thin dotted: 0.5 ln(1 + K/(n+1))",
    )
    return fig


def fig_weight(
    mus: tuple[float, ...] = (0.1, 0.3, 0.5, 0.7), etas: tuple[float, ...] = (0.0, 3.0, 10.0)
) -> plt.Figure:
    """Figure 3: the difficulty weight ``w(m) = m (1 - m) exp(-eta (m - mu)^2)`` (Eq. 15)."""
    apply_style()
    m = np.linspace(0, 1, 401)
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.0), constrained_layout=True, sharey=True)
    for i, mu in enumerate(mus):
        axes[0].plot(
            m,
            difficulty_weight(m, mu=mu, eta=PAPER_ETA),
            color=SEQUENTIAL[i],
            linestyle=LINESTYLES[i],
            label=rf"$\mu$ = {mu}",
        )
    axes[0].set(xlabel="mean belief $m$", ylabel="$w(m)$", title=r"$\eta$ = 3, varying $\mu$")
    axes[0].legend(loc="upper left")  # off the curves
    for i, eta in enumerate(etas):
        axes[1].plot(
            m,
            difficulty_weight(m, mu=PAPER_MU, eta=eta),
            color=SEQUENTIAL[i],
            linestyle=LINESTYLES[i],
            label=rf"$\eta$ = {eta:g}",
        )
    axes[1].set(xlabel="mean belief $m$", title=r"$\mu$ = 0.3, varying $\eta$")
    axes[1].legend(loc="upper left")
    return fig


def fig_wmi_landscape(
    k: int = 8, seed: int = 0, pool: int = 2000, m: int = 64, warmup_steps: int = 150
) -> plt.Figure:
    """The WMI landscape ``w(m) I_K`` over (mean belief, evidence), with each rule's choices.

    The pool of :func:`insight_bayes.demo.observed_pool` is observed for ``warmup_steps``
    random steps; every rule then picks ``m`` prompts from the same candidates. Points
    are jittered slightly so that prompts with equal beliefs stay visible.
    """
    apply_style()
    means, evidence, a, b = _mean_evidence_grid(n_max=200.0)
    landscape = wmi_score(a, b, k)
    rates, belief, candidates = observed_pool(pool, m, k, warmup_steps, seed)
    chosen = choose_with_every_rule(rates, belief, candidates, m, k, seed)
    rules = [r for r in ordered_rules(chosen) if r != "insight-sampled"]
    fig, axes = plt.subplots(
        2, 4, figsize=(11.0, 5.0), constrained_layout=True, sharex=True, sharey=True
    )
    jitter_rng = np.random.default_rng(seed)
    jitter = jitter_rng.uniform(0.93, 1.07, m)
    shift = jitter_rng.uniform(-0.01, 0.01, m)
    for ax, rule in zip(axes.ravel(), rules, strict=False):
        cs = ax.contourf(means, evidence, landscape, levels=12, cmap="Greys")
        ax.scatter(
            belief.mean[candidates],
            belief.evidence[candidates],
            s=3,
            color="#bbbbbb",
            label="candidates",
        )
        style = rule_style(rule)
        ax.scatter(
            belief.mean[chosen[rule]] + shift,
            belief.evidence[chosen[rule]] * jitter,
            s=14,
            color=style["color"],
            marker=style["marker"],
            edgecolor="black",
            linewidth=0.3,
        )
        ax.set(yscale="log", title=rule)
        ax.grid(False)  # no grid over the landscape
    for ax in axes[:, 0]:
        ax.set_ylabel("evidence n")
    for ax in axes[-1, :]:
        ax.set_xlabel("mean belief m")
    fig.colorbar(cs, ax=axes, label=f"w(m) I_K, K = {k} (nats)", shrink=0.8)
    return fig
