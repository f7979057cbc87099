"""A block of runs trained at once: every run is the one selection loop, the model work is
one batched computation.

:func:`train_block` trains ``R`` (rule, seed) runs of one study in one process. Each run is
the shared :class:`~insight_bayes.loop.SelectionLoop` with its own selector, beliefs,
random streams and tables, driving its own :class:`RunEnvironment` (a
:class:`~insight_bayes.rlvr.grpo_environment.GRPOEnvironment`: the same grading, training
batches, advantages and metrics). What differs is where the model work goes: a run's
environment hands its generation, its GRPO update and its log-probabilities to the block
(:class:`RunBlock`), which waits until every run has asked, then serves all the requests
with one computation on the :class:`~insight_bayes.rlvr.stacked.StackedLM` (each run's
parameters and AdamW state on one run axis).

The loops run in threads only so that each keeps its own call stack: exactly one thread
works at any time (a run's thread until it asks, the block's while it serves), so the
order of every random draw is the order of the run alone, and a run's chosen prompts and
rewards equal those of the run trained alone while their inputs agree (floats agree to
rounding; see :mod:`insight_bayes.rlvr.stacked`).

Timings recorded by a batched run (``step_seconds``, ``train/generation_seconds``,
``train/update_seconds``, ``train/eval_seconds``) are the block's wall time, shared by its
``R`` runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from insight_bayes.rlvr.block_graphs import BlockGraphs
from insight_bayes.rlvr.grpo import TokenBatch, make_optimizer, make_scheduler
from insight_bayes.rlvr.grpo_environment import GRPOEnvironment
from insight_bayes.rlvr.precision import block_precision
from insight_bayes.rlvr.stacked import (
    StackedLM,
    generate_runs,
    logprobs_runs,
    pad_batches,
    run_groups,
)
from insight_bayes.rlvr.stacked_grpo import grpo_update_runs

if TYPE_CHECKING:
    import pandas as pd

    from insight_bayes.rlvr.harness import Harness

__all__ = ["BlockAborted", "RunBlock", "RunEnvironment", "check_block_harnesses", "train_block"]


class BlockAborted(RuntimeError):
    """Another run of the block failed; this run stops too."""


@dataclass
class _Request:
    kind: str
    args: tuple
    done: bool = False
    result: Any = None
    error: BaseException | None = None


@dataclass
class _Lane:
    """One run of the block: its thread's request, its result or its error."""

    rule: str
    seed: int
    request: _Request | None = None
    live: bool = True
    result: Any = None
    error: BaseException | None = None
    thread: threading.Thread | None = field(default=None, repr=False)


class RunEnvironment(GRPOEnvironment):
    """A GRPO environment whose model work is done by its :class:`RunBlock`.

    It is a :class:`~insight_bayes.rlvr.grpo_environment.GRPOEnvironment` on the harness's
    warm-up policy (its tokenizer, and the answer log-probability before the first step,
    which is the warm-up's); sampling (``_generate``), the update (``_update``) and
    log-probabilities (``_logprobs``) are the block's, on run ``index`` of its stacked model.
    """

    def __init__(self, block: RunBlock, index: int, harness: Harness) -> None:
        config = harness.config
        self._block = block
        self._index = index
        super().__init__(
            harness.task,
            harness.pool,
            harness.test,
            harness.policy,
            config.grpo,
            config.eval,
            harness.policy if config.grpo.kl_coef > 0 else None,
        )

    def _generate(self, chunks, temperature, seed, repeats):
        return self._block.request(self._index, "generate", (chunks, temperature, seed, repeats))

    def _update(self, batch, advantages):
        return self._block.request(self._index, "update", (batch, advantages))

    def _logprobs(self, tokens, valid, temperature=1.0, last=None):
        if not self._block.started:  # the warm-up's, before the block's first step
            return super()._logprobs(tokens, valid, temperature, last)
        if torch.is_grad_enabled():
            raise NotImplementedError(
                "a batched run's gradients belong to its block (train it with "
                "runs_per_process=1 to take gradients of one run)"
            )
        return self._block.request(self._index, "logprobs", (tokens, valid, temperature, last))


class RunBlock:
    """``R`` runs on one :class:`~insight_bayes.rlvr.stacked.StackedLM`.

    Parameters
    ----------
    harness : Harness or sequence of Harness
        The study's task, splits and warm-up (every run starts from the warm-up), or one
        harness per run: runs of several task draws (each draw's pool, test set and
        warm-up) in one block. Their model, tokenizer, device and ``[grpo]`` and
        ``[eval]`` settings must be equal (the block's computations and optimiser are
        shared; :func:`check_block_harnesses`).
    runs : sequence of (str, int)
        The (rule label, seed) of each run.
    max_rows : int, optional
        Most rows (sequences) of one batched forward pass without gradients; runs are
        taken in groups under it. The GRPO update, which keeps activations for the
        backward pass, takes an eighth of it. Default: on CUDA ``4 * eval.batch_size``
        (one pass fills the device); on CPU 1, one run per pass (a run's matrices
        already keep a core busy, and a larger pass only pads and misses the cache:
        ``benchmarks/results/rlvr_batched_cpu.md``), which computes as the run alone.
    cuda_graphs : bool
        Generate with fixed-shape steps, and compute log-probabilities of a batch shape
        asked for before, replayed as CUDA graphs (:mod:`insight_bayes.rlvr.block_graphs`;
        on a CPU the same computations run eagerly): the same draws, floats equal to
        rounding. Default off.
    """

    def __init__(
        self,
        harness: Harness,
        runs: Sequence[tuple[str, int]],
        max_rows: int | None = None,
        cuda_graphs: bool = False,
    ) -> None:
        if not runs:
            raise ValueError("a block needs at least one run")
        harnesses = [harness] * len(runs) if not isinstance(harness, Sequence) else list(harness)
        if len(harnesses) != len(runs):
            raise ValueError(f"need one harness per run ({len(runs)}), got {len(harnesses)}")
        check_block_harnesses(harnesses)
        self.harnesses = harnesses
        self.harness = harnesses[0]  # the settings every run shares
        self.config = self.harness.config
        self.policy = self.harness.policy
        device = self.harness.device
        wide = device == "cuda"  # one pass fills a GPU; on CPU one run a pass
        self.max_rows = max_rows or (4 * self.config.eval.batch_size if wide else 1)
        states = [h.warm_state for h in harnesses]
        self.model = StackedLM(self.policy.model.config, states).to(device)
        self.graphs = BlockGraphs(self.model) if cuda_graphs else None
        self.optimizer = make_optimizer(self.model, self.config.grpo)
        self.scheduler = make_scheduler(self.optimizer, self.config.grpo)
        self.lanes = [_Lane(rule, int(seed)) for rule, seed in runs]
        self.started = False
        self._cond = threading.Condition()
        self.envs = [RunEnvironment(self, i, h) for i, h in enumerate(harnesses)]
        self.started = True

    def snapshot(self, index: int) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Run ``index``'s weights (a TinyLM ``state_dict``) and its AdamW state, as the
        ``state_dict()`` of an optimiser over that TinyLM's ``parameters()`` would hold them
        (copies; what :func:`~insight_bayes.rlvr.checkpoint_probe.random_checkpoints` takes
        of a run alone). Call it from the run's own thread, between its requests."""
        weights = self.model.state_dict_of(index)
        order = [name for name, _ in self.policy.model.named_parameters()]
        state: dict[int, dict[str, torch.Tensor]] = {}
        for j, name in enumerate(order):
            stacked = self.optimizer.state.get(self.model.param(name))
            if stacked:
                state[j] = {
                    key: value.detach().clone() if key == "step" else value[index].detach().clone()
                    for key, value in stacked.items()
                }
        group = {k: v for k, v in self.optimizer.param_groups[0].items() if k != "params"}
        return weights, {
            "state": state,
            "param_groups": [group | {"params": list(range(len(order)))}],
        }

    # ------------------------------------------------------------ the runs' side
    def request(self, index: int, kind: str, args: tuple) -> Any:
        """Called from run ``index``'s thread: wait until the block has served ``kind``."""
        req = _Request(kind, args)
        with self._cond:
            self.lanes[index].request = req
            self._cond.notify_all()
            while not req.done:
                self._cond.wait()
        if req.error is not None:
            raise req.error
        return req.result

    # ------------------------------------------------------------ the block's side
    def run(self, work: Callable[[int, RunEnvironment], Any]) -> list[Any]:
        """Run ``work(i, env_i)`` for every run in its own thread, serving their requests
        batched; return the results in run order (the first error is raised)."""

        def target(i: int) -> None:
            lane = self.lanes[i]
            try:
                lane.result = work(i, self.envs[i])
            except BaseException as err:  # noqa: BLE001 - handed to the block's thread
                lane.error = err
            finally:
                with self._cond:
                    lane.live = False
                    self._cond.notify_all()

        for i, lane in enumerate(self.lanes):
            lane.thread = threading.Thread(target=target, args=(i,), daemon=True)
        with block_precision(self.harness.device):  # TF32 on CUDA, for this block only
            return self._run()

    def _run(self) -> list[Any]:
        """:meth:`run`'s serving loop: start the runs' threads one at a time, then serve
        their requests, batched by kind, until every run has ended."""
        with self._cond:
            for lane in self.lanes:
                lane.thread.start()
                # one thread at a time: each run starts once the previous has asked or ended
                while lane.live and lane.request is None:
                    self._cond.wait()
        while True:
            with self._cond:
                while any(lane.live and lane.request is None for lane in self.lanes):
                    self._cond.wait()
                waiting = [i for i, lane in enumerate(self.lanes) if lane.live]
                if not waiting:
                    break
                failed = any(lane.error is not None for lane in self.lanes)
            if failed:
                self._answer(waiting, error=BlockAborted("another run of the block failed"))
                continue
            kinds = {self.lanes[i].request.kind for i in waiting}
            kind = next(k for k in ("generate", "logprobs", "update") if k in kinds)
            chosen = [i for i in waiting if self.lanes[i].request.kind == kind]
            try:
                results = getattr(self, f"_serve_{kind}")(chosen)
            except BaseException as err:  # noqa: BLE001 - every run learns of it
                self._answer(chosen, error=err)
                continue
            self._answer(chosen, results)
        for lane in self.lanes:
            lane.thread.join()
        errors = [lane.error for lane in self.lanes if lane.error is not None]
        first = next((e for e in errors if not isinstance(e, BlockAborted)), None)
        if first is not None or errors:
            raise first or errors[0]
        return [lane.result for lane in self.lanes]

    def _answer(
        self, indices: list[int], results: list | None = None, error: BaseException | None = None
    ) -> None:
        """Hand each run in ``indices`` its result (or ``error``), one at a time: the next
        gets its answer once the previous has asked again or ended."""
        with self._cond:
            for n, i in enumerate(indices):
                lane = self.lanes[i]
                req = lane.request
                lane.request = None
                req.result = None if results is None else results[n]
                req.error = error
                req.done = True
                self._cond.notify_all()
                while lane.live and lane.request is None:
                    self._cond.wait()

    def _serve_generate(self, indices: list[int]) -> list[list[torch.Tensor]]:
        """Each run's chunks of prompts sampled with its own generator, chunk by chunk
        (as :meth:`GRPOEnvironment._generate` of the run alone), runs batched."""
        out: dict[int, list[torch.Tensor]] = {i: [] for i in indices}
        groups: dict[tuple[float, int], list[int]] = {}
        for i in indices:
            _, temperature, _, repeats = self.lanes[i].request.args
            groups.setdefault((float(temperature), int(repeats)), []).append(i)
        for (temperature, repeats), members in groups.items():
            generators = {}
            for i in members:
                generator = torch.Generator(device=self.harness.device)
                generator.manual_seed(int(self.lanes[i].request.args[2]))
                generators[i] = generator
            n_chunks = max(len(self.lanes[i].request.args[0]) for i in members)
            for c in range(n_chunks):
                runs = [i for i in members if c < len(self.lanes[i].request.args[0])]
                rows = max(len(self.lanes[i].request.args[0][c]) for i in runs) * repeats
                for group in run_groups(len(runs), rows, self.max_rows):
                    part = runs[group]
                    tokens = generate_runs(
                        self.model,
                        part,
                        [self.lanes[i].request.args[0][c] for i in part],
                        self.config.grpo.max_new_tokens,
                        eos_id=self.policy.eos_id,
                        pad_id=self.policy.pad_id,
                        temperature=temperature,
                        generators=[generators[i] for i in part],
                        repeats=repeats,
                        suppress=self.policy.suppress,
                        graphs=self.graphs,
                    )
                    for i, t in zip(part, tokens, strict=True):
                        out[i].append(t)
        return [out[i] for i in indices]

    @torch.no_grad()
    def _serve_logprobs(self, indices: list[int]) -> list[torch.Tensor]:
        """Each run's log-probabilities of its token batch (of its last ``last`` columns
        when it asks for them), runs batched (grouped by temperature; the batches are
        left-padded to one, so that their last columns line up)."""
        out: dict[int, torch.Tensor] = {}
        by_temperature: dict[float, list[int]] = {}
        for i in indices:
            by_temperature.setdefault(float(self.lanes[i].request.args[2]), []).append(i)
        for temperature, members in by_temperature.items():
            args = {i: self.lanes[i].request.args for i in members}
            batches = [TokenBatch(args[i][0], args[i][1], args[i][1][:, 1:]) for i in members]
            batch = pad_batches(batches, self.policy.pad_id)
            # every column any run asks for: the widest of their lasts, or all
            wanted = {i: args[i][3] if args[i][3] is not None else args[i][0].shape[1] - 1
                      for i in members}  # fmt: skip
            last = max(wanted.values())
            last = None if last >= batch.tokens.shape[2] - 1 else last
            for group in run_groups(len(members), batch.tokens.shape[1], self.max_rows):
                part = members[group]
                tokens, valid = batch.tokens[group], batch.valid[group]
                if self.graphs is not None:  # fixed shapes (the evaluation's), graphed
                    logp = self.graphs.logprobs(part, tokens, valid, temperature,
                                                self.policy.suppress, last)  # fmt: skip
                else:
                    index = torch.as_tensor(part, device=tokens.device)
                    logp = logprobs_runs(self.model, tokens, valid, temperature,
                                         self.policy.suppress, index, last=last)  # fmt: skip
                for n, i in enumerate(part):
                    out[i] = logp[n, : args[i][0].shape[0], logp.shape[2] - wanted[i] :]
        return [out[i] for i in indices]

    def _serve_update(self, indices: list[int]) -> list[dict[str, float]]:
        """One GRPO step of every run (all of them ask together: their steps are in
        lockstep, and AdamW steps the whole stack)."""
        if indices != list(range(len(self.lanes))):
            raise RuntimeError("a block's GRPO update needs every run of the block")
        metrics = grpo_update_runs(
            self.model,
            self.optimizer,
            [self.lanes[i].request.args[0] for i in indices],
            [self.lanes[i].request.args[1] for i in indices],
            self.config.grpo,
            pad_id=self.policy.pad_id,
            suppress=self.policy.suppress,
            reference=[h.policy for h in self.harnesses] if self.config.grpo.kl_coef > 0 else None,
            scheduler=self.scheduler,
            max_rows=max(1, self.max_rows // 8),
        )
        self.model.eval()
        return metrics


def check_block_harnesses(harnesses: Sequence[Harness]) -> None:
    """Refuse harnesses whose runs cannot share a block.

    A block's runs share one stacked model (so one architecture and device), one tokenizer
    (generation's end and padding tokens, the suppressed tokens), one AdamW optimiser and
    scheduler (``[grpo]``) and one pass size (``[eval]``); their tasks, splits and warm-up
    weights may differ (task draws). Raises ``ValueError`` naming the first difference.
    """
    first = harnesses[0]
    if first.config.model.path is not None:
        raise ValueError("batched runs need a TinyLM (model.path is a Hugging Face model)")
    for h in harnesses[1:]:
        if h is first:
            continue
        shared = {
            "device": (h.device, first.device),
            "model": (h.policy.model.config, first.policy.model.config),
            "tokenizer": (
                (h.policy.eos_id, h.policy.pad_id, tuple(h.policy.suppress)),
                (first.policy.eos_id, first.policy.pad_id, tuple(first.policy.suppress)),
            ),
            "[grpo]": (h.config.grpo, first.config.grpo),
            "[eval]": (h.config.eval, first.config.eval),
        }
        for name, (mine, theirs) in shared.items():
            if mine != theirs:
                raise ValueError(
                    f"runs of one block must share their {name}: {mine!r} != {theirs!r}"
                )


def train_block(
    harness: Harness,
    runs: Sequence[tuple[str, int]],
    max_rows: int | None = None,
    cuda_graphs: bool = False,
) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """Train the (rule, seed) runs of ``harness``'s study as one block.

    Each run is the selection loop a separate run would be
    (:func:`insight_bayes.rlvr.study_jobs.run_study_job`): same selector, config, seed and
    tables; only its model work is batched with the block's (``cuda_graphs``: see
    :class:`RunBlock`). Returns each run's ``(steps, choices)`` tables, in the order of
    ``runs``.
    """
    from insight_bayes.loop import SelectionLoop
    from insight_bayes.results.schema import RunTables
    from insight_bayes.selectors import selector_from_label

    config = harness.config
    block = RunBlock(harness, runs, max_rows, cuda_graphs)

    def work(i: int, env: RunEnvironment) -> tuple[pd.DataFrame, pd.DataFrame]:
        rule, seed = runs[i]
        loop = SelectionLoop(env, selector_from_label(rule), config.loop, seed=seed, rule=rule)
        tables = RunTables(config.key, seed=seed, run_seed=seed, k=config.loop.k, keep_choices=True)
        for record in loop.iter_steps():
            tables.add(record, loop.belief)
        return tables.frames()

    return block.run(work)
