"""``GRPOTrainer`` with its prompts chosen by an :class:`OnlineSelector`."""

from __future__ import annotations

import logging
from typing import Any

import datasets
import numpy as np
from torch.utils.data import Sampler
from transformers.trainer_utils import get_last_checkpoint
from trl import GRPOTrainer

from insight_bayes.integrations.online import OnlineSelector
from insight_bayes.integrations.trl.checkpoint import (
    SelectorCheckpointCallback,
    load_selector_checkpoint,
)
from insight_bayes.integrations.trl.data import (
    InSightSampler,
    check_prompt_ids,
)
from insight_bayes.integrations.trl.reward import SelectorReward

__all__ = ["InSightGRPOTrainer"]

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------- trainer
class InSightGRPOTrainer(GRPOTrainer):
    """``GRPOTrainer`` whose training prompts are chosen by an :class:`OnlineSelector`.

    Takes ``GRPOTrainer``'s arguments, plus:

    Parameters
    ----------
    selector : OnlineSelector
        Pool size = ``len(train_dataset)``; ``config.m = generation_batch_size //
        num_generations``; ``config.k = num_generations``.
    belief_reward : int, default 0
        Which of ``reward_funcs`` (a Python function) feeds the belief; the others
        shape the GRPO reward only.
    id_column : str, default "prompt_id"
        Dataset column holding each row's index (:func:`add_prompt_ids`).

    Resuming (``train(resume_from_checkpoint=...)``) restores the selector and, with
    ``args.ignore_data_skip=False`` (the default), continues exactly as the uninterrupted
    run would: same prompts, generations, rewards and belief (see
    :class:`~insight_bayes.integrations.trl.checkpoint.SelectorCheckpointCallback`).
    """

    def __init__(
        self,
        model: Any,
        reward_funcs: Any,
        args: Any = None,
        train_dataset: datasets.Dataset | None = None,
        *,
        selector: OnlineSelector,
        belief_reward: int = 0,
        id_column: str = "prompt_id",
        **kwargs: Any,
    ) -> None:
        if not isinstance(selector, OnlineSelector):
            raise TypeError(f"selector must be an OnlineSelector, got {type(selector).__name__}")
        funcs = list(reward_funcs) if isinstance(reward_funcs, (list, tuple)) else [reward_funcs]
        if not 0 <= belief_reward < len(funcs):
            raise ValueError(
                f"belief_reward must index reward_funcs (0..{len(funcs) - 1}), got {belief_reward}"
            )
        wrapper = SelectorReward(funcs[belief_reward], selector, id_column=id_column)
        funcs[belief_reward] = wrapper
        if not isinstance(train_dataset, datasets.Dataset):
            raise TypeError(
                "InSightGRPOTrainer needs a map-style datasets.Dataset as train_dataset (a "
                f"sampler cannot index an IterableDataset); got {type(train_dataset).__name__}"
            )
        check_prompt_ids(train_dataset, id_column)
        if len(train_dataset) != selector.pool_size:
            raise ValueError(
                f"the selector's pool has {selector.pool_size} prompts but train_dataset has "
                f"{len(train_dataset)} rows"
            )
        super().__init__(model, funcs, args, train_dataset, **kwargs)
        wrapper.is_training = lambda: self.model.training
        if self.accelerator.num_processes > 1:
            raise NotImplementedError(
                "InSightGRPOTrainer runs on one process only: with several, each process "
                "sees a share of every prompt group's rewards and the beliefs would diverge"
            )
        m = self.args.generation_batch_size // self.num_generations
        if selector.config.m != m:
            raise ValueError(
                f"generation_batch_size // num_generations = {self.args.generation_batch_size}"
                f" // {self.num_generations} = {m} prompts per generation batch, but the "
                f"selector's m is {selector.config.m}; make them equal"
            )
        if selector.config.k != self.num_generations:
            raise ValueError(
                f"the selector's k ({selector.config.k}) must equal num_generations "
                f"({self.num_generations})"
            )
        if self.args.dataloader_num_workers > 0:
            log.warning(
                "dataloader_num_workers=%d: the workers prefetch more batches, so selection "
                "lags the rewards by more than one chunk",
                self.args.dataloader_num_workers,
            )
        self.selector = selector
        self.selector_reward = wrapper
        self.selector_callback = SelectorCheckpointCallback(selector)
        self.add_callback(self.selector_callback)

    def _get_train_sampler(self, dataset: Any = None) -> Sampler:
        self.sampler = InSightSampler(
            self.selector,
            num_generations=self.num_generations,
            repeat_count=self.num_iterations * self.args.steps_per_generation,
        )
        return self.sampler

    @property
    def handed_out(self) -> list[np.ndarray]:
        """The prompt ids of every batch handed out by this trainer's sampler, in order.

        The last one or two may be prefetched and not trained yet (see the module notes).
        Each is also logged by the ``insight_bayes.integrations.trl`` logger at INFO level.
        """
        sampler = getattr(self, "sampler", None)
        return [] if sampler is None else list(sampler.handed_out)

    def train(self, resume_from_checkpoint: str | bool | None = None, **kwargs: Any) -> Any:
        """``Trainer.train``; on resume, the selector state is restored from the checkpoint."""
        if resume_from_checkpoint is True:
            path = get_last_checkpoint(self.args.output_dir)
        elif resume_from_checkpoint:
            path = str(resume_from_checkpoint)
        else:
            path = None
        if path is not None:
            self.selector_callback.restored_from = load_selector_checkpoint(self.selector, path)
        return super().train(resume_from_checkpoint=resume_from_checkpoint, **kwargs)
