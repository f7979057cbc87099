"""The GRPO environment behind the shared selection loop."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from insight_bayes import LoopConfig, SelectionLoop  # noqa: E402
from insight_bayes.environment import Environment  # noqa: E402
from insight_bayes.rewards import Rollout  # noqa: E402
from insight_bayes.rlvr.grpo import GRPOConfig  # noqa: E402
from insight_bayes.rlvr.grpo_environment import EvalConfig, GRPOEnvironment  # noqa: E402
from insight_bayes.rlvr.model import ModelConfig, TinyLM  # noqa: E402
from insight_bayes.rlvr.policy import CharPolicy  # noqa: E402
from insight_bayes.rlvr.tasks import Grade, Problem, make_splits, make_task  # noqa: E402
from insight_bayes.rlvr.tokenizer import CharTokenizer  # noqa: E402

TASK = make_task("addition", max_digits=2)
POOL, TEST = make_splits(TASK, 24, 8, 0)


def _env(**grpo) -> GRPOEnvironment:
    tok = CharTokenizer(TASK.alphabet)
    torch.manual_seed(0)
    model = TinyLM(
        ModelConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=1, n_head=2, d_model=16)
    )
    config = GRPOConfig(**{"max_new_tokens": 4, "lr": 1e-3, **grpo})
    return GRPOEnvironment(TASK, POOL, TEST, CharPolicy(model, tok), config, EvalConfig(samples=2))


class _Oracle(CharPolicy):
    """Writes the reference solution (or ``wrong``) instead of sampling."""

    def __init__(self, solutions, wrong=False):
        tok = CharTokenizer(TASK.alphabet)
        super().__init__(
            TinyLM(ModelConfig(vocab_size=tok.vocab_size, n_layer=1, d_model=8, n_head=1)), tok
        )
        self.by_prompt = {tuple(self.prompt_ids(p.prompt)): p.solution for p in solutions}
        self.wrong = wrong

    def generate(self, prompts, max_new_tokens, temperature, generator, repeats=1):
        rows = []
        for p in (p for p in prompts for _ in range(repeats)):
            text = self.by_prompt[tuple(p)]
            rows.append(self.completion_ids("9" * len(text) if self.wrong else text))
        width = max(map(len, rows))
        return torch.tensor([r + [self.pad_id] * (width - len(r)) for r in rows])


def test_implements_the_protocol():
    assert isinstance(_env(), Environment)


def test_rollout_then_learn_on_the_same_samples(monkeypatch):
    env = _env()
    rng = np.random.default_rng(0)
    ids = np.array([3, 5, 7])
    out = env.rollout(ids, 4, rng)
    assert out.rewards.shape == (3, 4)
    assert set(np.unique(out.rewards)) <= {0.0, 0.1, 1.0}
    np.testing.assert_array_equal(out.correct, out.rewards == 1.0)  # the verifier's verdict
    assert len(out.payload) == 3 and all(len(group) == 4 for group in out.payload)

    def no_sampling(*a, **k):
        raise AssertionError("learn() must reuse the rollout's samples")

    monkeypatch.setattr(env.policy, "generate", no_sampling)
    metrics = env.learn(ids, out, rng)
    assert metrics["train/tokens_generated"] >= 12  # at least one token per completion
    assert metrics["train/correct"] == out.correct.mean()
    assert {"train/loss", "train/grad_norm", "eval/answer_logprob_gain"} <= set(metrics)
    with pytest.raises(ValueError, match="with completions"):
        env.learn(ids, Rollout(out.rewards, out.correct), rng)  # no completions to train on
    with pytest.raises(ValueError, match="3 groups for 2 prompt ids"):
        env.learn(ids[:2], out, rng)


def test_evaluate_with_an_oracle_and_a_wrong_policy():
    right = GRPOEnvironment(TASK, POOL, TEST, _Oracle(POOL + TEST), GRPOConfig(max_new_tokens=4))
    wrong = GRPOEnvironment(
        TASK, POOL, TEST, _Oracle(POOL + TEST, wrong=True), GRPOConfig(max_new_tokens=4)
    )
    rng = np.random.default_rng(0)
    scores = right.evaluate(rng)
    assert {k: scores[k] for k in ("eval/pass1", "eval/greedy", "eval/solved_share")} == {
        "eval/pass1": 1.0,
        "eval/greedy": 1.0,
        "eval/solved_share": 1.0,
    }
    assert wrong.evaluate(rng)["eval/pass1"] == 0.0
    assert np.all(right.rollout(np.arange(4), 3, rng).rewards == 1.0)
    wrong_out = wrong.rollout(np.arange(4), 3, rng)
    assert np.allclose(wrong_out.rewards, 0.1) and not wrong_out.correct.any()
    assert np.all(right.pool_success_rates(2, rng) == 1.0)


def test_loop_drives_it_and_dynamic_sampling_counts_extra_work():
    env = _env()
    config = LoopConfig(m=3, k=4, steps=2, candidate_ratio=4, eval_every=2)
    records = SelectionLoop(env, "dynamic-sampling", config, seed=0).run(progress=False)
    assert [r.step for r in records] == [0, 1, 2]
    for r in records[1:]:
        assert r.rollouts >= 12 and r.extra_rollouts == r.rollouts - 12
        # every rollout of every round generated at least one token and was counted
        assert r.metrics["train/tokens_generated"] >= r.rollouts
    assert "eval/pass1" in records[-1].metrics


def test_kl_needs_a_reference():
    with pytest.raises(ValueError, match="reference"):
        _env(kl_coef=0.1)


def test_eval_config_validation():
    with pytest.raises(ValueError, match="samples"):
        EvalConfig(samples=0)


def test_countdown_runs_through_the_loop():
    task = make_task("countdown", max_number=9, max_target=50)
    pool, test = make_splits(task, 12, 4, 0)
    tok = CharTokenizer(task.alphabet)
    torch.manual_seed(0)
    model = TinyLM(
        ModelConfig(vocab_size=tok.vocab_size, block_size=40, n_layer=1, n_head=2, d_model=16)
    )
    env = GRPOEnvironment(
        task,
        pool,
        test,
        CharPolicy(model, tok),
        GRPOConfig(max_new_tokens=task.max_answer_chars + 1),
        EvalConfig(samples=1),
    )
    config = LoopConfig(m=2, k=3, steps=1, candidate_ratio=2, eval_every=1)
    records = SelectionLoop(env, "insight", config, seed=0).run(progress=False)
    assert records[-1].successes.shape == (2,)
    assert 0.0 <= records[-1].train_reward <= 1.0
    assert "eval/pass1" in records[-1].metrics


@dataclass(frozen=True)
class _FirstLetter:
    """A toy task with a unique one-letter answer (the prompt's first letter), so that a
    random policy puts a probability far from 0 on it."""

    name: str = "first-letter"
    alphabet: str = "ab="
    max_prompt_chars: int = 4
    max_answer_chars: int = 1
    unique_answer: bool = True

    def sample(self, rng):
        text = "".join(rng.choice(["a", "b"], size=3)) + "="
        return Problem(id=text, prompt=text, solution=text[0], truth={}, features={})

    def grade(self, problem, completion):
        return Grade(1.0, True) if completion == problem.solution else Grade(0.0, False)


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_exact_pass1_equals_a_monte_carlo_estimate(temperature):
    task = _FirstLetter()
    rng = np.random.default_rng(0)
    problems = [task.sample(rng) for _ in range(8)]
    tok = CharTokenizer(task.alphabet)
    torch.manual_seed(1)
    model = TinyLM(
        ModelConfig(vocab_size=tok.vocab_size, block_size=8, n_layer=1, n_head=1, d_model=8)
    )
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(6.0)  # away from uniform, so problems differ
    config = GRPOConfig(max_new_tokens=2, temperature=temperature)
    env = GRPOEnvironment(task, problems, problems, CharPolicy(model, tok), config)
    exact = env.exact_pass1()
    assert exact.shape == (8,) and np.ptp(exact) > 0.01 and 0.01 < exact.mean() < 0.99
    samples = 3000  # Monte Carlo at the same temperature, graded by the task
    comps = env._sample(env._test_prompts, temperature, np.random.default_rng(2), samples)
    correct = np.array(
        [
            task.grade(problems[j // samples], env.policy.decode(c)).correct
            for j, c in enumerate(comps)
        ]
    ).reshape(8, samples)
    se = np.sqrt(exact * (1 - exact) / samples)
    assert np.all(np.abs(correct.mean(axis=1) - exact) < 4.5 * se + 1e-9)
    assert env.evaluate(np.random.default_rng(0))["eval/pass1_exact"] == pytest.approx(exact.mean())
    # the per-step evaluation in learn() shares one forward pass at temperature 1; it must
    # give what the two separate evaluations give
    shared, answer = env._step_evaluation()
    assert shared["eval/pass1_exact"] == pytest.approx(exact.mean(), rel=1e-12)
    assert answer == pytest.approx(env._answer_logprob(), rel=1e-6)


def test_exact_pass1_refused_without_a_unique_answer():
    countdown = make_task("countdown")
    pool, test = make_splits(countdown, 10, 4, 0)
    tok = CharTokenizer(countdown.alphabet)
    model = TinyLM(
        ModelConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=1, d_model=8, n_head=1)
    )
    env = GRPOEnvironment(
        countdown, pool, test, CharPolicy(model, tok), GRPOConfig(max_new_tokens=4)
    )
    with pytest.raises(ValueError, match="unique answer"):
        env.exact_pass1()
    assert "eval/pass1_exact" not in env.evaluate(np.random.default_rng(0))
