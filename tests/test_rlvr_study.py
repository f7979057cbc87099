"""The study: config validation, smoke config end to end, resume, Ray, the one runner."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
import typing
from pathlib import Path

import pandas as pd
import pytest

from insight_bayes.rlvr.config import StudyConfig, load_config

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "rlvr" / "smoke.toml"


def _raw() -> dict:
    with SMOKE.open("rb") as f:
        return tomllib.load(f)


# ------------------------------------------------------------------ config (no torch)
@pytest.mark.parametrize(
    "change,match",
    [
        (lambda r: r["loop"].update(k=1), "loop.k must be >= 2"),
        (lambda r: r["loop"].update(m=100), "loop.m=100 .* task.pool_size=32"),
        (lambda r: r["task"].update(name="sudoku"), "task.name: unknown task 'sudoku'"),
        (lambda r: r["task"].update(pool_size=0), "task.pool_size must be an integer >= 1"),
        (lambda r: r["study"].update(rules=["random", "oracle"]), "study.rules: 'oracle'"),
        (lambda r: r["study"].update(rules=["insight:mu=2.0"]), "study.rules: .*mu must be"),
        (lambda r: r["study"].update(rules=["insight:mu"]), "study.rules: .*name=value"),
        (lambda r: r["study"].update(rules=["random", "random"]), "duplicates"),
        (lambda r: r["study"].update(seeds=[-1]), "study.seeds"),
        (lambda r: r["model"].update(path="/no/such/model"), "model.path"),
        (lambda r: r["model"].update(d_model=33), "divisible by model.n_head"),
        (lambda r: r["loop"].update(batch=3), r"\[loop\] has unknown field"),
        (lambda r: r.update(extra={}), "unknown config section"),
        (lambda r: r["grpo"].update(lr=-1.0), r"\[grpo\] lr must be"),
        (lambda r: r["warmup"].update(steps=-1), r"\[warmup\] steps must be"),
        (lambda r: r["eval"].update(samples=0), r"\[eval\] samples must be"),
        (lambda r: r["task"].update(params={"max_digits": 0}), "task.params"),
        (lambda r: r["study"].update(baseline="oracle"), "study.baseline"),
        (
            lambda r: r["study"].update(rule_params={"insight": {"mu": 0.1}}),
            r"study.rule_params is no longer supported.*\"insight:mu=0.1\"",
        ),
    ],
)
def test_config_errors_name_the_field(change, match):
    raw = _raw()
    change(raw)
    with pytest.raises(ValueError, match=match):
        load_config(raw)


def test_config_sections_are_typed_and_validated_on_construction():
    hints = typing.get_type_hints(StudyConfig)
    assert typing.Any not in hints.values()
    config = load_config(SMOKE)
    assert config.study.rules == ("random", "insight", "dynamic-sampling")
    assert config.grpo.max_new_tokens == config.task.make_task().max_answer_chars + 1
    assert config.key == f"rlvr-addition@{config.digest()}"
    with pytest.raises(ValueError, match="loop.k must be >= 2"):
        StudyConfig(**{**config.__dict__, "loop": type(config.loop)(m=2, k=1)})
    labelled = _raw()
    labelled["study"]["rules"] = ["random", "insight:mu=0.1,eta=2"]
    study = load_config(labelled).study
    assert study.rule_params("insight") == {"mu": 0.1, "eta": 2}
    assert study.rule_params("mopps") == {}


def test_config_module_imports_neither_torch_nor_pandas():
    code = (
        "import sys\n"
        "from insight_bayes.rlvr.config import load_config\n"
        f"load_config({str(SMOKE)!r})\n"
        "print(','.join(m for m in ('torch', 'pandas') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_shipped_configs_validate():
    for name in ("smoke", "cpu", "gpu"):
        config = load_config(ROOT / "configs" / "rlvr" / f"{name}.toml")
        assert len(config.study.seeds) >= 1
    cpu = load_config(ROOT / "configs" / "rlvr" / "cpu.toml")
    assert {"random", "mopps", "expected-difficulty", "insight", "dynamic-sampling"} <= set(
        cpu.study.rules
    )
    assert len(cpu.study.seeds) >= 3


# ------------------------------------------------------------------ running (torch)
torch = pytest.importorskip("torch")

from insight_bayes.results import ResultStore, RunKey, load_results  # noqa: E402
from insight_bayes.rlvr import study  # noqa: E402
from insight_bayes.rlvr.study import gather_study, run_study  # noqa: E402
from insight_bayes_cli import main  # noqa: E402


def _strip(df: pd.DataFrame) -> pd.DataFrame:
    keep = [c for c in df.columns if not c.endswith("_seconds")]
    return df[keep].sort_values(["rule", "seed", "step"]).reset_index(drop=True)


def test_smoke_config_end_to_end_and_rerun_says_it_resumed(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["rlvr-study", str(SMOKE), "--out", str(out), "--device", "cpu"]
    argv += ["--cache-dir", str(tmp_path / "cache"), "--no-progress"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "3 runs trained, 0 resumed (already complete)" in text and "speedup" in text
    raw = _raw()
    res = load_results(out)
    steps = res.steps
    rules, seeds = raw["study"]["rules"], raw["study"]["seeds"]
    assert res.kind == "study" and res.rules == rules and res.seeds == seeds
    assert len(steps) == len(rules) * len(seeds) * (raw["loop"]["steps"] + 1)
    assert steps["eval/pass1"].notna().sum() == len(rules) * len(seeds) * 3  # steps 0, 2, 4
    ds = steps[(steps.rule == "dynamic-sampling") & (steps.step > 0)]
    assert (ds["rollouts"] >= raw["loop"]["m"] * raw["loop"]["k"]).all()
    prompts = res.tables["prompts"]
    assert {
        "wmi",
        "mutual_information",
        "variance_reduction",
        "next_success_rate",
        "step_logprob_gain",
        "warmup_rate",
        "feature_carries",
    } <= set(prompts.columns)
    assert len(res.tables["pool"]) == raw["task"]["pool_size"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["device"] == "cpu"
    assert manifest["package_version"] and manifest["git_revision"]
    assert manifest["config"] == raw and manifest["torch_version"] == torch.__version__
    assert manifest["runs"] == {"complete": 3, "expected": 3}
    assert (out / "summary.csv").exists() and (out / "steps_to_target.csv").exists()
    # one warm-up, shared: a single cached checkpoint
    assert len(list((tmp_path / "cache" / "warmup").iterdir())) == 1
    # a re-run trains nothing and says so
    assert main(argv) == 0
    assert "0 runs trained, 3 resumed (already complete)" in capsys.readouterr().out


def test_resume_after_a_crash(tmp_path, monkeypatch):
    raw = _raw()
    raw["study"]["rules"] = ["random", "insight"]
    raw["loop"]["steps"] = 2
    config = load_config(raw)
    out, cache = tmp_path / "out", tmp_path / "cache"
    real = study.run_study_job
    calls = []

    def crash_on_second(job):
        calls.append(job.rule)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")
        return real(job)

    monkeypatch.setattr(study, "run_study_job", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        run_study(config, out, device="cpu", cache_dir=cache, progress=False)
    store = ResultStore(out)
    random0, insight0 = RunKey(config.key, "random", 0), RunKey(config.key, "insight", 0)
    assert store.is_complete(random0) and not store.is_complete(insight0)
    first = store.load_steps([random0])
    assert json.loads((out / "manifest.json").read_text())["status"] == "running"
    # a stopped study's finished runs can be analysed without training (torch-free path)
    tables = gather_study(config, out)
    assert set(tables["steps"]["rule"]) == {"random"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "incomplete"
    assert manifest["runs"] == {"complete": 1, "expected": 2}
    raw_other = _raw()
    raw_other["loop"]["steps"] = 3
    with pytest.raises(ValueError, match="different config"):
        gather_study(load_config(raw_other), out)
    with pytest.raises(ValueError, match="no study manifest"):
        gather_study(config, tmp_path / "empty")

    calls.clear()
    monkeypatch.setattr(study, "run_study_job", lambda job: calls.append(job.rule) or real(job))
    result = run_study(config, out, device="cpu", cache_dir=cache, progress=False)
    assert calls == ["insight"]  # the finished run was skipped
    assert result.report.resumed == [random0] and result.report.trained == [insight0]
    pd.testing.assert_frame_equal(store.load_steps([random0]), first)
    assert set(result.tables["steps"]["rule"]) == {"random", "insight"}
    # extending the study with a rule reuses the finished runs
    calls.clear()
    raw["study"]["rules"] = ["random", "insight", "mopps"]
    result = run_study(load_config(raw), out, device="cpu", cache_dir=cache, progress=False)
    assert calls == ["mopps"]
    assert set(result.tables["steps"]["rule"]) == {"random", "insight", "mopps"}
    # a different config in the same folder is refused
    raw["loop"]["steps"] = 3
    with pytest.raises(ValueError, match="different config"):
        run_study(load_config(raw), out, device="cpu", cache_dir=cache, progress=False)


def test_seeds_repeat_exactly_in_process_and_in_worker_processes(tmp_path):
    raw = _raw()
    raw["study"]["rules"] = ["random", "insight"]
    raw["loop"]["steps"] = 2
    config = load_config(raw)
    kw = {"device": "cpu", "cache_dir": tmp_path / "c", "progress": False}
    a = run_study(config, tmp_path / "a", **kw).tables
    pooled = run_study(config, tmp_path / "b", workers=2, threads=1, **kw)
    assert len(pooled.report.trained) == 2
    b = pooled.tables
    pd.testing.assert_frame_equal(_strip(a["steps"]), _strip(b["steps"]))
    pd.testing.assert_frame_equal(a["choices"], b["choices"])


def test_ray_backend_gives_the_same_study(tmp_path):
    ray = pytest.importorskip("ray")
    raw = _raw()
    raw["study"]["rules"] = ["random", "insight"]
    raw["loop"]["steps"] = 2
    config = load_config(raw)
    kw = {"device": "cpu", "cache_dir": tmp_path / "cache", "progress": False}
    local = run_study(config, tmp_path / "local", **kw)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = run_study(config, tmp_path / "ray", backend="ray", workers=2, threads=1, **kw)
        # a run that asks for a GPU the cluster does not have is refused, not queued forever
        from insight_bayes.results import Job, run_jobs

        gpu_job = Job(RunKey("t@v1", "random", 0), None, {"num_cpus": 1, "num_gpus": 1})
        with pytest.raises(RuntimeError, match="GPU"):
            run_jobs([gpu_job], study.run_study_job, ResultStore(tmp_path / "gpu"), backend="ray")
    finally:
        ray.shutdown()
    assert len(remote.report.trained) == 2 and remote.report.resumed == []
    pd.testing.assert_frame_equal(_strip(remote.tables["steps"]), _strip(local.tables["steps"]))
    pd.testing.assert_frame_equal(remote.tables["choices"], local.tables["choices"])


def test_runs_ask_for_a_gpu_on_cuda():
    config = load_config(SMOKE)
    jobs = study.study_jobs(config, "cuda", "/cache", threads=2)
    assert [(j.key.rule, j.key.seed) for j in jobs] == [
        ("random", 0), ("insight", 0), ("dynamic-sampling", 0),
    ]  # fmt: skip
    assert all(dict(j.resources) == {"num_cpus": 1, "num_gpus": 1} for j in jobs)
    assert {(j.payload.device, j.payload.threads) for j in jobs} == {("cuda", 2)}
    cpu = study.study_jobs(config, "cpu", None)
    assert all(dict(j.resources) == {"num_cpus": 1} for j in cpu)


def test_bad_config_fails_before_training(tmp_path, monkeypatch, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(SMOKE.read_text().replace("k = 4", "k = 1"))
    import insight_bayes.rlvr.harness as harness

    monkeypatch.setattr(harness, "Harness", lambda *a, **k: pytest.fail("trained"))
    # a user error is one line and exit status 2 (tests/test_cli.py)
    assert main(["rlvr-study", str(path), "--out", str(tmp_path / "o"), "--device", "cpu"]) == 2
    assert "insight-bayes rlvr-study: error: loop.k" in capsys.readouterr().err
    argv = ["rlvr-study", str(SMOKE), "--out", str(tmp_path / "o"), "--model", "/no/model"]
    assert main(argv) == 2
    assert "model.path" in capsys.readouterr().err
    with pytest.raises(ValueError, match="does not exist"):
        load_config(tmp_path / "missing.toml")
