"""Fixed-shape generation steps (what a CUDA graph replays) equal the growing cache, and
a graphed log-probability pass equals the plain one.

The generation of :func:`generate_runs` with ``graphs`` attends over storage of the whole
generation's length, the keys not yet written masked out; without, over a cache that grows
a token at a time. The masked keys add exactly-zero terms, so logits agree to rounding and
every run draws the same tokens from its generator. On a CPU the fixed-shape steps run
eagerly; the capture itself is tested where CUDA is (the last test, skipped here).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from insight_bayes.results.store import ResultStore, RunKey  # noqa: E402
from insight_bayes.rlvr.block_graphs import (  # noqa: E402
    BlockGraphs,
    StaticKV,
    bucket_rows,
    step_mask,
)
from insight_bayes.rlvr.config import load_config  # noqa: E402
from insight_bayes.rlvr.model import (  # noqa: E402
    ModelConfig,
    TinyLM,
    attention_mask,
    left_pad,
    repeat_cache,
)
from insight_bayes.rlvr.stacked import StackedLM, generate_runs, logprobs_runs  # noqa: E402
from insight_bayes.rlvr.study import run_study  # noqa: E402
from insight_bayes.rlvr.tokenizer import CharTokenizer  # noqa: E402

PROMPTS = [("12+3=", "4+56="), ("1+2=", "333+4=", "7+7="), ("9+9=",)]


def _stack(device: str = "cpu", n: int = 3, layers: int = 2, block_size: int = 40):
    tokenizer = CharTokenizer("0123456789+=")
    cfg = ModelConfig(vocab_size=tokenizer.vocab_size, block_size=block_size, n_layer=layers,
                      n_head=2, d_model=32)  # fmt: skip
    torch.manual_seed(0)
    models = [TinyLM(cfg) for _ in range(n)]
    stacked = StackedLM(cfg, [m.state_dict() for m in models]).to(device)
    prompts = [[tokenizer.encode(p, bos=True) for p in group] for group in PROMPTS[:n]]
    return tokenizer, stacked, prompts


def _generate(stacked, tokenizer, prompts, runs, seeds, graphs=None, **kw):
    device = stacked.param("tok.weight").device
    generators = [torch.Generator(device=device).manual_seed(s) for s in seeds]
    kw = {"temperature": 1.0, "repeats": 1, **kw}
    out = generate_runs(stacked, runs, prompts, kw.pop("max_new_tokens", 8),
                        eos_id=tokenizer.eos_id, pad_id=tokenizer.pad_id,
                        generators=generators, suppress=(tokenizer.bos_id, tokenizer.pad_id),
                        graphs=graphs, **kw)  # fmt: skip
    return out, generators


def test_bucket_rows_pads_to_powers_of_two():
    assert [bucket_rows(n) for n in (1, 5, 8, 9, 16, 17, 64, 65, 512)] == [
        8, 8, 8, 16, 16, 32, 64, 128, 512,
    ]  # fmt: skip


def test_step_mask_is_the_growing_cache_mask_with_later_keys_hidden():
    # independent route: attention_mask of the valid mask cut at the query's position
    rng = np.random.default_rng(0)
    valid = torch.as_tensor(rng.random((5, 12)) < 0.7)
    valid[:, 6:] = True  # generated positions are valid
    arange = torch.arange(12)
    for cur in range(6, 12):
        mask = step_mask(valid, torch.tensor([cur]), arange)
        assert mask.shape == (5, 1, 1, 12)
        assert torch.equal(mask[..., : cur + 1], attention_mask(1, valid[:, : cur + 1]))
        assert not mask[..., cur + 1 :].any()


@pytest.mark.parametrize(("temperature", "repeats"), [(1.0, 3), (0.7, 1), (0.0, 2)])
def test_fixed_shape_generation_draws_the_same_tokens(temperature, repeats):
    tokenizer, stacked, prompts = _stack()
    graphs = BlockGraphs(stacked)
    for _ in range(3):  # the first call runs as without; the second makes the step
        plain, g1 = _generate(stacked, tokenizer, prompts, [0, 1, 2], [10, 11, 12],
                              temperature=temperature, repeats=repeats)  # fmt: skip
        fixed, g2 = _generate(stacked, tokenizer, prompts, [0, 1, 2], [10, 11, 12], graphs,
                              temperature=temperature, repeats=repeats)  # fmt: skip
        for a, b, ga, gb in zip(plain, fixed, g1, g2, strict=True):
            assert torch.equal(a, b)  # shapes too: each run's rows and steps
            assert torch.equal(ga.get_state(), gb.get_state())  # the same draws
    assert len(graphs.steps) == 1  # one shape: 3 runs x bucket_rows(3) * repeats rows
    (shape,) = graphs.steps
    assert (shape.runs, shape.rows) == ((0, 1, 2), 8 * repeats)
    # a subset of runs, in another order: a shape of its own
    for _ in range(2):
        sub, _ = _generate(stacked, tokenizer, [prompts[2], prompts[0]], [2, 0], [5, 6], graphs)
        ref, _ = _generate(stacked, tokenizer, [prompts[2], prompts[0]], [2, 0], [5, 6])
        assert all(torch.equal(a, b) for a, b in zip(sub, ref, strict=True))
    assert len(graphs.steps) == 2


def test_the_steps_storage_is_capped():
    tokenizer, stacked, prompts = _stack()
    one = BlockGraphs(stacked)
    for _ in range(2):
        _generate(stacked, tokenizer, prompts, [0, 1, 2], [1, 2, 3], one, repeats=2)
    (step,) = one.steps.values()
    held = sum(kv._k.nbytes + kv._v.nbytes for kv in step.kv)  # what was allocated
    assert one.held == held > 0
    tight = BlockGraphs(stacked, max_bytes=held - 1)  # one byte short: no fixed step
    for _ in range(3):
        out, _ = _generate(stacked, tokenizer, prompts, [0, 1, 2], [1, 2, 3], tight, repeats=2)
    assert tight.steps == {} and tight.held == 0
    ref, _ = _generate(stacked, tokenizer, prompts, [0, 1, 2], [1, 2, 3], repeats=2)
    assert all(torch.equal(a, b) for a, b in zip(out, ref, strict=True))


def test_fixed_step_logits_equal_the_growing_cache_to_rounding():
    tokenizer, stacked, prompts = _stack()
    seqs = [p for group in prompts for p in group[:1]]  # one prompt per run
    tokens, valid = left_pad(seqs, tokenizer.pad_id)
    tokens, valid = tokens[:, None], valid[:, None]  # (R, 1, T): sampled twice each
    positions = (valid.long().cumsum(-1) - 1).clamp(min=0)
    width = tokens.shape[-1]
    with torch.no_grad():
        logits, cache = stacked(tokens, positions, valid, runs=None, last=1)
        logits = logits.repeat_interleave(2, dim=1)  # as generate_runs shares the prompt
        cache, grown = repeat_cache(cache, 2), valid.repeat_interleave(2, dim=1)
        graphs = BlockGraphs(stacked)
        assert graphs.step_for([0, 1, 2], 2, width, width + 4, 2) is None  # asked for once
        step = graphs.step_for([0, 1, 2], 2, width, width + 4, 2)
        assert torch.equal(step.prefill(tokens, positions, valid), logits)  # the same pass
        nxt = logits[:, :, -1].argmax(-1)
        pos = (positions[..., -1] + 1).repeat_interleave(2, dim=1)
        for s in range(4):
            grown = torch.cat([grown, torch.ones_like(grown[..., :1])], dim=-1)
            want, cache = stacked(nxt[..., None], pos[..., None], grown, cache, last=1)
            got = step.step(nxt, pos, width + s)
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
            nxt, pos = want[:, :, -1].argmax(-1), pos + 1
    with pytest.raises(ValueError, match="outside"):
        step.step(nxt, pos, width + 4)  # past the storage
    kv = StaticKV(torch.zeros(1, 2, 5, 16), torch.zeros(1, 2, 5, 16), torch.tensor([3]))
    with pytest.raises(ValueError, match="one token"):
        kv.append(torch.zeros(1, 2, 2, 16), torch.zeros(1, 2, 2, 16))


def test_logprobs_of_a_shape_asked_for_again_go_through_its_graph():
    tokenizer, stacked, _ = _stack()
    rows = [tokenizer.encode(t, bos=True, eos=True) for t in ("12+3=51", "1+2=3", "9+9=81")]
    tokens, valid = left_pad(rows, tokenizer.pad_id)
    tokens, valid = tokens.expand(2, -1, -1), valid.expand(2, -1, -1)
    suppress = (tokenizer.bos_id, tokenizer.pad_id)
    graphs = BlockGraphs(stacked)
    for last in (None, 3):
        want = logprobs_runs(stacked, tokens, valid, 0.8, suppress, torch.tensor([2, 0]), last)
        for n in range(3):
            got = graphs.logprobs([2, 0], tokens, valid, 0.8, suppress, last)
            assert torch.equal(got, want)
            assert len(graphs.passes) == (last == 3) + (n > 0)  # from the second call on
    # another subset of runs is another shape: eager the first time
    other = graphs.logprobs([1], tokens[:1], valid[:1], 0.8, suppress, 3)
    want = logprobs_runs(stacked, tokens[:1], valid[:1], 0.8, suppress, torch.tensor([1]), 3)
    assert torch.equal(other, want) and len(graphs.passes) == 2


def test_graphed_passes_neither_read_nor_send_host_data(monkeypatch):
    # what a CUDA graph cannot record, checked on CPU: reading a value back to the host
    # (item, tolist, a Python bool of a tensor, nonzero) or making a tensor from Python
    # data (copied from the host); every pass a graph captures is watched
    from torch.utils._python_dispatch import TorchDispatchMode

    from insight_bayes.rlvr import block_graphs

    seen = set()

    class Watch(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            seen.add(str(func).split(".")[1])
            return func(*args, **(kwargs or {}))

    def watched(fn):
        def run(*args, **kwargs):
            with Watch():
                return fn(*args, **kwargs)

        return run

    for owner, name in ((block_graphs.DecodeStep, "_forward"),
                        (block_graphs.DecodeStep, "_prefill"),
                        (block_graphs.LogprobsGraph, "_forward")):  # fmt: skip
        monkeypatch.setattr(owner, name, watched(getattr(owner, name)))
    tokenizer, stacked, prompts = _stack()
    graphs = BlockGraphs(stacked)
    for _ in range(2):
        _generate(stacked, tokenizer, prompts, [0, 1, 2], [1, 2, 3], graphs, repeats=2)
    rows = [tokenizer.encode(t, bos=True, eos=True) for t in ("12+3=51", "1+2=3")]
    tokens, valid = (x.expand(3, -1, -1) for x in left_pad(rows, tokenizer.pad_id))
    for _ in range(2):
        graphs.logprobs([0, 1, 2], tokens, valid, 1.0, (tokenizer.bos_id, tokenizer.pad_id), 3)
    assert {"index_copy_", "embedding", "isin"} <= seen  # all three passes were watched
    assert not seen & {"_local_scalar_dense", "lift_fresh", "nonzero", "item"}


def test_fixed_shape_generation_checks_block_size():
    tokenizer, stacked, prompts = _stack(block_size=12)
    with pytest.raises(ValueError, match="block_size"):
        _generate(stacked, tokenizer, prompts, [0, 1, 2], [1, 2, 3], BlockGraphs(stacked),
                  max_new_tokens=10)  # fmt: skip


def test_a_study_with_cuda_graphs_equals_one_without(tmp_path, monkeypatch):
    # on a CPU --cuda-graphs runs the same fixed-shape steps eagerly: a block's tables
    # equal those of a block without them (Dynamic Sampling's extra rounds included)
    from test_rlvr_batched import _compare, _config, wide_passes

    from insight_bayes.rlvr import block_graphs

    wide_passes(monkeypatch)  # the block's runs in one pass, as on CUDA
    config = load_config(_config(["random", "dynamic-sampling", "insight"]))
    kw = {"device": "cpu", "cache_dir": tmp_path / "cache", "progress": False, "threads": 1,
          "runs_per_process": 6}  # fmt: skip
    plain = run_study(config, tmp_path / "plain", **kw)
    shapes = []
    real = block_graphs.BlockGraphs.step_for

    def spy(self, runs, rows, width, capacity, repeats):
        shapes.append((tuple(runs), rows))
        return real(self, runs, rows, width, capacity, repeats)

    passes = []
    real_pass = block_graphs.LogprobsGraph.__call__

    def spy_pass(self, tokens, valid):
        passes.append(tuple(tokens.shape))
        return real_pass(self, tokens, valid)

    monkeypatch.setattr(block_graphs.BlockGraphs, "step_for", spy)
    monkeypatch.setattr(block_graphs.LogprobsGraph, "__call__", spy_pass)
    graphs = run_study(config, tmp_path / "graphs", cuda_graphs=True, **kw)
    assert any(len(runs) == 6 for runs, _ in shapes)  # the block's runs in one pass
    assert any(len(runs) < 6 for runs, _ in shapes)  # and DS's rounds alone
    assert len(passes) >= config.loop.steps - 1  # the evaluation's, from its second step
    _compare(plain.tables["steps"], graphs.tables["steps"])
    store = ResultStore(tmp_path / "graphs")
    marker = store.run_meta(RunKey(config.key, "insight", 1))
    assert marker["cuda_graphs"] is True
    assert "cuda_graphs" not in ResultStore(tmp_path / "plain").run_meta(
        RunKey(config.key, "insight", 1)
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")
def test_captured_steps_equal_eager_steps_on_cuda():
    tokenizer, stacked, prompts = _stack("cuda")
    graphs = BlockGraphs(stacked)
    eager = BlockGraphs(stacked, capture=False)
    for _ in range(3):
        a, ga = _generate(stacked, tokenizer, prompts, [0, 1, 2], [3, 4, 5], graphs, repeats=4)
        b, gb = _generate(stacked, tokenizer, prompts, [0, 1, 2], [3, 4, 5], eager, repeats=4)
        assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
        assert all(torch.equal(x.get_state(), y.get_state()) for x, y in zip(ga, gb, strict=True))
    assert all(step.prefill_graph.graph is not None and step.step_graph.graph is not None
               for step in graphs.steps.values())  # fmt: skip
    rows = [tokenizer.encode(t, bos=True, eos=True) for t in ("12+3=51", "1+2=3")]
    tokens, valid = (x.cuda().expand(3, -1, -1) for x in left_pad(rows, tokenizer.pad_id))
    want = logprobs_runs(stacked, tokens, valid, 1.0, (), torch.tensor([0, 1, 2]).cuda(), 3)
    for _ in range(3):
        got = graphs.logprobs([0, 1, 2], tokens, valid, 1.0, (), 3)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert all(p.graph.graph is not None for p in graphs.passes.values())


def test_cuda_graphs_one_run_at_a_time_says_it_trains_without(tmp_path, caplog):
    from test_rlvr_batched import _config

    config = load_config(_config(["random"], steps=1))
    with caplog.at_level("WARNING", logger="insight_bayes.rlvr.study"):
        run_study(config, tmp_path / "alone", device="cpu", cache_dir=tmp_path / "cache",
                  progress=False, runs_per_process=1, cuda_graphs=True)  # fmt: skip
    assert "one run at a time trains without" in caplog.text
    marker = ResultStore(tmp_path / "alone").run_meta(RunKey(config.key, "random", 0))
    assert "cuda_graphs" not in marker
