"""One reader for sweeps and studies: the committed folders and fresh ones, same calls."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from insight_bayes.results import load_results
from insight_bayes.results.io import MANIFEST_FORMAT

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {
    "sweep": ROOT / "results" / "sim-countdown-paper",
    "study": ROOT / "results" / "rlvr-cpu-study",
}


@pytest.mark.parametrize("kind", ["sweep", "study"])
def test_committed_folders_read_with_the_same_calls(kind):
    res = load_results(FOLDERS[kind])
    assert res.kind == kind and res.manifest["format"] == MANIFEST_FORMAT
    assert res.baseline == "random" and res.rules[0] == "random"
    n_runs = len(res.rules) * len(res.seeds)
    stt = res.steps_to_target()
    assert len(stt) == n_runs and not stt["censored"].any()
    sp = res.speedups(n_boot=200).set_index("rule")
    assert sp.loc["random", "speedup"] == 1.0 and len(sp) == len(res.rules)
    assert set(res.speedups(n_boot=200, measure="rollouts_to_target")["rule"]) == set(res.rules)
    low, high = stt["target"].iloc[0] * 0.9, stt["target"].iloc[0]
    curve = res.speedup_curve([low, high], n_boot=200)
    assert sorted(curve["target"].unique()) == [low, high]
    auc = res.auc(n_boot=200).set_index("rule")
    assert auc.loc["random", "auc_gain"] == 0.0
    # the saved summary is what the reader computes (same settings, same seeds)
    saved = pd.read_csv(res.folder / "summary.csv").set_index("rule")
    now = res.summary().set_index("rule")
    pd.testing.assert_series_equal(saved["speedup"], now.loc[saved.index, "speedup"])
    pd.testing.assert_series_equal(saved["ci_low"], now.loc[saved.index, "ci_low"])
    saved_stt = pd.read_csv(res.folder / "steps_to_target.csv")
    pd.testing.assert_series_equal(
        saved_stt["steps_to_target"], stt["steps_to_target"], check_exact=False
    )


def test_committed_study_keeps_its_tables():
    res = load_results(FOLDERS["study"])
    assert res.metric == "eval/pass1" and res.target == 0.45
    assert {"pool", "prompts"} <= set(res.tables) and len(res.choices) == 120_000
    assert res.steps["scenario"].eq(res.manifest["key"]).all()
    assert res.manifest["config_digest"] in res.manifest["key"]


def test_committed_sweep_settings():
    res = load_results(FOLDERS["sweep"])
    assert (res.metric, res.target) == ("eval/accuracy", 0.6)
    assert res.choices is None and len(res.seeds) == 10


def test_missing_folder_names_the_commands(tmp_path):
    with pytest.raises(FileNotFoundError, match="insight-bayes sweep .*insight-bayes rlvr-study"):
        load_results(tmp_path)


def test_a_folder_written_before_the_results_layer_still_reads(tmp_path):
    # the old sweep manifest format: scenarios at the top, no analysis.metric
    src = load_results(FOLDERS["sweep"])
    src.steps[src.steps["seed"] < 2].to_parquet(tmp_path / "steps.parquet")
    old = {
        "format": "insight-bayes-sweep/1",
        "scenarios": src.manifest["config"]["scenarios"],
        "rules": src.manifest["rules"],
    }
    (tmp_path / "manifest.json").write_text(json.dumps(old))
    res = load_results(tmp_path)
    assert (res.kind, res.metric, res.target) == ("sweep", "eval/accuracy", 0.6)


@pytest.mark.parametrize("name", ["insight_bayes.results.schema", "insight_bayes.results.targets"])
def test_docstring_examples(name):
    import doctest
    import importlib

    result = doctest.testmod(
        importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 0 and result.failed == 0


def test_readme_results_example_runs(monkeypatch, capsys):
    import re

    readme = (ROOT / "README.md").read_text()
    blocks = [
        b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.S) if "load_results" in b
    ]
    assert len(blocks) == 1
    monkeypatch.chdir(ROOT)
    exec(compile(blocks[0], "README.md", "exec"), {})  # noqa: S102
    out = capsys.readouterr().out
    assert "sweep eval/accuracy 0.6" in out and "study eval/pass1 0.45" in out


def test_manifest_horizon_reads_a_harness_studys_steps_only():
    from insight_bayes.results.reader import manifest_horizon

    assert manifest_horizon({"config": {"loop": {"steps": 150}}}) == 150
    # a sweep (no loop), a malformed or empty manifest: no horizon, no error
    assert manifest_horizon({"config": {"scenarios": {}}}) is None
    assert manifest_horizon({"config": {"loop": {"steps": "150"}}}) is None
    assert manifest_horizon({"config": {"loop": {"steps": True}}}) is None
    assert manifest_horizon({"config": {"loop": {"steps": 0}}}) is None
    assert manifest_horizon({}) is None
