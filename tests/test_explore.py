"""The score explorer of notebook 01: the static fallback and the sliders."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from paper_figures import explore as explore_module


def test_static_mode_draws_once_and_prints_the_setting(monkeypatch, capsys):
    monkeypatch.setenv("INSIGHT_BAYES_STATIC", "1")
    fig = explore_module.explore(mu=0.5, k=4)
    assert capsys.readouterr().out.strip() == "mu = 0.5, eta = 3, k = 4, n = 10"
    assert "$\\mu$ = 0.5" in fig._suptitle.get_text()
    weight = fig.axes[0].lines[0]
    m, w = weight.get_xdata(), weight.get_ydata()
    # Eq. 15 by hand, independently of difficulty_weight: peak of m(1-m)exp(-3(m-0.5)^2)
    assert w == pytest.approx(m * (1 - m) * np.exp(-3.0 * (m - 0.5) ** 2))
    score = fig.axes[2].lines
    assert len(score) == 3  # n / 4, n, 4 n
    # more evidence, less information and so a lower score everywhere
    assert np.all(score[0].get_ydata() > score[2].get_ydata())


def test_paper_setting_is_the_weight_default():
    assert explore_module.PAPER_SETTING == {"mu": 0.3, "eta": 3.0, "k": 8, "n": 10.0}


def test_bad_settings_are_refused(monkeypatch):
    monkeypatch.setenv("INSIGHT_BAYES_STATIC", "1")
    with pytest.raises(TypeError, match="unknown setting"):
        explore_module.explore(lam=0.5)
    with pytest.raises(ValueError, match="K >= 1"):
        explore_module.fig_score(0.3, 3.0, 0, 10.0)


def test_sliders_when_ipywidgets_is_installed(monkeypatch):
    widgets = pytest.importorskip("ipywidgets")
    monkeypatch.delenv("INSIGHT_BAYES_STATIC", raising=False)
    box = explore_module.explore()
    assert isinstance(box, widgets.interactive)
    values = {child.description: child.value for child in box.children[:-1]}
    assert values == {"μ": 0.3, "η": 3.0, "K": 8, "n": pytest.approx(10.0)}
