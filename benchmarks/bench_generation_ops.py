"""PyTorch operators dispatched per generated token by a block's generation.

    PYTHONPATH=. python benchmarks/bench_generation_ops.py [--runs 7] [--layers 8]

On a GPU a decoding step of a 25M-parameter model is short work spread over many small
operators, so its time is mostly their launches and the host's dispatch: the count of
operators per generated token (from :class:`~torch.utils._python_dispatch.TorchDispatchMode`,
every ``aten`` operator; "not views" leaves out slicing, reshaping and the like, which
launch nothing) is a measure that does not depend on the machine. It is the difference
between generating 8 and 4 new tokens, divided by 4 (the prompts' pass cancels out).

With ``--graphs`` the block generates with fixed-shape steps
(:mod:`insight_bayes.rlvr.block_graphs`) and the count leaves out the operators of the
step's forward pass, which a GPU replays as one CUDA graph (one launch): what is left is
what the host still dispatches per token (copying the token in, the sampling, the
bookkeeping).
"""

from __future__ import annotations

import argparse

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from insight_bayes.rlvr.block_graphs import BlockGraphs, DecodeStep
from insight_bayes.rlvr.model import ModelConfig, TinyLM
from insight_bayes.rlvr.stacked import StackedLM, generate_runs
from insight_bayes.rlvr.tokenizer import CharTokenizer

#: Operators that return a view (or metadata) and launch no kernel.
VIEWS = {"slice", "reshape", "transpose", "unsqueeze", "select", "split", "squeeze", "view",
         "expand", "alias", "lift_fresh", "detach", "_unsafe_view", "t", "permute"}  # fmt: skip


class _Count(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.all = 0
        self.compute = 0
        self.paused = False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if not self.paused:
            self.all += 1
            self.compute += str(func).split(".")[1] not in VIEWS
        return func(*args, **(kwargs or {}))


def per_token(runs: int, layers: int, graphs: bool = False) -> tuple[float, float]:
    """(operators, operators that are not views) per generated token of a block; with
    ``graphs``, those outside the fixed-shape step's forward pass."""
    tok = CharTokenizer("0123456789+=")
    cfg = ModelConfig(vocab_size=tok.vocab_size, block_size=40, n_layer=layers, n_head=8,
                      d_model=64)  # fmt: skip
    torch.manual_seed(0)
    stacked = StackedLM(cfg, [TinyLM(cfg).state_dict() for _ in range(runs)])
    prompts = [[tok.encode("12+345=", bos=True)] * 64 for _ in range(runs)]
    fixed = BlockGraphs(stacked) if graphs else None
    forward = DecodeStep._forward
    counts = {}
    for new in (4, 8):
        for counted in (False, True):  # the first call of a shape runs without its step
            generators = [torch.Generator().manual_seed(j) for j in range(runs)]
            with torch.inference_mode(), _Count() as count:

                def outside(step, count=count):  # the graph's operators are not counted
                    count.paused = True
                    try:
                        return forward(step)
                    finally:
                        count.paused = False

                DecodeStep._forward = outside
                try:
                    generate_runs(
                        stacked, list(range(runs)), prompts, new, eos_id=tok.eos_id,
                        pad_id=tok.pad_id, temperature=1.0, generators=generators, repeats=8,
                        suppress=[tok.bos_id, tok.pad_id, tok.eos_id],  # no early stop
                        graphs=fixed,
                    )  # fmt: skip
                finally:
                    DecodeStep._forward = forward
            if counted:
                counts[new] = (count.all, count.compute)
    return tuple((counts[8][i] - counts[4][i]) / 4 for i in range(2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--graphs", action="store_true", help="fixed-shape steps (graphs)")
    args = parser.parse_args()
    total, compute = per_token(args.runs, args.layers, args.graphs)
    where = " outside the step's graph (one replay on a GPU)" if args.graphs else ""
    print(f"per generated token (a block of {args.runs} runs, {args.layers} layers): "
          f"{total:.0f} operators{where}, {compute:.0f} of them not views")  # fmt: skip


if __name__ == "__main__":
    main()
