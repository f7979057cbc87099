"""examples/verl_style_loop.py runs, keeps the rule's top M of each loader batch, and its
checkpoints restore."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from insight_bayes import BetaBelief, binarize_rewards, wmi_score
from insight_bayes.integrations import OnlineConfig, OnlineSelector

EXAMPLE = Path(__file__).parents[1] / "examples" / "verl_style_loop.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("verl_style_loop", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_loop_keeps_top_m_of_each_candidate_batch(example, tmp_path, capsys):
    pool, m, k, steps = 96, 4, 8, 12
    argv = ["--pool", str(pool), "--m", str(m), "--steps", str(steps), "--save-every", "6"]
    records = example.main([*argv, "--output-dir", str(tmp_path)])
    assert "step   12" in capsys.readouterr().out
    assert [r["step"] for r in records] == list(range(1, steps + 1))

    belief = BetaBelief(pool)  # rebuilt from the records, independently of the selector
    for r in records:
        cand, chosen = r["candidates"], r["chosen"]
        assert cand.size == 4 * m and chosen.size == m and set(chosen) <= set(cand)
        # top M by the weighted mutual information (Eq. 16-17), up to ties at the cut
        score = dict(
            zip(
                cand.tolist(),
                wmi_score(belief.alpha[cand], belief.beta[cand], k, 0.3, 3.0),
                strict=True,
            )
        )
        rest = set(cand.tolist()) - set(chosen.tolist())
        assert min(score[i] for i in chosen.tolist()) >= max(score[i] for i in rest) - 1e-12
        belief.update(chosen, *binarize_rewards(r["rewards"]))

    restored = OnlineSelector(pool, "insight", OnlineConfig(m=m, k=k), seed=0)
    restored.load(tmp_path / f"global_step_{steps}" / "insight_selector.json")
    np.testing.assert_array_equal(restored.belief.alpha, belief.alpha)
    np.testing.assert_array_equal(restored.belief.beta, belief.beta)
    assert restored.step == steps and restored.pending() == []


def test_unknown_rule_is_refused(example):
    with pytest.raises(SystemExit):
        example.main(["--rule", "best"])
