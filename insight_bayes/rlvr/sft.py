"""Supervised warm-up on generated solutions, cached on disk by a hash of its settings.

The warm-up trains a fresh :class:`~insight_bayes.rlvr.model.TinyLM` for a fixed number
of steps on ``prompt -> solution`` pairs drawn from the task, and stops early on
purpose: the policy that GRPO starts from should solve some prompts, fail others and
sit in between on many (a spread of success rates is what makes selection matter).

The checkpoint lives in ``<cache_dir>/warmup/<hash>/`` where ``hash`` covers the task,
the model shape and these settings (seed included), so every rule and seed of a study
starts from the same weights and the second call loads instead of training.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import pickle
import shutil
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from insight_bayes.rlvr.grpo import build_batch
from insight_bayes.rlvr.machine import device_name
from insight_bayes.rlvr.model import ModelConfig, TinyLM
from insight_bayes.rlvr.policy import CharPolicy
from insight_bayes.rlvr.run_sections import WarmupConfig
from insight_bayes.rlvr.tasks.base import Task
from insight_bayes.rlvr.tokenizer import CharTokenizer
from insight_bayes.validation import SavedFileError, check_int, read_json_file

__all__ = ["WarmupConfig", "default_cache_dir", "warmup_key", "warm_up"]

log = logging.getLogger(__name__)

_FORMAT_VERSION = 1


def default_cache_dir() -> Path:
    """``$INSIGHT_BAYES_CACHE`` or ``.cache/insight-bayes`` under the working directory."""
    return Path(os.environ.get("INSIGHT_BAYES_CACHE", Path(".cache") / "insight-bayes"))


def _task_description(task: Task) -> dict[str, Any]:
    params = asdict(task) if hasattr(task, "__dataclass_fields__") else {}
    return {"name": task.name, **params}


def warmup_key(
    task: Task,
    model_config: ModelConfig,
    config: WarmupConfig,
    until: dict[str, Any] | None = None,
) -> str:
    """16 hex digits of a SHA-256 of the task, model shape, warm-up settings and format
    (and, for a warm-up trained until a check passes, that check's settings ``until``)."""
    payload = {
        "version": _FORMAT_VERSION,
        "task": _task_description(task),
        "model": model_config.to_dict(),
        "warmup": config.key_fields(),
    }
    if config.check_every:
        payload["until"] = until
    text = json.dumps(payload, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def warm_up(
    task: Task,
    model_config: ModelConfig,
    config: WarmupConfig,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    device: str | torch.device = "cpu",
    progress: bool = True,
    stop: Callable[[CharPolicy], bool] | None = None,
    until: dict[str, Any] | None = None,
    replay: Mapping[str, int] | None = None,
) -> tuple[CharPolicy, dict[str, Any]]:
    """Return the warmed-up policy, training it only if its checkpoint is not cached.

    Parameters
    ----------
    stop : callable, optional
        Required when ``config.check_every > 0``: called with the policy (in eval mode)
        every ``check_every`` steps; training stops at the first True.
    until : dict, optional
        The settings of ``stop``'s check (JSON): part of the checkpoint's name.
    replay : mapping, optional
        Warm-up key -> the step at which an earlier training of that warm-up (on another
        machine, say) stopped at its first passing check. A warm-up trained until a check
        passes whose key is here is trained to that step without running the checks: the
        checks do not touch the training's data, weights or random numbers, so the
        weights are those of the first training wherever the kernels reproduce them
        (which the study verifies by their sha256). ``replayed`` in the record says so.

    Returns
    -------
    policy : CharPolicy
        The model (in eval mode, on ``device``) with its tokenizer.
    info : dict
        ``key``, ``path``, ``cached`` (True when loaded), ``seconds``, the final
        ``loss`` and ``device_name`` (the machine that trained it,
        :func:`~insight_bayes.rlvr.machine.device_name`; a cached warm-up loaded on
        another machine logs a warning, since that machine would train other weights) of
        the warm-up; ``steps_trained`` and ``reached`` (whether ``stop``
        said so before ``config.steps``) for a warm-up trained until a check passes.
    """
    if config.check_every and stop is None:
        raise ValueError("warmup.check_every > 0 needs the check to stop on (stop=...)")
    tokenizer = CharTokenizer(task.alphabet)
    if model_config.vocab_size != tokenizer.vocab_size:
        raise ValueError(
            f"model vocab_size={model_config.vocab_size} must equal the tokenizer's "
            f"{tokenizer.vocab_size} for task {task.name!r}"
        )
    key = warmup_key(task, model_config, config, until)
    folder = Path(cache_dir if cache_dir is not None else default_cache_dir()) / "warmup" / key
    weights = folder / "model.pt"
    meta_path = folder / "warmup.json"
    with torch.random.fork_rng(devices=[]):  # seeded initialisation, global state restored
        torch.manual_seed(config.seed)
        model = TinyLM(model_config)
    if meta_path.exists() and weights.exists():
        advice = f"delete {folder} to run the warm-up again"
        meta = read_json_file(meta_path, f"the warm-up's record ({advice})")
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            model.load_state_dict(state)
        except (RuntimeError, EOFError, OSError, pickle.UnpicklingError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else ""
            raise SavedFileError(
                f"{weights} is not the warm-up's weights for this model ({type(err).__name__}:"
                f" {first}); {advice}"
            ) from err
        log.info("loaded warm-up %s from %s", key, folder)
        here = device_name(torch.device(device).type)
        if meta.get("device_name") and meta["device_name"] != here:
            log.warning(
                "warm-up %s was trained on %s and is loaded on %s: the same config trained "
                "here would give other weights (results record the loaded ones by their "
                "sha256)", key, meta["device_name"], here,
            )  # fmt: skip
        model.to(device).eval()
        return CharPolicy(model, tokenizer), {**meta, "path": str(folder), "cached": True}

    started = time.perf_counter()
    model.to(device)
    policy = CharPolicy(model, tokenizer)
    cuda = torch.device(device).type == "cuda"
    replayed = bool(config.check_every and replay and key in replay)
    with _deterministic(cuda) as nondeterministic:
        if replayed:
            steps = check_int(replay[key], "replayed steps", min_value=1, max_value=config.steps)
            log.info("warm-up %s: trained to step %d, where it first passed its check", key, steps)
            loss, trained, _ = _train(policy, task, config, device, progress, max_steps=steps)
            reached = True
        else:
            loss, trained, reached = _train(policy, task, config, device, progress, stop)
    seconds = time.perf_counter() - started
    model.eval()
    meta = {
        "key": key,
        "task": _task_description(task),
        "model": model_config.to_dict(),
        "warmup": asdict(config),
        **({"until": until, "steps_trained": trained, "reached": reached} if stop else {}),
        **({"replayed": True} if replayed else {}),
        "parameters": model.num_parameters(),
        "loss": loss,
        "seconds": seconds,
        "device": str(device),
        "device_name": device_name(torch.device(device).type),
        **({"nondeterministic_kernels": nondeterministic} if cuda else {}),
    }
    tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, tmp / "model.pt")
    (tmp / "warmup.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
    if folder.exists():  # another process finished first: keep its copy
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        os.replace(tmp, folder)
    log.info("warm-up %s trained in %.1f s (loss %.3f)", key, seconds, loss)
    return policy, {**meta, "path": str(folder), "cached": False}


@contextlib.contextmanager
def _deterministic(on: bool) -> Iterator[list[str]]:
    """PyTorch's deterministic kernels and its plain ("math") attention kernel while the
    warm-up trains on CUDA, so that a second device call re-trains the same weights, which
    a resumed study checks by their sha256. The embedding's backward pass, for one, adds
    with atomics otherwise; the memory-efficient attention kernel's backward pass splits
    the keys and stays non-deterministic in warn-only mode, hence the math kernel.

    Yields a list that receives, on exit, the warnings of kernels without a
    deterministic version that still ran (warn-only: they do not stop the warm-up; the
    warm-up's record keeps them). CPU kernels are deterministic already (``on=False``:
    nothing changes).
    """
    found: list[str] = []
    if not on:
        yield found
        return
    from torch.nn.attention import SDPBackend, sdpa_kernel

    before = (torch.are_deterministic_algorithms_enabled(),
              torch.is_deterministic_algorithms_warn_only_enabled())  # fmt: skip
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        with sdpa_kernel(SDPBackend.MATH), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield found
        for w in caught:
            text = str(w.message)
            if "deterministic" in text:
                first = text.strip().splitlines()[0]
                if first not in found:
                    found.append(first)
            else:  # not ours to keep: shown as it would have been
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])


def _train(
    policy: CharPolicy,
    task: Task,
    config: WarmupConfig,
    device: str | torch.device,
    progress: bool,
    stop: Callable[[CharPolicy], bool] | None = None,
    max_steps: int | None = None,
) -> tuple[float, int, bool]:
    """Train ``policy`` (``max_steps`` of the schedule's ``config.steps`` at most); the
    last loss, the steps trained and whether ``stop`` fired."""
    rng = np.random.default_rng(config.seed)
    model = policy.model
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    ramp = max(1, config.steps // 10)
    steps = max(config.steps, 1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / ramp) * max(0.1, 1.0 - 0.9 * s / steps)
    )
    model.train()
    loss_value = float("nan")
    every = config.check_every if stop is not None else 0
    last = config.steps if max_steps is None else min(max_steps, config.steps)
    for step in tqdm(range(last), desc="warm-up", disable=not progress, leave=False):
        problems = [task.sample(rng) for _ in range(config.batch_size)]
        batch = build_batch(
            [policy.prompt_ids(p.prompt) for p in problems],
            [policy.completion_ids(p.solution) for p in problems],
            policy.pad_id,
            device,
        )
        logp = policy.logprobs(batch.tokens, batch.valid)
        mask = batch.completion.to(logp.dtype)
        loss = -(logp * mask).sum() / mask.sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        loss_value = float(loss.detach())
        if every and (step + 1) % every == 0:
            model.eval()
            reached = bool(stop(policy))
            model.train()
            if reached:
                return loss_value, step + 1, True
    return loss_value, last, False
