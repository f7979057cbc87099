"""Sweeps: seeds, determinism across backends and workers, resume after a failing run."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from insight_bayes.results import ResultStore
from insight_bayes.results.folders import FolderInUse
from insight_bayes.selectors import selector_from_label as parse_rule
from simulations import sweep
from simulations.scenarios import derive_seed, get_scenario
from simulations.sweep import RunSpec, run_one, run_sweep

RULES = ["random", "insight", "mopps", "dynamic-sampling"]
ROOT = Path(__file__).resolve().parents[1]


def _strip(df: pd.DataFrame) -> pd.DataFrame:
    keep = [c for c in df.columns if not c.endswith("_seconds")]
    return df[keep].sort_values(["rule", "seed", "step"]).reset_index(drop=True)


def test_seeds_pair_pools_across_rules_and_separate_runs():
    s = get_scenario("quick")
    runs = {
        (rule, seed): run_one(RunSpec(s, rule, seed))[0]
        for rule, seed in [("insight", 1), ("insight:mu=0.1", 1), ("random", 1), ("insight", 2)]
    }

    def start(rule, seed):  # held-out accuracy before training: a function of the pool only
        df = runs[(rule, seed)]
        return df.loc[df.step == 0, "eval/accuracy"].item()

    # a rule or its parameters never change the pool a seed draws
    assert start("insight", 1) == start("insight:mu=0.1", 1) == start("random", 1)
    # another seed draws another pool
    assert start("insight", 2) != start("insight", 1)
    np.testing.assert_array_equal(s.build_env(1).rates, s.build_env(1).rates)
    assert not np.array_equal(s.build_env(1).rates, s.build_env(2).rates)
    # each (rule, seed) runs on its own loop seed, so a parameter change is a new run
    seeds = {key: df["run_seed"].iloc[0] for key, df in runs.items()}
    assert len(set(seeds.values())) == 4
    assert runs[("insight", 1)]["chosen_score"].iloc[1:].tolist() != (
        runs[("insight:mu=0.1", 1)]["chosen_score"].iloc[1:].tolist()
    )
    # the same run again gives the same tables
    again = run_one(RunSpec(s, "insight", 1))[0]
    pd.testing.assert_frame_equal(_strip(again), _strip(runs[("insight", 1)]))


def test_derived_seeds_do_not_depend_on_the_process():
    # not Python's salted hash(): two interpreters with different hash seeds agree
    code = "from simulations.scenarios import derive_seed; print(derive_seed('quick@v1', 'a', 3))"
    values = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for hash_seed in ("1", "2")
    }
    assert values == {str(derive_seed("quick@v1", "a", 3))}
    assert 0 <= derive_seed("quick@v1", "a", 3) < 2**63


def test_parse_rule_with_parameters():
    rule = parse_rule("insight:mu=0.1,eta=2")
    assert (rule.name, rule.mu, rule.eta) == ("insight", 0.1, 2.0)
    with pytest.raises(ValueError, match="name=value"):
        parse_rule("insight:mu")
    with pytest.raises(ValueError, match="unknown selector"):
        parse_rule("nope")


def test_run_one_pairs_pools_across_rules_and_records_information():
    s = get_scenario("quick")
    a, _, _ = run_one(RunSpec(s, "random", 1))
    b, choices, _ = run_one(RunSpec(s, "insight", 1, choices=True))
    # same seed -> same pool -> same accuracy before training
    assert a.loc[a.step == 0, "eval/accuracy"].item() == b.loc[b.step == 0, "eval/accuracy"].item()
    assert len(choices) == s.loop.m * s.loop.steps
    trained = b[b.step > 0]
    assert np.all(trained["info/expected_gain"] > 0)
    assert {"belief/mae_pool", "train/expected_informative", "scenario", "run_seed"} <= set(b)


def test_local_workers_give_identical_results(tmp_path):
    one = run_sweep("quick", RULES, 2, tmp_path / "w1", workers=1, progress=False)
    two = run_sweep("quick", RULES, 2, tmp_path / "w2", workers=2, progress=False)
    assert len(one.ran) == len(two.ran) == 8
    pd.testing.assert_frame_equal(_strip(one.steps), _strip(two.steps))
    manifest = json.loads((tmp_path / "w2" / "manifest.json").read_text())
    assert manifest["runs"] == {"complete": 8, "expected": 8}
    assert manifest["seeds"] == [0, 1] and manifest["kind"] == "sweep"
    assert "quick@v1" in manifest["config"]["scenarios"]
    assert manifest["package_version"] and manifest["git_revision"]
    assert manifest["analysis"]["metric"] == "eval/accuracy"
    # a second call does nothing
    again = run_sweep("quick", RULES, 2, tmp_path / "w2", workers=2, progress=False)
    assert again.ran == [] and len(again.skipped) == 8


def test_ray_backend_gives_identical_results(tmp_path):
    import ray

    local = run_sweep("quick", RULES[:2], 2, tmp_path / "local", workers=1, progress=False)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = run_sweep(
            "quick", RULES[:2], 2, tmp_path / "ray", backend="ray", workers=2, progress=False
        )
    finally:
        ray.shutdown()
    assert len(remote.ran) == 4
    pd.testing.assert_frame_equal(_strip(local.steps), _strip(remote.steps))


def test_a_failing_run_stops_the_sweep_and_resume_loses_nothing(tmp_path, monkeypatch):
    s = get_scenario("quick")
    s = s.with_changes(loop=dataclasses.replace(s.loop, steps=10))
    rules, out = ["random", "insight"], tmp_path / "failed"
    real, calls = sweep.run_one, []

    def fail_on_fourth(spec):
        calls.append(spec.key)
        if len(calls) == 4:
            raise RuntimeError("the machine went away")
        return real(spec)

    monkeypatch.setattr(sweep, "run_one", fail_on_fourth)
    with pytest.raises(RuntimeError, match="went away"):
        run_sweep(s, rules, 3, out, workers=1, progress=False)
    store = ResultStore(out)
    finished = store.completed()
    assert finished == sorted(calls[:3])  # the runs before the failure, complete
    written = {k: store.load_steps([k]) for k in finished}

    monkeypatch.setattr(sweep, "run_one", real)
    resumed = run_sweep(s, rules, 3, out, workers=1, progress=False)
    assert sorted(resumed.skipped) == finished
    assert len(resumed.ran) == 6 - 3 and set(resumed.ran).isdisjoint(finished)
    for key, df in written.items():  # what was written before the failure is untouched
        pd.testing.assert_frame_equal(store.load_steps([key]), df)
    fresh = run_sweep(s, rules, 3, tmp_path / "fresh", workers=1, progress=False)
    pd.testing.assert_frame_equal(_strip(resumed.steps), _strip(fresh.steps))


def test_sweep_refuses_to_mix_configurations_under_one_key(tmp_path):
    s = get_scenario("quick")
    run_sweep(s, ["random"], 1, tmp_path, workers=1, progress=False)
    changed = s.with_changes(loop=dataclasses.replace(s.loop, steps=5))
    what = r"scenarios quick@v1 differ: quick@v1.loop.steps 30 -> 5"
    for extend in (False, True):
        with pytest.raises(FolderInUse, match=what):
            run_sweep(changed, ["random"], 1, tmp_path, workers=1, progress=False, extend=extend)
    bumped = changed.with_changes(version=2)
    with pytest.raises(FolderInUse, match="add --extend"):  # another scenario: extendable
        run_sweep(bumped, ["random"], 1, tmp_path, workers=1, progress=False)
    result = run_sweep(bumped, ["random"], 1, tmp_path, workers=1, progress=False, extend=True)
    assert set(result.steps["scenario"]) == {"quick@v2"}
    assert set(json.loads((tmp_path / "manifest.json").read_text())["config"]["scenarios"]) == {
        "quick@v1",
        "quick@v2",
    }


def test_a_folder_holds_one_configuration_unless_extended_or_overwritten(tmp_path):
    s = get_scenario("quick")
    s = s.with_changes(loop=dataclasses.replace(s.loop, steps=4))
    out = tmp_path / "sweep"
    first = run_sweep(s, ["random", "insight"], 2, out, workers=1, progress=False)
    (out / "summary.csv").write_text("rule\nrandom\n")  # as the command writes it
    again = run_sweep(s, ["insight", "random"], [1, 0], out, workers=1, progress=False)
    assert again.ran == [] and len(again.skipped) == 4  # the same configuration resumes
    for rules, seeds, what in [
        (["random"], 2, r"rules: the folder has 2 \(random, insight\), this command 1"),
        (["random", "insight"], 3, r"seeds: the folder has 2 \(0, 1\), this command 3"),
    ]:
        with pytest.raises(FolderInUse, match=what) as err:
            run_sweep(s, rules, seeds, out, workers=1, progress=False)
        assert str(out) in str(err.value) and "--overwrite" in str(err.value)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "steps.parquet"), first.steps)
    extended = run_sweep(s, ["random", "insight"], 3, out, workers=1, progress=False, extend=True)
    assert len(extended.ran) == 2 and len(extended.skipped) == 4
    assert json.loads((out / "manifest.json").read_text())["seeds"] == [0, 1, 2]
    replaced = run_sweep(s, ["random"], 1, out, workers=1, progress=False, overwrite=True)
    assert len(replaced.ran) == 1 and replaced.skipped == []
    assert not (out / "summary.csv").exists()  # the old tables went with the old runs
    assert ResultStore(out).completed() == replaced.ran
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["rules"], manifest["seeds"]) == (["random"], [0])
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    with pytest.raises(FolderInUse, match="not empty and holds no manifest.json"):
        run_sweep(s, ["random"], 1, tmp_path / "notes", workers=1, progress=False)
    run_sweep(s, ["random"], 1, tmp_path / "notes", workers=1, progress=False, overwrite=True)
    assert (tmp_path / "notes" / "todo.txt").read_text() == "mine"  # only results are deleted


def test_run_sweep_refuses_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="backend"):
        run_sweep("quick", ["random"], 1, tmp_path, backend="dask", progress=False)
    with pytest.raises(ValueError, match="unknown scenario"):
        run_sweep("nope", ["random"], 1, tmp_path, progress=False)
    with pytest.raises(ValueError, match="rules must name"):
        run_sweep("quick", [], 1, tmp_path, progress=False)
