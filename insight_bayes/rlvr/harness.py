"""The harness of a study: task, pool and test splits, the warm-up policy, environments.

:class:`Harness` is built once per process from a
:class:`~insight_bayes.rlvr.config.StudyConfig` (:func:`harness_for` memoises it, so a
worker process that runs several (rule, seed) runs warms up, or loads the cached
warm-up, once). Each run gets a fresh copy of the warm-up policy in a
:class:`~insight_bayes.rlvr.grpo_environment.GRPOEnvironment`.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from insight_bayes.rlvr.config import StudyConfig

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Harness",
    "harness_for",
    "pool_table",
    "resolve_device",
    "warmup_weights",
    "weights_sha256",
]


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


class Harness:
    """Task, splits and the warm-up policy of a study, built once.

    Parameters
    ----------
    config : StudyConfig
    device : {"cpu", "cuda"}
    cache_dir : path, optional
        Warm-up cache (default :func:`insight_bayes.rlvr.sft.default_cache_dir`).
    progress : bool
        Progress bar of the warm-up.
    replay : mapping, optional
        Warm-up key -> the step an earlier training of it stopped at (its check is not
        run again to get there; :func:`~insight_bayes.rlvr.sft.warm_up`).
    """

    def __init__(
        self,
        config: StudyConfig,
        device: str,
        cache_dir: str | os.PathLike[str] | None = None,
        progress: bool = False,
        replay: Mapping[str, int] | None = None,
    ) -> None:
        from insight_bayes.rlvr.model import ModelConfig
        from insight_bayes.rlvr.sft import warm_up
        from insight_bayes.rlvr.tasks import make_splits
        from insight_bayes.rlvr.tokenizer import CharTokenizer

        self.config = config
        self.device = device
        if device == "cpu":
            from insight_bayes.rlvr.allocator import keep_freed_memory

            keep_freed_memory()
        self.task = config.task.make_task()
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
                config.task.make_warmup_task(),
                model_config,
                config.warmup,
                cache_dir=cache_dir,
                device=device,
                progress=progress,
                replay=replay,
                **self._until(),
            )
        self.warm_state = {k: v.detach().clone() for k, v in self.policy.model.state_dict().items()}
        self.warmup_info["sha256"] = weights_sha256(self.warm_state)

    def _until(self) -> dict[str, Any]:
        """For a warm-up trained until the design's check passes (``warmup.check_every``):
        the check on the policy being trained, and its settings (the checkpoint's name)."""
        if not self.config.warmup.check_every:
            return {}
        from insight_bayes.rlvr.grpo_environment import GRPOEnvironment
        from insight_bayes.rlvr.warmup_check import warmup_check

        config = self.config
        grpo = dataclasses.replace(config.grpo, kl_coef=0.0)  # the check only samples

        def stop(policy) -> bool:
            env = GRPOEnvironment(self.task, self.pool, self.test, policy, grpo, config.eval)
            check = warmup_check(env, config, gate_after_tiers=True)
            return check["tiers_ok"] and check["gate_ok"]

        return {"stop": stop, "until": config.warmup_check_settings()}

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.policy.model.parameters())

    def fresh_policy(self):
        """A trainable copy of the warm-up policy."""
        policy = copy.copy(self.policy)
        policy.model = copy.deepcopy(self.policy.model)
        policy.model.load_state_dict(self.warm_state)
        return policy

    def environment(self):
        """A GRPO environment on a fresh copy of the warm-up policy."""
        from insight_bayes.rlvr.grpo_environment import GRPOEnvironment

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


def weights_sha256(state: dict) -> str:
    """SHA-256 of a state dict's tensors (names, shapes, dtypes and bytes, in name order):
    the identity of a warm-up, recorded so that a study never mixes runs of two."""
    import hashlib

    import torch

    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(tensor.view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


_HARNESSES: dict[tuple[str, str, str], Harness] = {}


def harness_for(
    config: StudyConfig,
    device: str,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = False,
    replay: Mapping[str, int] | None = None,
) -> Harness:
    """The :class:`Harness` of ``config`` in this process (built on first use; ``replay``:
    :func:`~insight_bayes.rlvr.sft.warm_up`'s, for a warm-up not yet trained or cached)."""
    key = (config.digest(), device, str(Path(cache_dir).resolve()) if cache_dir else "")
    if key not in _HARNESSES:
        _HARNESSES.clear()  # one study per process at a time: free the previous model
        _HARNESSES[key] = Harness(config, device, cache_dir, progress, replay)
    return _HARNESSES[key]


def warmup_weights(
    config: StudyConfig,
    draws: Sequence[int],
    device: str,
    cache_dir: str | os.PathLike[str] | None = None,
    previous: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """Each task draw's warm-up as a measurement's manifest records it, keyed by draw: its
    cache ``key``, the ``sha256`` of its weights (:func:`weights_sha256`), its final
    ``loss`` and the machine whose runs started from it (``device_name``).

    The identity of the warm-up the draw's runs started from: the same config trained on
    other CPU kernels or another GPU gives other weights under the same key (see the
    harness page), so a measurement is tied to its warm-ups by their sha256. ``draws``
    are the draws this call trained runs of (their harnesses are built again with the
    same cache, so the weights are the ones just used); ``previous`` (an earlier call's
    record) keeps the other draws' entries, and a draw in neither is not recorded: a
    warm-up built now for a draw whose runs were trained earlier might be another one.
    """
    from insight_bayes.rlvr.machine import device_name

    record = dict(previous or {})
    for d in draws:
        info = harness_for(config.draw_config(d), device, cache_dir).warmup_info
        record[str(d)] = {k: info.get(k) for k in ("key", "sha256", "loss")} | {
            "device_name": device_name(device)
        }
    return record


def pool_table(harness: Harness, samples: int) -> pd.DataFrame:
    """The pool's prompts with their features and the warm-up policy's success rates."""
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
