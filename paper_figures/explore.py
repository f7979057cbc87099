r"""Explore InSight's score by hand: sliders for $\mu$, $\eta$, $K$ and the evidence $n$.

:func:`fig_score` draws the three parts of the score at one setting: the difficulty
weight $w(m) = m (1 - m)\, e^{-\eta (m - \mu)^2}$ (Eq. 15), the information $I_K$ that
$K$ rollouts give about a prompt with mean belief $m$ and evidence $n$ (Eq. 13), and
their product, the score $A = w(m)\, I_K$ (Eq. 16), at $n / 4$, $n$ and $4 n$.
:func:`explore` puts it under ipywidgets sliders in a notebook; without ipywidgets, or
with ``INSIGHT_BAYES_STATIC=1`` (the tests, CI and the rendered documentation), it draws
the figure once at the given setting and prints that setting.
"""

from __future__ import annotations

import inspect
import os

import matplotlib.pyplot as plt
import numpy as np

from insight_bayes import difficulty_weight, mutual_information
from paper_figures.style import LINESTYLES, SEQUENTIAL, apply_style

__all__ = ["PAPER_SETTING", "explore", "fig_score", "static_mode"]


def _paper_setting() -> dict[str, float]:
    """The paper's ``mu`` and ``eta``: the defaults of :func:`difficulty_weight`."""
    params = inspect.signature(difficulty_weight).parameters
    return {"mu": float(params["mu"].default), "eta": float(params["eta"].default)}


#: The setting :func:`explore` starts from: the paper's ``mu``, ``eta``; ``K = 8``, ``n = 10``.
PAPER_SETTING: dict[str, float] = {**_paper_setting(), "k": 8, "n": 10.0}


def static_mode() -> bool:
    """Whether to draw once instead of showing sliders (``INSIGHT_BAYES_STATIC=1``)."""
    return os.environ.get("INSIGHT_BAYES_STATIC", "") not in ("", "0")


def fig_score(mu: float, eta: float, k: int, n: float) -> plt.Figure:
    r"""The weight (Eq. 15), the information (Eq. 13) and the score (Eq. 16) over $m$.

    Parameters
    ----------
    mu, eta : float
        The weight's preferred success rate and sharpness.
    k : int
        Rollouts per prompt, ``K >= 1``.
    n : float
        A prompt's evidence ``alpha + beta`` (``> 0``); the score is drawn at ``n / 4``,
        ``n`` and ``4 n``.

    Returns
    -------
    matplotlib.figure.Figure
        Three panels, with the setting in the title.
    """
    if k < 1 or n <= 0:
        raise ValueError(f"need K >= 1 and n > 0, got K = {k}, n = {n}")
    apply_style()
    m = np.linspace(0.005, 0.995, 397)
    fig, axes = plt.subplots(1, 3, figsize=(10.0, 3.0), constrained_layout=True)
    axes[0].plot(m, difficulty_weight(m, mu=mu, eta=eta), color=SEQUENTIAL[1])
    axes[0].axvline(mu, color="grey", linewidth=0.8, linestyle=":")
    axes[0].set(xlabel="mean belief $m$", ylabel="$w(m)$", title=r"weight (Eq. 15)")
    evidences = (n / 4.0, n, 4.0 * n)
    for i, evidence in enumerate(evidences):
        info = mutual_information(m * evidence, (1.0 - m) * evidence, k)
        style = {"color": SEQUENTIAL[i], "linestyle": LINESTYLES[i]}
        axes[1].plot(m, info, label=f"$n$ = {evidence:g}", **style)
        axes[2].plot(m, difficulty_weight(m, mu=mu, eta=eta) * info, **style)
    axes[1].set(xlabel="mean belief $m$", ylabel="$I_K$ (nats)", title="information (Eq. 13)")
    axes[2].set(xlabel="mean belief $m$", ylabel=r"$w(m)\, I_K$", title="score (Eq. 16)")
    fig.legend(*axes[1].get_legend_handles_labels(), loc="outside right center")
    fig.suptitle(rf"$\mu$ = {mu:g}, $\eta$ = {eta:g}, $K$ = {k}, $n$ = {n:g}")
    return fig


def explore(**setting: float):
    r"""Sliders for $\mu$, $\eta$, $K$ and $n$ over :func:`fig_score` (static fallback).

    Keyword arguments override :data:`PAPER_SETTING`. In a notebook with ipywidgets,
    returns the ``ipywidgets.interactive`` widget; otherwise (no ipywidgets, or
    :func:`static_mode`) draws the figure once, prints the setting, and returns the
    figure.
    """
    chosen = {**PAPER_SETTING, **setting}
    unknown = set(chosen) - set(PAPER_SETTING)
    if unknown:
        raise TypeError(f"unknown setting {sorted(unknown)}; use {sorted(PAPER_SETTING)}")
    widgets = None
    if not static_mode():
        try:
            import ipywidgets as widgets
        except ImportError:
            widgets = None
    if widgets is None:
        print(", ".join(f"{name} = {value:g}" for name, value in chosen.items()))
        return fig_score(chosen["mu"], chosen["eta"], int(chosen["k"]), chosen["n"])

    def draw(mu: float, eta: float, k: int, n: float) -> None:
        fig_score(mu, eta, k, n)
        plt.show()

    return widgets.interactive(
        draw,
        mu=widgets.FloatSlider(value=chosen["mu"], min=0.0, max=1.0, step=0.05, description="μ"),
        eta=widgets.FloatSlider(value=chosen["eta"], min=0.0, max=20.0, step=0.5,
                                description="η"),
        k=widgets.IntSlider(value=int(chosen["k"]), min=1, max=64, description="K"),
        n=widgets.FloatLogSlider(value=chosen["n"], base=10, min=0, max=4, description="n"),
    )  # fmt: skip
