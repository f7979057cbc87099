"""The insight-bayes command."""

from __future__ import annotations

import subprocess
import sys

from insight_bayes import available_selectors
from insight_bayes.cli import main
from insight_bayes.demo import selection_table


def test_demo_prints_a_row_per_rule(capsys):
    assert main(["demo", "--pool", "500", "--m", "16"]) == 0
    out = capsys.readouterr().out
    for rule in available_selectors():
        assert f"\n{rule} " in out


def test_demo_table_is_deterministic_and_dynamic_sampling_finds_informative_groups():
    a = selection_table(pool=600, m=16, seed=3)
    assert a == selection_table(pool=600, m=16, seed=3)
    rows = {r["rule"]: r for r in a}
    assert rows["dynamic-sampling"]["informative"] > rows["random"]["informative"]


def test_console_script_help():
    out = subprocess.run(
        [sys.executable, "-m", "insight_bayes.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "demo" in out.stdout
