"""A block's fixed-shape model work replayed as CUDA graphs: its generation steps and its
held-out log-probabilities.

A generation step of a :class:`~insight_bayes.rlvr.stacked.StackedLM` is one token per
row: a few hundred small operators (about 480 for a block of 7 runs of 8 layers,
``benchmarks/bench_generation_ops.py``), each launched by the CPU. On a GPU their launches,
not their arithmetic, presumably set the pace (a guess, not profiled yet): one run's extra
generation round of 512 rows of about ten tokens took about 0.12 s on an H200
(``benchmarks/gpu_throughput.py``), where its arithmetic is well under a millisecond a
token. A CUDA graph records the step's kernels once and replays them with one launch.

A graph replays fixed shapes and fixed memory, so the step is rewritten to have them
(:class:`DecodeStep`):

- the keys and values live in storage of the generation's full length (prompt and every
  new token, :class:`StaticKV`), written at a position held on the device (``cur``);
- each step attends over the whole storage: the keys not yet written are masked out
  (:func:`step_mask`), so they add exactly-zero terms to the softmax (the same attention
  as the growing cache's, to rounding);
- the step's token and position are copied into fixed input tensors;
- the prompts' pass (:meth:`DecodeStep.prefill`, the prompts padded to
  :func:`bucket_rows` per run and to the longest's length) is a graph of its own, writing
  the prompts' keys and values into the storage.

The sampling (each run's own generator, drawn on the CPU's schedule,
:func:`~insight_bayes.rlvr.model.draw_next`) stays outside the graphs. The held-out
evaluation's log-probabilities (every step, the same problems) have fixed shapes already:
:class:`LogprobsGraph` copies the batch into fixed inputs and replays
:func:`~insight_bayes.rlvr.stacked.logprobs_runs`.

:class:`BlockGraphs` keeps one of each per shape for a block's whole life, made and
captured the second time the shape is asked for (a shape asked for once, such as a
Dynamic Sampling round of an odd size, is not worth a graph; the first time runs as
without graphs) and replayed after. A generation step's key and value storage stays
allocated with it, so the storage of all steps is capped (``BlockGraphs.max_bytes``,
by default :data:`FREE_SHARE` of the GPU memory free when the block starts); a shape that
would pass the cap generates without graphs. On a CPU (or with ``capture=False``) the same
fixed-shape computations run eagerly: that is what the CPU tests compare with
:func:`~insight_bayes.rlvr.stacked.generate_runs` 's growing cache.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from insight_bayes.rlvr.model import KVBuffer, repeat_cache
from insight_bayes.rlvr.stacked import StackedLM, logprobs_runs

__all__ = [
    "FREE_SHARE",
    "BlockGraphs",
    "DecodeStep",
    "LogprobsGraph",
    "Replay",
    "StaticKV",
    "bucket_rows",
    "record",
    "step_mask",
]


#: The share of the GPU's free memory (when a block starts) its generation steps' key and
#: value storage may hold.
FREE_SHARE = 0.3


class StaticKV(KVBuffer):
    """One layer's keys and values ``(B, H, capacity, d)``, written at a device position.

    :meth:`append` writes one token's keys and values at position ``cur`` (a one-element
    tensor on the device, so that a replayed graph writes where the step is) and returns
    the whole storage; :func:`step_mask` hides the positions not yet written.
    """

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, cur: torch.Tensor) -> None:
        self._k, self._v, self.cur = keys, values, cur
        self.length = keys.size(2)

    def append(self, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store one token's ``keys``/``values`` ``(B, H, 1, d)`` at ``cur``; return all."""
        if keys.size(2) != 1:
            raise ValueError(f"a fixed-shape step appends one token, got {keys.size(2)}")
        self._k.index_copy_(2, self.cur, keys)
        self._v.index_copy_(2, self.cur, values)
        return self._k, self._v


def step_mask(valid: torch.Tensor, cur: torch.Tensor, arange: torch.Tensor) -> torch.Tensor:
    r"""Which keys the step's one query (at position ``cur``) attends to, ``(N, 1, 1, W)``.

    .. math:: m_{nj} = v_{nj} \land (j \le c)

    ``valid`` ``(N, W)`` marks the prompt's real tokens and every generated position (as
    the growing cache's valid mask does), ``arange`` is ``0..W-1``. The query's own key,
    at ``cur``, is always valid, so no row is fully masked.
    """
    return (valid & (arange <= cur))[:, None, None, :]


def bucket_rows(rows: int) -> int:
    """Rows padded up to a power of two (at least 8): Dynamic Sampling's extra rounds ask
    for any number of prompts, and each new shape is a new graph to capture."""
    return max(8, 1 << (max(1, int(rows)) - 1).bit_length())


@dataclass(frozen=True)
class _Shape:
    runs: tuple[int, ...]
    rows: int
    width: int
    capacity: int
    repeats: int = 1


def record(forward: Callable[[], torch.Tensor]) -> tuple[torch.cuda.CUDAGraph, torch.Tensor]:
    """Capture ``forward`` as a CUDA graph; returns the graph and its output tensor (which
    each replay overwrites). Two eager passes on a side stream come first, as CUDA graphs
    need; ``forward`` must be idempotent (read fixed inputs, write only what it computes
    from them), so that they change nothing the replays do not redo."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(2):
            forward()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = forward()
    return graph, out


class Replay:
    """``forward`` run eagerly, or (``capture``) captured by :func:`record` at its first
    call and replayed after; a replay returns the graph's output tensor, which the next
    replay overwrites. ``graph`` is ``None`` until captured."""

    def __init__(self, forward: Callable[[], torch.Tensor], capture: bool) -> None:
        self.forward, self.capture = forward, capture
        self.graph: torch.cuda.CUDAGraph | None = None
        self.out: torch.Tensor | None = None

    def __call__(self) -> torch.Tensor:
        if not self.capture:
            return self.forward()
        if self.graph is None:
            self.graph, self.out = record(self.forward)
        self.graph.replay()
        return self.out


class DecodeStep:
    """The fixed-shape generation of ``runs`` of a StackedLM: ``rows`` rows per run (each
    of ``rows / repeats`` prompts sampled ``repeats`` times), prompts of ``width`` tokens
    and storage for ``capacity`` (prompt and new tokens).

    :meth:`prefill` runs the prompts' pass (each prompt once, its keys and values shared
    by its samples) and fills the storage; each :meth:`step` then feeds one token per row.
    Both return logits ``(R', rows, 1, V)``: their fixed outputs, to read before the next
    call. Each is replayed as its own CUDA graph.
    """

    @staticmethod
    def storage_bytes(model: StackedLM, shape: _Shape) -> int:
        """Bytes of the key and value storage of ``shape`` (every layer)."""
        cfg = model.config
        item = model.param("tok.weight").element_size()
        return 2 * cfg.n_layer * len(shape.runs) * shape.rows * shape.capacity * cfg.d_model * item

    def __init__(self, model: StackedLM, shape: _Shape, capture: bool) -> None:
        self.model = model
        self.shape = shape
        cfg = model.config
        r, b, w = len(shape.runs), shape.rows, shape.capacity
        device = model.param("tok.weight").device
        dtype = model.param("tok.weight").dtype
        heads, d = cfg.n_head, cfg.d_model // cfg.n_head
        self.cur = torch.zeros(1, dtype=torch.long, device=device)
        self.kv = [
            StaticKV(
                torch.zeros(r * b, heads, w, d, dtype=dtype, device=device),
                torch.zeros(r * b, heads, w, d, dtype=dtype, device=device),
                self.cur,
            )
            for _ in range(cfg.n_layer)
        ]
        self.valid = torch.ones(r, b, w, dtype=torch.bool, device=device)
        self.arange = torch.arange(w, device=device)
        self.idx = torch.zeros(r, b, 1, dtype=torch.long, device=device)
        self.positions = torch.zeros(r, b, 1, dtype=torch.long, device=device)
        prompts = (r, b // shape.repeats, shape.width)
        self.prompt = torch.zeros(prompts, dtype=torch.long, device=device)
        self.prompt_positions = torch.zeros(prompts, dtype=torch.long, device=device)
        self.prompt_valid = torch.zeros(prompts, dtype=torch.bool, device=device)
        runs = list(shape.runs)
        self.select: slice | torch.Tensor = (
            slice(runs[0], runs[0] + r)
            if runs == list(range(runs[0], runs[0] + r))
            else torch.as_tensor(runs, device=device)
        )
        capture = capture and device.type == "cuda"
        # looked up at each call (benchmarks and tests wrap the class's passes)
        self.prefill_graph = Replay(lambda: self._prefill(), capture)  # writes the storage
        self.step_graph = Replay(lambda: self._forward(), capture)  # writes at cur

    def _prefill(self) -> torch.Tensor:
        width, repeats = self.shape.width, self.shape.repeats
        logits, cache = self.model(self.prompt, self.prompt_positions, self.prompt_valid,
                                   runs=self.select, last=1, max_position=width - 1)  # fmt: skip
        valid = self.prompt_valid
        if repeats > 1:  # share each prompt's prefix among its samples
            logits = logits.repeat_interleave(repeats, dim=1)
            cache = repeat_cache(cache, repeats)
            valid = valid.repeat_interleave(repeats, dim=1)
        for buffer, (k, v) in zip(self.kv, cache, strict=True):
            buffer._k[:, :, :width] = k
            buffer._v[:, :, :width] = v
        self.valid[:, :, :width] = valid
        self.valid[:, :, width:].fill_(True)  # a scalar fill: nothing from the host
        return logits

    def prefill(
        self, tokens: torch.Tensor, positions: torch.Tensor, valid: torch.Tensor
    ) -> torch.Tensor:
        """The prompts' pass: ``tokens``, ``positions`` and ``valid`` ``(R', rows / repeats,
        width)``, left-padded; fills the storage and returns the logits of each row's next
        token (a prompt's repeated for its samples). Positions are checked against
        ``block_size`` by the caller."""
        self.prompt.copy_(tokens)
        self.prompt_positions.copy_(positions)
        self.prompt_valid.copy_(valid)
        return self.prefill_graph()

    def _forward(self) -> torch.Tensor:
        r, b, w = len(self.shape.runs), self.shape.rows, self.shape.capacity
        mask = step_mask(self.valid.reshape(r * b, w), self.cur, self.arange)
        # positions are checked against block_size by the caller (max_position=0)
        logits, _ = self.model(self.idx, self.positions, self.valid, self.kv, runs=self.select,
                               last=1, max_position=0, mask=mask)  # fmt: skip
        return logits

    def step(self, tokens: torch.Tensor, positions: torch.Tensor, at: int) -> torch.Tensor:
        """Logits of one new token per row (``tokens``, ``positions`` ``(R', rows)``),
        written at storage position ``at``."""
        if not self.shape.width <= at < self.shape.capacity:
            raise ValueError(f"step position {at} outside [{self.shape.width}, "
                             f"{self.shape.capacity})")  # fmt: skip
        self.idx.copy_(tokens[..., None])
        self.positions.copy_(positions[..., None])
        self.cur.fill_(at)
        return self.step_graph()


class LogprobsGraph:
    """:func:`~insight_bayes.rlvr.stacked.logprobs_runs` of one batch shape of ``runs``,
    its inputs copied into fixed tensors (:meth:`__call__` returns a copy of the output)."""

    def __init__(self, model: StackedLM, runs: Sequence[int], shape: torch.Size,
                 temperature: float, suppress: Sequence[int], last: int | None,
                 capture: bool) -> None:  # fmt: skip
        device = model.param("tok.weight").device
        self.model, self.temperature, self.last = model, temperature, last
        # the ids on the device: a tensor made from Python data inside a capture would be
        # copied from the host, which a CUDA graph cannot record
        self.suppress = torch.as_tensor(list(suppress), dtype=torch.long, device=device)
        self.tokens = torch.zeros(shape, dtype=torch.long, device=device)
        self.valid = torch.zeros(shape, dtype=torch.bool, device=device)
        self.index = torch.as_tensor(list(runs), device=device)
        self.graph = Replay(lambda: self._forward(), capture and device.type == "cuda")

    def _forward(self) -> torch.Tensor:
        # the widest row bounds every position (a batch is no wider than its longest row)
        return logprobs_runs(self.model, self.tokens, self.valid, self.temperature,
                             self.suppress, self.index, self.last,
                             max_position=self.tokens.shape[-1] - 1)  # fmt: skip

    def __call__(self, tokens: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        self.tokens.copy_(tokens)
        self.valid.copy_(valid)
        out = self.graph()
        return out.clone() if self.graph.capture else out  # a replay's output is reused


class BlockGraphs:
    """The fixed-shape computations of one StackedLM, kept for the model's life (a
    block's): one :class:`DecodeStep` per generation shape and one :class:`LogprobsGraph`
    per log-probability shape, each asked for more than once.

    Parameters
    ----------
    model : StackedLM
    capture : bool
        Record CUDA graphs (on a CUDA device; elsewhere everything runs eagerly).
    max_bytes : int, optional
        Most bytes of key and value storage held by the generation steps; default
        :data:`FREE_SHARE` of the free GPU memory now on CUDA, no cap elsewhere.
    """

    def __init__(
        self, model: StackedLM, capture: bool = True, max_bytes: int | None = None
    ) -> None:
        self.model = model
        self.capture = capture
        device = model.param("tok.weight").device
        if max_bytes is None and device.type == "cuda":
            max_bytes = int(FREE_SHARE * torch.cuda.mem_get_info(device)[0])
        self.max_bytes = max_bytes
        self.held = 0
        self.steps: dict[_Shape, DecodeStep] = {}
        self.passes: dict[tuple, LogprobsGraph] = {}
        self._seen: set = set()

    def rows(self, prompts: int) -> int:
        """Prompts per run of a generation, padded (:func:`bucket_rows`)."""
        return bucket_rows(prompts)

    def step_for(
        self, runs: Sequence[int], rows: int, width: int, capacity: int, repeats: int = 1
    ) -> DecodeStep | None:
        """The generation of this shape: made (and captured at its first use) the second
        time the shape is asked for; ``None`` the first time, or when its storage would pass
        ``max_bytes`` (that generation runs without graphs)."""
        shape = _Shape(tuple(int(i) for i in runs), int(rows), int(width), int(capacity),
                       int(repeats))  # fmt: skip
        if shape in self.steps:
            return self.steps[shape]
        if shape not in self._seen:
            self._seen.add(shape)
            return None
        need = DecodeStep.storage_bytes(self.model, shape)
        if self.max_bytes is not None and self.held + need > self.max_bytes:
            return None
        self.held += need
        self.steps[shape] = DecodeStep(self.model, shape, self.capture)
        return self.steps[shape]

    def logprobs(self, runs: Sequence[int], tokens: torch.Tensor, valid: torch.Tensor,
                 temperature: float, suppress: Sequence[int],
                 last: int | None = None) -> torch.Tensor:  # fmt: skip
        """:func:`~insight_bayes.rlvr.stacked.logprobs_runs` of ``runs`` (a list of run
        indices), through a :class:`LogprobsGraph` once this shape has been asked for
        before (the first time eagerly)."""
        key = (tuple(int(i) for i in runs), tuple(tokens.shape), float(temperature),
               tuple(suppress), last)  # fmt: skip
        if key not in self.passes:
            if key not in self._seen:
                self._seen.add(key)
                index = torch.as_tensor(list(runs), device=tokens.device)
                return logprobs_runs(self.model, tokens, valid, temperature, suppress, index,
                                     last)  # fmt: skip
            self.passes[key] = LogprobsGraph(self.model, runs, tokens.shape, temperature,
                                             suppress, last, self.capture)  # fmt: skip
        return self.passes[key](tokens, valid)
