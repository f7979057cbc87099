"""The GRPO environment: a real language model behind the selection loop's protocol.

:class:`GRPOEnvironment` implements :class:`insight_bayes.environment.Environment`, so the
shared :class:`insight_bayes.loop.SelectionLoop` drives it exactly as it drives the
simulators: the selector chooses prompts, :meth:`~GRPOEnvironment.rollout` samples ``K``
completions per prompt and grades them, :meth:`~GRPOEnvironment.learn` takes the GRPO
step on those very completions (kept between the two calls), and
:meth:`~GRPOEnvironment.evaluate` measures held-out accuracy. Dynamic Sampling calls
``rollout`` several times per step; every completion it generates is counted in
``train/tokens_generated`` and ``train/generation_seconds``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from insight_bayes.rlvr.config import EvalConfig
from insight_bayes.rlvr.grpo import (
    GRPOConfig,
    build_batch,
    group_advantages,
    grpo_update,
    make_optimizer,
    make_scheduler,
)
from insight_bayes.rlvr.policy import Policy
from insight_bayes.rlvr.tasks.base import Problem, Task
from insight_bayes.validation import check_ids, check_int

__all__ = ["EvalConfig", "GRPOEnvironment"]

log = logging.getLogger(__name__)


class GRPOEnvironment:
    """GRPO on a policy over a pool of task prompts (the selection loop's environment).

    Parameters
    ----------
    task : Task
        Verifier of completions.
    pool : sequence of Problem
        Training prompts; the loop's prompt id ``i`` is ``pool[i]``.
    test : sequence of Problem
        Held-out problems (disjoint from the pool).
    policy : Policy
        The model trained in place (a copy of the warm-up for each run).
    grpo : GRPOConfig
        Optimiser and sampling settings.
    evaluation : EvalConfig
        Held-out evaluation settings.
    reference : Policy, optional
        Frozen warm-up policy for the KL term (used when ``grpo.kl_coef > 0``).
    """

    def __init__(
        self,
        task: Task,
        pool: Sequence[Problem],
        test: Sequence[Problem],
        policy: Policy,
        grpo: GRPOConfig,
        evaluation: EvalConfig | None = None,
        reference: Policy | None = None,
    ) -> None:
        if not pool:
            raise ValueError("pool must hold at least one problem")
        if grpo.kl_coef > 0 and reference is None:
            raise ValueError(f"grpo.kl_coef={grpo.kl_coef} > 0 needs a reference policy")
        self.task = task
        self.pool = list(pool)
        self.test = list(test)
        self.policy = policy
        self.grpo = grpo
        self.evaluation = evaluation or EvalConfig()
        self.reference = reference
        self.device = next(policy.model.parameters()).device
        self.optimizer = make_optimizer(policy.model, grpo)
        self.scheduler = make_scheduler(self.optimizer, grpo)
        self._pool_prompts = [policy.prompt_ids(p.prompt) for p in self.pool]
        self._test_prompts = [policy.prompt_ids(p.prompt) for p in self.test]
        n_lp = min(self.evaluation.logprob_problems, len(self.test))
        self._logprob_batch = (
            build_batch(
                self._test_prompts[:n_lp],
                [policy.completion_ids(p.solution) for p in self.test[:n_lp]],
                policy.pad_id,
                self.device,
            )
            if n_lp
            else None
        )
        self._pending: dict[int, tuple[list[list[int]], np.ndarray]] = {}
        self._tokens = 0
        self._generation_seconds = 0.0
        self._last_logprob = self._answer_logprob()
        policy.model.eval()

    # ----------------------------------------------------------- protocol
    @property
    def pool_size(self) -> int:
        return len(self.pool)

    def rollout(self, ids: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
        """Sample ``k`` completions of each prompt in ``ids``; return their shaped rewards.

        The completions are kept until :meth:`learn` trains on them.
        """
        ids = check_ids(ids, "ids", self.pool_size)
        k = check_int(k, "k", min_value=1)
        started = time.perf_counter()
        prompts = [self._pool_prompts[i] for i in ids for _ in range(k)]
        completions = self._sample(prompts, self.grpo.temperature, rng)
        rewards = np.empty(len(prompts))
        for row, (i, comp) in enumerate(zip(np.repeat(ids, k), completions, strict=True)):
            rewards[row] = self.task.grade(self.pool[i], self.policy.decode(comp)).reward
        rewards = rewards.reshape(ids.size, k)
        for g, i in enumerate(ids):
            self._pending[int(i)] = (completions[g * k : (g + 1) * k], rewards[g])
        self._tokens += sum(len(c) for c in completions)
        self._generation_seconds += time.perf_counter() - started
        return rewards

    def learn(
        self, ids: np.ndarray, rewards: np.ndarray, rng: np.random.Generator
    ) -> Mapping[str, float]:
        """One GRPO update on the completions sampled for ``ids`` by :meth:`rollout`."""
        ids = check_ids(ids, "ids", self.pool_size)
        missing = [int(i) for i in ids if int(i) not in self._pending]
        if missing:
            raise ValueError(f"learn() got prompt ids {missing[:5]} that were not rolled out")
        started = time.perf_counter()
        prompts, completions, group_rewards = [], [], []
        for i in ids:
            comps, r = self._pending[int(i)]
            prompts += [self._pool_prompts[i]] * len(comps)
            completions += comps
            group_rewards.append(r)
        rewards_t = torch.as_tensor(np.stack(group_rewards), dtype=torch.float32)
        advantages = group_advantages(rewards_t, self.grpo.adv_eps).reshape(-1).to(self.device)
        batch = build_batch(prompts, completions, self.policy.pad_id, self.device)
        metrics = grpo_update(
            self.policy,
            self.optimizer,
            batch,
            advantages,
            self.grpo,
            self.reference,
            self.scheduler,
        )
        update_seconds = time.perf_counter() - started
        logprob = self._answer_logprob()
        metrics.update(
            {
                "train/tokens_generated": float(self._tokens),
                "train/generation_seconds": self._generation_seconds,
                "train/update_seconds": update_seconds,
                "train/completion_tokens": float(batch.n_completion_tokens) / len(completions),
                "train/correct": float((rewards_t >= 1.0).float().mean()),
                "eval/answer_logprob": logprob,
                "eval/answer_logprob_gain": logprob - self._last_logprob,
            }
        )
        self._last_logprob = logprob
        self._pending.clear()
        self._tokens = 0
        self._generation_seconds = 0.0
        return metrics

    def evaluate(self, rng: np.random.Generator) -> Mapping[str, float]:
        """Held-out ``eval/pass1`` (mean over ``samples`` per problem) and ``eval/greedy``."""
        if not self.test:
            return {}
        cfg = self.evaluation
        prompts = [p for p in self._test_prompts for _ in range(cfg.samples)]
        sampled = self._sample(prompts, cfg.temperature, rng)
        greedy = self._sample(self._test_prompts, 0.0, rng)
        correct = np.array(
            [
                self.task.grade(self.test[j // cfg.samples], self.policy.decode(c)).correct
                for j, c in enumerate(sampled)
            ],
            dtype=np.float64,
        ).reshape(len(self.test), cfg.samples)
        greedy_correct = np.array(
            [
                self.task.grade(p, self.policy.decode(c)).correct
                for p, c in zip(self.test, greedy, strict=True)
            ],
            dtype=np.float64,
        )
        return {
            "eval/pass1": float(correct.mean()),
            "eval/greedy": float(greedy_correct.mean()),
            "eval/solved_share": float((correct.max(axis=1) > 0).mean()),
        }

    # ----------------------------------------------------------- helpers
    def pool_success_rates(self, samples: int, rng: np.random.Generator) -> np.ndarray:
        """Monte Carlo success rate of every pool prompt under the current policy, ``(N,)``."""
        samples = check_int(samples, "samples", min_value=1)
        prompts = [p for p in self._pool_prompts for _ in range(samples)]
        comps = self._sample(prompts, self.grpo.temperature, rng)
        correct = np.array(
            [
                self.task.grade(self.pool[j // samples], self.policy.decode(c)).correct
                for j, c in enumerate(comps)
            ],
            dtype=np.float64,
        )
        return correct.reshape(self.pool_size, samples).mean(axis=1)

    def _sample(
        self, prompts: Sequence[Sequence[int]], temperature: float, rng: np.random.Generator
    ) -> list[list[int]]:
        """Completions (token lists, ``<eos>`` included when sampled) of ``prompts``."""
        generator = torch.Generator(device=self.device)
        generator.manual_seed(int(rng.integers(2**62)))
        out: list[list[int]] = []
        size = self.evaluation.batch_size
        for start in range(0, len(prompts), size):
            chunk = prompts[start : start + size]
            tokens = self.policy.generate(
                chunk,
                self.grpo.max_new_tokens,
                temperature if temperature > 0 else 0.0,
                generator,
            ).cpu()
            for row in tokens.tolist():
                comp = []
                for t in row:
                    comp.append(t)
                    if t == self.policy.eos_id:
                        break
                out.append(comp)
        return out

    @torch.no_grad()
    def _answer_logprob(self) -> float:
        batch = self._logprob_batch
        if batch is None:
            return float("nan")
        logp = self.policy.logprobs(batch.tokens, batch.valid)
        mask = batch.completion.to(logp.dtype)
        return float((logp * mask).sum() / mask.sum())
