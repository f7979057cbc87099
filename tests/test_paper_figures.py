"""The figures command writes every figure and table, non-empty, with captions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from insight_bayes.cli import main
from paper_figures.registry import FIGURES, FigureContext, run_all
from paper_figures.tables import fmt_interval, to_latex, to_markdown
from simulations.sweep import PAPER_RULES

SMOKE_RULES = ("random", "insight", "dynamic-sampling")  # configs/rlvr/smoke.toml


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("figs")
    out, results = root / "figs", root / "none"
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["figures", "--out", str(out), "--results", str(results), "--quick"]) == 0
    return out, results, buffer.getvalue()


def test_every_file_is_written_non_empty_with_a_caption(quick_run):
    out, _, printed = quick_run
    written = [Path(line) for line in printed.splitlines() if line.startswith(str(out))]
    assert f"{len(written)} files written to {out}" in printed
    for path in written:
        assert path.exists() and path.stat().st_size > 0, path
    stems = {p.name.split(".")[0] for p in written}
    for stem in stems:
        caption = (out / f"{stem}.caption.txt").read_text()
        assert "insight-bayes figures --out" in caption and "--quick" in caption, stem
        kinds = {p.suffix for p in written if p.name.split(".")[0] == stem} - {".txt"}
        assert kinds in ({".pdf", ".png"}, {".md", ".tex"}), (stem, kinds)
    expected = {
        "fig2_variance_reduction", "fig3_weight", "fig4_simulated", "fig4_harness",
        "table_main", "table_harness", "fig_ablations", "fig_cost", "table_cost", "table_ranking",
        *(f"table_ablation_{a}" for a in ("components", "belief", "mu", "m_hat", "discount")),
    }  # fmt: skip
    assert expected <= stems
    # quick re-runs say so in their captions
    assert "QUICK" in (out / "table_main.caption.txt").read_text()
    assert "SMOKE" in (out / "fig4_harness.caption.txt").read_text()


def test_tables_carry_every_rule(quick_run):
    out, _, _ = quick_run
    for name, rules in (
        ("table_main", PAPER_RULES),
        ("table_harness", SMOKE_RULES),
        ("table_cost", SMOKE_RULES + PAPER_RULES),
        ("table_ranking", SMOKE_RULES),
    ):
        md = (out / f"{name}.md").read_text()
        tex = (out / f"{name}.tex").read_text()
        rows = {line.split("|")[1 + (name == "table_cost")].strip() for line in md.splitlines()
                if line.startswith("| ") and "---" not in line}  # fmt: skip
        assert set(rules) <= rows, (name, set(rules) - rows)
        for rule in rules:
            assert rule in tex, (name, rule)
    mu = (out / "table_ablation_mu.md").read_text()
    assert all(f"mu = {m}" in mu for m in ("0.1", "0.3", "0.7"))
    m_hat = (out / "table_ablation_m_hat.md").read_text()
    assert all(f"M_hat = {r} M" in m_hat for r in (8, 12, 16))


def test_saved_results_are_read_not_rerun(quick_run, tmp_path):
    """A second call with the first call's scratch runs present simulates nothing new."""
    _, results, _ = quick_run
    runs = sorted((results / "scratch").rglob("*.done.json"))
    before = {p: p.stat().st_mtime_ns for p in runs}
    from paper_figures.simulated import load_simulation

    load_simulation.cache_clear()
    run_all(FigureContext(out=tmp_path, results=results, quick=True), only=["table_main"])
    assert runs and {p: p.stat().st_mtime_ns for p in runs} == before


def test_table_writers():
    df = pd.DataFrame({"rule": ["a_b", "c"], "x": [0.12345, float("nan")], "n": [2048.0, 3.0]})
    md = to_markdown(df)
    assert md.splitlines()[0] == "| rule | x | n |"
    assert "| a_b | 0.123 | 2,048 |" in md and "| c | - | 3.000 |" in md
    tex = to_latex(df, "A caption", "t")
    assert r"a\_b & 0.123 & 2,048 \\" in tex and r"\label{tab:t}" in tex
    assert fmt_interval(1.5, 1.25, 1.75) == "1.50 [1.25, 1.75]"
    assert fmt_interval(float("nan"), 0, 0) == "-"


def test_unknown_figure_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown figure"):
        run_all(FigureContext(out=tmp_path, results=tmp_path), only=["fig99"])


def test_registry_names_are_unique_and_callable():
    assert len(FIGURES) == len(set(FIGURES)) and all(callable(f) for f in FIGURES.values())


def test_fit_composition_matches_shares_and_moments():
    from paper_figures.harness import fit_composition

    rng = np.random.default_rng(0)
    mid = rng.beta(2.0, 5.0, 4000)
    rates = np.concatenate([np.zeros(3000), np.ones(1000), mid])
    comp = fit_composition(rates)
    assert comp.unsolvable_share == pytest.approx(3000 / 8000)
    assert comp.solved_share == pytest.approx(1000 / 8000)
    assert comp.mid_alpha == pytest.approx(2.0, rel=0.1)
    assert comp.mid_beta == pytest.approx(5.0, rel=0.1)
    with pytest.raises(ValueError, match="rates must be"):
        fit_composition(np.array([1.5]))


def test_number_formats():
    from paper_figures.tables import fmt

    assert [fmt(3581.136), fmt(44.8), fmt(0.65584), fmt(7), fmt(True)] == [
        "3,581", "44.8", "0.656", "7", "yes"
    ]  # fmt: skip
    tex = to_latex(pd.DataFrame({"a": ["0.8 ± 0.1"]}), "made by `cmd`", "x")
    assert r"0.8 $\pm$ 0.1" in tex and "`" not in tex
