"""A design record's warm-ups as a tidy table, and the attempts folder built from the records."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

from insight_bayes.rlvr.design import design_table

ROOT = Path(__file__).resolve().parent.parent


def _rung(steps, tiers, mid, share, tiers_ok, gate_ok, cached=False):
    return {
        "steps": steps,
        "tier_success": {str(t): v for t, v in tiers.items()},
        "tiers_ok": tiers_ok,
        "gate": {"mid_range": mid, "uninformative_share": share},
        "gate_ok": gate_ok,
        "warmup": {"cached": cached, "seconds": 7.5, "loss": 0.25},
    }


def _record(*rungs, kept=None, passed=False, started="2026-12-04T10:00:00+00:00"):
    record = {"warmups": list(rungs), "passed": passed, "started": started}
    record |= {"settings": {"warmup_steps": [r["steps"] for r in rungs]}, "device": "cuda"}
    if kept is not None:
        record["warmup_steps"] = kept
    return record


def test_design_table_has_one_row_per_warmup_with_its_numbers():
    record = _record(
        _rung(100, {10: 0.5, 2: 0.25}, 40, 0.9, False, False),
        _rung(200, {2: 0.75, 10: 0.125}, 300, 0.6, True, True, cached=True),
        kept=200,
        passed=True,
    )
    table = design_table(record)
    assert list(table["warmup_steps"]) == [100, 200]
    # tiers in numeric order (10 after 2), one column each
    assert [c for c in table.columns if c.startswith("tier_")] == ["tier_2", "tier_10"]
    assert table.loc[0, "tier_10"] == 0.5 and table.loc[1, "tier_2"] == 0.75
    assert list(table["mid_range"]) == [40, 300] and list(table["uninformative_share"]) == [
        0.9,
        0.6,
    ]
    # a warm-up read from the cache cost no training time
    assert list(table["warmup_seconds"]) == [7.5, 0.0]
    assert list(table["kept"]) == [False, True] and list(table["gate_ok"]) == [False, True]


def test_a_failed_record_keeps_no_rung():
    table = design_table(_record(_rung(50, {1: 0.0}, 0, 1.0, False, False)))
    assert not table["kept"].any() and math.isclose(table.loc[0, "warmup_loss"], 0.25)


def test_the_attempts_folder_reads_every_record_in_numeric_order(tmp_path, monkeypatch):
    path = ROOT / "benchmarks" / "gpu_design_attempts.py"
    spec = importlib.util.spec_from_file_location("gpu_design_attempts", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for n, steps in ((10, 300), (2, 100)):
        record = _record(_rung(steps, {1: 0.5}, 10, 0.9, True, False), started=f"t{n}")
        (tmp_path / f"design-attempt-{n}.json").write_text(json.dumps(record))
    table = module.attempts_table(module.read_attempts(tmp_path))
    assert list(table["attempt"]) == [2, 10] and list(table["warmup_steps"]) == [100, 300]
    assert list(table["started"]) == ["t2", "t10"] and not table["attempt_passed"].any()
    monkeypatch.setattr("sys.argv", ["gpu_design_attempts.py", str(tmp_path)])
    module.main()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["kind"] == "design" and manifest["attempts"] == 2
    assert [s["warmup_steps"] for s in manifest["config"]["settings"]] == [[100], [300]]
    assert (tmp_path / "warmups.csv").read_text().count("\n") == 3
    assert (tmp_path / "warmups.png").stat().st_size > 0
