"""A local Hugging Face model as the GRPO policy: a tiny random GPT-2 and a tokenizer built
here and saved to a temporary folder (nothing is downloaded)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from insight_bayes.rlvr.grpo import GRPOConfig  # noqa: E402
from insight_bayes.rlvr.grpo_environment import EvalConfig, GRPOEnvironment  # noqa: E402
from insight_bayes.rlvr.hf import load_policy  # noqa: E402
from insight_bayes.rlvr.study import load_config, run_study  # noqa: E402
from insight_bayes.rlvr.tasks import make_splits, make_task  # noqa: E402

ALPHABET = "0123456789+="


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-gpt2")
    specials = ["<pad>", "<bos>", "<eos>", "<unk>"]
    vocab = {t: i for i, t in enumerate(specials + list(ALPHABET))}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
    )
    tok.save_pretrained(folder)
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(vocab),
        n_positions=64,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


def test_load_policy_encodes_and_decodes(hf_dir):
    policy = load_policy(hf_dir)
    ids = policy.prompt_ids("12+3=")
    assert ids[0] == 1 and len(ids) == 6
    comp = policy.completion_ids("51")
    assert comp[-1] == policy.eos_id
    assert policy.decode(comp) == "51"


def test_missing_path_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not a directory"):
        load_policy(tmp_path / "nope")


def test_cached_generation_matches_recomputed_logprobs(hf_dir):
    """Greedy tokens from the KV-cached loop are the argmax of a full forward pass."""
    policy = load_policy(hf_dir)
    prompts = [policy.prompt_ids("1+2="), policy.prompt_ids("123+45=")]
    out = policy.generate(prompts, 5, 0.0, None)
    for row, p in enumerate(prompts):
        seq = list(p)
        for t in out[row].tolist():
            logits = policy.model(input_ids=torch.tensor([seq])).logits[0, -1]
            assert int(logits.argmax()) == t
            if t == policy.eos_id:
                break
            seq.append(t)


def test_logprobs_do_not_depend_on_padding(hf_dir):
    from insight_bayes.rlvr.model import left_pad

    policy = load_policy(hf_dir)
    a, b = policy.prompt_ids("12+3="), policy.prompt_ids("1+1=")
    tokens, valid = left_pad([a, b], policy.pad_id)
    batch = policy.logprobs(tokens, valid)
    alone = policy.logprobs(*left_pad([b], policy.pad_id))
    torch.testing.assert_close(batch[1, -alone.size(1) :], alone[0], atol=1e-5, rtol=1e-5)


def test_grpo_environment_runs_on_hf_policy(hf_dir):
    task = make_task("addition", min_digits=1, max_digits=2)
    pool, test = make_splits(task, 6, 4, 0)
    policy = load_policy(hf_dir)
    before = [p.detach().clone() for p in policy.model.parameters()]
    env = GRPOEnvironment(
        task, pool, test, policy, GRPOConfig(lr=1e-2, max_new_tokens=4), EvalConfig(samples=2)
    )
    rng = np.random.default_rng(0)
    ids = np.array([0, 1, 2])
    out = env.rollout(ids, 4, rng)
    assert out.rewards.shape == (3, 4)
    metrics = env.learn(ids, out, rng)
    rewards = out.rewards
    assert np.isfinite(metrics["train/loss"])
    assert set(env.evaluate(rng)) >= {"eval/pass1", "eval/greedy"}
    if np.ptp(rewards, axis=1).any():  # some group had a non-zero advantage
        changed = any(
            not torch.equal(a, b) for a, b in zip(before, policy.model.parameters(), strict=True)
        )
        assert changed


def test_study_with_model_path(hf_dir, tmp_path):
    raw = {
        "task": {"name": "addition", "pool_size": 8, "test_size": 4, "params": {"max_digits": 2}},
        "grpo": {"max_new_tokens": 4},
        "loop": {"m": 2, "k": 2, "steps": 2, "eval_every": 2, "candidate_ratio": 2},
        "eval": {"samples": 1, "logprob_problems": 4},
        "study": {"rules": ["random"], "seeds": [0], "target": 0.5, "pool_rate_samples": 1},
        "gate": {"enforce": False},  # a random tiny model: nothing is mid-range
    }
    config = load_config(raw, model_path=str(hf_dir))
    tables = run_study(config, tmp_path / "out", device="cpu", progress=False).tables
    assert sorted(tables["steps"]["step"]) == [0, 1, 2]
