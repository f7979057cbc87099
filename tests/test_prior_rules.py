"""The rules on a learned prior (insight-eb, mopps-eb) and every entry point: the
selection loop, the sweep CLI, OnlineSelector, the TRL trainer and rlvr-study."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from insight_bayes import FixedRateEnvironment, LoopConfig, SelectionLoop
from insight_bayes.acquisition import distance_score, wmi_score
from insight_bayes.beliefs.beta_belief import BetaBelief
from insight_bayes.environment import PromptGroups
from insight_bayes.integrations import OnlineConfig, OnlineSelector
from insight_bayes.selectors import (
    EB_RULES,
    InSightEB,
    MoPPSEB,
    available_selectors,
    make_selector,
    selector_from_label,
)

ROOT = Path(__file__).resolve().parents[1]
RATES = np.linspace(0.02, 0.98, 80)
GROUPS = (np.arange(80) * 4) // 80  # four tiers of rising rate


class TieredEnvironment(FixedRateEnvironment):
    """Fixed rates whose prompts carry a tier (what the RLVR harness exposes)."""

    prompt_groups = GROUPS


def test_rules_are_registered_and_labels_parse():
    assert set(EB_RULES) <= set(available_selectors())
    rule = selector_from_label("insight-eb:prior=group,refit_every=5,mu=0.2")
    assert rule == InSightEB(prior="group", refit_every=5, mu=0.2)
    assert selector_from_label("mopps-eb:target=0.4") == MoPPSEB(target=0.4)
    with pytest.raises(ValueError, match="prior must be one of"):
        make_selector("insight-eb", prior="tier")
    with pytest.raises(ValueError, match="refit_every must be >= 1"):
        make_selector("mopps-eb", refit_every=0)


def test_scores_are_the_paper_rules_on_the_learned_belief():
    belief = make_selector("insight-eb").new_belief(20)
    belief.update(np.arange(10), np.arange(10) % 5, np.full(10, 8))
    assert belief.prior.fit is not None and not np.allclose(belief.alpha[10:], 1.0)
    ids = np.arange(20)
    got = make_selector("insight-eb").score(ids, belief, 8, np.random.default_rng(0))
    np.testing.assert_allclose(got, wmi_score(belief.alpha, belief.beta, 8, 0.3, 3.0), rtol=1e-14)
    got = make_selector("mopps-eb").score(ids, belief, 8, np.random.default_rng(1))
    draws = np.random.default_rng(1).beta(belief.alpha, belief.beta)
    np.testing.assert_array_equal(got, distance_score(draws, 0.5))
    with pytest.raises(ValueError, match="learned prior"):
        make_selector("insight-eb").select(ids, BetaBelief(20), 2, 8, 0)
    with pytest.raises(ValueError, match="prior=group but the belief's prior is global"):
        make_selector("insight-eb", prior="group").check_belief(belief)


@pytest.mark.parametrize("rule", EB_RULES)
def test_rules_run_in_the_loop_and_online_selector_reproduces_it(rule):
    env = FixedRateEnvironment(RATES)
    cfg = LoopConfig(m=6, k=8, steps=10, candidate_ratio=4, eval_every=0)
    loop = SelectionLoop(env, rule, cfg, seed=3)
    records = loop.run(progress=False)
    assert len(records) == 10 and not loop.belief.prior.hierarchical
    config = OnlineConfig(m=6, k=8, candidate_ratio=4)
    selector = OnlineSelector(80, rule, config, seed=3)
    env_rng = np.random.default_rng(np.random.SeedSequence(3).spawn(2)[1])
    for record in records:
        ids = selector.next_batch()
        np.testing.assert_array_equal(ids, record.ids)
        out = env.rollout(ids, 8, env_rng)
        env.learn(ids, out, env_rng)
        selector.report(ids, out.rewards)
    np.testing.assert_array_equal(selector.belief.alpha, loop.belief.alpha)
    restored = OnlineSelector(80, rule, config, seed=3)
    restored.load_state_dict(json.loads(json.dumps(selector.state_dict())))
    np.testing.assert_array_equal(restored.belief.alpha, selector.belief.alpha)
    np.testing.assert_array_equal(restored.next_batch(), selector.next_batch())


def test_groups_reach_the_prior_from_an_environment_and_from_online_selector():
    cfg = LoopConfig(m=6, k=8, steps=8, candidate_ratio=4, eval_every=0)
    loop = SelectionLoop(TieredEnvironment(RATES), "insight-eb", cfg, seed=1)
    loop.run(progress=False)
    prior = loop.belief.prior
    assert prior.hierarchical and prior.n_groups == 4
    assert np.all(np.diff(prior.fit.mean) > 0)  # the tiers' rates rise, and so do their priors
    flat = SelectionLoop(TieredEnvironment(RATES), "insight-eb:prior=global", cfg, seed=1)
    assert not flat.belief.prior.hierarchical
    with pytest.raises(ValueError, match="prior=group needs group ids"):
        SelectionLoop(FixedRateEnvironment(RATES), "insight-eb:prior=group", cfg, seed=1)
    # OnlineSelector: the same run, with the groups passed in
    online = OnlineSelector(80, "insight-eb", OnlineConfig(m=6, k=8, candidate_ratio=4),
                            seed=1, groups=GROUPS)  # fmt: skip
    env = TieredEnvironment(RATES)
    env_rng = np.random.default_rng(np.random.SeedSequence(1).spawn(2)[1])
    for _ in range(8):
        ids = online.next_batch()
        out = env.rollout(ids, 8, env_rng)
        online.report(ids, out.rewards)
    assert online.belief.prior.hierarchical
    np.testing.assert_array_equal(online.belief.alpha, loop.belief.alpha)
    with pytest.raises(ValueError, match="takes no group ids"):
        OnlineSelector(80, "insight", OnlineConfig(m=6, k=8), groups=GROUPS)
    with pytest.raises(ValueError, match="groups must lie|one id per prompt"):
        OnlineSelector(80, "insight-eb", OnlineConfig(m=6, k=8), groups=GROUPS[:10])


def test_sweep_cli_runs_the_rules(tmp_path, capsys):
    from insight_bayes_cli import main

    out = tmp_path / "sweep"
    argv = ["sweep", "quick", "--rules", "random,insight-eb,mopps-eb:refit_every=5"]
    argv += [
        "--seeds",
        "1",
        "--workers",
        "1",
        "--out",
        str(out),
        "--no-progress",
        "--n-boot",
        "100",
    ]
    assert main(argv) == 0
    assert "3 runs trained" in capsys.readouterr().out
    steps = pd.read_parquet(out / "steps.parquet")
    assert set(steps["rule"]) == {"random", "insight-eb", "mopps-eb:refit_every=5"}


def test_trl_trainer_runs_a_rule_with_a_prior_per_group(tmp_path):
    pytest.importorskip("trl")
    from test_integrations_trl import (
        M_HAT,
        POOL,
        SEED,
        G,
        M,
        make_args,
        make_dataset,
        make_verifier,
    )
    from test_integrations_trl import tiny_lm as tiny_lm_fixture

    from insight_bayes.integrations.trl import InSightGRPOTrainer

    tokenizer, build = tiny_lm_fixture.__wrapped__()
    dataset = make_dataset()
    groups = np.arange(POOL) % 3
    selector = OnlineSelector(
        POOL, "insight-eb:prior=group", OnlineConfig(m=M, k=G, m_hat=M_HAT), seed=SEED,
        groups=groups,
    )  # fmt: skip
    log: list = []
    trainer = InSightGRPOTrainer(
        build(),
        [make_verifier(log, selector)],
        make_args(tmp_path, max_steps=3),
        dataset,
        selector=selector,
        processing_class=tokenizer,
    )
    trainer.train()
    assert len(log) == 3
    prior = selector.belief.prior
    assert prior.hierarchical and prior.updates == 3 and prior.fit is not None
    np.testing.assert_array_equal(prior.groups, groups)
    state = json.loads(json.dumps(selector.state_dict()))
    again = OnlineSelector(
        POOL, "insight-eb:prior=group", OnlineConfig(m=M, k=G, m_hat=M_HAT), seed=SEED,
        groups=groups,
    )  # fmt: skip
    again.load_state_dict(state)
    np.testing.assert_array_equal(again.belief.alpha, selector.belief.alpha)


def test_rlvr_study_gives_the_digit_tier_as_group(tmp_path):
    pytest.importorskip("torch")
    from insight_bayes.rlvr.config import load_config
    from insight_bayes.rlvr.harness import harness_for
    from insight_bayes.rlvr.study import run_study

    with (ROOT / "configs" / "rlvr" / "smoke.toml").open("rb") as f:
        raw = tomllib.load(f)
    raw["study"]["rules"] = ["insight-eb:prior=group"]
    raw["loop"]["steps"] = 2
    config = load_config(raw)
    cache = tmp_path / "cache"
    result = run_study(config, tmp_path / "out", device="cpu", cache_dir=cache, progress=False)
    steps = result.tables["steps"]
    assert set(steps["rule"]) == {"insight-eb:prior=group"} and steps["step"].max() == 2
    env = harness_for(config, "cpu", cache).environment()
    digits = np.array([p.features["digits"] for p in env.pool])
    groups = env.prompt_groups
    np.testing.assert_array_equal(np.unique(digits)[groups], digits)
    loop = SelectionLoop(env, "insight-eb:prior=group", config.loop, seed=0)
    assert loop.belief.prior.hierarchical
    np.testing.assert_array_equal(loop.belief.prior.groups, groups)


def test_only_an_environment_with_prompt_groups_binds_them():
    rule = selector_from_label("insight-eb:prior=group")
    assert isinstance(TieredEnvironment(RATES), PromptGroups)
    assert not isinstance(FixedRateEnvironment(RATES), PromptGroups)
    assert rule.bind(FixedRateEnvironment(RATES)) is rule
    belief = rule.bind(TieredEnvironment(RATES)).new_belief(RATES.size)
    assert belief.prior.hierarchical
