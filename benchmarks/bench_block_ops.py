"""PyTorch operators a block dispatches per step, by phase, without and with CUDA graphs.

    PYTHONPATH=. python benchmarks/bench_block_ops.py [--runs 7] [--cache-dir CACHE]

A block of runs of the GPU design's shape (``configs/rlvr/gpu.toml``: pool 2048, M = 64,
K = 8, its seven rules, 8 layers and 8 heads) with a narrow model (``d_model`` 64: the
count of operators does not depend on the width) trains 4 and then 12 steps on CPU; the
difference, over 8, is a steady step's count (the first steps' one-off work cancels out).
Each served request is counted apart: generation, log-probabilities (the every-step
evaluation) and the GRPO update (its AdamW step left out: on CUDA PyTorch's AdamW steps
all parameters with a few multi-tensor kernels, on CPU one tensor at a time). With graphs
(``rlvr-study --cuda-graphs``) the operators of the graphed forward passes are left out:
a GPU replays each of those passes with one launch. Every operator is counted, views too
("not views" leaves out slicing, reshaping and the like, which launch nothing).

On a GPU a block of small models is paced by how many operators the host dispatches
rather than by their arithmetic (``benchmarks/README.md``), so this count, which does not
depend on the machine, is what CUDA graphs should cut; how much time that saves on a GPU
is for a device call to measure.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import sys
import tomllib
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_generation_ops import _Count  # noqa: E402
from bench_rlvr_batched import _runs, _train  # noqa: E402

from insight_bayes.rlvr import batched, block_graphs  # noqa: E402
from insight_bayes.rlvr.config import load_config  # noqa: E402
from insight_bayes.rlvr.harness import Harness  # noqa: E402

PHASES = ("generate", "logprobs", "update")


class _Counting:
    """Count each served request's operators (``counts``), pausing inside the graphed
    forward passes (with graphs) and the optimizer's step."""

    def __init__(self) -> None:
        self.counts: collections.Counter = collections.Counter()
        self.mode: _Count | None = None
        self._saved: list = []

    def _paused(self, fn):
        def wrapped(*args, **kwargs):
            mode = self.mode
            if mode is not None:
                mode.paused, before = True, mode.paused
            try:
                return fn(*args, **kwargs)
            finally:
                if mode is not None:
                    mode.paused = before

        return wrapped

    def _served(self, kind, fn):
        def wrapped(block, indices):
            with _Count() as mode:
                self.mode = mode
                try:
                    return fn(block, indices)
                finally:
                    self.mode = None
                    self.counts[kind] += mode.all
                    self.counts[kind + " (not views)"] += mode.compute

        return wrapped

    def __enter__(self):
        targets = [(batched.RunBlock, f"_serve_{k}", k) for k in PHASES] + [
            (block_graphs.DecodeStep, "_forward", None),
            (block_graphs.DecodeStep, "_prefill", None),
            (block_graphs.LogprobsGraph, "_forward", None),
            (torch.optim.AdamW, "step", None),
        ]
        for owner, name, kind in targets:
            fn = getattr(owner, name)
            self._saved.append((owner, name, fn))
            setattr(owner, name, self._served(kind, fn) if kind else self._paused(fn))
        return self

    def __exit__(self, *exc) -> None:
        for owner, name, fn in self._saved:
            setattr(owner, name, fn)


def block_ops(runs: int, cache_dir: str | None) -> dict[str, dict[str, float]]:
    """Operators per steady block-step, by phase, ``{"eager": {...}, "graphs": {...}}``."""
    torch.set_num_threads(1)
    with open(Path(__file__).resolve().parents[1] / "configs/rlvr/gpu.toml", "rb") as f:
        raw = tomllib.load(f)
    raw["model"] = {"n_layer": 8, "n_head": 8, "d_model": 64}
    raw["warmup"] = {"steps": 100, "batch_size": 256, "lr": 5e-4, "seed": 0}  # no check
    raw.pop("design", None)
    base = load_config(raw)
    harness = Harness(base, "cpu", cache_dir)
    chosen = _runs(base, runs)
    out = {}
    for graphs in (False, True):
        counts = {}
        for steps in (4, 12):
            loop = dataclasses.replace(base.loop, steps=steps)
            harness.config = dataclasses.replace(base, loop=loop)
            with _Counting() as counting:
                _train(harness, chosen, runs, graphs)
            counts[steps] = counting.counts
        keys = sorted(set(counts[12]) | set(counts[4]))
        out["graphs" if graphs else "eager"] = {k: (counts[12][k] - counts[4][k]) / 8 for k in keys}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args()
    table = block_ops(args.runs, args.cache_dir)
    print(f"operators per block-step (a block of {args.runs} runs, 8 layers; steps 5-12)")
    for name, row in table.items():
        parts = ", ".join(
            f"{k} {row[k]:.0f} ({row[k + ' (not views)']:.0f} not views)" for k in PHASES
        )
        total = sum(row[k] for k in PHASES)
        compute = sum(row[k + " (not views)"] for k in PHASES)
        print(f"{name}: {parts}; all {total:.0f} ({compute:.0f} not views)")


if __name__ == "__main__":
    main()
