"""The dataset's prompt ids and the sampler that asks the selector for each chunk."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import datasets
import numpy as np
from torch.utils.data import Sampler

from insight_bayes.integrations.online import OnlineSelector
from insight_bayes.validation import check_int

__all__ = ["InSightSampler", "add_prompt_ids", "check_prompt_ids", "find_insight_sampler"]

log = logging.getLogger(__name__)


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
    :class:`~insight_bayes.integrations.trl.checkpoint.SelectorCheckpointCallback`) makes
    the next pass yield placeholder indices for those samples instead of asking the
    selector, so no selection is drawn and dropped, and the pass ends where the
    uninterrupted one would.
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
