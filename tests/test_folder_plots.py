"""`insight-bayes plot`: the pictures and the summary of any saved sweep or study."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

from insight_bayes.results import load_results, plots
from insight_bayes.results.headline import summary_text
from paper_figures.folder_plots import LEARNING_CURVE, SPEEDUP, folder_summary, plot_folder, run

REPO = Path(__file__).resolve().parents[1]
STUDY = REPO / "results" / "rlvr-cpu-tiered-mid"  # a small committed harness study


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_plot_folder_writes_both_pictures(tmp_path):
    written = plot_folder(STUDY, tmp_path)
    assert written == [tmp_path / LEARNING_CURVE, tmp_path / SPEEDUP]
    for path in written:
        width, height = png_size(path)
        assert width > 400 and height > 200


def test_a_folder_without_summary_is_summarised_from_its_steps(tmp_path):
    for name in ("steps.parquet", "manifest.json"):
        shutil.copy(STUDY / name, tmp_path / name)
    results = load_results(tmp_path)
    summary = folder_summary(results, n_boot=200)
    assert set(summary["rule"]) == set(results.rules)
    assert {"speedup", "ci_low", "ci_high"} <= set(summary.columns)
    assert [p.name for p in plot_folder(tmp_path)] == [LEARNING_CURVE, SPEEDUP]
    assert (tmp_path / SPEEDUP).exists()


def test_plot_command_prints_the_headline_first(tmp_path, capsys):
    assert run(argparse.Namespace(folder=str(STUDY), out=str(tmp_path), n_boot=200)) == 0
    out = capsys.readouterr().out
    results = load_results(STUDY)
    expected = summary_text(
        folder_summary(results),
        baseline=results.baseline,
        metric=results.metric,
        target=results.target,
    )
    assert out.startswith(expected + "\n")
    assert str(tmp_path / LEARNING_CURVE) in out.splitlines()[-1]


def test_draw_folder_uses_the_registered_plotters(tmp_path, monkeypatch):
    monkeypatch.setattr(plots, "_PLOTTERS", [])
    assert plots.draw_folder(STUDY, tmp_path) == []  # the library alone draws nothing
    plots.register_folder_plotter("paper_figures.folder_plots:plot_folder")
    plots.register_folder_plotter("paper_figures.folder_plots:plot_folder")  # once
    assert plots.folder_plotters() == ["paper_figures.folder_plots:plot_folder"]
    assert plots.draw_folder(STUDY, tmp_path) == [tmp_path / LEARNING_CURVE, tmp_path / SPEEDUP]
    with pytest.raises(ValueError, match="module:function"):
        plots.register_folder_plotter("paper_figures.folder_plots")
