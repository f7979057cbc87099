"""TRL's GRPOTrainer driven by an OnlineSelector, for real: CPU, tiny random model, local tokenizer.

The verifier's reward depends only on the prompt id and the completion's position in its
group, so runs see the same rewards whatever the model generates: a resumed run must
then make exactly the choices of an uninterrupted one. The rule's choices are checked
against an independent replay with the core pieces (belief, draw_candidates, rule).
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("trl")
datasets = pytest.importorskip("datasets")
torch = pytest.importorskip("torch")

from packaging.specifiers import SpecifierSet  # noqa: E402

from insight_bayes import BetaBelief, draw_candidates, make_selector  # noqa: E402
from insight_bayes.integrations import OnlineConfig, OnlineSelector  # noqa: E402
from insight_bayes.integrations.trl import (  # noqa: E402
    SELECTOR_STATE_NAME,
    SUPPORTED_TRL,
    InSightGRPOTrainer,
    InSightSampler,
    SelectorCheckpointCallback,
    SelectorReward,
    add_prompt_ids,
    check_trl_version,
)

POOL = 12
M = 2  # prompts per generation batch
G = 4  # num_generations = K
M_HAT = 6
SEED = 7


def successes_of(pid: int) -> int:
    """Successes among the G completions of prompt ``pid`` (a fixed pattern)."""
    return pid % (G + 1)


def make_verifier(log: list, selector: OnlineSelector):
    """Reward 1 for the first successes_of(pid) completions of each group, 0 otherwise.

    Logs each call: prompt ids, prompt texts, rewards, and batches drawn so far.
    """

    def verifier(prompts, completions, prompt_id, **kwargs):
        seen: dict[int, int] = {}
        rewards = []
        for pid in prompt_id:
            j = seen.get(pid, 0)
            seen[pid] = j + 1
            rewards.append(1.0 if j < successes_of(pid) else 0.0)
        log.append(
            {
                "ids": list(prompt_id),
                "prompts": list(prompts),
                "rewards": rewards,
                "drawn": selector.step,
            }
        )
        return rewards

    return verifier


def spy_on_batches(selector: OnlineSelector) -> list[np.ndarray]:
    """Record every batch the selector hands out, in order."""
    handed: list[np.ndarray] = []
    original = selector.next_selection

    def spy(candidates=None):
        selection = original(candidates)
        handed.append(selection.ids.copy())
        return selection

    selector.next_selection = spy
    return handed


def _example():
    """``examples/trl_grpo.py``, whose tiny model is the one the tests train (one home)."""
    import importlib.util

    path = Path(__file__).parents[1] / "examples" / "trl_grpo.py"
    spec = importlib.util.spec_from_file_location("trl_grpo_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXAMPLE = _example()
WORDS = EXAMPLE.WORDS


@pytest.fixture(scope="module")
def tiny_lm():
    """``(tokenizer, build)``: ``build()`` makes the example's tiny Llama afresh (seed 0)."""
    tokenizer = EXAMPLE.tiny_model_and_tokenizer(0)[1]
    return tokenizer, lambda: EXAMPLE.tiny_model_and_tokenizer(0)[0]


def make_dataset():
    rng = np.random.default_rng(0)
    prompts = [" ".join(rng.choice(WORDS, size=3)) for _ in range(POOL)]
    return add_prompt_ids(datasets.Dataset.from_dict({"prompt": prompts}))


def make_args(output_dir, *, max_steps, save_steps=None, num_iterations=1, **extra):
    from trl import GRPOConfig

    return GRPOConfig(
        output_dir=str(output_dir),
        per_device_train_batch_size=M * G,
        num_generations=G,
        num_iterations=num_iterations,
        max_completion_length=3,
        max_steps=max_steps,
        learning_rate=1e-3,
        beta=0.0,
        logging_steps=1,
        save_strategy="steps" if save_steps else "no",
        save_steps=save_steps or 500,
        report_to="none",
        use_cpu=True,
        bf16=False,
        seed=0,
        disable_tqdm=True,
        dataloader_num_workers=0,
        **extra,
    )


def make_run(tiny_lm, output_dir, *, rule="insight", m=M, k=G, dataset=None, **args_kw):
    tokenizer, build = tiny_lm
    dataset = make_dataset() if dataset is None else dataset
    selector = OnlineSelector(POOL, rule, OnlineConfig(m=m, k=k, m_hat=M_HAT), seed=SEED)
    log: list = []
    handed = spy_on_batches(selector)
    trainer = InSightGRPOTrainer(
        build(),
        [make_verifier(log, selector)],
        make_args(output_dir, **args_kw),
        dataset,
        selector=selector,
        processing_class=tokenizer,
    )
    return trainer, selector, log, handed, dataset


def replay_with_lag(n_batches: int, lag: int, m: int = M) -> list[np.ndarray]:
    """Batches the rule chooses when batch t sees the rewards of batches < t - lag.

    Built from the core pieces only; pending batches are excluded from the candidates.
    """
    belief = BetaBelief(POOL)
    rng = np.random.default_rng(np.random.SeedSequence(SEED).spawn(2)[0])
    selector = make_selector("insight")
    batches: list[np.ndarray] = []
    for t in range(n_batches):
        reported = max(t - lag, 0)
        belief = BetaBelief(POOL)
        for b in batches[:reported]:
            belief.update(b, [successes_of(int(p)) for p in b], np.full(b.size, G))
        pending = np.concatenate(batches[reported:t]) if t > reported else np.empty(0, int)
        available = np.setdiff1d(np.arange(POOL), pending)
        cand = available[draw_candidates(available.size, min(M_HAT, available.size), rng)]
        batches.append(selector.select(cand, belief, m, G, rng).ids)
    return batches


def expected_belief(log: list) -> BetaBelief:
    belief = BetaBelief(POOL)
    for call in log:
        ids = np.asarray(call["ids"])
        rewards = np.asarray(call["rewards"])
        for pid in np.unique(ids):
            mine = rewards[ids == pid]
            belief.update([pid], [mine.sum()], [mine.size])
    return belief


# --------------------------------------------------------------------- training
def test_trains_on_the_chosen_prompts_and_rewards_reach_the_belief(tiny_lm, tmp_path):
    trainer, selector, log, handed, dataset = make_run(tiny_lm, tmp_path, max_steps=4)
    trainer.train()

    assert len(log) == 4  # one generation batch per optimizer step
    for call, batch in zip(log, handed, strict=False):
        # TRL's grouping contract: each chosen prompt num_generations times, in a row
        assert call["ids"] == np.repeat(batch, G).tolist()
        assert call["prompts"] == [dataset["prompt"][i] for i in call["ids"]]
    # the batches are the rule's choices (independent replay with a one-batch lag)
    assert [b.tolist() for b in handed] == [b.tolist() for b in replay_with_lag(5, lag=1)]
    assert [b.tolist() for b in trainer.handed_out] == [b.tolist() for b in handed]
    # every reward reached the belief, binarised (reward >= 1 is a success)
    want = expected_belief(log)
    np.testing.assert_array_equal(selector.belief.alpha, want.alpha)
    np.testing.assert_array_equal(selector.belief.beta, want.beta)
    assert selector.belief.evidence.sum() == 2 * POOL + 4 * M * G


def test_prefetch_lag_is_one_chunk(tiny_lm, tmp_path):
    """Measured: two chunks are drawn before the first rewards arrive (num_iterations=1)."""
    trainer, selector, log, handed, _ = make_run(tiny_lm, tmp_path, max_steps=3)
    trainer.train()
    assert [call["drawn"] for call in log] == [2, 3, 4]
    stats = selector.stats
    assert stats["max_lag"] == 1 and stats["groups_late"] == 3 * M
    # the prefetched chunk never trained stays pending; it was excluded from the last draw
    ((number, pending),) = selector.pending()
    assert number == 3 and pending.tolist() == handed[3].tolist()
    assert not set(handed[3]) & set(handed[2])


def test_no_lag_with_two_iterations(tiny_lm, tmp_path):
    """num_iterations=2: a chunk is used for two steps, and the next one is drawn after its
    rewards arrive."""
    trainer, selector, log, handed, _ = make_run(tiny_lm, tmp_path, max_steps=4, num_iterations=2)
    trainer.train()
    assert len(log) == 2  # generation once per chunk
    assert [call["drawn"] for call in log] == [1, 2]
    assert selector.stats["max_lag"] == 0
    assert [b.tolist() for b in handed] == [b.tolist() for b in replay_with_lag(len(handed), 0)]


def test_gradient_accumulation_keeps_the_grouping_contract(tiny_lm, tmp_path):
    """steps_per_generation = gradient_accumulation_steps = 2: chunks of 16 // 4 = 4 prompts,
    each generation batch split over two micro-steps."""
    trainer, selector, log, handed, _ = make_run(
        tiny_lm, tmp_path, m=4, max_steps=2, gradient_accumulation_steps=2
    )
    trainer.train()
    assert len(log) == 2
    for call, batch in zip(log, handed, strict=False):
        assert call["ids"] == np.repeat(batch, G).tolist()
    assert [call["drawn"] for call in log] == [2, 3]  # the same one-chunk lag
    assert [b.tolist() for b in handed] == [b.tolist() for b in replay_with_lag(3, 1, m=4)]


def test_resume_restores_the_selector(tiny_lm, tmp_path):
    full, sel_full, log_full, handed_full, _ = make_run(
        tiny_lm, tmp_path / "a", max_steps=4, save_steps=2
    )
    full.train()
    saved = json.loads((tmp_path / "a" / "checkpoint-2" / SELECTOR_STATE_NAME).read_text())
    assert saved["step"] == 3  # chunks 0, 1 trained and chunk 2 prefetched
    assert [p["ids"] for p in saved["pending"]] == [handed_full[2].tolist()]
    assert not any(saved["pending"][0]["rewarded"])
    assert sum(saved["belief"]["alpha"]) + sum(saved["belief"]["beta"]) == 2 * POOL + 2 * M * G

    resumed, sel_res, log_res, handed_res, _ = make_run(
        tiny_lm, tmp_path / "b", max_steps=4, save_steps=2
    )
    resumed.train(resume_from_checkpoint=str(tmp_path / "a" / "checkpoint-2"))
    # the prefetched chunk is trained first, then the run continues as if never stopped
    assert [c["ids"] for c in log_res] == [c["ids"] for c in log_full[2:]]
    np.testing.assert_array_equal(sel_res.belief.alpha, sel_full.belief.alpha)
    np.testing.assert_array_equal(sel_res.belief.beta, sel_full.belief.beta)
    state_res, state_full = sel_res.state_dict(), sel_full.state_dict()
    assert state_res["rng"] == state_full["rng"]
    assert state_res["step"] == state_full["step"] == 5
    assert state_res["pending"] == state_full["pending"]


def generation_dependent_verifier(log: list):
    """Reward 1 when the completion's text hashes to an even number: rewards depend on what
    was generated, so a resume that samples differently is seen in rewards and belief."""
    import zlib

    def verifier(prompts, completions, prompt_id, **kwargs):
        rewards = [float(zlib.crc32(str(c).encode()) % 2 == 0) for c in completions]
        log.append({"ids": list(prompt_id), "completions": list(completions), "rewards": rewards})
        return rewards

    return verifier


RESUMES = {
    # name: (checkpoint, max_steps, GRPOConfig extras, prompts per chunk, batches replayed)
    "mid-pass": (3, 8, {}, M, 1),
    "end of a pass": (6, 8, {}, M, 0),
    "two iterations": (4, 8, {"num_iterations": 2}, M, 1),
    "accumulation": (2, 4, {"gradient_accumulation_steps": 2}, 2 * M, 1),
}


@pytest.mark.parametrize("case", RESUMES, ids=list(RESUMES))
def test_resume_continues_exactly_with_generation_dependent_rewards(tiny_lm, tmp_path, case):
    """Same prompts, completions, rewards, losses, belief and selector state after a resume
    as without one. A pass ("epoch") is POOL // M = 6 chunks: checkpoint 3 is in the middle
    of the first pass (the run then crosses a pass boundary), checkpoint 6 at its end; with
    num_iterations=2 a chunk lasts two steps; with gradient accumulation a step takes two
    micro-batches of one generation batch."""
    checkpoint, max_steps, extra, m, replayed = RESUMES[case]
    tokenizer, build = tiny_lm

    def run(output_dir, resume=None):
        selector = OnlineSelector(POOL, "insight", OnlineConfig(m=m, k=G, m_hat=M_HAT), seed=SEED)
        log: list = []
        trainer = InSightGRPOTrainer(
            build(),
            [generation_dependent_verifier(log)],
            make_args(output_dir, max_steps=max_steps, save_steps=checkpoint, **extra),
            make_dataset(),
            selector=selector,
            processing_class=tokenizer,
        )
        trainer.train(resume_from_checkpoint=resume)
        # the resumed state's history holds the steps before the checkpoint too
        losses = {h["step"]: h["loss"] for h in trainer.state.log_history if "loss" in h}
        return selector, log, losses

    sel_full, log_full, loss_full = run(tmp_path / "a")
    resume = str(tmp_path / "a" / f"checkpoint-{checkpoint}")
    sel_res, log_res, loss_res = run(tmp_path / "b", resume)
    per_generation = extra.get("num_iterations", 1)  # steps per generation batch
    assert len(log_full) == max_steps // per_generation
    done = checkpoint // per_generation  # generation batches before the checkpoint
    assert len(log_res) == len(log_full) - done > 0
    assert len({r for c in log_full for r in c["rewards"]}) == 2  # rewards do vary
    assert [c["ids"] for c in log_res] == [c["ids"] for c in log_full[done:]]
    assert [c["completions"] for c in log_res] == [c["completions"] for c in log_full[done:]]
    assert [c["rewards"] for c in log_res] == [c["rewards"] for c in log_full[done:]]
    assert loss_res == loss_full and sorted(loss_full) == list(range(1, max_steps + 1))
    np.testing.assert_array_equal(sel_res.belief.alpha, sel_full.belief.alpha)
    np.testing.assert_array_equal(sel_res.belief.beta, sel_full.belief.beta)
    state_res, state_full = sel_res.state_dict(), sel_full.state_dict()
    assert state_res.pop("stats")["batches_replayed"] == replayed
    state_full.pop("stats")
    assert state_res == state_full  # hand-outs, pending batches, RNG


def test_building_blocks_in_a_plain_grpo_trainer(tiny_lm, tmp_path):
    """Sampler + reward wrapper + callback in a user's own GRPOTrainer subclass; resume
    through the callback alone (checkpoint under output_dir)."""
    from trl import GRPOTrainer

    tokenizer, build = tiny_lm
    dataset = make_dataset()

    def run(max_steps, resume):
        selector = OnlineSelector(POOL, "mopps", OnlineConfig(m=M, k=G, m_hat=M_HAT), seed=SEED)
        handed = spy_on_batches(selector)
        log: list = []

        class MyTrainer(GRPOTrainer):
            def _get_train_sampler(self, dataset=None):
                return InSightSampler(selector, num_generations=self.num_generations)

        reward = SelectorReward(make_verifier(log, selector), selector)
        args = make_args(tmp_path, max_steps=max_steps, save_steps=2)
        trainer = MyTrainer(
            build(),
            [reward],
            args,
            dataset,
            processing_class=tokenizer,
            callbacks=[SelectorCheckpointCallback(selector)],
        )
        reward.is_training = lambda: trainer.model.training
        trainer.train(resume_from_checkpoint=resume)
        return selector, log, handed

    first, log1, handed1 = run(2, None)
    second, log2, _ = run(4, True)  # loads output_dir/checkpoint-2 in on_train_begin
    assert [c["ids"] for c in log2][0] == np.repeat(handed1[2], G).tolist()
    want = expected_belief(log1 + log2)
    np.testing.assert_array_equal(second.belief.alpha, want.alpha)
    assert second.stats["batches_replayed"] == 1


# ------------------------------------------------------------------ refusals
def test_refuses_mismatched_batch_sizes_and_bad_datasets(tiny_lm, tmp_path):
    with pytest.raises(ValueError, match="generation_batch_size // num_generations"):
        make_run(tiny_lm, tmp_path, max_steps=1, m=3)
    with pytest.raises(ValueError, match="must equal num_generations"):
        make_run(tiny_lm, tmp_path, max_steps=1, k=G + 1)
    bare = datasets.Dataset.from_dict({"prompt": ["w1 w2"] * POOL})
    with pytest.raises(ValueError, match="add_prompt_ids"):
        make_run(tiny_lm, tmp_path, max_steps=1, dataset=bare)
    shuffled = add_prompt_ids(bare).shuffle(seed=0)
    with pytest.raises(ValueError, match="row indices"):
        make_run(tiny_lm, tmp_path, max_steps=1, dataset=shuffled)
    with pytest.raises(TypeError, match="map-style"):
        make_run(tiny_lm, tmp_path, max_steps=1, dataset=add_prompt_ids(bare).to_iterable_dataset())


def test_resume_without_selector_state_is_refused(tiny_lm, tmp_path):
    trainer, *_ = make_run(tiny_lm, tmp_path, max_steps=2)
    (tmp_path / "checkpoint-9").mkdir()
    with pytest.raises(FileNotFoundError, match=SELECTOR_STATE_NAME):
        trainer.train(resume_from_checkpoint=str(tmp_path / "checkpoint-9"))


# ------------------------------------------------------------------- pieces
def test_sampler_layout_matches_trl_repeat_sampler():
    from trl.trainer.utils import RepeatSampler

    selector = OnlineSelector(10, "random", OnlineConfig(m=2, k=3), seed=1)
    handed = spy_on_batches(selector)
    sampler = InSightSampler(selector, num_generations=3, repeat_count=2, num_chunks=2)
    ours = list(sampler)
    reference = list(
        RepeatSampler(range(4), mini_repeat_count=3, batch_size=2, repeat_count=2, shuffle=False)
    )
    positions = np.concatenate(handed)  # reference index i -> the i-th prompt handed out
    assert ours == positions[reference].tolist()
    assert len(sampler) == len(ours) == 24


def test_reward_wrapper_passes_rewards_through_and_skips_eval_and_none():
    selector = OnlineSelector(6, "insight", OnlineConfig(m=2, k=2), seed=0)
    ids = selector.next_batch().tolist()

    def verifier(prompts, completions, **kw):
        return [1.0, 0.0, None, 1.0]

    training = {"on": False}
    reward = SelectorReward(verifier, selector, is_training=lambda: training["on"])
    assert reward.__name__ == "verifier"
    cols = {"prompt_id": [ids[0], ids[0], ids[1], ids[1]]}
    assert reward(["p"] * 4, ["c"] * 4, **cols) == [1.0, 0.0, None, 1.0]
    assert selector.belief.evidence.sum() == 12  # evaluation: nothing reported
    training["on"] = True
    reward(["p"] * 4, ["c"] * 4, **cols)
    assert selector.belief.alpha[ids].tolist() == [2.0, 1.0]  # the None group is left out
    assert selector.belief.beta[ids].tolist() == [2.0, 1.0]
    with pytest.raises(ValueError, match="add_prompt_ids"):
        reward(["p"], ["c"])
    with pytest.raises(TypeError, match="reward function"):
        SelectorReward("a/reward-model", selector)


def test_version_pin(monkeypatch):
    assert check_trl_version("1.16.0") == "1.16.0"
    assert check_trl_version("1.16.3") == "1.16.3"
    with pytest.raises(ImportError, match="supports trl>=1.16.0,<1.17"):
        check_trl_version("1.17.0")
    with pytest.raises(ImportError, match="INSIGHT_BAYES_ALLOW_UNTESTED_TRL"):
        check_trl_version("0.29.1")
    monkeypatch.setenv("INSIGHT_BAYES_ALLOW_UNTESTED_TRL", "1")
    with pytest.warns(UserWarning, match="trl 0.29.1"):
        check_trl_version("0.29.1")
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    (trl_req,) = [
        r for r in pyproject["project"]["optional-dependencies"]["trl"] if r[:4] == "trl>"
    ]
    assert SpecifierSet(trl_req[3:]) == SpecifierSet(SUPPORTED_TRL)


def test_callback_saves_restores_and_skips_the_trained_batches(tmp_path, caplog):
    from types import SimpleNamespace

    from torch.utils.data import DataLoader

    selector = OnlineSelector(POOL, "insight", OnlineConfig(m=M, k=G), seed=SEED)
    ids = selector.next_batch()
    selector.report(ids, np.ones((M, G)))
    callback = SelectorCheckpointCallback(selector)
    args = SimpleNamespace(
        output_dir=str(tmp_path), ignore_data_skip=False, gradient_accumulation_steps=1
    )
    callback.on_save(args, SimpleNamespace(global_step=3, is_world_process_zero=True), None)
    assert (tmp_path / "checkpoint-3" / SELECTOR_STATE_NAME).is_file()

    fresh = OnlineSelector(POOL, "insight", OnlineConfig(m=M, k=G), seed=SEED)
    restorer = SelectorCheckpointCallback(fresh)
    with pytest.raises(ValueError, match="needs the InSightSampler"):
        restorer.on_train_begin(args, SimpleNamespace(global_step=3), None)
    # a pass: 6 chunks of M * G = 8 indices, one chunk per batch and step
    sampler = InSightSampler(fresh, num_generations=G)
    loader = DataLoader(range(POOL), sampler=sampler, batch_size=M * G)
    restorer.on_train_begin(args, SimpleNamespace(global_step=3), None, train_dataloader=loader)
    assert fresh.state_dict() == selector.state_dict()
    handed = spy_on_batches(fresh)
    indices = list(sampler)
    assert indices[:24] == [0] * 24 and len(indices) == len(sampler) == 48
    assert len(handed) == 3  # the 3 trained chunks are placeholders, not selections
    assert indices[24:] == np.repeat(np.concatenate(handed), G).tolist()
    assert len(list(sampler)) == 48 and len(handed) == 9  # the next pass is whole again

    args.ignore_data_skip = True
    other = OnlineSelector(POOL, "insight", OnlineConfig(m=M, k=G), seed=SEED)
    with caplog.at_level("WARNING", logger="insight_bayes.integrations.trl"):
        SelectorCheckpointCallback(other).on_train_begin(args, SimpleNamespace(global_step=3), None)
    assert other.state_dict() == selector.state_dict()
    assert "generations differ" in caplog.text
    with pytest.raises(FileNotFoundError, match="cannot be restored"):
        SelectorCheckpointCallback(fresh).on_train_begin(args, SimpleNamespace(global_step=5), None)


def test_sampler_skip_inside_a_chunk_starts_a_new_chunk():
    selector = OnlineSelector(10, "random", OnlineConfig(m=2, k=3), seed=1)
    handed = spy_on_batches(selector)
    sampler = InSightSampler(selector, num_generations=3, repeat_count=2, num_chunks=3)
    assert sampler.chunk_size == 12 and len(sampler) == 36
    sampler.skip_next_pass(18)  # one chunk and a half
    indices = list(sampler)
    assert len(indices) == 36 and indices[:18] == [0] * 18
    assert len(handed) == 2  # the interrupted chunk's second half comes from a new chunk
    assert indices[18:24] == np.repeat(handed[0], 3).tolist()
    with pytest.raises(ValueError, match="samples"):
        sampler.skip_next_pass(37)


@pytest.mark.parametrize("rule", ["insight-tracking", "insight-adaptive", "insight-graded"])
def test_beyond_rules_train_through_the_sampler_unchanged(tiny_lm, tmp_path, rule):
    """A rule with its own belief model trains through the TRL sampler as is."""
    trainer, selector, log, handed, _ = make_run(tiny_lm, tmp_path, rule=rule, max_steps=3)
    trainer.train()
    own = type(make_selector(rule).new_belief(POOL))
    assert own is not BetaBelief and type(selector.belief) is own
    assert len(log) == 3 and all(np.unique(b).size == M for b in handed)
    seen = np.unique(np.concatenate([np.asarray(call["ids"]) for call in log]))
    fresh = make_selector(rule).new_belief(POOL)
    changed = np.flatnonzero(
        (selector.belief.alpha != fresh.alpha) | (selector.belief.beta != fresh.beta)
    )
    assert set(seen.tolist()) <= set(changed.tolist())  # every rewarded prompt was updated
