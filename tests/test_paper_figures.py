"""The figures command writes every figure and table, non-empty, with captions."""

from __future__ import annotations

import pytest

from insight_bayes.cli import main
from paper_figures.registry import FIGURES, FigureContext, run_all


def test_figures_command_quick(tmp_path, capsys):
    out = tmp_path / "figs"
    assert main(["figures", "--out", str(out), "--results", str(tmp_path / "none"), "--quick"]) == 0
    for name in FIGURES:
        for ext in ("pdf", "png", "caption.txt"):
            path = out / f"{name}.{ext}"
            if path.exists() or ext != "caption.txt":
                assert path.stat().st_size > 0, path
        caption = (out / f"{name}.caption.txt").read_text()
        assert "insight-bayes figures --out" in caption and "--quick" in caption
    assert f"files written to {out}" in capsys.readouterr().out


def test_unknown_figure_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown figure"):
        run_all(FigureContext(out=tmp_path, results=tmp_path), only=["fig99"])
