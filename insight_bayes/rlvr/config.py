"""The harness's configuration: one frozen, validated dataclass per section (no torch).

A study's TOML (``configs/rlvr/*.toml``) has the sections ``[task]``, ``[model]``,
``[warmup]``, ``[grpo]``, ``[loop]``, ``[eval]``, ``[study]``, ``[gate]`` (the pool gate,
:mod:`insight_bayes.rlvr.gate`) and ``[design]`` (checks before any rule runs,
:mod:`insight_bayes.rlvr.design`); :func:`load_config`
reads it into a :class:`StudyConfig`. Every section validates itself on construction
(``__post_init__``) and :class:`StudyConfig` checks what spans sections (``loop.k >= 2``
for a group advantage, ``loop.m`` against the pool), so a bad config fails before any
training with a ``ValueError`` that names the field. Rules are labels in the package's
one syntax, ``"name"`` or ``"name:param=value,..."`` (``"insight:mu=0.1"``; see
:func:`insight_bayes.selectors.parse_rule_label`).

This module imports neither torch nor pandas: ``insight-bayes rlvr-study --help`` and a
config check stay light.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from insight_bayes.loop import LoopConfig
from insight_bayes.rlvr.design_settings import DesignSettings
from insight_bayes.rlvr.gate import GateSettings
from insight_bayes.rlvr.run_sections import (
    EvalConfig,
    GRPOConfig,
    ModelSection,
    TaskSection,
    WarmupConfig,
)
from insight_bayes.selectors import parse_rule_label, selector_from_label
from insight_bayes.validation import check_int, check_real

__all__ = ["StudyConfig", "StudySection", "load_config"]

SECTIONS = ("task", "model", "warmup", "grpo", "loop", "eval", "study", "gate", "design")


@dataclass(frozen=True)
class StudySection:
    """``[study]``: rules, seeds, the target of steps-to-target, and extras.

    Attributes
    ----------
    rules : tuple of str
        Rule labels, ``"name"`` or ``"name:param=value,..."`` (distinct).
    seeds : tuple of int
        Seeds; every rule runs at every seed (paired: same warm-up, same pool).
    target : float
        Threshold on ``metric`` of steps-to-target.
    metric : str
        Held-out metric of steps-to-target (``eval/pass1``).
    baseline : str
        Reference rule label of the speed-ups.
    pool_rate_samples : int
        Samples per pool prompt of the warm-up policy's success rates (0: skip).
    target_fractions : tuple of float
        Relative targets for the speed-up curve: the step-0 value of ``metric`` plus
        each fraction (in (0, 1]) of the baseline's mean final gain, so that no target is
        met at step 0 (:func:`insight_bayes.results.relative_targets`). Empty: only
        ``target``.
    draws : tuple of int
        Task draws (distinct, >= 0; default ``(0,)``). Draw ``d`` is the study with
        ``task.seed`` and ``warmup.seed`` each raised by ``d`` (its own pool, test set
        and warm-up; :meth:`StudyConfig.draw_config`); a study of draws other than
        ``(0,)`` keeps one study folder per draw.
    """

    rules: tuple[str, ...] = ("random", "mopps", "expected-difficulty", "insight")
    seeds: tuple[int, ...] = (0, 1, 2)
    target: float = 0.5
    metric: str = "eval/pass1"
    baseline: str = "random"
    pool_rate_samples: int = 16
    target_fractions: tuple[float, ...] = ()
    draws: tuple[int, ...] = (0,)

    def __post_init__(self) -> None:
        object.__setattr__(self, "target_fractions", tuple(self.target_fractions))
        if not isinstance(self.draws, list | tuple):
            raise ValueError(f"study.draws must be a list of integers, got {self.draws!r}")
        object.__setattr__(self, "draws", tuple(self.draws))
        if not self.draws or any(
            not isinstance(d, int) or isinstance(d, bool) or d < 0 for d in self.draws
        ):
            raise ValueError(
                f"study.draws must be a non-empty list of non-negative integers, got "
                f"{list(self.draws)}"
            )
        if len(set(self.draws)) != len(self.draws):
            raise ValueError(f"study.draws has duplicates: {list(self.draws)}")
        for fraction in self.target_fractions:
            check_real(fraction, "study.target_fractions", low=0.0, high=1.0, low_inclusive=False)
        object.__setattr__(self, "rules", tuple(self.rules))
        object.__setattr__(self, "seeds", tuple(self.seeds))
        if not self.rules:
            raise ValueError("study.rules must name at least one rule")
        for label in self.rules:
            try:
                rule = selector_from_label(label)
            except (TypeError, ValueError) as err:
                raise ValueError(f"study.rules: {label!r}: {err}") from None
            if rule.privileged:
                raise ValueError(
                    f"study.rules: {label!r} is privileged (it reads true success rates, "
                    "which real training does not have); it is a simulator ceiling only"
                )
        if len(set(self.rules)) != len(self.rules):
            raise ValueError(f"study.rules has duplicates: {list(self.rules)}")
        if not self.seeds or any(
            not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in self.seeds
        ):
            raise ValueError(f"study.seeds must be non-negative integers, got {list(self.seeds)}")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"study.seeds has duplicates: {list(self.seeds)}")
        check_real(self.target, "study.target")
        if not isinstance(self.metric, str) or "/" not in self.metric:
            raise ValueError(
                f"study.metric must be a metric name like 'eval/pass1', got {self.metric!r}"
            )
        try:
            baseline = selector_from_label(self.baseline)
        except (TypeError, ValueError) as err:
            raise ValueError(f"study.baseline: {err}") from None
        if baseline.privileged:
            raise ValueError(f"study.baseline: {self.baseline!r} is privileged (simulators only)")
        check_int(self.pool_rate_samples, "study.pool_rate_samples", min_value=0)

    def rule_params(self, name: str) -> dict[str, Any]:
        """Parameters of the first rule labelled ``name`` (``{}`` when absent)."""
        for label in self.rules:
            rule, params = parse_rule_label(label)
            if rule == name:
                return params
        return {}


@dataclass(frozen=True)
class StudyConfig:
    """A whole study, validated (see :func:`load_config`).

    ``raw`` is the parsed TOML as given (written into the manifest; its digest keys the
    results folder).
    """

    task: TaskSection
    model: ModelSection
    warmup: WarmupConfig
    grpo: GRPOConfig
    loop: LoopConfig
    eval: EvalConfig
    study: StudySection
    gate: GateSettings = field(default_factory=GateSettings)
    raw: dict[str, Any] = field(default_factory=dict)
    design: DesignSettings = field(default_factory=DesignSettings)

    def __post_init__(self) -> None:
        if self.loop.k < 2:
            raise ValueError(
                f"loop.k must be >= 2 for GRPO (a group advantage needs two rollouts), "
                f"got {self.loop.k}"
            )
        if self.loop.m > self.task.pool_size:
            raise ValueError(
                f"loop.m={self.loop.m} prompts per step exceeds "
                f"task.pool_size={self.task.pool_size}"
            )

    @property
    def multi_draw(self) -> bool:
        """Whether the study spans task draws other than ``(0,)`` (one folder per draw)."""
        return self.study.draws != (0,)

    def draw_config(self, draw: int) -> StudyConfig:
        """The ordinary single-draw study of task draw ``draw``.

        Its ``raw`` is this config's with ``study.draws`` removed, ``task.seed`` and
        ``warmup.seed`` raised by ``draw`` (the seeds given, or their defaults), so its
        digest is that of a TOML file edited the same way by hand.
        """
        check_int(draw, "draw", min_value=0)
        raw = copy.deepcopy(self.raw)
        raw.setdefault("study", {}).pop("draws", None)
        raw.setdefault("task", {})["seed"] = self.task.seed + draw
        raw.setdefault("warmup", {})["seed"] = self.warmup.seed + draw
        return load_config(raw)

    def digest(self) -> str:
        """Hash of everything that shapes a run (a resumed study must have the same).

        ``study.rules``, ``study.seeds``, ``study.draws``, the summary settings
        (``target``, ``metric``, ``baseline``, ``target_fractions``), ``[gate]`` and
        ``[design]`` are left out, so a study can be extended with more seeds, rules or
        draws and keep its finished runs; the settings of the warm-up's check stay in when
        the warm-up trains until it passes (``warmup.check_every``).
        """
        raw = copy.deepcopy(self.raw)
        for key in (
            "rules", "seeds", "draws", "target", "metric", "baseline", "target_fractions"
        ):  # fmt: skip
            raw.get("study", {}).pop(key, None)
        raw.pop("gate", None)  # the gate decides whether to start, not how a run goes
        raw.pop("design", None)  # so do the design checks (what they keep is in the raw)
        if self.warmup.check_every:  # ... unless the warm-up trains until the check passes
            raw["warmup_until"] = self.warmup_check_settings()
        return hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()[:16]

    def warmup_check_settings(self) -> dict[str, Any]:
        """The settings the warm-up check reads, as JSON.

        They name a warm-up trained until :func:`insight_bayes.rlvr.warmup_check.warmup_check`
        passes, in its checkpoint's key and in this config's digest.
        """
        return {
            "tiers": list(self.design.tiers),
            "min_tier_success": self.design.min_tier_success,
            "tier_samples": self.design.tier_samples,
            # what gate_pool reads (``enforce`` decides whether a study stops, not the check)
            "gate": {k: v for k, v in dataclasses.asdict(self.gate).items() if k != "enforce"},
            "k": self.loop.k,
        }

    @property
    def key(self) -> str:
        """The study's key in its results folder: ``rlvr-<task>@<digest>``."""
        return f"rlvr-{self.task.name}@{self.digest()}"


def _section(raw: dict[str, Any], name: str, cls: type, **defaults: Any) -> Any:
    values = dict(raw.get(name, {}))
    allowed = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ValueError(f"[{name}] has unknown field(s) {unknown}; allowed: {sorted(allowed)}")
    for key, value in defaults.items():
        values.setdefault(key, value)
    try:
        return cls(**values)
    except (TypeError, ValueError) as err:
        text = str(err)
        if text.startswith((f"{name}.", f"{name}_")):
            raise ValueError(text) from None
        raise ValueError(f"[{name}] {text}") from None


def load_config(
    source: str | os.PathLike[str] | dict[str, Any], *, model_path: str | None = None
) -> StudyConfig:
    """Read and validate a study config (a TOML path or an already-parsed dict).

    Everything is checked before any training: unknown sections or fields, the task
    name and parameters, the model path, ``loop.k >= 2``, ``loop.m`` against the pool
    size, the rule labels and their parameters. Each error is a ``ValueError`` naming
    the field (``loop.k``, ``task.name``, ``study.rules`` ...). ``study.rule_params`` of
    older configs is refused: parameters go into the labels (``"insight:mu=0.1"``).
    """
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
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ValueError(f"unknown config section(s) {unknown}; allowed: {list(SECTIONS)}")
    if "rule_params" in raw.get("study", {}):
        example = ", ".join(
            f'"{rule}:' + ",".join(f"{k}={v}" for k, v in params.items()) + '"'
            for rule, params in dict(raw["study"]["rule_params"]).items()
        )
        raise ValueError(
            "study.rule_params is no longer supported: give rule parameters in the rule "
            f"labels of study.rules, e.g. {example or chr(34) + 'insight:mu=0.1' + chr(34)}"
        )
    task = _section(raw, "task", TaskSection)
    max_new_tokens = task.make_task().max_answer_chars + 1
    return StudyConfig(
        task=task,
        model=_section(raw, "model", ModelSection),
        warmup=_section(raw, "warmup", WarmupConfig),
        grpo=_section(raw, "grpo", GRPOConfig, max_new_tokens=max_new_tokens),
        loop=_section(raw, "loop", LoopConfig),
        eval=_section(raw, "eval", EvalConfig),
        study=_section(raw, "study", StudySection),
        gate=_section(raw, "gate", GateSettings),
        raw=raw,
        design=_section(raw, "design", DesignSettings),
    )
