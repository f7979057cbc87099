"""The held-out evaluation's forward pass alone: seconds and minor page faults per pass.

    PYTHONPATH=. python benchmarks/bench_eval_forward.py               # freed memory returned
    PYTHONPATH=. python benchmarks/bench_eval_forward.py --keep        # kept (as the harness)
    PYTHONPATH=. python benchmarks/bench_eval_forward.py --keep --compile

The tiered design's evaluation shape (256 problems x 23 tokens, the last layer on the last
9 positions) through a 0.8M-parameter TinyLM, one thread, 30 passes after one warm pass.
Run each variant in its own process: the allocator setting lasts for the process.
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from insight_bayes.rlvr.allocator import keep_freed_memory
from insight_bayes.rlvr.model import ModelConfig, TinyLM, positions_from_valid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep freed memory in the process")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile's")
    parser.add_argument("--passes", type=int, default=30)
    args = parser.parse_args()
    if args.keep:
        keep_freed_memory()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = TinyLM(ModelConfig(vocab_size=15, block_size=24)).eval()
    tokens = torch.randint(0, 15, (256, 23))
    valid = torch.ones(256, 23, dtype=torch.bool)
    positions = positions_from_valid(valid)
    variants = [("eager", model)]
    if args.compile:
        variants.append(("compiled", torch.compile(model, dynamic=False)))
    for name, forward in variants:
        with torch.no_grad():
            forward(tokens, positions, valid, last=9)
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            start = time.perf_counter()
            for _ in range(args.passes):
                forward(tokens, positions, valid, last=9)
            seconds = (time.perf_counter() - start) / args.passes
            faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / args.passes
        print(f"{name:8s} keep={args.keep}  {seconds:.4f} s per pass  {faults:.0f} minor faults")


if __name__ == "__main__":
    main()
