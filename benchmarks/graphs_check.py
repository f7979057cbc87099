"""Whether a study's blocks should generate with CUDA graphs on this machine: a check run
before the study, whose rule is fixed here and looks at no rule's results.

    PYTHONPATH=. python benchmarks/graphs_check.py --config configs/rlvr/gpu.toml \\
        --device cuda --runs 7 --rounds 3

A StackedLM of the config's shape (``--runs`` runs, fresh weights from a fixed seed, no
warm-up) generates one GRPO round per run (``loop.m`` pool prompts, ``loop.k`` samples
each, the config's temperature and answer length) at the block's precision, without and
with :mod:`insight_bayes.rlvr.block_graphs`'s fixed-shape steps, each round from the same
generator seeds both ways; then one run alone (a Dynamic Sampling extra round); then the
log-probabilities of ``eval.logprob_problems`` pool problems with their answers per run
(the held-out evaluation's shape), without and with a graph. It prints the seconds of each,
how many rows drew the same tokens and the largest log-probability difference, and ends
with one line:

    cuda_graphs: on (why)      or      cuda_graphs: off (why)

``on`` when, on a CUDA device, every timed round drew identical tokens in at least 99% of
its rows both ways, the log-probabilities differ by at most 1e-3 nats, and the graphs'
median round of the block took at most 0.9 of the eager one's; the first graph round (its
capture) is timed apart and not counted.
``benchmarks/run_gpu_study.sh`` passes ``--cuda-graphs`` to the study when it prints ``on``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from insight_bayes.rlvr.block_graphs import BlockGraphs
from insight_bayes.rlvr.config import load_config
from insight_bayes.rlvr.harness import resolve_device
from insight_bayes.rlvr.model import ModelConfig, TinyLM, left_pad
from insight_bayes.rlvr.precision import block_precision
from insight_bayes.rlvr.stacked import StackedLM, generate_runs, logprobs_runs
from insight_bayes.rlvr.tasks import make_splits
from insight_bayes.rlvr.tokenizer import CharTokenizer

#: The rule, fixed before any device ran it.
MIN_AGREEMENT = 0.99
MAX_TIME_RATIO = 0.9
MAX_LOGPROB_DIFFERENCE = 1e-3


def _setup(config_path: str, runs: int, device: str):
    config = load_config(config_path)
    task = config.task.make_task()
    pool, _ = make_splits(task, config.task.pool_size, config.task.test_size, config.task.seed)
    tokenizer = CharTokenizer(task.alphabet)
    block = config.model.block_size or task.max_prompt_chars + 1 + config.grpo.max_new_tokens + 1
    model_config = ModelConfig(vocab_size=tokenizer.vocab_size, block_size=block,
                               n_layer=config.model.n_layer, n_head=config.model.n_head,
                               d_model=config.model.d_model)  # fmt: skip
    torch.manual_seed(0)
    states = [TinyLM(model_config).state_dict() for _ in range(runs)]
    stacked = StackedLM(model_config, states).to(device)
    rng = np.random.default_rng(0)
    m = config.loop.m
    prompts = [
        [tokenizer.encode(pool[int(i)].prompt, bos=True) for i in rng.choice(len(pool), m)]
        for _ in range(runs)
    ]
    n = min(config.eval.logprob_problems, len(pool))
    answered = [tokenizer.encode(p.prompt + p.solution, bos=True, eos=True) for p in pool[:n]]
    tokens, valid = left_pad(answered, tokenizer.pad_id, device)
    batch = (tokens.expand(runs, -1, -1), valid.expand(runs, -1, -1))
    return config, tokenizer, stacked, prompts, batch


def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _round(stacked, tokenizer, config, runs, prompts, seed, graphs):
    device = stacked.param("tok.weight").device
    generators = [torch.Generator(device=device).manual_seed(seed + j) for j in range(len(runs))]
    _sync(device)
    start = time.perf_counter()
    out = generate_runs(stacked, runs, prompts, config.grpo.max_new_tokens,
                        eos_id=tokenizer.eos_id, pad_id=tokenizer.pad_id,
                        temperature=config.grpo.temperature, generators=generators,
                        repeats=config.loop.k,
                        suppress=(tokenizer.bos_id, tokenizer.pad_id), graphs=graphs)  # fmt: skip
    _sync(device)
    return time.perf_counter() - start, out


def _agreement(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    same = total = 0
    for x, y in zip(a, b, strict=True):
        width = max(x.shape[1], y.shape[1])
        x = torch.nn.functional.pad(x, (0, width - x.shape[1]), value=-1)
        y = torch.nn.functional.pad(y, (0, width - y.shape[1]), value=-1)
        same += int((x == y).all(dim=1).sum())
        total += x.shape[0]
    return same / total


def check(config_path: str, runs: int, rounds: int, device: str) -> tuple[bool, str, list[str]]:
    """``(on, why, lines)``: the decision, its reason and the measurements."""
    config, tokenizer, stacked, prompts, (tokens, valid) = _setup(config_path, runs, device)
    lines = []
    with torch.no_grad(), block_precision(device):
        cases = [("block", list(range(runs)), prompts), ("one run", [runs - 1], prompts[-1:])]
        result = {}
        for name, which, ps in cases:
            graphs = BlockGraphs(stacked)
            _round(stacked, tokenizer, config, which, ps, 99, None)  # warm: allocations
            _round(stacked, tokenizer, config, which, ps, 99, graphs)  # asked for once: eager
            first, _ = _round(stacked, tokenizer, config, which, ps, 99, graphs)  # capture
            eager, fixed, agree = [], [], []
            for r in range(rounds):
                te, a = _round(stacked, tokenizer, config, which, ps, 1000 * r, None)
                tg, b = _round(stacked, tokenizer, config, which, ps, 1000 * r, graphs)
                eager.append(te)
                fixed.append(tg)
                agree.append(_agreement(a, b))
            result[name] = (statistics.median(eager), statistics.median(fixed), min(agree))
            lines.append(
                f"{name} ({len(which)} runs x {config.loop.m * config.loop.k} rows): eager "
                f"{statistics.median(eager):.4f} s, fixed-shape steps "
                f"{statistics.median(fixed):.4f} s (first round, with capture, {first:.4f} s), "
                f"rows with the same tokens {min(agree):.2%} (worst round)"
            )
        graphs, which = BlockGraphs(stacked), list(range(runs))
        suppress = (tokenizer.bos_id, tokenizer.pad_id)
        last = tokens.shape[-1] - 1
        seconds = {}
        for name, fn in (
            ("eager", lambda: logprobs_runs(stacked, tokens, valid, 1.0, suppress,
                                            torch.as_tensor(which, device=device), last)),
            ("graph", lambda: graphs.logprobs(which, tokens, valid, 1.0, suppress, last)),
        ):  # fmt: skip
            fn(), fn(), fn()  # the graph is made on its second call, replayed on the third
            times = []
            for _ in range(rounds):
                _sync(device)
                start = time.perf_counter()
                out = fn()
                _sync(device)
                times.append(time.perf_counter() - start)
            seconds[name] = (statistics.median(times), out)
        gap = float((seconds["eager"][1] - seconds["graph"][1]).abs().max())
        lines.append(
            f"log-probabilities ({runs} runs x {tokens.shape[1]} problems): eager "
            f"{seconds['eager'][0]:.4f} s, graph {seconds['graph'][0]:.4f} s, largest "
            f"difference {gap:.2e} nats"
        )
    eager, fixed, agree = result["block"]
    worst = min(r[2] for r in result.values())
    if device != "cuda":
        return False, "no CUDA device: the steps ran without graphs", lines
    if worst < MIN_AGREEMENT:
        return False, f"tokens agree in {worst:.2%} of rows < {MIN_AGREEMENT:.0%}", lines
    if not gap <= MAX_LOGPROB_DIFFERENCE:
        return False, f"log-probabilities differ by {gap:.2e} > {MAX_LOGPROB_DIFFERENCE}", lines
    if fixed > MAX_TIME_RATIO * eager:
        return False, f"graphs {fixed / eager:.2f}x the eager time > {MAX_TIME_RATIO}", lines
    return True, f"graphs {fixed / eager:.2f}x the eager time, tokens agree", lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="configs/rlvr/gpu.toml")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cuda", choices=["auto", "cpu", "cuda"])
    args = parser.parse_args()
    device = resolve_device(args.device)
    on, why, lines = check(args.config, args.runs, args.rounds, device)
    print(f"config {args.config}  device {device}"
          + (f" ({torch.cuda.get_device_name(0)})" if device == "cuda" else ""))  # fmt: skip
    print("\n".join(lines))
    print(f"cuda_graphs: on ({why})" if on else f"cuda_graphs: off ({why})")


if __name__ == "__main__":
    main()
