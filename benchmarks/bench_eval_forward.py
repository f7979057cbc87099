"""The held-out evaluation's forward pass alone: seconds and minor page faults per pass.

    PYTHONPATH=. python benchmarks/bench_eval_forward.py               # freed memory returned
    PYTHONPATH=. python benchmarks/bench_eval_forward.py --keep        # kept (as the harness)
    PYTHONPATH=. python benchmarks/bench_eval_forward.py --keep --compile
    PYTHONPATH=. python benchmarks/bench_eval_forward.py --keep --rows 256,128,64,32,16

The tiered design's evaluation shape (256 problems x 23 tokens, the last layer on the last
9 positions) through a 0.8M-parameter TinyLM, one thread, 30 passes after one warm pass.
Run each variant in its own process: the allocator setting lasts for the process.
``--rows`` times the same pass in chunks of that many problems (smaller activations stay in
the core's cache; per-row results may then differ in the last bits, so the harness keeps
one pass).
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
    parser.add_argument("--rows", default="256", help="problems per forward call, e.g. 256,64")
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
    for rows in (int(r) for r in args.rows.split(",")):
        for name, forward in variants:
            with torch.no_grad():

                def one_pass(forward=forward, rows=rows) -> None:
                    for s in range(0, tokens.shape[0], rows):
                        part = slice(s, s + rows)
                        forward(tokens[part], positions[part], valid[part], last=9)

                one_pass()
                faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                start = time.perf_counter()
                for _ in range(args.passes):
                    one_pass()
                seconds = (time.perf_counter() - start) / args.passes
                faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / args.passes
            print(f"{name:8s} keep={args.keep} rows={rows:4d}  {seconds:.4f} s per pass  "
                  f"{faults:.0f} minor faults")  # fmt: skip


if __name__ == "__main__":
    main()
