"""The selector's state in TRL checkpoints: saved with each, restored on resume."""

from __future__ import annotations

import logging
from pathlib import Path

from transformers import TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from insight_bayes.integrations.online import OnlineSelector
from insight_bayes.integrations.trl.data import find_insight_sampler

__all__ = [
    "SELECTOR_STATE_NAME",
    "SelectorCheckpointCallback",
    "load_selector_checkpoint",
    "save_selector_checkpoint",
]

log = logging.getLogger(__name__)


#: File written into every TRL checkpoint folder.
SELECTOR_STATE_NAME = "insight_selector.json"


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
    current pass that were already trained, and the
    :class:`~insight_bayes.integrations.trl.data.InSightSampler` found in the training data
    loader yields placeholders for them
    (:meth:`~insight_bayes.integrations.trl.data.InSightSampler.skip_next_pass`) instead of
    drawing selections; the ``Trainer`` then restores the saved RNG state after
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
