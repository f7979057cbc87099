"""Numbers the documentation quotes match the saved results in ``results/``.

Pages quote results through ``{{ name }}``, a MyST substitution that
``docs/_ext/results_pages.py`` reads from files under ``results/`` at build time: a number
(``NUMBERS``: each name must pick exactly one row of its file) or a whole table
(``TABLES``: one row per rule, each cell read from the saved tables). The README and the
short guide pages quote no speed-up by hand at all.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
PAGES = [*sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "docs" / "guide").glob("*.md"))]
SUBSTITUTION = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def _extension():
    spec = importlib.util.spec_from_file_location(
        "results_pages", ROOT / "docs" / "_ext" / "results_pages.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_substitution_a_page_uses_is_read_from_results():
    numbers = _extension()
    used = {name for page in PAGES for name in SUBSTITUTION.findall(page.read_text())}
    assert used, "the pages quote results through substitutions"
    known = (
        set(numbers.NUMBERS) | set(numbers.TABLES) | set(numbers.DECISIONS) | set(numbers.COUNTS)
    )
    assert used <= known, sorted(used - known)
    for name in sorted(used & set(numbers.NUMBERS)):
        assert re.search(r"\d", numbers.quote(RESULTS, name)), name


def test_a_substituted_speedup_is_the_summary_row_it_names():
    numbers = _extension()
    summary = pd.read_csv(RESULTS / "sim-countdown-paper" / "summary.csv").set_index("rule")
    row = summary.loc["insight"]
    expected = f"{row.speedup:.2f}x [95% CI {row.ci_low:.2f}-{row.ci_high:.2f}]"
    assert numbers.quote(RESULTS, "ref_insight") == expected
    with pytest.raises(LookupError):
        numbers.NUMBERS["missing"] = (numbers._REF, {"rule": "no-such-rule"}, "{speedup}")
        try:
            numbers.quote(RESULTS, "missing")
        finally:
            del numbers.NUMBERS["missing"]


@pytest.mark.parametrize(
    "page",
    ["README.md", "docs/getting-started.md", "docs/guide/choosing-a-rule.md",
     "docs/guide/results.md", "docs/guide/harness.md", "docs/guide/findings.md"],
)  # fmt: skip
def test_page_types_no_speedup_by_hand(page):
    text = " ".join(SUBSTITUTION.sub("", (ROOT / page).read_text()).split())
    # the README's throughput sentences are written by benchmarks/summary.py from the saved
    # tables and checked against them (tests/test_bench_numbers.py)
    spec = importlib.util.spec_from_file_location("bench_summary", ROOT / "benchmarks/summary.py")
    summary = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(summary)
    for sentence in (summary.cpu_sentence(), summary.gpu_sentence()):
        text = text.replace(" ".join(sentence.split()), "")
    typed = re.findall(r"\b\d\.\d\d+x\b|\b\d\.\d\d ?[-–] ?\d\.\d\d\b|\b\d\.\d\d \(\d", text)
    assert not typed, typed


def test_every_table_a_page_shows_is_built_from_results():
    numbers = _extension()
    used = {name for page in PAGES for name in SUBSTITUTION.findall(page.read_text())}
    tables = used & set(numbers.TABLES)
    assert {"beyond_signal_table", "noisy_table", "eb_table"} <= tables
    for name in sorted(tables):
        text = numbers.table(RESULTS, name)
        lines = text.splitlines()
        assert len(lines) == 2 + len(numbers.TABLES[name][1]), name
        rows = [lines[0], *lines[2:]]
        assert set(lines[1].split("|")[1:-1]) == {"---"}, name
        assert all(line.startswith("| ") and line.endswith(" |") for line in rows), name


def test_a_table_cell_is_the_row_it_names():
    numbers = _extension()
    summary = pd.read_csv(RESULTS / "sim-eb" / "summary.csv").set_index("rule")
    row = summary.loc["insight-eb"]
    cell = f"{row.speedup:.3f} [{row.ci_low:.3f}, {row.ci_high:.3f}]"
    line = next(x for x in numbers.table(RESULTS, "eb_table").splitlines() if "`insight-eb`" in x)
    assert line.split(" | ")[1] == cell
    # rows are in the order of their speed-up, fastest first
    shown = [
        x.split(" | ")[0].strip("| `") for x in numbers.table(RESULTS, "eb_table").splitlines()[2:]
    ]
    assert shown == list(summary.loc[shown, "speedup"].sort_values(ascending=False).index)


def test_a_count_is_the_number_of_rows_of_its_table():
    numbers = _extension()
    file, *_ = numbers.COUNTS["oracle_violations_measured"]
    rows = len(pd.read_csv(RESULTS / file))
    assert numbers.count(RESULTS, "oracle_violations_measured").startswith(f"{rows} ")
    file, scope, match, _ = numbers.COUNTS["beyond_goal_measured_mopps_tracking"]
    goal = pd.read_csv(RESULTS / file)
    mine = goal[goal["rule"] == scope["rule"]]
    expected = f"{int(mine['meets'].sum())} of {len(mine)} (cell, target) cases"
    assert match == {"meets": True}
    assert numbers.count(RESULTS, "beyond_goal_measured_mopps_tracking") == expected
    numbers.COUNTS["missing"] = (file, {"rule": "no-such-rule"}, {}, "{n}")
    try:
        with pytest.raises(LookupError, match="picks no row"):
            numbers.count(RESULTS, "missing")
    finally:
        del numbers.COUNTS["missing"]


def test_a_decision_table_shows_every_row_and_the_saved_verdict(tmp_path):
    import json

    numbers = _extension()
    numbers.DECISIONS.setdefault("eb_decision_table", "rlvr-eb-decision")
    folder = tmp_path / numbers.DECISIONS["eb_decision_table"]
    with pytest.raises(LookupError, match="no decision.csv"):
        numbers.decision(tmp_path, "eb_decision_table")
    folder.mkdir(parents=True)
    frame = pd.DataFrame({
        "design": ["a", "a", "b"], "fraction": [0.5, 1.0, 1.0],
        "best_new": ["insight-eb"] * 3, "best_incumbent": ["mopps"] * 3,
        "new_vs_baseline": [2.0, 3.0, 1.5], "incumbent_vs_baseline": [1.5, 2.0, 1.6],
        "ratio": [1.333, 1.5, 0.9375], "ci_low": [0.9, 1.2, 0.7], "ci_high": [1.8, 1.9, 1.2],
        "p_faster": [0.8, 1.0, 0.3], "rollout_ratio": [1.333, 1.5, 0.9375],
        "rollout_ci_low": [0.9, 1.2, 0.7], "rollout_ci_high": [1.8, 1.9, 1.2],
        "n_draws": [3, 3, 3], "n_seeds": [6, 6, 6],
    })  # fmt: skip
    frame.to_csv(folder / "decision.csv", index=False)
    (folder / "manifest.json").write_text(json.dumps({"format": "insight-bayes-results/1"}))
    with pytest.raises(LookupError, match="no verdict"):
        numbers.decision(tmp_path, "eb_decision_table")
    verdict = {"designs": 2, "clear_wins": ["a"], "below_floor": ["b"], "met": False}
    analysis = {"at": 1.0, "goal": 1.1, "floor": 0.95, "min_wins": 2}
    (folder / "manifest.json").write_text(
        json.dumps({"format": "insight-bayes-results/1", "verdict": verdict, "analysis": analysis})
    )
    text = numbers.decision(tmp_path, "eb_decision_table")
    lines = text.splitlines()
    assert len([x for x in lines if x.startswith("| `")]) == 3
    assert "| `b` | 100% | `insight-eb` | `mopps` | 1.50x | 1.60x | 0.94 [0.70, 1.20] |" in text
    assert "**not met**" in text and "Clear wins: `a`; below the floor: `b`." in text


def test_the_readme_names_the_default_the_decision_ranked_first():
    """The README's recommended default and its verdict follow ``results/rlvr-eb-decision``."""
    import json

    ranking = pd.read_csv(RESULTS / "rlvr-eb-decision" / "ranking.csv")
    first = ranking[(ranking["fraction"] == 1.0) & (ranking["rank"] == 1)]["rule"].item()
    verdict = json.loads((RESULTS / "rlvr-eb-decision" / "manifest.json").read_text())["verdict"]
    readme = (ROOT / "README.md").read_text()
    named = re.search(r"recommended default is `([^`]+)`", readme)
    assert named is not None and named.group(1) == first
    section = readme[named.start() : readme.index("## Tests")]
    assert ("**not met**" in section) == (not verdict["met"])
