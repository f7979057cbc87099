"""Rules x seeds of GRPO from one cached warm-up: ``insight-bayes rlvr-study CONFIG``.

A study reads a TOML config (see ``configs/rlvr/*.toml``), validates all of it before
any training, draws the task's pool and held-out test set, warms up (or loads) one
policy, and then runs the shared selection loop with the GRPO environment for every
(rule, seed). Each finished run is written atomically to ``OUT/runs/<rule>__seed<s>/``
with a completion marker, so a killed study loses no finished run and a re-run skips
them. At the end the runs are gathered into tidy Parquet tables and a JSON manifest:

- ``steps.parquet``: one row per (rule, seed, step): rewards, informative share,
  rollouts, timings, held-out ``eval/pass1`` and ``eval/greedy`` every ``eval_every``.
- ``choices.parquet`` and ``prompts.parquet``: one row per chosen prompt and step;
  ``prompts`` adds predicted information and realised learning
  (:func:`insight_bayes.rlvr.records.prompt_information`).
- ``pool.parquet``: the pool's prompts, difficulty features and warm-up success rates.
- ``steps_to_target.parquet`` and ``speedups.parquet``; ``manifest.json``.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import hashlib
import json
import logging
import os
import platform
import shutil
import subprocess
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from insight_bayes.loop import LoopConfig, SelectionLoop, records_to_frames
from insight_bayes.selectors import available_selectors, make_selector

if TYPE_CHECKING:  # pandas is imported where used: `insight-bayes --help` stays light
    import pandas as pd

__all__ = [
    "StudyConfig",
    "add_arguments",
    "load_config",
    "run",
    "run_study",
]

log = logging.getLogger(__name__)

_SECTIONS = ("task", "model", "warmup", "grpo", "loop", "eval", "study")


@dataclass(frozen=True)
class TaskSection:
    """``[task]``: which task, its parameters, pool and test sizes, data seed."""

    name: str = "addition"
    params: dict[str, Any] = field(default_factory=dict)
    pool_size: int = 256
    test_size: int = 128
    seed: int = 0


@dataclass(frozen=True)
class ModelSection:
    """``[model]``: the TinyLM shape, or ``path`` of a local Hugging Face model."""

    n_layer: int = 4
    n_head: int = 4
    d_model: int = 128
    block_size: int | None = None
    path: str | None = None


@dataclass(frozen=True)
class StudySection:
    """``[study]``: rules, seeds, the target of steps-to-target, and extras."""

    rules: tuple[str, ...] = ("random", "mopps", "expected-difficulty", "insight")
    seeds: tuple[int, ...] = (0, 1, 2)
    target: float = 0.5
    metric: str = "eval/pass1"
    baseline: str = "random"
    pool_rate_samples: int = 16
    rule_params: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class StudyConfig:
    """A whole study, validated (see :func:`load_config`)."""

    task: TaskSection
    model: ModelSection
    warmup: Any
    grpo: Any
    loop: LoopConfig
    eval: Any
    study: StudySection
    raw: dict[str, Any]

    def digest(self) -> str:
        """Hash of everything that shapes a run (a resumed study must have the same).

        ``study.rules``, ``study.seeds`` and the summary settings (``target``,
        ``metric``, ``baseline``) are left out, so a study can be extended with more
        seeds or rules and keep its finished runs.
        """
        raw = copy.deepcopy(self.raw)
        for key in ("rules", "seeds", "target", "metric", "baseline"):
            raw.get("study", {}).pop(key, None)
        return hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()[:16]


def _section(raw: dict[str, Any], name: str, cls: type, **extra: Any) -> Any:
    values = dict(raw.get(name, {}))
    allowed = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ValueError(
            f"[{name}] has unknown field(s) {unknown}; allowed: {sorted(allowed - set(extra))}"
        )
    values.update(extra)
    try:
        return cls(**values)
    except (TypeError, ValueError) as err:
        raise ValueError(f"[{name}] {err}") from None


def load_config(
    source: str | os.PathLike[str] | dict[str, Any], *, model_path: str | None = None
) -> StudyConfig:
    """Read and validate a study config (a TOML path or an already-parsed dict).

    Everything is checked before any training: unknown sections or fields, the task
    name and parameters, the model path, ``loop.k >= 2`` (GRPO needs two rollouts per
    group), ``loop.m`` against the pool size, the rule names and their parameters. Each
    error is a ``ValueError`` naming the field (``loop.k``, ``task.name``, ...).
    """
    from insight_bayes.rlvr.environment import EvalConfig
    from insight_bayes.rlvr.grpo import GRPOConfig
    from insight_bayes.rlvr.sft import WarmupConfig
    from insight_bayes.rlvr.tasks import available_tasks, make_task

    if isinstance(source, dict):
        raw = copy.deepcopy(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"config file {str(path)!r} does not exist")
        with path.open("rb") as f:
            raw = tomllib.load(f)
    if model_path is not None:
        raw.setdefault("model", {})["path"] = str(model_path)
    unknown = sorted(set(raw) - set(_SECTIONS))
    if unknown:
        raise ValueError(f"unknown config section(s) {unknown}; allowed: {list(_SECTIONS)}")

    task_sec = _section(raw, "task", TaskSection)
    if task_sec.name not in available_tasks():
        raise ValueError(
            f"task.name: unknown task {task_sec.name!r}; available: {', '.join(available_tasks())}"
        )
    try:
        task = make_task(task_sec.name, **task_sec.params)
    except (TypeError, ValueError) as err:
        raise ValueError(f"task.params: {err}") from None
    for name in ("pool_size", "test_size", "seed"):
        value = getattr(task_sec, name)
        if not isinstance(value, int) or value < (1 if name == "pool_size" else 0):
            raise ValueError(
                f"task.{name} must be an integer >= {1 if name == 'pool_size' else 0}, "
                f"got {value!r}"
            )

    model_sec = _section(raw, "model", ModelSection)
    if model_sec.path is not None and not Path(model_sec.path).is_dir():
        raise ValueError(f"model.path: no model directory at {model_sec.path!r}")

    warmup = _section(raw, "warmup", WarmupConfig)
    grpo_raw = dict(raw.get("grpo", {}))
    grpo_raw.setdefault("max_new_tokens", task.max_answer_chars + 1)
    grpo = _section({"grpo": grpo_raw}, "grpo", GRPOConfig)
    loop = _section(raw, "loop", LoopConfig)
    if loop.k < 2:
        raise ValueError(
            f"loop.k must be >= 2 for GRPO (a group advantage needs two rollouts), got {loop.k}"
        )
    if loop.m > task_sec.pool_size:
        raise ValueError(
            f"loop.m={loop.m} prompts per step exceeds task.pool_size={task_sec.pool_size}"
        )
    evaluation = _section(raw, "eval", EvalConfig)

    study_raw = dict(raw.get("study", {}))
    for key in ("rules", "seeds"):
        if key in study_raw:
            study_raw[key] = tuple(study_raw[key])
    study = _section({"study": study_raw}, "study", StudySection)
    if not study.rules:
        raise ValueError("study.rules must name at least one rule")
    for rule in study.rules:
        if rule not in available_selectors():
            raise ValueError(
                f"study.rules: unknown rule {rule!r}; available: {', '.join(available_selectors())}"
            )
        try:
            make_selector(rule, **study.rule_params.get(rule, {}))
        except (TypeError, ValueError) as err:
            raise ValueError(f"study.rule_params.{rule}: {err}") from None
    if len(set(study.rules)) != len(study.rules):
        raise ValueError(f"study.rules has duplicates: {list(study.rules)}")
    if not study.seeds or any(not isinstance(s, int) or s < 0 for s in study.seeds):
        raise ValueError(f"study.seeds must be non-negative integers, got {list(study.seeds)}")
    if study.baseline not in available_selectors():
        raise ValueError(f"study.baseline: unknown rule {study.baseline!r}")
    return StudyConfig(task_sec, model_sec, warmup, grpo, loop, evaluation, study, raw)


# ------------------------------------------------------------------ running
def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; ``cuda`` without a GPU fails."""
    import torch

    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' but torch sees no CUDA device")
    return device


def _git_revision() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _atomic_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)


def _atomic_parquet(path: Path, df: pd.DataFrame) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def run_dir(out: Path, rule: str, seed: int) -> Path:
    return out / "runs" / f"{rule}__seed{seed}"


def is_complete(out: Path, rule: str, seed: int) -> bool:
    return (run_dir(out, rule, seed) / "done.json").exists()


class _Harness:
    """Task, splits and the warm-up policy, built once per study."""

    def __init__(self, config: StudyConfig, device: str, cache_dir: Path | None, progress: bool):
        import torch

        from insight_bayes.rlvr.model import ModelConfig
        from insight_bayes.rlvr.sft import warm_up
        from insight_bayes.rlvr.tasks import make_splits, make_task
        from insight_bayes.rlvr.tokenizer import CharTokenizer

        self.config = config
        self.device = device
        self.task = make_task(config.task.name, **config.task.params)
        self.pool, self.test = make_splits(
            self.task, config.task.pool_size, config.task.test_size, config.task.seed
        )
        if config.model.path is not None:
            from insight_bayes.rlvr.hf import load_policy

            self.policy = load_policy(config.model.path, device=device)
            self.warmup_info: dict[str, Any] = {"path": config.model.path, "hf": True}
        else:
            tokenizer = CharTokenizer(self.task.alphabet)
            block = config.model.block_size or (
                self.task.max_prompt_chars + 1 + config.grpo.max_new_tokens + 1
            )
            model_config = ModelConfig(
                vocab_size=tokenizer.vocab_size,
                block_size=block,
                n_layer=config.model.n_layer,
                n_head=config.model.n_head,
                d_model=config.model.d_model,
            )
            self.policy, self.warmup_info = warm_up(
                self.task,
                model_config,
                config.warmup,
                cache_dir=cache_dir,
                device=device,
                progress=progress,
            )
        self.warm_state = {k: v.detach().clone() for k, v in self.policy.model.state_dict().items()}
        self._torch = torch

    def fresh_policy(self):
        """A trainable copy of the warm-up policy."""
        policy = copy.copy(self.policy)
        policy.model = copy.deepcopy(self.policy.model)
        policy.model.load_state_dict(self.warm_state)
        return policy

    def environment(self):
        from insight_bayes.rlvr.environment import GRPOEnvironment

        reference = None
        if self.config.grpo.kl_coef > 0:
            reference = self.fresh_policy()
            reference.model.requires_grad_(False)
        return GRPOEnvironment(
            self.task,
            self.pool,
            self.test,
            self.fresh_policy(),
            self.config.grpo,
            self.config.eval,
            reference,
        )


def _pool_table(harness: _Harness, samples: int) -> pd.DataFrame:
    import pandas as pd

    env = harness.environment()
    rates = (
        env.pool_success_rates(samples, np.random.default_rng(12345))
        if samples
        else np.full(len(harness.pool), np.nan)
    )
    rows = []
    for i, p in enumerate(harness.pool):
        rows.append(
            {"prompt_id": i, "prompt_key": p.id, "prompt": p.prompt, "warmup_rate": rates[i]}
            | {f"feature_{k}": v for k, v in p.features.items()}
        )
    return pd.DataFrame(rows)


def _run_one(harness: _Harness, rule: str, seed: int, bar) -> tuple[pd.DataFrame, pd.DataFrame]:
    cfg = harness.config
    env = harness.environment()
    selector = make_selector(rule, **cfg.study.rule_params.get(rule, {}))
    loop = SelectionLoop(env, selector, cfg.loop, seed=seed, rule=rule)
    records = []
    for record in loop.iter_steps():
        records.append(record)
        if record.ids.size and bar is not None:
            bar.update(1)
    return records_to_frames(records)


def _write_run(out: Path, rule: str, seed: int, steps: pd.DataFrame, choices: pd.DataFrame):
    final = run_dir(out, rule, seed)
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    steps.to_parquet(tmp / "steps.parquet", index=False)
    choices.to_parquet(tmp / "choices.parquet", index=False)
    (tmp / "done.json").write_text(
        json.dumps({"rule": rule, "seed": seed, "steps": int(steps["step"].max())})
    )
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)


def gather(out: str | os.PathLike[str], config: StudyConfig) -> dict[str, pd.DataFrame]:
    """Read every finished run under ``out`` and write the study's tidy tables."""
    import pandas as pd

    from insight_bayes.rlvr.records import prompt_information, speedups, steps_to_target

    out = Path(out)
    steps_parts, choice_parts = [], []
    for rule in config.study.rules:
        for seed in config.study.seeds:
            if is_complete(out, rule, seed):
                d = run_dir(out, rule, seed)
                steps_parts.append(pd.read_parquet(d / "steps.parquet"))
                choice_parts.append(pd.read_parquet(d / "choices.parquet"))
    if not steps_parts:
        return {}
    steps = pd.concat(steps_parts, ignore_index=True)
    choices = pd.concat(choice_parts, ignore_index=True)
    pool = pd.read_parquet(out / "pool.parquet") if (out / "pool.parquet").exists() else None
    insight = config.study.rule_params.get("insight", {})
    prompts = prompt_information(
        choices,
        steps,
        config.loop.k,
        mu=insight.get("mu", 0.3),
        eta=insight.get("eta", 3.0),
        pool=pool.drop(columns=["prompt"]) if pool is not None else None,
    )
    tables = {"steps": steps, "choices": choices, "prompts": prompts}
    if config.study.metric in steps:
        stt = steps_to_target(steps, config.study.target, metric=config.study.metric)
        tables["steps_to_target"] = stt
        if config.study.baseline in set(stt["rule"]):
            tables["speedups"] = speedups(stt, config.study.baseline)
    for name, df in tables.items():
        _atomic_parquet(out / f"{name}.parquet", df)
    return tables


def run_study(
    config: StudyConfig,
    out: str | os.PathLike[str],
    *,
    device: str = "auto",
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> dict[str, pd.DataFrame]:
    """Run (or resume) every (rule, seed) of ``config`` and gather the tables under ``out``."""
    import torch
    from tqdm.auto import tqdm

    from insight_bayes import __version__

    device = resolve_device(device)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    if manifest_path.exists():
        old = json.loads(manifest_path.read_text())
        if old.get("config_digest") != config.digest():
            raise ValueError(
                f"{out} holds a study with a different config (digest "
                f"{old.get('config_digest')} != {config.digest()}); use another --out"
            )
    for stale in (out / "runs").glob("*.tmp") if (out / "runs").exists() else []:
        shutil.rmtree(stale, ignore_errors=True)

    started = time.time()
    harness = _Harness(config, device, Path(cache_dir) if cache_dir else None, progress)
    if not (out / "pool.parquet").exists():
        _atomic_parquet(out / "pool.parquet", _pool_table(harness, config.study.pool_rate_samples))
    manifest = {
        "config": config.raw,
        "config_digest": config.digest(),
        "package_version": __version__,
        "git_revision": _git_revision(),
        "device": device,
        "device_name": torch.cuda.get_device_name(0)
        if device == "cuda"
        else platform.processor() or platform.machine(),
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "warmup": harness.warmup_info,
        "parameters": sum(p.numel() for p in harness.policy.model.parameters()),
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "status": "running",
    }
    _atomic_json(manifest_path, manifest)

    # seed-major order: a study stopped early has every rule at the first seeds
    todo = [
        (rule, seed)
        for seed in config.study.seeds
        for rule in config.study.rules
        if not is_complete(out, rule, seed)
    ]
    log.info("%d of %d runs to do", len(todo), len(config.study.rules) * len(config.study.seeds))
    with tqdm(total=len(todo) * config.loop.steps, desc="rlvr-study", disable=not progress) as bar:
        for rule, seed in todo:
            bar.set_postfix_str(f"{rule} seed {seed}")
            t0 = time.perf_counter()
            steps, choices = _run_one(harness, rule, seed, bar)
            steps.insert(0, "run_seconds", time.perf_counter() - t0)
            _write_run(out, rule, seed, steps, choices)
    tables = gather(out, config)
    manifest.update(
        {
            "status": "complete",
            "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "runs": [f"{r}__seed{s}" for r in config.study.rules for s in config.study.seeds],
        }
    )
    _atomic_json(manifest_path, manifest)
    return tables


# ------------------------------------------------------------------ CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    from insight_bayes.cli_types import positive_int, toml_file

    parser.add_argument(
        "config", type=toml_file, help="study config (TOML), e.g. configs/rlvr/smoke.toml"
    )
    parser.add_argument("--out", required=True, help="output folder (resumable)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--model", default=None, help="local Hugging Face model folder")
    parser.add_argument("--cache-dir", default=None, help="warm-up cache (.cache/insight-bayes)")
    parser.add_argument(
        "--threads", type=positive_int, default=None, help="torch CPU threads, >= 1"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    import pandas as pd
    import torch

    config = load_config(args.config, model_path=args.model)
    if args.threads:
        torch.set_num_threads(args.threads)
    tables = run_study(
        config,
        args.out,
        device=args.device,
        cache_dir=args.cache_dir,
        progress=not args.no_progress,
    )
    if "speedups" in tables:
        with pd.option_context("display.width", 160, "display.max_columns", 20):
            print(tables["speedups"].round(3).to_string(index=False))
    print(f"results in {args.out}")
    return 0
