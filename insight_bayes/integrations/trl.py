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

import inspect
import logging
import math
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from insight_bayes.integrations.online import OnlineSelector
from insight_bayes.validation import check_int

log = logging.getLogger(__name__)

#: TRL versions this module was tested with (the ``trl`` extra pins the same range).
SUPPORTED_TRL = ">=1.16.0,<1.17"
#: File written into every TRL checkpoint folder.
SELECTOR_STATE_NAME = "insight_selector.json"
_ALLOW_ENV = "INSIGHT_BAYES_ALLOW_UNTESTED_TRL"


def check_trl_version(version: str) -> str:
    """Return ``version`` if it is in :data:`SUPPORTED_TRL`, else raise ``ImportError``.

    Setting the environment variable ``INSIGHT_BAYES_ALLOW_UNTESTED_TRL=1`` turns the
    error into a warning.
    """
    from packaging.specifiers import SpecifierSet

    if version in SpecifierSet(SUPPORTED_TRL):
        return version
    message = (
        f"insight_bayes.integrations.trl supports trl{SUPPORTED_TRL} (it overrides the "
        f"private GRPOTrainer._get_train_sampler), but trl {version} is installed. Install "
        'a supported version with `pip install -e ".[trl]"` (from a clone), or set '
        f"{_ALLOW_ENV}=1 to try this one anyway"
    )
    if os.environ.get(_ALLOW_ENV) == "1":
        warnings.warn(message, stacklevel=2)
        return version
    raise ImportError(message)


try:
    import trl as _trl
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "insight_bayes.integrations.trl needs trl; install it with "
        '`pip install -e ".[trl]"` (from a clone of insight-bayes)'
    ) from exc
check_trl_version(_trl.__version__)

import datasets  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import Sampler  # noqa: E402
from transformers import TrainerCallback  # noqa: E402
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, get_last_checkpoint  # noqa: E402
from trl import GRPOTrainer  # noqa: E402

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


# ----------------------------------------------------------------- dataset ids
def add_prompt_ids(dataset: datasets.Dataset, column: str = "prompt_id") -> datasets.Dataset:
    """Return ``dataset`` with a column holding each row's index (the selector's prompt id)."""
    if column in dataset.column_names:
        raise ValueError(f"dataset already has a column {column!r}; pick another id_column")
    return dataset.add_column(column, list(range(len(dataset))))


def check_prompt_ids(dataset: datasets.Dataset, column: str = "prompt_id") -> None:
    """Raise ``ValueError`` unless ``dataset[column]`` is ``0, 1, ..., len(dataset) - 1``."""
    if column not in dataset.column_names:
        raise ValueError(
            f"train_dataset has no {column!r} column; the reward wrapper needs each row's "
            "index: use add_prompt_ids(dataset)"
        )
    ids = np.asarray(dataset[column])
    if ids.shape != (len(dataset),) or not np.array_equal(ids, np.arange(len(dataset))):
        raise ValueError(
            f"column {column!r} must hold the row indices 0..{len(dataset) - 1} in order; "
            "rebuild it with add_prompt_ids(dataset) after any filtering or shuffling"
        )


# --------------------------------------------------------------------- sampler
class InSightSampler(Sampler[int]):
    """Dataset indices in the layout of TRL's ``RepeatSampler``, chunks chosen by a rule.

    Per chunk: ``ids = selector.next_batch()`` (``M`` prompts), each id repeated
    ``num_generations`` times in a row, the whole chunk repeated ``repeat_count`` times.
    The chunk is chosen lazily, when the data loader asks for its first index.

    Parameters
    ----------
    selector : OnlineSelector
        Pool = the training dataset's rows; ``selector.config.m`` prompts per chunk.
    num_generations : int
        Completions per prompt (TRL's ``num_generations``, the rule's ``K``).
    repeat_count : int, default 1
        ``num_iterations * steps_per_generation``.
    num_chunks : int, optional
        Chunks per pass (one TRL "epoch"); defaults to ``pool_size // M``.

    Notes
    -----
    On resume, ``Trainer`` fast-forwards the data loader past the batches of the current
    pass that were already trained (``accelerate.skip_first_batches``), drawing and
    dropping their indices. :meth:`skip_next_pass` (called by
    :class:`SelectorCheckpointCallback`) makes the next pass yield placeholder indices
    for those samples instead of asking the selector, so no selection is drawn and
    dropped, and the pass ends where the uninterrupted one would.
    """

    def __init__(
        self,
        selector: OnlineSelector,
        *,
        num_generations: int,
        repeat_count: int = 1,
        num_chunks: int | None = None,
    ) -> None:
        if not isinstance(selector, OnlineSelector):
            raise TypeError(f"selector must be an OnlineSelector, got {type(selector).__name__}")
        self.selector = selector
        self.num_generations = check_int(num_generations, "num_generations", min_value=1)
        self.repeat_count = check_int(repeat_count, "repeat_count", min_value=1)
        default = max(selector.pool_size // selector.config.m, 1)
        self.num_chunks = (
            default if num_chunks is None else check_int(num_chunks, "num_chunks", min_value=1)
        )
        self._skip = 0
        #: Every chunk this sampler asked of the selector, in order (ids, shape (M,)); the
        #: last one or two may not be trained yet (prefetch). Also logged at INFO level.
        self.handed_out: list[np.ndarray] = []

    @property
    def chunk_size(self) -> int:
        """Indices yielded per chunk: ``M * num_generations * repeat_count``."""
        return self.selector.config.m * self.num_generations * self.repeat_count

    def skip_next_pass(self, samples: int) -> None:
        """Let the next pass begin with ``samples`` placeholder indices (row 0).

        They stand for the samples of the current pass trained before a checkpoint, which
        the data loader skips on resume; the selector is not asked for them. The pass then
        continues from that position: at the next chunk when ``samples`` is a whole
        number of chunks; otherwise a new chunk fills the rest of the interrupted one.
        """
        self._skip = check_int(samples, "samples", min_value=0, max_value=len(self))

    def __iter__(self) -> Iterator[int]:
        skip, self._skip = self._skip, 0
        yield from (0 for _ in range(skip))
        first_chunk, offset = divmod(skip, self.chunk_size)
        for _ in range(first_chunk, self.num_chunks):
            ids = self.selector.next_batch()
            self.handed_out.append(ids)
            log.info("handed out prompt ids %s (step %d)", ids.tolist(), self.selector.step)
            chunk = np.repeat(ids, self.num_generations).tolist()
            layout = chunk * self.repeat_count
            yield from layout[offset:]
            offset = 0

    def __len__(self) -> int:
        return self.num_chunks * self.repeat_count * self.selector.config.m * self.num_generations


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


# ------------------------------------------------------------------ checkpoints
def save_selector_checkpoint(selector: OnlineSelector, checkpoint_dir: str | Path) -> Path:
    """Write the selector state into a checkpoint folder; returns the file written."""
    return selector.save(Path(checkpoint_dir) / SELECTOR_STATE_NAME)


def load_selector_checkpoint(
    selector: OnlineSelector, checkpoint_dir: str | Path, *, replay_pending: bool = True
) -> Path:
    """Restore the selector state from a checkpoint folder (``FileNotFoundError`` if absent)."""
    path = Path(checkpoint_dir) / SELECTOR_STATE_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"no {SELECTOR_STATE_NAME} in {checkpoint_dir}: this checkpoint was not written "
            "with a SelectorCheckpointCallback, so the belief cannot be restored"
        )
    selector.load(path, replay_pending=replay_pending)
    return path


class SelectorCheckpointCallback(TrainerCallback):
    """Save the selector with every TRL checkpoint; restore it when training resumes.

    On resume (``global_step > 0`` at the start of training) it loads
    ``output_dir/checkpoint-<global_step>/insight_selector.json`` unless the state was
    restored already (``restored_from`` set, as :meth:`InSightGRPOTrainer.train` does for
    checkpoints elsewhere).

    With ``ignore_data_skip=False`` (the default of ``TrainingArguments``) the resumed run
    continues exactly as the uninterrupted one: the ``Trainer`` skips the batches of the
    current pass that were already trained, and the :class:`InSightSampler` found in the
    training data loader yields placeholders for them (:meth:`InSightSampler.skip_next_pass`)
    instead of drawing selections; the ``Trainer`` then restores the saved RNG state after
    fetching the first batch, so generation continues from the same random state. A
    resume with ``ignore_data_skip=True`` restores the selector too, but starts a new pass
    and restores the RNG state before the data loader's iterator is created (which uses a
    draw), so the generations after the resume differ from an uninterrupted run's.
    """

    def __init__(self, selector: OnlineSelector) -> None:
        self.selector = selector
        self.restored_from: Path | None = None

    def on_save(self, args, state, control, **kwargs):  # noqa: D102
        if state.is_world_process_zero:
            folder = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
            folder.mkdir(parents=True, exist_ok=True)
            save_selector_checkpoint(self.selector, folder)
        return control

    def on_train_begin(self, args, state, control, train_dataloader=None, **kwargs):  # noqa: D102
        if state.global_step == 0:
            return control
        sampler = None if args.ignore_data_skip else find_insight_sampler(train_dataloader)
        if not args.ignore_data_skip and sampler is None:
            raise ValueError(
                "resuming needs the InSightSampler of the training data loader (none found): "
                "without it, fast-forwarding the data loader would draw and drop selections. "
                "Use InSightSampler in _get_train_sampler, or set ignore_data_skip=True (the "
                "resumed run then differs from an uninterrupted one)"
            )
        if self.restored_from is None:
            folder = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
            self.restored_from = load_selector_checkpoint(self.selector, folder)
        if sampler is None:
            log.warning(
                "resuming with ignore_data_skip=True: the selector is restored, but the data "
                "loader starts a new pass, so generations differ from an uninterrupted run"
            )
            return control
        # Trainer's own arithmetic (set_initial_training_values, _init_training_state)
        batches = len(train_dataloader)
        accumulation = args.gradient_accumulation_steps
        steps_per_pass = max(batches // accumulation + int(batches % accumulation > 0), 1)
        skipped_batches = (state.global_step % steps_per_pass) * accumulation
        samples_per_batch, rest = divmod(len(sampler), batches)
        if rest:
            raise ValueError(
                f"the InSightSampler yields {len(sampler)} indices per pass, not a multiple of "
                f"the data loader's {batches} batches; cannot skip the trained batches"
            )
        sampler.skip_next_pass(min(skipped_batches * samples_per_batch, len(sampler)))
        return control


def find_insight_sampler(dataloader: Any, depth: int = 4) -> InSightSampler | None:
    """The :class:`InSightSampler` inside a (possibly wrapped) data loader, or ``None``.

    Looks through ``sampler`` and ``batch_sampler`` attributes, as set by PyTorch's
    ``DataLoader``, Accelerate's ``DataLoaderShard`` and its batch-sampler wrappers.
    """
    if isinstance(dataloader, InSightSampler):
        return dataloader
    if dataloader is None or depth == 0:
        return None
    for name in ("batch_sampler", "sampler"):
        found = find_insight_sampler(getattr(dataloader, name, None), depth - 1)
        if found is not None:
            return found
    return None


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
    :class:`SelectorCheckpointCallback`).
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
