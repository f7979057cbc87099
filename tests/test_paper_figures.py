"""The figures command draws every figure and table from saved results, and only draws.

Every registered figure is drawn from a copy of the committed results; the results
folder is left exactly as it was (file list, sizes and modification times); a missing
result is named with the command that makes it; `insight-bayes reproduce` runs it.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from insight_bayes.selectors import BEYOND_RULES, PAPER_RULES, REFERENCE_RULES
from insight_bayes_cli import build_parser_for, main
from paper_figures.figure_registry import FIGURES, FigureContext, run_all
from paper_figures.sources import (
    ABLATIONS,
    BEYOND,
    HARNESS,
    SIM_VS_HARNESS,
    SIMULATED,
    TIERED,
)
from paper_figures.tables import fmt_interval, to_latex, to_markdown

matplotlib.use("Agg")

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "results"
STUDY_RULES = ("random", "mopps", "expected-difficulty", "insight", "dynamic-sampling")
EXPECTED = {
    "fig2_variance_reduction", "fig_information_vs_evidence", "fig3_weight",
    "fig_wmi_landscape", "fig4_simulated", "fig4_harness", "table_main", "table_harness",
    "fig_ablations", "fig_cost", "table_cost", "fig_sim_vs_harness", "table_sim_vs_harness",
    "fig_fidelity", "table_fidelity", "fig_fidelity_measured", "table_fidelity_measured",
    "fig_tiered", "table_tiered", "fig_intervention",
    "table_intervention", "fig_beyond", "table_beyond",
    *(f"table_ablation_{a}" for a in ("components", "belief", "mu", "m_hat", "discount")),
}  # fmt: skip


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``folder`` with its size and modification time."""
    entries = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root) / name
            st = path.stat()
            entries[str(path.relative_to(folder))] = (st.st_size, st.st_mtime_ns)
    return entries


def figures(*argv: str, command: str = "figures") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([command, *argv])
    return status, out.getvalue(), err.getvalue()


def reproduce(*argv: str) -> tuple[int, str, str]:
    return figures(*argv, command="reproduce")


@pytest.fixture(scope="module")
def committed_run(tmp_path_factory):
    """``insight-bayes figures`` on a copy of the committed results (no per-run folders)."""
    root = tmp_path_factory.mktemp("figs")
    results = root / "results"
    shutil.copytree(COMMITTED, results, ignore=shutil.ignore_patterns("runs", "scratch"))
    before = snapshot(results)
    out = root / "figs"
    status, printed, errors = figures("--out", str(out), "--results", str(results))
    return out, results, before, status, printed, errors


def test_every_registered_figure_is_drawn_from_the_committed_results(committed_run):
    out, results, _, status, printed, errors = committed_run
    assert status == 0, errors
    written = [Path(line) for line in printed.splitlines() if line.startswith(str(out))]
    assert f"{len(written)} files written to {out}" in printed
    stems = {p.name.split(".")[0] for p in written}
    assert stems == EXPECTED
    for path in written:
        assert path.exists() and path.stat().st_size > 0, path
    for stem in stems:
        caption = (out / f"{stem}.caption.txt").read_text()
        assert f"insight-bayes figures --out {out} --results {results}" in caption, stem
        assert "QUICK" not in caption and "SMOKE" not in caption, stem
        kinds = {p.suffix for p in written if p.name.split(".")[0] == stem} - {".txt"}
        assert kinds in ({".pdf", ".png"}, {".md", ".tex"}), (stem, kinds)
    assert str(results / "sim-beyond") in (out / "table_beyond.caption.txt").read_text()
    # it says which saved results it read, and the captions name them
    for folder in ("sim-countdown-paper", "rlvr-cpu-study", "sim-ablations", "sim-vs-harness"):
        assert "read saved" in printed and str(results / folder) in printed, folder
    assert str(results / "sim-countdown-paper") in (out / "table_main.caption.txt").read_text()
    assert "posterior speed-up [94% HDI]" in (out / "table_main.md").read_text()


def test_the_figures_command_never_writes_under_results(committed_run):
    _, results, before, status, _, _ = committed_run
    assert status == 0
    assert snapshot(results) == before


def test_tables_carry_every_rule(committed_run):
    out = committed_run[0]
    for name, rules in (
        ("table_main", PAPER_RULES),
        ("table_harness", STUDY_RULES),
        ("table_cost", STUDY_RULES + PAPER_RULES),
        ("table_beyond", (*BEYOND_RULES, "insight", "random", "oracle")),
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


def test_the_committed_tables_reproduce_the_saved_summaries(committed_run):
    """The numbers drawn are those the sweep and ablation commands saved."""
    from paper_figures.ablation_report import load_ablations
    from paper_figures.simulated import load_simulation

    results = committed_run[1]
    sim = load_simulation(results)
    saved = pd.read_csv(results / "sim-countdown-paper" / "summary.csv").set_index("rule")
    drawn = sim.summary.set_index("rule").loc[saved.index]
    for column in ("speedup", "ci_low", "ci_high", "final_accuracy", "rollout_speedup"):
        np.testing.assert_allclose(drawn[column], saved[column], rtol=1e-12, err_msg=column)
    table, _ = load_ablations(results)
    assert list(dict.fromkeys(table["ablation"])) == [
        "components", "belief", "mu", "m_hat", "discount"
    ]  # fmt: skip
    product = table[(table["ablation"] == "components") & (table["variant"] == "product")]
    assert float(product["speedup"].iloc[0]) == pytest.approx(
        float(saved.loc["insight", "speedup"]), rel=1e-12
    )


@pytest.mark.parametrize(
    ("only", "saved"),
    [
        ("fig4_simulated", SIMULATED[0]),
        ("table_harness", HARNESS[0]),
        ("ablations", ABLATIONS[0]),
        ("beyond", BEYOND[0]),
    ],
)
def test_a_missing_result_names_the_command_that_makes_it(tmp_path, only, saved):
    results = tmp_path / "results"
    results.mkdir()
    status, printed, errors = figures(
        "--out", str(tmp_path / "figs"), "--results", str(results), "--only", only
    )
    assert status == 1
    line = f"{results / saved.folder} is missing: run '{saved.command(results)}'"
    messages = [m.split("\r")[-1] for m in errors.splitlines() if "is missing" in m]
    assert messages == [f"{line} ({saved.duration})"]  # one line per missing result
    assert "insight-bayes " in line and f"--out {results / saved.folder}" in line
    assert f"skipped 1 of 1 (missing results): {only}" in errors
    assert "0 files written" in printed
    assert snapshot(results) == {}  # nothing was made


def test_closed_form_figures_are_drawn_when_results_are_missing(tmp_path):
    status, printed, errors = figures(
        "--out", str(tmp_path / "figs"), "--results", str(tmp_path / "none"),
        "--only", "fig3_weight", "table_main",
    )  # fmt: skip
    assert status == 1
    assert (tmp_path / "figs" / "fig3_weight.png").stat().st_size > 0
    assert "sim-countdown-paper is missing: run 'insight-bayes sweep countdown-paper" in errors
    assert not (tmp_path / "none").exists()


def test_every_named_command_is_a_valid_command_line(tmp_path):
    for saved in (*SIMULATED, *HARNESS, *ABLATIONS, *SIM_VS_HARNESS, *BEYOND):
        argv = saved.arguments(tmp_path)
        args = build_parser_for(argv).parse_args(argv)
        assert Path(args.out) == saved.path(tmp_path), saved.folder
        assert saved.command(tmp_path).startswith(f"insight-bayes {argv[0]} ")


def test_reproduce_makes_what_is_missing_and_figures_only_read(tmp_path):
    """``figures`` names the missing command; ``reproduce --quick`` makes it; re-runs only read."""
    results, out = tmp_path / "results", tmp_path / "figs"
    argv = ["--out", str(out), "--results", str(results), "--quick", "--only", "table_main"]
    status, printed, errors = figures(*argv)
    assert status == 1 and "scratch/sim-quick is missing: run 'insight-bayes sweep quick" in errors
    assert "insight-bayes reproduce" in errors
    assert not results.exists()  # the figures never write under RESULTS
    status, printed, errors = reproduce("--results", str(results), "--quick", "--only",
                                        "simulated", "tiered")  # fmt: skip
    assert status == 0, errors
    assert "simulated: insight-bayes sweep quick" in printed and "tiered: copy" in printed
    folder = results / "scratch" / "sim-quick"
    steps = pd.read_parquet(folder / "steps.parquet")
    assert set(steps["rule"]) == set(REFERENCE_RULES) and steps["seed"].nunique() == 3
    # the tiered study's stand-in is the committed folder, copied file for file
    for name in TIERED[0].needs:
        assert (results / TIERED[0].folder / name).read_bytes() == (
            COMMITTED / TIERED[0].folder / name
        ).read_bytes()
    status, printed, errors = figures(*argv)
    assert status == 0, errors
    assert "QUICK" in (out / "table_main.caption.txt").read_text()
    before = snapshot(results)
    status, printed, _ = reproduce("--results", str(results), "--quick", "--only", "simulated",
                                   "tiered")  # fmt: skip
    assert status == 0 and "0 of 2 results made" in printed
    status, printed, _ = figures(*argv)
    assert status == 0 and "read QUICK stand-in" in printed
    assert snapshot(results) == before


def test_reproduce_lists_its_plan_and_refuses_an_unknown_name(tmp_path, capsys):
    status, printed, _ = reproduce("--results", str(tmp_path), "--quick", "--list")
    assert status == 0
    lines = printed.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "simulated", "ablations", "beyond", "robustness", "eb", "noisy", "beyond-robustness",
        "harness", "tiered", "intervention", "sim-vs-harness", "measured", "beyond-measured",
        "eb-measured",
    ]  # fmt: skip
    assert not any(tmp_path.iterdir())  # --list does nothing
    assert main(["reproduce", "--results", str(tmp_path), "--only", "nosuch"]) == 2
    assert "unknown result(s) ['nosuch']" in capsys.readouterr().err


def test_curves_and_intervals_draw_every_rule_in_its_own_style():
    """One style: every rule keeps its colour, marker and line style in every figure."""
    import matplotlib.pyplot as plt

    from paper_figures.curves import curves_by_rule, interval_by_rule
    from paper_figures.style import RULE_STYLE, rule_style

    looks = {(m, str(ls)) for _, m, ls in RULE_STYLE.values()}
    assert len(looks) == len(RULE_STYLE)  # told apart in greyscale too
    from insight_bayes.selectors import BEYOND_RULES, REFERENCE_RULES

    for shared in (REFERENCE_RULES, (*BEYOND_RULES, "insight", "random", "oracle")):
        colours = [RULE_STYLE[rule][0] for rule in shared]  # rules drawn in one figure
        # no two alike, but dynamic-sampling-mopps shares its base rule's colour
        assert len(set(colours)) == len(colours) - (shared is REFERENCE_RULES)
    rows = [
        {"rule": r, "seed": s, "step": t, "eval/accuracy": 0.1 * t + 0.01 * s + (r == "insight")}
        for r in ("random", "insight", "made-up")
        for s in range(3)
        for t in range(5)
    ]
    fig, (left, right) = plt.subplots(1, 2)
    drawn = curves_by_rule(left, pd.DataFrame(rows), "eval/accuracy")
    assert drawn == ["insight", "random", "made-up"]  # figure order: InSight first
    lines = {line.get_label(): line for line in left.get_lines()}
    for rule in ("insight", "random"):
        style = rule_style(rule)
        assert matplotlib.colors.same_color(lines[rule].get_color(), style["color"])
        assert lines[rule].get_marker() == style["marker"]
    sp = pd.DataFrame(
        {"rule": ["random", "insight"], "speedup": [1.0, 2.0], "ci_low": [1.0, 1.5],
         "ci_high": [1.0, 2.5]}
    )  # fmt: skip
    order = interval_by_rule(right, sp, estimate="speedup", low="ci_low", high="ci_high")
    assert order == ["insight", "random"]  # largest on top
    assert [t.get_text() for t in right.get_yticklabels()] == ["insight", "random"]
    plt.close(fig)


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
    assert set(FIGURES) >= {"fig4_simulated", "ablations", "sim_vs_harness", "beyond"}


def test_number_formats():
    from paper_figures.tables import fmt

    assert [fmt(3581.136), fmt(44.8), fmt(0.65584), fmt(7), fmt(True)] == [
        "3,581", "44.8", "0.656", "7", "yes"
    ]  # fmt: skip
    tex = to_latex(pd.DataFrame({"a": ["0.8 ± 0.1"]}), "made by `cmd`", "x")
    assert r"0.8 $\pm$ 0.1" in tex and "`" not in tex


def test_the_beyond_figure_and_table_draw_from_the_quick_sweep(tmp_path):
    """``reproduce --quick`` makes the quick sweep of the beyond rules; the figure draws it."""
    results, out = tmp_path / "results", tmp_path / "figs"
    argv = ["--out", str(out), "--results", str(results), "--quick", "--only", "beyond"]
    status, printed, errors = reproduce("--results", str(results), "--quick", "--only", "beyond")
    assert status == 0, errors
    status, printed, errors = figures(*argv)
    assert status == 0, errors
    stems = {p.name for p in out.iterdir()}
    assert {"fig_beyond.png", "fig_beyond.pdf", "table_beyond.md", "table_beyond.tex"} <= stems
    md = (out / "table_beyond.md").read_text()
    rows = {line.split("|")[1].strip() for line in md.splitlines()
            if line.startswith("| ") and "---" not in line}  # fmt: skip
    assert rows == {"rule", *BEYOND_RULES, "insight", "random", "oracle"}
    caption = (out / "fig_beyond.caption.txt").read_text()
    assert "QUICK" in caption and BEYOND[1].command(results) in caption
