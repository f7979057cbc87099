"""Batched runs equal separate runs: the stacked model, its generation and GRPO update, and
whole studies with blocks of runs (every kind of rule, Dynamic Sampling's extra rounds).

On CPU a block's passes take one run at a time (``RunBlock``'s default), and a pass of one
run computes as the run alone (``F.linear``, TinyLM's fused layer norm, the update's
columns, ``clip_grad_norm_``'s norm): a study in blocks is bitwise the study one run at a
time, and the tests say so exactly.

Why floats of passes over several runs (the CUDA default) are not bitwise equal: the
stacked layer norm applies each run's affine after the normalisation, in another order
than the fused kernel; runs padded to a common batch add exactly zero terms to wider
attention rows, in another order. That leaves about 1e-7 relative per forward pass.
AdamW's first steps divide each gradient entry by its own magnitude (``m / sqrt(v)``), so
an entry whose gradient is nearly 0 can move by up to ``lr`` either way: parameters agree
to a small multiple of ``lr`` times rounding, metrics to ~1e-6. The sampled tokens are the
same draws (each run's generator draws exactly what it draws alone), so chosen prompts and
rewards are identical as long as no probability sits within rounding of a sampling
threshold: true in these few steps, not guaranteed over hundreds.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from insight_bayes.results.store import ResultStore, RunKey  # noqa: E402
from insight_bayes.rlvr import batched, study  # noqa: E402
from insight_bayes.rlvr.config import load_config  # noqa: E402
from insight_bayes.rlvr.grpo import (  # noqa: E402
    build_batch,
    grpo_update,
    make_optimizer,
    make_scheduler,
)
from insight_bayes.rlvr.model import ModelConfig, TinyLM, generate, left_pad, token_logprobs  # noqa: E402
from insight_bayes.rlvr.policy import CharPolicy  # noqa: E402
from insight_bayes.rlvr.run_sections import GRPOConfig  # noqa: E402
from insight_bayes.rlvr.stacked import (  # noqa: E402
    StackedLM,
    generate_runs,
    logprobs_runs,
)
from insight_bayes.rlvr.stacked_grpo import grpo_update_runs  # noqa: E402
from insight_bayes.rlvr.study import run_study  # noqa: E402
from insight_bayes.rlvr.tokenizer import CharTokenizer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "rlvr" / "smoke.toml"

#: One rule of each kind: plain top-M on Beta beliefs (random, mopps, insight,
#: expected-difficulty), a filter with extra rounds (dynamic-sampling), sampling inside
#: selection (insight-sampled), other beliefs: graded rewards (insight-graded, Dirichlet),
#: lagged signal (signal-information), noisy, tracking, group prior (insight-eb),
#: adaptive (insight-adaptive).
RULES = [
    "random", "mopps", "expected-difficulty", "insight", "dynamic-sampling",
    "insight-sampled", "insight-graded", "signal-information", "insight-noisy",
    "mopps-tracking", "insight-eb", "insight-adaptive",
]  # fmt: skip


def _tiny(n: int, seed: int = 0) -> tuple[CharTokenizer, list[TinyLM]]:
    tokenizer = CharTokenizer("0123456789+=")
    cfg = ModelConfig(vocab_size=tokenizer.vocab_size, block_size=40, n_layer=2, n_head=2,
                      d_model=32)  # fmt: skip
    torch.manual_seed(seed)
    return tokenizer, [TinyLM(cfg) for _ in range(n)]


def test_stacked_generation_and_logprobs_equal_each_run_alone():
    tokenizer, models = _tiny(3)
    stacked = StackedLM(models[0].config, [m.state_dict() for m in models])
    suppress = (tokenizer.bos_id, tokenizer.pad_id)
    prompts = [  # different numbers of prompts and lengths per run
        [tokenizer.encode(p, bos=True) for p in ("12+3=", "4+56=")],
        [tokenizer.encode(p, bos=True) for p in ("1+2=", "333+4=", "7+7=")],
        [tokenizer.encode("9+9=", bos=True)],
    ]
    for temperature, repeats in ((1.0, 3), (0.7, 1), (0.0, 2)):
        generators = [torch.Generator().manual_seed(10 + j) for j in range(3)]
        out = generate_runs(
            stacked, [0, 1, 2], prompts, 8, eos_id=tokenizer.eos_id, pad_id=tokenizer.pad_id,
            temperature=temperature, generators=generators, repeats=repeats, suppress=suppress,
        )  # fmt: skip
        for j, model in enumerate(models):
            generator = torch.Generator().manual_seed(10 + j)
            alone = generate(
                model, prompts[j], 8, eos_id=tokenizer.eos_id, pad_id=tokenizer.pad_id,
                temperature=temperature, generator=generator, repeats=repeats, suppress=suppress,
            )  # fmt: skip
            assert torch.equal(out[j], alone)
            # each generator is left where the run alone leaves it (the same draws)
            assert torch.equal(generators[j].get_state(), generator.get_state())
    # a subset of runs, in another order
    sub = generate_runs(
        stacked, [2, 0], [prompts[2], prompts[0]], 6, eos_id=tokenizer.eos_id,
        pad_id=tokenizer.pad_id, temperature=1.0,
        generators=[torch.Generator().manual_seed(5), torch.Generator().manual_seed(6)],
        suppress=suppress,
    )  # fmt: skip
    for tokens, j, seed in ((sub[0], 2, 5), (sub[1], 0, 6)):
        alone = generate(models[j], prompts[j], 6, eos_id=tokenizer.eos_id,
                         pad_id=tokenizer.pad_id, generator=torch.Generator().manual_seed(seed),
                         suppress=suppress)  # fmt: skip
        assert torch.equal(tokens, alone)
    tokens, valid = left_pad([tokenizer.encode("12+3=51", bos=True, eos=True),
                              tokenizer.encode("1+2=3", bos=True)], tokenizer.pad_id)  # fmt: skip
    logp = logprobs_runs(stacked, tokens.expand(3, -1, -1), valid.expand(3, -1, -1), 0.8, suppress)
    for j, model in enumerate(models):
        alone = token_logprobs(model, tokens, valid, 0.8, suppress)
        torch.testing.assert_close(logp[j], alone, rtol=1e-6, atol=1e-6)
    # the last columns only (the final layer computes nothing else): the same numbers
    tail = logprobs_runs(stacked, tokens.expand(3, -1, -1), valid.expand(3, -1, -1), 0.8,
                         suppress, last=3)  # fmt: skip
    assert tail.shape == (3, 2, 3)
    torch.testing.assert_close(tail, logp[..., -3:], rtol=1e-6, atol=1e-6)
    for j, model in enumerate(models):
        alone = token_logprobs(model, tokens, valid, 0.8, suppress, last=3)
        torch.testing.assert_close(tail[j], alone, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="last"):
        logprobs_runs(stacked, tokens.expand(3, -1, -1), valid.expand(3, -1, -1), last=99)


@pytest.mark.parametrize("max_rows", [5, 1, None])
@pytest.mark.parametrize(("kl_coef", "grouped"), [(0.0, False), (0.05, False), (0.0, True)])
def test_stacked_grpo_update_equals_each_run_alone(kl_coef, grouped, max_rows):
    """Runs in chunks (``max_rows`` 5: chunks of several runs; 1: one run per chunk, equal
    bit for bit; ``None``: all runs in one pass) step as each run alone."""
    tokenizer, (base,) = _tiny(1, seed=1)
    grpo = GRPOConfig(lr=1e-3, lr_warmup_steps=2, kl_coef=kl_coef, max_grad_norm=0.5,
                      weight_decay=0.01, updates_per_step=2)  # fmt: skip
    runs = 3
    policies = [CharPolicy(copy.deepcopy(base), tokenizer) for _ in range(runs)]
    reference = CharPolicy(copy.deepcopy(base), tokenizer)
    optimizers = [make_optimizer(p.model, grpo) for p in policies]
    schedulers = [make_scheduler(o, grpo) for o in optimizers]
    stacked = StackedLM(base.config, [base.state_dict()] * runs)
    optimizer = make_optimizer(stacked, grpo)
    scheduler = make_scheduler(optimizer, grpo)
    rng = torch.Generator().manual_seed(3)
    for step in range(3):
        batches, advantages = [], []
        for j in range(runs):
            n = 2 + 2 * j  # runs with different numbers of rows and widths
            # grouped: pairs of rows share a prompt (GRPO groups of K = 2)
            prompts = [tokenizer.encode(f"{j}{i // 2 if grouped else i}+3{i}=", bos=True)
                       for i in range(n)]  # fmt: skip
            if grouped:
                prompts = [prompts[i - i % 2] for i in range(n)]
            comps = [tokenizer.encode(str(7 * i + j)[: 1 + i % 3], eos=True) for i in range(n)]
            batches.append(
                build_batch(prompts, comps, tokenizer.pad_id, repeats=2 if grouped else None)
            )
            adv = torch.randn(n, generator=rng)
            adv[0] = 0.0
            if grouped:
                adv[1] = 0.0  # the first group is all-equal: left out of the update
            if j == 2 and step == 1:
                adv[:] = 0.0  # an all-zero step: AdamW still steps (decay, moments)
            advantages.append(adv)
        alone = [
            grpo_update(policies[j], optimizers[j], batches[j], advantages[j], grpo,
                        reference if kl_coef else None, schedulers[j])
            for j in range(runs)
        ]  # fmt: skip
        together = grpo_update_runs(
            stacked, optimizer, batches, advantages, grpo, pad_id=tokenizer.pad_id,
            suppress=policies[0].suppress, reference=reference if kl_coef else None,
            scheduler=scheduler, max_rows=max_rows,
        )  # fmt: skip
        for j in range(runs):
            assert set(together[j]) == set(alone[j])
            state = stacked.state_dict_of(j)
            if max_rows == 1:  # one run per pass: the run's own floats
                assert together[j] == alone[j]
                for name, value in policies[j].model.state_dict().items():
                    assert torch.equal(state[name], value), (step, j, name)
                continue
            for key, value in alone[j].items():
                assert together[j][key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
            for name, value in policies[j].model.state_dict().items():
                torch.testing.assert_close(state[name], value, rtol=0, atol=20 * grpo.lr * 1e-3)


def test_generation_states_the_largest_position_without_reading_it(monkeypatch):
    tokenizer, models = _tiny(2)
    stacked = StackedLM(models[0].config, [m.state_dict() for m in models])
    prompts = [[tokenizer.encode("12+345=", bos=True), tokenizer.encode("1+2=", bos=True)],
               [tokenizer.encode("7+8=", bos=True)]]  # fmt: skip
    forward = StackedLM.forward
    stated = []

    def checked(self, idx, positions, key_valid, cache=None, runs=None, last=None,
                max_position=None):  # fmt: skip
        assert max_position == int(positions.max())  # what the check would have read
        stated.append(max_position)
        return forward(self, idx, positions, key_valid, cache, runs, last, max_position)

    monkeypatch.setattr(StackedLM, "forward", checked)
    generators = [torch.Generator().manual_seed(j) for j in range(2)]
    generate_runs(stacked, [0, 1], prompts, 6, eos_id=tokenizer.eos_id, pad_id=tokenizer.pad_id,
                  temperature=1.0, generators=generators, repeats=2)  # fmt: skip
    assert stated[0] == len(prompts[0][0]) - 1 and stated == list(range(stated[0], stated[-1] + 1))
    monkeypatch.setattr(StackedLM, "forward", forward)
    # a generation that runs past block_size (40) is still refused, as by a run alone
    long = [[tokenizer.encode("1" * 30 + "+2=", bos=True)]] * 2
    with pytest.raises(ValueError, match="block_size"):
        generate_runs(stacked, [0, 1], long, 20, eos_id=tokenizer.eos_id,
                      pad_id=tokenizer.pad_id, temperature=1.0, generators=generators,
                      suppress=[tokenizer.eos_id])  # fmt: skip
    with pytest.raises(ValueError, match="block_size"):
        generate(models[0], long[0], 20, eos_id=tokenizer.eos_id, pad_id=tokenizer.pad_id,
                 suppress=[tokenizer.eos_id])  # fmt: skip


def _config(rules: list[str], steps: int = 3) -> dict:
    with SMOKE.open("rb") as f:
        raw = tomllib.load(f)
    raw["study"].update(rules=rules, seeds=[0, 1] if len(rules) < 4 else [0])
    raw["loop"].update(steps=steps, eval_every=2)
    raw["warmup"]["steps"] = 20
    return raw


def _compare(a: pd.DataFrame, b: pd.DataFrame) -> None:
    key = ["rule", "seed", "step"]
    a, b = a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True)
    exact = [c for c in a.columns if a[c].dtype.kind not in "f"] + [
        "train_reward", "informative_share", "rollouts", "rounds", "chosen_evidence",
        "train/correct",
    ]  # fmt: skip
    pd.testing.assert_frame_equal(a[exact], b[exact])
    floats = [c for c in a.columns if a[c].dtype.kind == "f" and "seconds" not in c]
    np.testing.assert_allclose(a[floats], b[floats], rtol=1e-5, atol=2e-6)


def _timeless(steps: pd.DataFrame) -> pd.DataFrame:
    key = ["rule", "seed", "step"]
    steps = steps.sort_values(key).reset_index(drop=True)
    return steps.drop(columns=[c for c in steps.columns if "seconds" in c])


def wide_passes(monkeypatch) -> None:
    """Blocks pass over all their runs at once, as on CUDA (on CPU a block takes one run a
    pass)."""
    real_init = batched.RunBlock.__init__

    def wide(self, harness, runs, max_rows=None, cuda_graphs=False):
        real_init(self, harness, runs, max_rows or 4096, cuda_graphs)

    monkeypatch.setattr(batched.RunBlock, "__init__", wide)


@pytest.mark.parametrize("wide", [False, True])
def test_a_study_in_one_block_equals_one_run_at_a_time(tmp_path, monkeypatch, wide):
    config = load_config(_config(RULES))
    kw = {"device": "cpu", "cache_dir": tmp_path / "cache", "progress": False, "threads": 1}
    alone = run_study(config, tmp_path / "alone", runs_per_process=1, **kw)
    if wide:
        wide_passes(monkeypatch)
    block = run_study(config, tmp_path / "block", runs_per_process=len(RULES), **kw)
    assert len(block.report.trained) == len(RULES)
    steps = block.tables["steps"]
    ds = steps[(steps.rule == "dynamic-sampling") & (steps.step > 0)]
    assert (ds["rounds"] > 1).any()  # the extra rounds happened, in the block too
    manifest = ResultStore(tmp_path / "block").read_manifest()
    assert manifest["runs_per_process"] == len(RULES)
    choices = [alone.tables["choices"], block.tables["choices"]]
    if wide:  # equal to rounding (module docstring); every choice the same
        _compare(alone.tables["steps"], steps)
        pd.testing.assert_frame_equal(
            *(c.drop(columns=[n for n in c if c[n].dtype.kind == "f"]) for c in choices)
        )
        return
    # one run a pass (the CPU default): bit for bit, every float of every step, and every
    # choice with its belief
    pd.testing.assert_frame_equal(_timeless(alone.tables["steps"]), _timeless(steps))
    order = ["rule", "seed", "step", "rank"]
    pd.testing.assert_frame_equal(*(c.sort_values(order).reset_index(drop=True) for c in choices))
    # the default on CPU is blocks too: 12 runs, at most 8 a block, so two blocks of 6
    default = run_study(config, tmp_path / "default", **kw)
    assert ResultStore(tmp_path / "default").read_manifest()["runs_per_process"] == 6
    pd.testing.assert_frame_equal(_timeless(default.tables["steps"]), _timeless(steps))


@pytest.mark.parametrize(
    ("device", "runs", "workers", "block"),
    [
        ("cuda", 168, 1, 64), ("cuda", 7, 4, 7),
        ("cpu", 56, 2, 7),  # 8 blocks of 7: 4 per worker
        ("cpu", 56, 1, 8), ("cpu", 3, 2, 2), ("cpu", 1, 4, 1), ("cpu", 12, 1, 6),
        ("cpu", 17, 2, 5),  # 4 blocks (2 per worker): 5, 5, 5, 2
    ],
)  # fmt: skip
def test_default_block_size(device, runs, workers, block):
    from insight_bayes.rlvr.study_jobs import CPU_BLOCK, default_runs_per_process

    got = default_runs_per_process(device, runs, workers)
    assert got == block
    if device == "cpu":
        blocks = -(-runs // got)
        assert got <= CPU_BLOCK and blocks % workers == 0 or blocks < workers


def test_blocks_resume_and_a_failing_run_stops_its_block(tmp_path, monkeypatch):
    raw = _config(["random", "insight"], steps=2)  # 2 rules x 2 seeds, blocks of 3
    config = load_config(raw)
    kw = {"device": "cpu", "cache_dir": tmp_path / "cache", "progress": False}
    out = tmp_path / "out"
    real = study.run_block_job
    calls = []

    def crash_on_second(job):
        calls.append(job.runs)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")
        return real(job)

    monkeypatch.setattr(study, "run_block_job", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        run_study(config, out, runs_per_process=3, **kw)
    store = ResultStore(out)
    first = [RunKey(config.key, r, s) for r, s in calls[0]]
    assert calls[0] == (("random", 0), ("insight", 0), ("random", 1))
    assert all(store.is_complete(k) for k in first)
    calls.clear()
    result = run_study(config, out, runs_per_process=3, **kw)
    assert calls == [(("insight", 1),)]  # only the unfinished run, in a block of its own
    assert result.report.resumed == first and len(result.report.trained) == 1
    # the same study one run at a time gives the same tables
    alone = run_study(config, tmp_path / "alone", runs_per_process=1, **kw)
    _compare(alone.tables["steps"], result.tables["steps"])

    # a run that fails stops the whole block with its error (no run waits forever)
    from insight_bayes.rlvr.batched import RunBlock
    from insight_bayes.rlvr.harness import harness_for

    block = RunBlock(harness_for(config, "cpu", tmp_path / "cache"), [("random", 0)] * 3)

    def work(i, env):
        rng = np.random.default_rng(i)
        env.rollout(np.arange(config.loop.m), config.loop.k, rng)
        if i == 1:
            raise RuntimeError("run 1 broke")
        env.rollout(np.arange(config.loop.m), config.loop.k, rng)
        return i

    with pytest.raises(RuntimeError, match="run 1 broke"):
        block.run(work)


def test_cuda_blocks_use_tf32_only_while_they_train(tmp_path, monkeypatch):
    # the precision is a process-wide setting: a block sets it for its own training and
    # restores it, so that a later task draw's warm-up (trained in the same process) is
    # full float32 on every call; every block gets it (a study's, the design's pilot, the
    # intervention's), since it is the block's own loop that sets it
    import contextlib

    from insight_bayes.rlvr import batched as batched_module
    from insight_bayes.rlvr.harness import harness_for
    from insight_bayes.rlvr.precision import block_precision

    assert torch.get_float32_matmul_precision() == "highest"
    with pytest.raises(RuntimeError), block_precision("cuda"):
        assert torch.get_float32_matmul_precision() == "high"
        raise RuntimeError("a failing block")
    assert torch.get_float32_matmul_precision() == "highest"  # restored after an error too
    with block_precision("cpu"):
        assert torch.get_float32_matmul_precision() == "highest"  # CPU keeps float32

    config = load_config(_config(["random"], steps=1))
    block = batched_module.RunBlock(harness_for(config, "cpu", tmp_path / "cache"),
                                    [("random", 0), ("random", 1)])  # fmt: skip
    devices = []

    @contextlib.contextmanager
    def as_on_cuda(device):  # what block_precision does on CUDA, on this CPU block
        devices.append(device)
        with block_precision("cuda"):
            yield

    monkeypatch.setattr(batched_module, "block_precision", as_on_cuda)

    def work(i, env):
        env.rollout(np.arange(config.loop.m), config.loop.k, np.random.default_rng(i))
        return torch.get_float32_matmul_precision()

    assert block.run(work) == ["high", "high"] and devices == ["cpu"]
    assert torch.get_float32_matmul_precision() == "highest"
