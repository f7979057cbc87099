"""The atomic writer, the git revision, the manifest and the resumable store."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from insight_bayes.results import ResultStore, RunKey
from insight_bayes.results.io import (
    MANIFEST_FORMAT,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_parquet,
    build_manifest,
    git_revision,
    remove_stale_temporaries,
)

ROOT = Path(__file__).resolve().parents[1]


def test_atomic_writes_replace_whole_files(tmp_path):
    path = tmp_path / "sub" / "a.json"
    atomic_write_json(path, {"b": (1, 2), "a": 1})
    assert json.loads(path.read_text()) == {"a": 1, "b": [1, 2]}
    assert atomic_write_bytes(path, b"xyz") == 3 and path.read_bytes() == b"xyz"
    df = pd.DataFrame({"x": [1, 2], "y": ["a", "b"]})
    size = atomic_write_parquet(tmp_path / "t.parquet", df)
    assert size == (tmp_path / "t.parquet").stat().st_size
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t.parquet"), df)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.json", "sub", "t.parquet"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "t.parquet"
    good = pd.DataFrame({"x": [1.0]})
    atomic_write_parquet(path, good)
    bad = pd.DataFrame({"x": [object()]})  # pyarrow cannot write a bare object
    with pytest.raises(Exception):  # noqa: B017 - pyarrow's own error type
        atomic_write_parquet(path, bad)
    pd.testing.assert_frame_equal(pd.read_parquet(path), good)
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]
    # a temporary left by a killed writer is found and removed
    (tmp_path / ".t.parquet.123.abcd1234.tmp").write_bytes(b"half")
    assert remove_stale_temporaries(tmp_path) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]


def test_git_revision_of_this_checkout_and_outside_git(tmp_path):
    rev = git_revision(ROOT)
    assert rev is not None and re.fullmatch(r"[0-9a-f]{40}(-dirty)?", rev)
    assert git_revision(tmp_path) is None


def test_manifest_records_code_and_settings():
    m = build_manifest(
        "study",
        {"loop": {"k": 4}},
        rules=["random"],
        seeds=[np.int64(0)],
        analysis={"metric": "eval/pass1", "target": 0.5, "baseline": "random"},
        previous={"created": "2020-01-01T00:00:00+00:00"},
        runs={"complete": 1, "expected": 1},
    )
    assert m["format"] == MANIFEST_FORMAT and m["kind"] == "study"
    assert m["created"] == "2020-01-01T00:00:00+00:00" and m["updated"] > m["created"]
    assert m["seeds"] == [0] and m["config"] == {"loop": {"k": 4}}
    assert m["package_version"] and m["python"] and m["numpy"] == np.__version__
    assert "torch_version" not in m and m["runs"] == {"complete": 1, "expected": 1}
    json.dumps(m)  # plain JSON
    with pytest.raises(ValueError, match="kind"):
        build_manifest("other", {}, rules=[], seeds=[], analysis=m["analysis"])
    with pytest.raises(ValueError, match="analysis lacks"):
        build_manifest("sweep", {}, rules=[], seeds=[], analysis={"metric": "eval/accuracy"})


def test_half_written_runs_are_never_complete(tmp_path):
    store = ResultStore(tmp_path)
    key = RunKey("quick@v1", "random", 3)
    steps = pd.DataFrame({"step": [0, 1], "x": [0.1, 0.2]})
    folder = tmp_path / key.folder()
    folder.mkdir(parents=True)
    # a table without its marker
    steps.to_parquet(folder / "seed-0003.steps.parquet")
    assert not store.is_complete(key)
    # a truncated marker
    (folder / "seed-0003.done.json").write_text('{"sizes": {"steps": ')
    assert not store.is_complete(key)
    store.write_run(key, steps, meta={"wall_seconds": 1.5})
    assert store.is_complete(key)
    assert store.completed() == [key]
    assert store.run_meta(key)["wall_seconds"] == 1.5
    # a table truncated after the marker was written
    path = folder / "seed-0003.steps.parquet"
    path.write_bytes(path.read_bytes()[:10])
    assert not store.is_complete(key)
    assert store.load_steps().empty


def test_sweeps_and_studies_share_one_layout(tmp_path):
    store = ResultStore(tmp_path)
    sweep_key = RunKey("quick@v1", "insight:mu=0.1", 0)
    study_key = RunKey("rlvr-addition@c42a50389f5e7dcf", "random", 12)
    assert sweep_key.folder() == Path("runs/quick_v1/insight:mu=0.1")
    assert study_key.folder() == Path("runs/rlvr-addition_c42a50389f5e7dcf/random")
    assert study_key.stem() == "seed-0012"
    rows = {"scenario": ["b", "b", "a"], "rule": "r", "seed": 0, "step": [1, 0, 0]}
    choices = pd.DataFrame({"scenario": ["b"], "rule": "r", "seed": 0, "step": [1], "rank": [0]})
    store.write_run(study_key, pd.DataFrame(rows), choices)
    store.write_run(sweep_key, pd.DataFrame(rows).assign(rule="q"))
    steps, kept = store.consolidate([sweep_key, study_key, RunKey("x@v1", "r", 0)])
    # consolidated tables are sorted by scenario, rule, seed, step
    assert steps[["scenario", "rule", "step"]].values.tolist() == [
        ["a", "q", 0], ["a", "r", 0], ["b", "q", 0], ["b", "q", 1], ["b", "r", 0], ["b", "r", 1],
    ]  # fmt: skip
    assert len(kept) == 1
    assert (tmp_path / "steps.parquet").exists() and (tmp_path / "choices.parquet").exists()
