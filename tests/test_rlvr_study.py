"""The study: config validation, smoke config end to end, resume, Ray, the one runner."""

from __future__ import annotations

import json
import re
import shutil
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
        (lambda r: r["study"].update(draws=[0, 0]), "study.draws has duplicates"),
        (lambda r: r["study"].update(draws=[-1]), "study.draws must be a non-empty list"),
        (lambda r: r["study"].update(draws=[]), "study.draws must be a non-empty list"),
        (lambda r: r["study"].update(draws=[True]), "study.draws must be a non-empty list"),
        (lambda r: r["study"].update(draws=2), "study.draws must be a list"),
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


def test_a_draw_is_the_config_edited_by_hand():
    """Draw d of cpu-k16.toml has the digest of the file with `draws` deleted and both
    `seed = 0` lines set to d (the sed edit a single draw can be run from)."""
    path = ROOT / "configs" / "rlvr" / "cpu-k16.toml"
    config = load_config(path)
    assert config.study.draws == (0, 1, 2) and config.multi_draw
    text = path.read_text()
    for draw in config.study.draws:
        edited = re.sub(r"(?m)^draws = .*\n", "", text)
        edited = re.sub(r"(?m)^seed = 0$", f"seed = {draw}", edited)
        by_hand = load_config(tomllib.loads(edited))
        derived = config.draw_config(draw)
        assert derived.raw == by_hand.raw and derived.digest() == by_hand.digest()
        assert (derived.task.seed, derived.warmup.seed) == (draw, draw)
        assert not derived.multi_draw and "draws" not in derived.raw["study"]
    assert len({config.draw_config(d).digest() for d in config.study.draws}) == 3
    # the draws are not part of the digest; [0] is the single-draw study itself
    raw = _raw()
    plain = load_config(raw)
    raw["study"]["draws"] = [0]
    zero = load_config(raw)
    assert not zero.multi_draw and zero.digest() == plain.digest()
    assert plain.study.draws == (0,)


def _fake_draws_study(out, draws=(0, 1, 2), present=None):
    """A multi-draw study folder with finished runs written by hand (no training): in
    draw d, Random goes a, a + 1/8, a + 1/4 and InSight a, a + 1/4, a + 1/4 over steps
    0..2 with a = (d + 1) / 8, so at targets placed per draw InSight is exactly twice as
    fast in every (draw, seed)."""
    from insight_bayes.results import ResultStore, RunKey

    raw = _raw()
    raw["study"].update(
        rules=["random", "insight"], seeds=[0, 1], draws=list(draws), metric="eval/pass1",
        target=0.55, target_fractions=[0.5, 1.0],
    )  # fmt: skip
    config = load_config(raw)
    for draw in draws if present is None else present:
        derived = config.draw_config(draw)
        store = ResultStore(out / f"draw-{draw}")
        a = (draw + 1) / 8
        curves = {"random": [a, a + 0.125, a + 0.25], "insight": [a, a + 0.25, a + 0.25]}
        for rule, values in curves.items():
            for seed in (0, 1):
                steps = pd.DataFrame(
                    {"scenario": derived.key, "rule": rule, "seed": seed, "step": [0, 1, 2],
                     "rollouts": [0, 16, 16], "train_reward": 0.5, "eval/pass1": values}
                )  # fmt: skip
                store.write_run(RunKey(derived.key, rule, seed), steps)
        store.write_manifest({"config_digest": derived.digest(), "status": "running"})
    return config


def test_gather_only_on_a_multi_draw_folder(tmp_path):
    from insight_bayes.results import load_results
    from insight_bayes.rlvr.study import gather_study

    out = tmp_path / "study"
    config = _fake_draws_study(out)
    tables = gather_study(config, out)
    steps = pd.read_parquet(out / "steps.parquet")
    assert list(steps.columns[:3]) == ["scenario", "draw", "rule"]
    assert sorted(steps["draw"].unique()) == [0, 1, 2] and len(steps) == 3 * 2 * 2 * 3
    assert steps.groupby("draw")["scenario"].nunique().eq(1).all()
    for draw in (0, 1, 2):  # every draw folder is an ordinary gathered study
        sub = json.loads((out / f"draw-{draw}" / "manifest.json").read_text())
        assert sub["status"] == "complete" and sub["runs"] == {"complete": 4, "expected": 4}
        assert (out / f"draw-{draw}" / "summary.csv").exists()
    curve = pd.read_csv(out / "speedup_curve.csv").set_index(["fraction", "rule"])
    for fraction in (0.5, 1.0):
        row = curve.loc[(fraction, "insight")]
        assert row.speedup == row.ci_low == row.ci_high == 2.0
        assert row.rollout_speedup == 2.0 and row.between_draw_share == 0.0
        assert row.n_seeds == 6 and row.n_draws == 3
        # the mean over draws of a_d + f / 4, a_d = 1/8, 2/8, 3/8
        assert row.target == pytest.approx(0.25 + fraction / 4)
    auc = pd.read_csv(out / "auc.csv").set_index("rule").loc["insight"]
    assert auc.auc_gain == pytest.approx(1 / 16) and auc.n_draws == 3
    summary = pd.read_csv(out / "summary.csv")
    assert {"between_draw_share", "n_draws", "rollout_speedup"} <= set(summary.columns)
    stt = pd.read_csv(out / "steps_to_target.csv")
    assert "draw" in stt.columns and len(stt) == 12
    assert set(tables) >= {"steps", "summary", "steps_to_target", "speedup_curve", "auc"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "study" and manifest["draws"] == [0, 1, 2]
    assert manifest["status"] == "complete"
    assert manifest["runs"] == {"complete": 12, "expected": 12}
    assert {d: s["config_digest"] for d, s in manifest["draw_studies"].items()} == {
        str(d): config.draw_config(d).digest() for d in (0, 1, 2)
    }
    assert "hierarchical" in manifest["analysis"]["bootstrap"]
    res = load_results(out)
    assert res.kind == "study" and res.draws == [0, 1, 2] and res.seeds == [0, 1]
    fast = res.speedups().set_index("rule").loc["insight"]
    assert fast.n_draws == 3 and fast.n_seeds == 6
    # a committed study keeps its draws' tables, not their runs: gathered again, the top
    # level is the same
    before = {n: pd.read_csv(out / f"{n}.csv") for n in ("summary", "speedup_curve", "auc")}
    for draw in (0, 1, 2):
        shutil.rmtree(out / f"draw-{draw}" / "runs")
    gather_study(config, out)
    for name, table in before.items():
        pd.testing.assert_frame_equal(pd.read_csv(out / f"{name}.csv"), table)


def test_gather_only_on_a_multi_draw_folder_with_missing_draws(tmp_path):
    from insight_bayes.results import load_results
    from insight_bayes.rlvr.study import gather_study

    out = tmp_path / "study"
    config = _fake_draws_study(out, present=(0, 2))
    gather_study(config, out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "incomplete"
    assert manifest["runs"] == {"complete": 8, "expected": 12}
    assert manifest["draw_studies"]["1"]["status"] == "absent"
    assert load_results(out).draws == [0, 2]
    # a draw folder of another config is refused; so is a single-draw study's folder
    raw = _raw()
    raw["study"].update(draws=[0, 1], rules=["random", "insight"], seeds=[0, 1])
    raw["loop"]["steps"] = 3
    with pytest.raises(ValueError, match="different config"):
        gather_study(load_config(raw), out)
    single = tmp_path / "single"
    single.mkdir()
    (single / "manifest.json").write_text(json.dumps({"config_digest": "0123", "kind": "study"}))
    raw = _raw()
    raw["study"]["draws"] = [0, 1]
    with pytest.raises(ValueError, match="single-draw study"):
        gather_study(load_config(raw), single)
    with pytest.raises(ValueError, match="no finished run of any draw"):
        gather_study(config, tmp_path / "empty")


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
    assert "3 runs trained, 0 resumed (already complete)" in text and "speed-up (steps)" in text
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
    # the end: the headline, then the table; the folder's two pictures
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if " reaches " in line or "neither" in line)
    assert lines[first + 2].split()[:3] == ["rule", "speed-up", "(steps)"]
    assert (out / "learning_curve.png").stat().st_size > 0
    assert (out / "speedup.png").stat().st_size > 0
    # one warm-up, shared: a single cached checkpoint
    assert len(list((tmp_path / "cache" / "warmup").iterdir())) == 1
    # a re-run trains nothing and says so
    assert main(argv) == 0
    assert "0 runs trained, 3 resumed (already complete)" in capsys.readouterr().out


def test_two_draws_end_to_end_one_folder_per_draw(tmp_path, capsys):
    raw = _raw()
    raw["study"].update(rules=["random", "insight"], draws=[0, 1], target_fractions=[1.0])
    raw["loop"]["steps"] = 2
    raw["warmup"]["steps"] = 10
    config = load_config(raw)
    path = tmp_path / "draws.toml"
    path.write_text(
        SMOKE.read_text()
        .replace(
            'rules = ["random", "insight", "dynamic-sampling"]', 'rules = ["random", "insight"]'
        )
        .replace("seeds = [0]", "seeds = [0]\ndraws = [0, 1]\ntarget_fractions = [1.0]")
        .replace("\nsteps = 4\n", "\nsteps = 2\n")
        .replace("steps = 40", "steps = 10")
    )
    assert load_config(path).raw == raw
    out = tmp_path / "out"
    argv = ["rlvr-study", str(path), "--out", str(out), "--device", "cpu"]
    argv += ["--cache-dir", str(tmp_path / "cache"), "--no-progress"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "4 runs trained, 0 resumed" in text and "over draws, then seeds" in text
    for draw in (0, 1):
        sub = load_results(out / f"draw-{draw}")  # an ordinary single-draw study
        assert sub.manifest["config_digest"] == config.draw_config(draw).digest()
        assert sub.manifest["status"] == "complete" and "draw" not in sub.steps.columns
        assert len(sub.tables["pool"]) == raw["task"]["pool_size"]
    pools = [pd.read_parquet(out / f"draw-{d}" / "pool.parquet")["prompt"] for d in (0, 1)]
    assert not pools[0].equals(pools[1])  # each draw its own pool
    res = load_results(out)
    assert res.draws == [0, 1] and res.manifest["status"] == "complete"
    assert len(res.steps) == 2 * 2 * 3 and res.choices["draw"].tolist().count(1) > 0
    order = ["scenario", "rule", "seed", "step"]
    top = res.steps.drop(columns="draw").sort_values(order).reset_index(drop=True)
    subs = pd.concat([load_results(out / f"draw-{d}").steps for d in (0, 1)])
    pd.testing.assert_frame_equal(top, subs.sort_values(order).reset_index(drop=True))
    assert (out / "summary.csv").exists() and (out / "auc.csv").exists()
    # re-running trains nothing; gather-only gives the same top-level steps
    assert main(argv) == 0
    assert "0 runs trained, 4 resumed" in capsys.readouterr().out
    assert main([*argv, "--gather-only"]) == 0
    pd.testing.assert_frame_equal(load_results(out).steps, res.steps)
    # a single-draw study may not run into a multi-draw study's top level
    with pytest.raises(ValueError, match="multi-draw study"):
        run_study(config.draw_config(0), out, device="cpu", cache_dir=tmp_path / "cache")
    # a study stopped in its first draw, before the top-level manifest of older versions
    # existed, resumes: only draw-0 with one finished run is left
    stopped = tmp_path / "stopped"
    (stopped / "draw-0").mkdir(parents=True)
    for name in ("manifest.json", "pool.parquet", "runs"):
        src = out / "draw-0" / name
        dst = stopped / "draw-0" / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dst)
    shutil.rmtree(next((stopped / "draw-0" / "runs").iterdir()) / "insight")
    argv[argv.index(str(out))] = str(stopped)
    assert main(argv) == 0
    assert "3 runs trained, 1 resumed" in capsys.readouterr().out
    pd.testing.assert_frame_equal(_strip(load_results(stopped).steps), _strip(res.steps))


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
    kw = {"device": "cpu", "cache_dir": cache, "progress": False, "runs_per_process": 1}
    with pytest.raises(KeyboardInterrupt):
        run_study(config, out, **kw)
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
    result = run_study(config, out, **kw)
    assert calls == ["insight"]  # the finished run was skipped
    assert result.report.resumed == [random0] and result.report.trained == [insight0]
    pd.testing.assert_frame_equal(store.load_steps([random0]), first)
    assert set(result.tables["steps"]["rule"]) == {"random", "insight"}
    # extending the study with a rule reuses the finished runs
    calls.clear()
    raw["study"]["rules"] = ["random", "insight", "mopps"]
    result = run_study(load_config(raw), out, **kw)
    assert calls == ["mopps"]
    assert set(result.tables["steps"]["rule"]) == {"random", "insight", "mopps"}
    # a different config in the same folder is refused
    raw["loop"]["steps"] = 3
    with pytest.raises(ValueError, match="different config"):
        run_study(load_config(raw), out, **kw)


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
    local = run_study(config, tmp_path / "local", runs_per_process=1, **kw)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = run_study(config, tmp_path / "ray", backend="ray", workers=2, threads=1, **kw)
        # both runs as one batched block in one Ray task
        block = run_study(config, tmp_path / "ray-block", backend="ray", runs_per_process=2, **kw)
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
    assert (
        json.loads((tmp_path / "ray-block" / "manifest.json").read_text())["runs_per_process"] == 2
    )
    assert len(block.report.trained) == 2
    pd.testing.assert_frame_equal(_strip(block.tables["steps"]), _strip(local.tables["steps"]))
    pd.testing.assert_frame_equal(block.tables["choices"], local.tables["choices"])


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


def test_the_manifest_names_the_cpu_kernels():
    """Float results (a warm-up from one seed) differ between CPU kernel sets, so a study's
    manifest says which it ran on."""
    torch = pytest.importorskip("torch")
    from insight_bayes.rlvr.machine import device_name

    name = device_name("cpu")
    assert name.endswith(f"({torch.backends.cpu.get_cpu_capability()} kernels)")


def test_a_finished_study_keeps_the_time_it_started(tmp_path, monkeypatch):
    """``created`` is the first manifest write's time, ``updated`` the last's (the wall time
    of a study in one sitting is their difference)."""
    from insight_bayes.results import io

    ticks = iter(f"2026-01-01T00:00:{s:02d}+00:00" for s in range(60))
    monkeypatch.setattr(io, "utc_now", lambda: next(ticks))
    raw = _raw()
    raw["study"]["rules"], raw["study"]["seeds"], raw["loop"]["steps"] = ["random"], [0], 1
    kw = {"device": "cpu", "cache_dir": tmp_path / "cache", "progress": False}
    run_study(load_config(raw), tmp_path / "out", **kw)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["created"] < manifest["updated"]
    assert manifest["created"] == "2026-01-01T00:00:00+00:00"


def test_resuming_on_other_kernels_says_so(tmp_path, caplog):
    raw = _raw()
    raw["study"]["rules"], raw["study"]["seeds"], raw["loop"]["steps"] = ["random"], [0], 1
    config = load_config(raw)
    kw = {"device": "cpu", "cache_dir": tmp_path / "cache", "progress": False}
    run_study(config, tmp_path / "out", **kw)
    path = tmp_path / "out" / "manifest.json"
    manifest = json.loads(path.read_text())
    assert "is resumed on" not in caplog.text  # the first call: nothing to compare
    manifest["device_name"] = "Some CPU (NEON kernels)"
    path.write_text(json.dumps(manifest))
    with caplog.at_level("WARNING", logger="insight_bayes.rlvr.study"):
        run_study(config, tmp_path / "out", **kw)
    assert "was trained on Some CPU (NEON kernels) and is resumed on" in caplog.text
