"""Numbers the documentation quotes match the saved results in ``results/``.

Pages quote results in two ways. Most write ``{{ name }}``, a MyST substitution that
``docs/_ext/results_pages.py`` reads from a file under ``results/`` at build time: each
name must exist and pick exactly one row of its file. The derivation page
(``docs/guide/beyond.md``) still types its tables; their numbers are read here from the
CSV files, directly with pandas, and compared at the precision the page prints. The
README and the short guide pages quote no speed-up by hand at all.
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
    assert used <= set(numbers.NUMBERS), sorted(used - set(numbers.NUMBERS))
    for name in sorted(used):
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
    text = SUBSTITUTION.sub("", (ROOT / page).read_text())
    typed = re.findall(r"\b\d\.\d\d+x\b|\b\d\.\d\d ?[-–] ?\d\.\d\d\b|\b\d\.\d\d \(\d", text)
    assert not typed, typed


def _rows(page: str, pattern: str) -> list[tuple[str, ...]]:
    return re.findall(pattern, (ROOT / page).read_text(), flags=re.M)


def test_beyond_rules_table_matches_the_sweep():
    summary = pd.read_csv(RESULTS / "sim-beyond" / "summary.csv").set_index("rule")
    auc = pd.read_csv(RESULTS / "sim-beyond" / "auc.csv").set_index("rule")
    rows = _rows(
        "docs/guide/beyond.md",
        r"^\| ([a-z-]+) \| (\d\.\d\d) \[(\d\.\d\d), (\d\.\d\d)\] \|.*\| (-?\d\.\d{3}) \|$",
    )
    assert len(rows) >= 6
    for rule, speedup, low, high, gain in rows:
        row = summary.loc[rule]
        assert (speedup, low, high) == (
            f"{row.speedup:.2f}", f"{row.ci_low:.2f}", f"{row.ci_high:.2f}"
        ), rule  # fmt: skip
        assert float(gain) == pytest.approx(auc.loc[rule, "auc_gain"], abs=5e-4), rule


def test_beyond_noisy_row_matches_the_sweep():
    summary = pd.read_csv(RESULTS / "sim-beyond-noisy" / "summary.csv").set_index("rule")
    rows = _rows(
        "docs/guide/beyond.md",
        r"insight-noisy vs random \| (\d\.\d{3}) \[(\d\.\d{3}), (\d\.\d{3})\] "
        r"\(InSight (\d\.\d{3})\) \| oracle (\d\.\d{3})",
    )
    assert len(rows) == 1
    speedup, low, high, insight, oracle = map(float, rows[0])
    noisy = summary.loc["insight-noisy:eps0=0.1,eps1=0.1"]
    assert (speedup, low, high) == pytest.approx(
        (noisy.speedup, noisy.ci_low, noisy.ci_high), abs=5e-4
    )
    assert insight == pytest.approx(summary.loc["insight", "speedup"], abs=5e-4)
    assert oracle == pytest.approx(summary.loc["oracle", "speedup"], abs=5e-4)
