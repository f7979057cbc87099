"""The sections of a study config that shape one training run: ``[task]``, ``[model]``,
``[warmup]``, ``[grpo]`` and ``[eval]`` (no torch, no pandas).

Each is a frozen dataclass that validates itself on construction (``__post_init__``), so
a bad value fails with a ``ValueError`` naming its field before any training.
:class:`~insight_bayes.rlvr.config.StudyConfig` holds one of each, with the
``[loop]``, ``[study]``, ``[gate]`` and ``[design]`` sections, and
:func:`~insight_bayes.rlvr.config.load_config` reads them from the TOML.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from insight_bayes.validation import check_int, check_real

__all__ = ["EvalConfig", "GRPOConfig", "ModelSection", "TaskSection", "WarmupConfig"]


@dataclass(frozen=True)
class TaskSection:
    """``[task]``: which task, its parameters, pool and test sizes, data seed.

    Attributes
    ----------
    name : str
        A registered task (:func:`insight_bayes.rlvr.tasks.available_tasks`).
    params : dict
        Keyword arguments of the task (e.g. ``max_digits``).
    pool_size, test_size : int
        Training prompts (>= 1) and held-out problems (>= 0), disjoint.
    seed : int
        Seed of the pool and test draws.
    warmup_params : dict, optional
        The warm-up's own task parameters (same task), e.g. easy tiers only
        (``{max_digits = 4, frame_digits = 6}`` for a 1-6 digit pool): the warm-up then
        leaves a capability frontier for RL to cross. Default: ``params``.
    """

    name: str = "addition"
    params: dict[str, Any] = field(default_factory=dict)
    pool_size: int = 256
    test_size: int = 128
    seed: int = 0
    warmup_params: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        from insight_bayes.rlvr.tasks import available_tasks

        if self.name not in available_tasks():
            raise ValueError(
                f"task.name: unknown task {self.name!r}; available: {', '.join(available_tasks())}"
            )
        for name, low in (("pool_size", 1), ("test_size", 0), ("seed", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"task.{name} must be an integer >= {low}, got {value!r}")
        try:
            self.make_task()
        except (TypeError, ValueError) as err:
            raise ValueError(f"task.params: {err}") from None
        if self.warmup_params is not None:
            try:
                warm = self.make_warmup_task()
            except (TypeError, ValueError) as err:
                raise ValueError(f"task.warmup_params: {err}") from None
            pool = self.make_task()
            if warm.alphabet != pool.alphabet or (
                warm.max_prompt_chars > pool.max_prompt_chars
                or warm.max_answer_chars > pool.max_answer_chars
            ):
                raise ValueError(
                    "task.warmup_params must describe the pool's task in its own format (same "
                    "alphabet, prompts and answers no longer than the pool's); e.g. fewer digits "
                    "in the same frame: {max_digits = 4, frame_digits = 6}"
                )

    def make_task(self):
        """The task object (a :class:`~insight_bayes.rlvr.tasks.Task`)."""
        from insight_bayes.rlvr.tasks import make_task

        return make_task(self.name, **self.params)

    def make_warmup_task(self):
        """The warm-up's task: ``warmup_params`` when given, else the pool's."""
        from insight_bayes.rlvr.tasks import make_task

        return make_task(
            self.name, **(self.params if self.warmup_params is None else self.warmup_params)
        )


@dataclass(frozen=True)
class ModelSection:
    """``[model]``: the TinyLM shape, or ``path`` of a local Hugging Face model.

    Attributes
    ----------
    n_layer, n_head, d_model : int
        Transformer depth, heads and width (``d_model`` divisible by ``n_head``).
    block_size : int, optional
        Context length; default: the longest prompt plus the completion budget.
    path : str, optional
        A local Hugging Face model folder used instead of a TinyLM (no warm-up).
    """

    n_layer: int = 4
    n_head: int = 4
    d_model: int = 128
    block_size: int | None = None
    path: str | None = None

    def __post_init__(self) -> None:
        check_int(self.n_layer, "model.n_layer", min_value=1)
        check_int(self.n_head, "model.n_head", min_value=1)
        check_int(self.d_model, "model.d_model", min_value=1)
        if self.d_model % self.n_head:
            raise ValueError(
                f"model.d_model={self.d_model} must be divisible by model.n_head={self.n_head}"
            )
        if self.block_size is not None:
            check_int(self.block_size, "model.block_size", min_value=2)
        if self.path is not None and not Path(self.path).is_dir():
            raise ValueError(f"model.path: no model directory at {self.path!r}")


@dataclass(frozen=True)
class WarmupConfig:
    """Supervised warm-up settings.

    Attributes
    ----------
    steps : int
        AdamW steps (the fixed stopping point).
    batch_size : int
        Problems per step (fresh problems each step, drawn from ``seed``).
    lr : float
        Peak learning rate (linear ramp over the first 10% of steps, then linear decay
        to 10% of the peak at the last step, so the stopping point is not a noisy iterate).
    weight_decay : float
        AdamW weight decay.
    seed : int
        Seed of the weights' initialisation and of the training problems.
    check_every : int
        0 (default): train exactly ``steps`` steps. Otherwise train *until* the design's
        warm-up check passes (:func:`insight_bayes.rlvr.warmup_check.warmup_check`: the
        ``[design]`` tiers reach ``min_tier_success`` and the ``[gate]`` is in band),
        measured every ``check_every`` steps, or ``steps`` steps at most. The learning
        rate follows the schedule of ``steps``, so a warm-up stopped early is that
        schedule's iterate; each task draw stops at its own check.
    """

    steps: int = 300
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 0.01
    seed: int = 0
    check_every: int = 0

    def __post_init__(self) -> None:
        check_int(self.steps, "steps", min_value=0)
        check_int(self.batch_size, "batch_size", min_value=1)
        check_real(self.lr, "lr", low=0.0, low_inclusive=False)
        check_real(self.weight_decay, "weight_decay", low=0.0)
        check_int(self.seed, "seed", min_value=0)
        check_int(self.check_every, "check_every", min_value=0)
        if self.check_every > max(self.steps, 1):
            raise ValueError(
                f"warmup.check_every={self.check_every} exceeds warmup.steps={self.steps}"
            )

    def key_fields(self) -> dict[str, int | float]:
        """The settings that name a warm-up checkpoint (``check_every`` only when set, so
        the fixed-length warm-ups keep the names they had before it existed)."""
        fields = asdict(self)
        if not self.check_every:
            fields.pop("check_every")
        return fields


@dataclass(frozen=True)
class GRPOConfig:
    """GRPO settings.

    Attributes
    ----------
    lr : float
        AdamW learning rate (after the warm-up ramp).
    lr_warmup_steps : int
        Steps of a linear ramp of the learning rate from ``lr / lr_warmup_steps`` to
        ``lr`` (0: none). Adam's first steps move every weight by about ``lr``
        whatever its gradient, which can knock a small warmed-up model off its policy.
    weight_decay : float
        AdamW decoupled weight decay.
    clip_eps : float
        PPO clip range ``e`` of the policy ratio.
    kl_coef : float
        Weight ``beta`` of the KL term to the warm-up (reference) policy; 0 turns it off
        and no reference model is kept.
    max_grad_norm : float
        Global gradient-norm clip.
    updates_per_step : int
        Optimiser steps on each batch of rollouts (1: the ratio is 1 at the update and
        the clip never binds, the on-policy case of the paper).
    temperature : float
        Sampling temperature of the rollouts (1.0 in the paper).
    max_new_tokens : int
        Longest completion sampled.
    adv_eps : float
        ``eps`` of the advantage normalisation.
    advantage_reward : {"shaped", "binary"}
        What the group advantage is computed from: the task's shaped rewards (1 / 0.1 /
        0: a group of wrong answers that differ in format still carries an advantage),
        or binary correctness only. Informative shares and Dynamic Sampling are binary
        either way.
    """

    lr: float = 1e-4
    lr_warmup_steps: int = 0
    weight_decay: float = 0.0
    clip_eps: float = 0.2
    kl_coef: float = 0.0
    max_grad_norm: float = 1.0
    updates_per_step: int = 1
    temperature: float = 1.0
    max_new_tokens: int = 16
    adv_eps: float = 1e-6
    advantage_reward: str = "shaped"

    def __post_init__(self) -> None:
        check_real(self.lr, "lr", low=0.0, low_inclusive=False)
        check_int(self.lr_warmup_steps, "lr_warmup_steps", min_value=0)
        check_real(self.weight_decay, "weight_decay", low=0.0)
        check_real(self.clip_eps, "clip_eps", low=0.0, low_inclusive=False)
        check_real(self.kl_coef, "kl_coef", low=0.0)
        check_real(self.max_grad_norm, "max_grad_norm", low=0.0, low_inclusive=False)
        check_int(self.updates_per_step, "updates_per_step", min_value=1)
        check_real(self.temperature, "temperature", low=0.0, low_inclusive=False)
        check_int(self.max_new_tokens, "max_new_tokens", min_value=1)
        check_real(self.adv_eps, "adv_eps", low=0.0, low_inclusive=False)
        if self.advantage_reward not in ("shaped", "binary"):
            raise ValueError(
                f"advantage_reward must be 'shaped' or 'binary', got {self.advantage_reward!r}"
            )


@dataclass(frozen=True)
class EvalConfig:
    """Held-out evaluation settings.

    Attributes
    ----------
    samples : int
        Sampled completions per test problem; ``eval/pass1`` is their mean success.
    temperature : float
        Sampling temperature of the evaluation (the rollout temperature by default 1.0).
    logprob_problems : int
        Test problems whose reference solutions' mean log-probability per token
        (``eval/answer_logprob``) is measured after every step (cheap, deterministic;
        it gives each step's own held-out gain). 0 turns it off.
    batch_size : int
        Largest generation batch (rows) in evaluation and rollouts.
    """

    samples: int = 4
    temperature: float = 1.0
    logprob_problems: int = 64
    batch_size: int = 1024

    def __post_init__(self) -> None:
        check_int(self.samples, "samples", min_value=1)
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature!r}")
        check_int(self.logprob_problems, "logprob_problems", min_value=0)
        check_int(self.batch_size, "batch_size", min_value=1)
