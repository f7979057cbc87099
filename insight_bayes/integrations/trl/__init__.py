"""TRL's ``GRPOTrainer`` with its training prompts chosen by InSight (or any registered rule).

Usage (``args`` a ``GRPOConfig``; ``examples/trl_grpo.py`` runs it on a tiny model)::

    dataset = add_prompt_ids(dataset)        # a "prompt_id" column = row index
    m = args.generation_batch_size // args.num_generations   # prompts per generation batch
    config = OnlineConfig(m=m, k=args.num_generations, reward_threshold=1.0)
    selector = OnlineSelector(len(dataset), "insight", config, seed=0)
    trainer = InSightGRPOTrainer(
        model, [verifier], args, dataset, selector=selector, processing_class=tokenizer
    )
    trainer.train()                          # or train(resume_from_checkpoint=True)
    trainer.handed_out                       # the prompt ids of every batch handed out

Three pieces, usable on their own in a custom ``GRPOTrainer`` subclass:

- :class:`InSightSampler` replaces TRL's ``RepeatSampler`` (``_get_train_sampler``) and
  keeps its grouping contract: each generation batch is one chunk of ``M =
  generation_batch_size // num_generations`` prompts, each prompt repeated
  ``num_generations`` times, the chunk repeated ``num_iterations * steps_per_generation``
  times. The chunk is asked of the :class:`OnlineSelector` when the data loader reaches
  it, so it sees every reward that arrived before.
- :class:`SelectorReward` wraps one reward function (the verifier): its rewards go to
  TRL unchanged and, grouped by the ``prompt_id`` column, to :meth:`OnlineSelector.report`.
- :class:`SelectorCheckpointCallback` writes the selector state into every checkpoint
  folder (``insight_selector.json``) and restores it on resume.

Prefetch lag
------------
The data loader TRL gets from Accelerate (``DataLoaderShard``) fetches one batch ahead,
and the ``Trainer`` fetches all ``gradient_accumulation_steps`` batches of an optimizer
step before training on them. With ``num_iterations == 1`` the chunk of generation batch
``t + 1`` is therefore chosen *before* the rewards of chunk ``t`` exist: selection runs
one chunk behind the rewards (lag 1), measured in ``tests/test_integrations_trl.py``.
The chunk pending meanwhile is excluded from the candidates
(``OnlineConfig.exclude_pending``), so a rule does not pick the same prompts twice.
With ``num_iterations >= 2`` the lag is 0. ``dataloader_num_workers > 0`` adds the
workers' prefetch on top (not measured here).

Supported versions
------------------
``_get_train_sampler`` is private API, so the TRL versions are pinned
(:data:`SUPPORTED_TRL`, the ``trl`` extra); importing this module with another version
raises ``ImportError`` unless ``INSIGHT_BAYES_ALLOW_UNTESTED_TRL=1`` is set. One process
only: with several, each would see a share of every group's rewards.
"""

from __future__ import annotations

from insight_bayes.integrations.trl.version import SUPPORTED_TRL, check_trl_version

try:
    import trl as _trl
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "insight_bayes.integrations.trl needs trl; install it with "
        '`pip install -e ".[trl]"` (from a clone of insight-bayes)'
    ) from exc
check_trl_version(_trl.__version__)

# isort: split
from insight_bayes.integrations.trl.checkpoint import (  # noqa: E402
    SELECTOR_STATE_NAME,
    SelectorCheckpointCallback,
    load_selector_checkpoint,
    save_selector_checkpoint,
)
from insight_bayes.integrations.trl.data import (  # noqa: E402
    InSightSampler,
    add_prompt_ids,
    check_prompt_ids,
    find_insight_sampler,
)
from insight_bayes.integrations.trl.reward import SelectorReward  # noqa: E402
from insight_bayes.integrations.trl.trainer import InSightGRPOTrainer  # noqa: E402

__all__ = [
    "SELECTOR_STATE_NAME",
    "SUPPORTED_TRL",
    "InSightGRPOTrainer",
    "InSightSampler",
    "SelectorCheckpointCallback",
    "SelectorReward",
    "add_prompt_ids",
    "check_prompt_ids",
    "check_trl_version",
    "find_insight_sampler",
    "load_selector_checkpoint",
    "save_selector_checkpoint",
]
