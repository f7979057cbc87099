"""One configuration per results folder: resume the same, refuse another in one line."""

from __future__ import annotations

import argparse
import json
import tomllib
from pathlib import Path

import pytest

from insight_bayes.results.folders import (
    FolderInUse,
    claim_folder,
    clear_folder,
    describe_differences,
)
from insight_bayes.results.io import plain

SMOKE = Path(__file__).resolve().parents[1] / "configs" / "rlvr" / "smoke.toml"


def test_differences_are_named_and_extendable_keys_may_change():
    saved = {"kind": "sweep", "rules": ["random", "insight"], "scenarios": {"a": {"x": 1}}}
    same = {"kind": "sweep", "rules": ["insight", "random"], "scenarios": {"a": {"x": 1}}}
    assert describe_differences(saved, same) == ([], True)
    more = {**same, "rules": ["random", "insight", "mopps"], "scenarios": {"b": {"x": 1}}}
    phrases, extendable = describe_differences(saved, more, extendable=("rules", "scenarios"))
    assert extendable and phrases == [
        "rules: the folder has 2 (random, insight), this command 3 (random, insight, mopps)",
        "scenarios: the folder has a, this command b",
    ]
    assert describe_differences(saved, more, extend=True, extendable=("rules", "scenarios")) == (
        [],
        True,
    )
    changed = {**same, "scenarios": {"a": {"x": 2}}}
    phrases, extendable = describe_differences(
        saved, changed, extend=True, extendable=("scenarios",)
    )
    assert not extendable and phrases == ["scenarios a differ: a.x 1 -> 2"]
    assert describe_differences(saved, {**same, "kind": "study"})[0] == [
        "kind: the folder has 'sweep', this command 'study'"
    ]


def test_claim_and_clear(tmp_path):
    def identity(m):
        return {"rules": m.get("rules")}

    claim_folder(tmp_path / "new", {"rules": ["a"]}, identity)  # missing: fine
    (tmp_path / "manifest.json").write_text(json.dumps({"rules": ["a"]}))
    (tmp_path / "summary.csv").write_text("x")
    (tmp_path / "runs" / "s").mkdir(parents=True)
    (tmp_path / "draw-0").mkdir()
    (tmp_path / "draw-0" / "manifest.json").write_text("{}")
    (tmp_path / "draw-0" / "steps.parquet").write_text("x")
    (tmp_path / "notes.txt").write_text("mine")
    claim_folder(tmp_path, {"rules": ["a"]}, identity)  # the same: resume
    with pytest.raises(FolderInUse) as err:
        claim_folder(tmp_path, {"rules": ["b"]}, identity, extendable=("rules",))
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{tmp_path} holds results of another")
    assert "rules: the folder has 1 (a), this command 1 (b)" in message
    assert "add --extend" in message and "add --overwrite" in message
    claim_folder(tmp_path, {"rules": ["b"]}, identity, overwrite=True)
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert left == ["draw-0", "notes.txt"]
    assert clear_folder(tmp_path / "absent") == 0


def _study_args(out, **flags):
    return argparse.Namespace(out=str(out), overwrite=False, extend=False, **flags)


def test_rlvr_study_refuses_another_study_in_its_out(tmp_path):
    from insight_bayes.rlvr.config import load_config
    from insight_bayes.rlvr.study_cli import _claim

    with SMOKE.open("rb") as f:
        raw = tomllib.load(f)
    config = load_config(raw)
    manifest = {
        "kind": "study",
        "config": plain(config.raw),
        "rules": list(config.study.rules),
        "seeds": list(config.study.seeds),
        "config_digest": config.digest(),
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    _claim(config, _study_args(tmp_path))  # the same study: resumed
    target = {**raw, "study": {**raw["study"], "target": 0.9}}
    _claim(load_config(target), _study_args(tmp_path))  # the analysis may change
    steps = {**raw, "loop": {**raw["loop"], "steps": raw["loop"]["steps"] + 1}}
    other = load_config(steps)
    assert other.digest() != config.digest()
    with pytest.raises(FolderInUse, match=r"config differ: loop.steps \d+ -> \d+") as err:
        _claim(other, _study_args(tmp_path))
    assert "--extend" not in str(err.value)  # settings changed: extending cannot help
    fewer = load_config({**raw, "study": {**raw["study"], "rules": ["random"]}})
    with pytest.raises(FolderInUse, match="rules: the folder has"):
        _claim(fewer, _study_args(tmp_path))
    _claim(fewer, argparse.Namespace(out=str(tmp_path), overwrite=False, extend=True))
    _claim(other, argparse.Namespace(out=str(tmp_path), overwrite=True, extend=False))
    assert not (tmp_path / "manifest.json").exists()
