"""Random's checkpoints of several seeds trained as one batched block equal those of each
seed alone: weights and AdamW state to rounding, beliefs exactly (the same prompts chosen
and the same rewards)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from insight_bayes.rlvr.checkpoint_probe import (  # noqa: E402
    random_checkpoints,
    random_checkpoints_block,
)
from insight_bayes.rlvr.config import load_config  # noqa: E402
from insight_bayes.rlvr.harness import harness_for  # noqa: E402

SMOKE = Path(__file__).resolve().parents[1] / "configs" / "rlvr" / "smoke.toml"


def _raw():
    with SMOKE.open("rb") as f:
        raw = tomllib.load(f)
    raw["loop"].update(eval_every=2)
    raw["warmup"]["steps"] = 20
    return raw


def _harness(tmp_path, draw=0):
    config = load_config(_raw()).draw_config(draw)
    return config, harness_for(config, "cpu", tmp_path / "cache")


def _assert_same_state(together, alone):
    """A block run's (weights, AdamW state, belief) equal to the run's alone, bit for bit
    (a CPU block computes each run as the run alone does); returns the AdamW states
    compared."""
    (w, o, belief), (weights, opt_state, loop) = together, alone
    assert set(w) == set(weights)
    for name, value in weights.items():
        assert torch.equal(w[name], value), name
    np.testing.assert_array_equal(belief.alpha, loop.belief.alpha)
    np.testing.assert_array_equal(belief.beta, loop.belief.beta)
    assert set(o["state"]) == set(opt_state["state"])
    for j, state in opt_state["state"].items():
        assert float(o["state"][j]["step"]) == float(state["step"])
        for key in ("exp_avg", "exp_avg_sq"):
            assert torch.equal(o["state"][j][key], state[key]), (j, key)
    assert o["param_groups"][0]["lr"] == opt_state["param_groups"][0]["lr"]
    assert o["param_groups"][0]["params"] == opt_state["param_groups"][0]["params"]
    return len(opt_state["state"])


def test_a_block_of_seeds_gives_each_seed_s_checkpoints(tmp_path):
    config, harness = _harness(tmp_path)
    seeds, checkpoints = [3, 1], [0, 2, 3]
    together = random_checkpoints_block(harness, checkpoints, seeds)
    assert [set(found) for found in together] == [set(checkpoints)] * 2
    stepped = 0
    for seed, found in zip(seeds, together, strict=True):
        env = harness.environment()
        for step, weights, opt_state, loop in random_checkpoints(env, config, checkpoints, seed):
            stepped += _assert_same_state(found[step], (weights, opt_state, loop))
    assert stepped > 0  # the AdamW states compared are not all empty


def test_a_block_of_task_draws_gives_each_draw_s_checkpoints(tmp_path):
    # one seed on two task draws (their own pool, test set and warm-up; the smoke
    # config's KL term takes each run's own warm-up as its reference)
    (c0, h0), (c1, h1) = _harness(tmp_path, 0), _harness(tmp_path, 1)
    assert c0.grpo.kl_coef > 0
    assert not torch.equal(h0.warm_state["tok.weight"], h1.warm_state["tok.weight"])
    checkpoints = [0, 3]
    together = random_checkpoints_block([h0, h1], checkpoints, [2, 2])
    stepped = 0
    for (config, harness), found in zip([(c0, h0), (c1, h1)], together, strict=True):
        env = harness.environment()
        for step, weights, opt_state, loop in random_checkpoints(env, config, checkpoints, 2):
            stepped += _assert_same_state(found[step], (weights, opt_state, loop))
    assert stepped > 0
    # the draws' runs differ (a block does not mix them up)
    assert not torch.equal(together[0][3][0]["tok.weight"], together[1][3][0]["tok.weight"])


def test_seeds_of_a_block_must_differ(tmp_path):
    config, harness = _harness(tmp_path)
    with pytest.raises(ValueError, match="seeds must differ"):
        random_checkpoints_block(harness, [1], [0, 0])


def _fake(device="cpu", lr=1e-3, n_layer=1, eos=1):
    from types import SimpleNamespace as NS

    policy = NS(model=NS(config=NS(n_layer=n_layer)), eos_id=eos, pad_id=0, suppress=(0,))
    config = NS(model=NS(path=None), grpo=NS(lr=lr), eval=NS(batch_size=8))
    return NS(device=device, policy=policy, config=config)


@pytest.mark.parametrize(
    ("other", "field"),
    [
        (dict(device="cuda"), "device"),
        (dict(n_layer=2), "model"),
        (dict(eos=2), "tokenizer"),
        (dict(lr=2e-3), r"\[grpo\]"),
    ],
)
def test_a_block_refuses_runs_that_cannot_share_it(other, field):
    from insight_bayes.rlvr.batched import RunBlock

    with pytest.raises(ValueError, match=f"must share their {field}"):
        RunBlock([_fake(), _fake(**other)], [("random", 0), ("random", 1)])
    with pytest.raises(ValueError, match="one harness per run"):
        RunBlock([_fake()], [("random", 0), ("random", 1)])
