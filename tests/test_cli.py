"""The insight-bayes command."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from insight_bayes import available_selectors
from insight_bayes.cli_types import rule_labels
from insight_bayes.demo import selection_table
from insight_bayes_cli import SUBCOMMANDS, build_parser_for, main


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
        [sys.executable, "-m", "insight_bayes_cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "demo" in out.stdout


# ------------------------------------------------------------------ errors
def console(*argv: str) -> subprocess.CompletedProcess:
    """Run ``insight-bayes ARGV`` in a fresh interpreter (the console script's entry point)."""
    return subprocess.run(
        [sys.executable, "-m", "insight_bayes_cli", *argv],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )


def _env() -> dict[str, str]:
    import os
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": root if not path else f"{root}{os.pathsep}{path}"}


@pytest.fixture
def bad_config(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[task]\nname = "addition"\n[loop]\nk = 1\n')
    return path


BAD_INPUTS = {
    "unknown scenario": (["sweep", "nosuch"], "argument scenario: unknown scenario 'nosuch'"),
    "workers 0": (["sweep", "quick", "--workers", "0"], "--workers: must be an integer >= 1"),
    "workers text": (["sweep", "quick", "--workers", "two"], "--workers: expected an integer"),
    "target above 1": (["sweep", "quick", "--target", "1.5"], "--target: must be in (0, 1]"),
    "target 0": (["sweep", "quick", "--target", "0"], "--target: must be in (0, 1]"),
    "target nan": (["sweep", "quick", "--target", "nan"], "--target: must be in (0, 1]"),
    "seeds 0": (["sweep", "quick", "--seeds", "0"], "--seeds: must be an integer >= 1"),
    "n-boot 50": (["sweep", "quick", "--n-boot", "50"], "--n-boot: must be an integer >= 100"),
    "unknown rule": (["sweep", "quick", "--rules", "random,nope"], "unknown selector 'nope'"),
    "rule parameter": (["sweep", "quick", "--rules", "insight:nu=1"], "takes no parameter(s)"),
    "rule syntax": (["sweep", "quick", "--rules", "insight:mu"], "must look like name=value"),
    "baseline": (["sweep", "quick", "--baseline", "best"], "--baseline: rule label 'best'"),
    "missing config": (["rlvr-study", "no/such.toml", "--out", "x"], "no such file"),
    "unknown command": (["nosuch"], "invalid choice: 'nosuch'"),
    "demo m > pool": (["demo", "--pool", "10", "--m", "20"], "m must be <= 10, got 20"),
}


def _one_error_line(stderr: str, command: str, match: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    prefix = f"insight-bayes {command}: error: " if command else "insight-bayes: error: "
    assert lines[0].startswith(prefix), lines
    assert match in lines[0]


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_is_one_line_and_status_2(case, capsys):
    argv, match = BAD_INPUTS[case]
    command = "" if argv[0] == "nosuch" else argv[0]
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code
    assert status == 2
    _one_error_line(capsys.readouterr().err, command, match)


@pytest.mark.parametrize(
    "case", ["unknown scenario", "workers 0", "target above 1", "seeds 0", "unknown rule",
             "missing config"],
)  # fmt: skip
def test_bad_input_through_the_console_script(case):
    argv, match = BAD_INPUTS[case]
    out = console(*argv)
    assert out.returncode == 2
    _one_error_line(out.stderr, argv[0], match)
    assert "Traceback" not in out.stderr and out.stdout == ""


def test_invalid_config_contents_is_one_line_and_v_shows_the_traceback(
    bad_config, tmp_path, capsys
):
    out = console("rlvr-study", str(bad_config), "--out", str(tmp_path / "o"))
    assert out.returncode == 2
    _one_error_line(out.stderr, "rlvr-study", "loop.k must be >= 2")
    assert "run with -v for the traceback" in out.stderr
    out = console("rlvr-study", "-v", str(bad_config), "--out", str(tmp_path / "o"))
    assert out.returncode == 2
    assert out.stderr.startswith("Traceback (most recent call last)")
    assert "in load_config" in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("insight-bayes rlvr-study: error:")
    assert main(["-v", "rlvr-study", str(bad_config), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err  # -v before the command works too
    assert "Traceback (most recent call last)" in err and "in load_config" in err


def test_config_that_is_not_toml_is_refused_at_parse_time(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[task\n")
    out = console("rlvr-study", str(path), "--out", str(tmp_path / "o"))
    assert out.returncode == 2
    _one_error_line(out.stderr, "rlvr-study", "is not a valid TOML file")
    assert str(path) in out.stderr


def test_internal_errors_keep_their_traceback(monkeypatch):
    import insight_bayes.demo

    def bug(args):
        raise KeyError("a bug")

    monkeypatch.setattr(insight_bayes.demo, "run", bug)
    with pytest.raises(KeyError, match="a bug"):
        main(["demo"])
    script = (
        "import insight_bayes.demo as d\n"
        "def bug(args):\n    raise KeyError('a bug')\n"
        "d.run = bug\n"
        "from insight_bayes_cli import main\nraise SystemExit(main(['demo']))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=_env(), timeout=120
    )
    assert out.returncode == 1
    assert "Traceback (most recent call last)" in out.stderr and "KeyError: 'a bug'" in out.stderr


def test_a_value_error_from_another_library_is_a_bug(monkeypatch, tmp_path, capsys):
    """NumPy refusing an argument means the package failed to check it: traceback."""
    import numpy as np

    import insight_bayes.demo

    def unchecked(args):
        return np.random.default_rng(0).choice(3, size=5, replace=False)

    monkeypatch.setattr(insight_bayes.demo, "run", unchecked)
    with pytest.raises(ValueError, match="larger sample than population"):
        main(["demo"])
    bad = tmp_path / "bad.json"
    bad.write_text("{")

    def corrupt(args):
        import json

        return json.loads(bad.read_text())

    monkeypatch.setattr(insight_bayes.demo, "run", corrupt)  # a file that does not decode
    assert main(["demo"]) == 2
    _one_error_line(capsys.readouterr().err, "demo", "Expecting property name")


def test_rule_labels_join_parameters_and_build_each_rule():
    assert rule_labels("random, insight:mu=0.1,eta=3,mopps") == [
        "random",
        "insight:mu=0.1,eta=3",
        "mopps",
    ]
    with pytest.raises(argparse.ArgumentTypeError, match="at least one"):
        rule_labels(" , ")


def test_building_a_parser_for_one_command_leaves_the_registry_alone():
    before = dict(SUBCOMMANDS)
    parser = build_parser_for(["demo", "--pool", "5"])
    assert SUBCOMMANDS == before
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert list(sub.choices) == ["demo"]
    assert list(build_parser_for(["--help"])._subparsers._group_actions[0].choices) == list(before)


def test_corrupt_saved_file_is_one_line_naming_it(tmp_path, capsys):
    """A damaged warm-up cache: the error names the file and what to do, exit status 2."""
    pytest.importorskip("torch")
    from pathlib import Path

    smoke = Path(__file__).parents[1] / "configs" / "rlvr" / "smoke.toml"
    argv = ["rlvr-study", str(smoke), "--device", "cpu", "--no-progress"]
    argv += ["--cache-dir", str(tmp_path / "cache")]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0  # fills the cache
    capsys.readouterr()
    (weights,) = (tmp_path / "cache").rglob("model.pt")
    weights.write_bytes(weights.read_bytes()[:300])  # truncated
    out = console(*argv, "--out", str(tmp_path / "b"))
    assert out.returncode == 2
    _one_error_line(out.stderr, "rlvr-study", f"{weights} is not the warm-up's weights")
    assert f"delete {weights.parent} to run the warm-up again" in out.stderr
    (weights.parent / "warmup.json").write_text('{"key": ')
    from insight_bayes.rlvr import harness

    harness._HARNESSES.clear()  # a fresh process reads the cache again (as the console does)
    assert main([*argv, "--out", str(tmp_path / "c")]) == 2
    _one_error_line(capsys.readouterr().err, "rlvr-study", "warmup.json is not valid JSON")
