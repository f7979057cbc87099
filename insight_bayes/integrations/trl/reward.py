"""The reward wrapper: the verifier's rewards go to TRL unchanged and to the selector."""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from insight_bayes.integrations.online import OnlineSelector

__all__ = ["SelectorReward"]

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------- reward
class SelectorReward:
    """A TRL reward function that also reports each prompt's rewards to the selector.

    TRL calls reward functions with the completions of a generation batch and every
    dataset column as a keyword list; the rewards are returned unchanged, grouped by the
    ``id_column`` value and passed to :meth:`OnlineSelector.report` (binarised there).
    A group with a ``None`` reward (TRL's "no reward") is left out of the belief.

    Parameters
    ----------
    reward_func : callable
        ``reward_func(prompts=..., completions=..., **columns) -> list[float | None]``.
    selector : OnlineSelector
    id_column : str, default "prompt_id"
    is_training : callable, optional
        Returns False during evaluation, when rewards must not reach the belief
        (:class:`InSightGRPOTrainer` sets it to ``lambda: trainer.model.training``).
    """

    def __init__(
        self,
        reward_func: Callable[..., Sequence[float | None]],
        selector: OnlineSelector,
        *,
        id_column: str = "prompt_id",
        is_training: Callable[[], bool] | None = None,
    ) -> None:
        if not callable(reward_func) or isinstance(reward_func, (str, torch.nn.Module)):
            raise TypeError(
                "reward_func must be a Python reward function (a verifier), not a model id "
                f"or a reward model; got {reward_func!r}"
            )
        if inspect.iscoroutinefunction(reward_func):
            raise TypeError("async reward functions are not supported by SelectorReward")
        if not isinstance(selector, OnlineSelector):
            raise TypeError(f"selector must be an OnlineSelector, got {type(selector).__name__}")
        self.reward_func = reward_func
        self.selector = selector
        self.id_column = id_column
        self.is_training = is_training
        func = reward_func
        while hasattr(func, "func"):  # functools.partial
            func = func.func
        self.__name__ = getattr(func, "__name__", type(func).__name__)

    def __call__(self, prompts: list, completions: list, **kwargs: Any) -> list:
        rewards = self.reward_func(prompts=prompts, completions=completions, **kwargs)
        if self.is_training is not None and not self.is_training():
            return rewards
        if self.id_column not in kwargs:
            raise ValueError(
                f"the reward function got no {self.id_column!r} column; add it with "
                "add_prompt_ids(train_dataset)"
            )
        self._report(kwargs[self.id_column], list(rewards), kwargs.get("log_metric"))
        return rewards

    def _report(
        self, ids: Sequence[int], rewards: list, log_metric: Callable[[str, float], None] | None
    ) -> None:
        if len(ids) != len(rewards):
            raise ValueError(f"got {len(rewards)} rewards for {len(ids)} completions")
        groups: dict[int, list[float]] = {}
        incomplete: set[int] = set()
        for pid, value in zip(ids, rewards, strict=True):
            pid = int(pid)
            if value is None or not math.isfinite(float(value)):
                incomplete.add(pid)
            else:
                groups.setdefault(pid, []).append(float(value))
        if incomplete:
            log.warning(
                "%d prompt groups had a None reward; left out of the belief", len(incomplete)
            )
        by_size: dict[int, list[int]] = {}
        for pid, values in groups.items():
            if pid not in incomplete:
                by_size.setdefault(len(values), []).append(pid)
        lags: list[np.ndarray] = []
        for pids in by_size.values():
            summary = self.selector.report(
                np.asarray(pids, dtype=np.int64), np.asarray([groups[p] for p in pids])
            )
            lags.append(summary.lags)
        if log_metric is not None and lags:
            all_lags = np.concatenate(lags)
            if all_lags.size:
                log_metric("insight/lag", float(all_lags.mean()))
