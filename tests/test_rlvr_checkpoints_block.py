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


def _harness(tmp_path):
    with SMOKE.open("rb") as f:
        raw = tomllib.load(f)
    raw["loop"].update(eval_every=2)
    raw["warmup"]["steps"] = 20
    config = load_config(raw)
    return config, harness_for(config, "cpu", tmp_path / "cache")


def test_a_block_of_seeds_gives_each_seed_s_checkpoints(tmp_path):
    config, harness = _harness(tmp_path)
    seeds, checkpoints = [3, 1], [0, 2, 3]
    together = random_checkpoints_block(harness, config, checkpoints, seeds)
    assert set(together) == {(s, c) for s in seeds for c in checkpoints}
    stepped = 0
    tol = 20 * config.grpo.lr * 1e-3  # the weights' rounding, as in test_rlvr_batched
    for seed in seeds:
        env = harness.environment()
        for step, weights, opt_state, loop in random_checkpoints(env, config, checkpoints, seed):
            w, o, belief = together[(seed, step)]
            assert set(w) == set(weights)
            for name, value in weights.items():
                torch.testing.assert_close(w[name], value, rtol=0, atol=tol)
            np.testing.assert_array_equal(belief.alpha, loop.belief.alpha)
            np.testing.assert_array_equal(belief.beta, loop.belief.beta)
            assert set(o["state"]) == set(opt_state["state"])
            for j, state in opt_state["state"].items():
                stepped += 1
                assert float(o["state"][j]["step"]) == float(state["step"])
                for key in ("exp_avg", "exp_avg_sq"):
                    scale = float(state[key].abs().max()) or 1.0
                    torch.testing.assert_close(
                        o["state"][j][key], state[key], rtol=0, atol=1e-4 * scale
                    )
            assert o["param_groups"][0]["lr"] == pytest.approx(opt_state["param_groups"][0]["lr"])
            assert o["param_groups"][0]["params"] == opt_state["param_groups"][0]["params"]
    assert stepped > 0  # the AdamW states compared are not all empty


def test_seeds_of_a_block_must_differ(tmp_path):
    config, harness = _harness(tmp_path)
    with pytest.raises(ValueError, match="seeds must differ"):
        random_checkpoints_block(harness, config, [1], [0, 0])
