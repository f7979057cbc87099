"""One tidy per-step schema: both environments emit it, and the checker refuses what is not."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from insight_bayes import FixedRateEnvironment, LoopConfig, SelectionLoop
from insight_bayes.results import CHOICE_COLUMNS, RunTables, check_choices, check_steps
from insight_bayes.results.schema import REQUIRED_STEP_COLUMNS, STEP_COLUMNS

ROOT = Path(__file__).resolve().parents[1]

#: Columns both environments write (the loop's summary, the run keys, information).
SHARED = set(STEP_COLUMNS)


def _records_tables(keep_choices=True):
    env = FixedRateEnvironment(np.random.default_rng(0).beta(0.5, 0.5, 50))
    loop = SelectionLoop(env, "insight", LoopConfig(m=5, k=4, steps=3, eval_every=1), seed=7)
    tables = RunTables("fixed@v1", seed=2, run_seed=7, k=4, keep_choices=keep_choices)
    records = []
    for record in loop.iter_steps():
        tables.add(record, loop.belief)
        records.append((record, loop.belief.alpha.copy(), loop.belief.beta.copy()))
    return records, tables.frames()


def test_run_tables_from_records_by_hand():
    records, (steps, choices) = _records_tables()
    assert len(steps) == 4 and len(choices) == 15
    assert list(choices.columns) == list(CHOICE_COLUMNS)
    assert steps["scenario"].eq("fixed@v1").all() and steps["seed"].eq(2).all()
    assert steps["run_seed"].eq("7").all()
    assert (choices.groupby("step")["rank"].max() == 4).all()
    record, alpha_after, beta_after = records[2]
    rows = choices[choices.step == record.step]
    np.testing.assert_array_equal(rows["prompt_id"], record.ids)
    np.testing.assert_array_equal(rows["alpha"], record.alpha_before)
    # the realised entropy drop uses the belief right after the step
    from insight_bayes.beta import beta_entropy, mutual_information

    a0, b0 = record.alpha_before, record.beta_before
    a1, b1 = alpha_after[record.ids], beta_after[record.ids]
    row = steps[steps.step == record.step].iloc[0]
    assert row["info/entropy_drop"] == pytest.approx(
        np.sum(beta_entropy(a0, b0) - beta_entropy(a1, b1))
    )
    assert row["info/expected_gain"] == pytest.approx(np.sum(mutual_information(a0, b0, 4)))
    assert np.isnan(steps.loc[steps.step == 0, "info/expected_gain"]).all()
    check_steps(steps)
    check_choices(choices)
    _, (_, none) = _records_tables(keep_choices=False)
    assert none is None


def test_both_environments_emit_the_schema(tmp_path):
    pytest.importorskip("torch")
    from insight_bayes.rlvr.config import load_config
    from insight_bayes.rlvr.study import run_study
    from simulations.scenarios import get_scenario
    from simulations.sweep import run_sweep

    quick = get_scenario("quick")
    quick = quick.with_changes(loop=dataclasses.replace(quick.loop, steps=4))
    sweep = run_sweep(
        quick, ["random", "dynamic-sampling"], 1, tmp_path / "sweep", workers=1,
        choices=True, progress=False,
    )  # fmt: skip
    study = run_study(
        load_config(ROOT / "configs" / "rlvr" / "smoke.toml"),
        tmp_path / "study",
        device="cpu",
        cache_dir=tmp_path / "cache",
        progress=False,
    )
    frames = {
        "sweep": (sweep.steps, pd.read_parquet(tmp_path / "sweep" / "choices.parquet")),
        "study": (study.tables["steps"], study.tables["choices"]),
    }
    for name, (steps, choices) in frames.items():
        check_steps(steps)
        check_choices(choices)
        assert SHARED <= set(steps.columns), (name, SHARED - set(steps.columns))
    sim_only = set(frames["sweep"][0].columns) - SHARED
    harness_only = set(frames["study"][0].columns) - SHARED
    assert "eval/accuracy" in sim_only and {"eval/pass1", "train/loss"} <= harness_only
    for extra in sim_only | harness_only:  # the environments' own metrics, namespaced
        assert extra.split("/")[0] in ("eval", "train", "belief", "info"), extra
    assert frames["study"][0]["scenario"].str.startswith("rlvr-addition@").all()


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda df: df.drop(columns="rollouts"), "lacks required column"),
        (lambda df: df.assign(notes="x"), "'notes' is neither documented"),
        (lambda df: df.assign(**{"other/x": 1.0}), "'other/x' is neither documented"),
        (lambda df: df.assign(**{"eval/x": "high"}), "'eval/x' must be numeric"),
        (lambda df: df.assign(step=df["step"].astype(float)), "'step' must be integer"),
        (lambda df: df.assign(rule=1), "'rule' must be text"),
        (lambda df: df.assign(step=-1), "negative"),
        (lambda df: pd.concat([df, df.iloc[[0]]]), "more than one row"),
    ],
)
def test_check_steps_refuses_with_the_column_named(change, match):
    _, (steps, _) = _records_tables()
    with pytest.raises(ValueError, match=match):
        check_steps(change(steps))


def test_check_choices_refuses_with_the_column_named():
    _, (_, choices) = _records_tables()
    with pytest.raises(ValueError, match="unknown column"):
        check_choices(choices.assign(extra=1))
    with pytest.raises(ValueError, match="missing column"):
        check_choices(choices.drop(columns="score"))
    with pytest.raises(ValueError, match="alpha"):
        check_choices(choices.assign(alpha=0.0))
    assert set(REQUIRED_STEP_COLUMNS) <= set(STEP_COLUMNS)
