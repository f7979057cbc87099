"""The GRPO environment: a real language model behind the selection loop's protocol.

:class:`GRPOEnvironment` implements :class:`insight_bayes.environment.Environment`, so the
shared :class:`insight_bayes.loop.SelectionLoop` drives it exactly as it drives the
simulators: the selector chooses prompts, :meth:`~GRPOEnvironment.rollout` samples ``K``
completions per prompt and grades them (a :class:`~insight_bayes.rewards.Rollout` whose
payload holds the completions), :meth:`~GRPOEnvironment.learn` takes the GRPO step on
the completions of the rollout it is handed back (nothing is kept between the two
calls), and :meth:`~GRPOEnvironment.evaluate` measures held-out accuracy. Dynamic Sampling calls
``rollout`` several times per step; every completion it generates is counted in
``train/tokens_generated`` and ``train/generation_seconds``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from insight_bayes.rewards import Rollout
from insight_bayes.rlvr.grpo import (
    GRPOConfig,
    TokenBatch,
    build_batch,
    group_advantages,
    grpo_update,
    make_optimizer,
    make_scheduler,
)
from insight_bayes.rlvr.policy import Policy
from insight_bayes.rlvr.run_sections import EvalConfig
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
        # exact pass@1 where each test problem has one correct completion (solution + eos)
        self._exact_batch = (
            build_batch(
                self._test_prompts,
                [policy.completion_ids(p.solution) for p in self.test],
                policy.pad_id,
                self.device,
            )
            if self.test and task.unique_answer
            else None
        )
        self._tokens = 0
        self._generation_seconds = 0.0
        self._last_logprob = self._answer_logprob()
        policy.model.eval()

    # ----------------------------------------------------------- protocol
    @property
    def pool_size(self) -> int:
        return len(self.pool)

    @property
    def prompt_groups(self) -> np.ndarray | None:
        """Each pool prompt's tier (its ``digits`` feature) as a group id ``0..G-1`` in
        increasing order of tier, for rules with a learned prior per group; ``None``
        when the task's prompts have no ``digits`` feature."""
        tiers = [p.features.get("digits") for p in self.pool]
        if any(t is None for t in tiers):
            return None
        return np.unique(np.asarray(tiers), return_inverse=True)[1].astype(np.int64)

    def rollout(self, ids: np.ndarray, k: int, rng: np.random.Generator) -> Rollout:
        """Sample ``k`` completions of each prompt in ``ids`` and grade them.

        Returns shaped rewards, the verifier's binary correctness, and (as the payload,
        one entry per prompt) the ``k`` completions' token lists that :meth:`learn`
        trains on.
        """
        ids = check_ids(ids, "ids", self.pool_size)
        k = check_int(k, "k", min_value=1)
        started = time.perf_counter()
        completions = self._sample(
            [self._pool_prompts[i] for i in ids], self.grpo.temperature, rng, k
        )
        grades = [
            self.task.grade(self.pool[i], self.policy.decode(comp))
            for i, comp in zip(np.repeat(ids, k), completions, strict=True)
        ]
        rewards = np.array([g.reward for g in grades], dtype=np.float64).reshape(ids.size, k)
        correct = np.array([g.correct for g in grades], dtype=bool).reshape(ids.size, k)
        payload = tuple(completions[g * k : (g + 1) * k] for g in range(ids.size))
        self._tokens += sum(len(c) for c in completions)
        self._generation_seconds += time.perf_counter() - started
        return Rollout(rewards, correct, payload)

    def learn(
        self, ids: np.ndarray, rollout: Rollout, rng: np.random.Generator
    ) -> Mapping[str, float]:
        """One GRPO update on the completions in ``rollout`` (row ``i`` is ``ids[i]``)."""
        ids = check_ids(ids, "ids", self.pool_size)
        if not isinstance(rollout, Rollout) or rollout.payload is None:
            raise ValueError("learn() needs the Rollout returned by rollout(), with completions")
        if rollout.groups != ids.size:
            raise ValueError(f"rollout has {rollout.groups} groups for {ids.size} prompt ids")
        started = time.perf_counter()
        batch, advantages = self.training_batch(ids, rollout)
        metrics = self._update(batch, advantages)
        update_seconds = time.perf_counter() - started
        started = time.perf_counter()
        exact, logprob = self._step_evaluation()
        metrics.update(
            {
                "train/tokens_generated": float(self._tokens),
                "train/generation_seconds": self._generation_seconds,
                "train/update_seconds": update_seconds,
                "train/eval_seconds": time.perf_counter() - started,
                "train/completion_tokens": float(batch.n_completion_tokens) / rollout.rewards.size,
                "train/correct": float(rollout.correct.mean()),
                "eval/answer_logprob": logprob,
                "eval/answer_logprob_gain": logprob - self._last_logprob,
                **exact,
            }
        )
        self._last_logprob = logprob
        self._tokens = 0
        self._generation_seconds = 0.0
        return metrics

    def _update(self, batch: TokenBatch, advantages: torch.Tensor) -> dict[str, float]:
        """The GRPO update of :meth:`learn` (:func:`~insight_bayes.rlvr.grpo.grpo_update`);
        a batched run (:mod:`insight_bayes.rlvr.batched`) takes it with its block."""
        return grpo_update(
            self.policy,
            self.optimizer,
            batch,
            advantages,
            self.grpo,
            self.reference,
            self.scheduler,
        )

    def _logprobs(
        self,
        tokens: torch.Tensor,
        valid: torch.Tensor,
        temperature: float = 1.0,
        last: int | None = None,
    ) -> torch.Tensor:
        """Per-token log-probabilities under the policy, of the last ``last`` columns when
        given (every evaluation goes through it; a batched run computes them with its
        block)."""
        return self.policy.logprobs(tokens, valid, temperature, last=last)

    def _completion_logprobs(
        self, batch: TokenBatch, temperature: float = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probabilities of ``batch``'s completion columns and their mask, both
        ``(B, batch.completion_width)`` (the columns before hold no completion token)."""
        width = batch.completion_width
        logp = self._logprobs(batch.tokens, batch.valid, temperature, last=width)
        return logp, batch.completion[:, -width:].to(logp.dtype)

    def training_batch(self, ids: np.ndarray, rollout: Rollout) -> tuple[TokenBatch, torch.Tensor]:
        """The token batch of ``rollout``'s completions and their group advantages.

        Advantages come from the rewards, or from binary correctness when
        ``grpo.advantage_reward == "binary"``; one per completion, in the batch's order.
        The GRPO update (:meth:`learn`) and the intervention study's gradients use it.
        """
        prompts, completions = [], []
        for i, comps in zip(ids, rollout.payload, strict=True):
            prompts += [self._pool_prompts[i]] * len(comps)
            completions += comps
        graded = rollout.correct if self.grpo.advantage_reward == "binary" else rollout.rewards
        rewards_t = torch.as_tensor(np.asarray(graded, dtype=np.float32))
        advantages = group_advantages(rewards_t, self.grpo.adv_eps).reshape(-1).to(self.device)
        sizes = {len(comps) for comps in rollout.payload}
        repeats = sizes.pop() if len(sizes) == 1 else None  # groups of one size
        batch = build_batch(prompts, completions, self.policy.pad_id, self.device, repeats)
        return batch, advantages

    def evaluate(self, rng: np.random.Generator) -> Mapping[str, float]:
        """Held-out ``eval/pass1`` (mean over ``samples`` per problem) and ``eval/greedy``."""
        if not self.test:
            return {}
        cfg = self.evaluation
        sampled = self._sample(self._test_prompts, cfg.temperature, rng, cfg.samples)
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
            **self._exact_metrics(),
        }

    def exact_pass1(self) -> np.ndarray:
        r"""Exact held-out pass@1 per test problem at the rollout temperature.

        .. math::
            \text{pass@1}_j = \exp \sum_t \log \pi(y_{j,t} \mid x_j, y_{j,<t}),

        the probability of sampling the unique solution ``y_j`` followed by ``<eos>``: one
        forward pass, no sampling noise. Only for tasks whose answer is unique
        (``task.unique_answer``); raises ``ValueError`` otherwise.
        """
        return self.exact_success("test").detach().double().cpu().numpy()

    def exact_success(
        self, split: str = "test", ids: np.ndarray | None = None, *, grad: bool = False
    ) -> torch.Tensor:
        """Exact success probability of each problem of ``split`` (``"test"`` or ``"pool"``;
        ``ids`` selects some), as a tensor; with ``grad`` it carries the graph, so that
        its gradient with respect to the policy's parameters can be taken."""
        if not self.task.unique_answer:
            raise ValueError(
                f"exact pass@1 needs a task with a unique answer; task {self.task.name!r} "
                f"has unique_answer={self.task.unique_answer}"
            )
        if split == "test":
            if self._exact_batch is None:
                raise ValueError("exact pass@1 needs a test set; this environment has none")
            batch = self._exact_batch
            if ids is not None:
                idx = torch.as_tensor(check_ids(ids, "ids", len(self.test)), device=self.device)
                batch = type(batch)(batch.tokens[idx], batch.valid[idx], batch.completion[idx])
        elif split == "pool":
            chosen = (
                np.arange(self.pool_size) if ids is None else check_ids(ids, "ids", self.pool_size)
            )
            batch = build_batch(
                [self._pool_prompts[i] for i in chosen],
                [self.policy.completion_ids(self.pool[i].solution) for i in chosen],
                self.policy.pad_id,
                self.device,
            )
        else:
            raise ValueError(f"split must be 'test' or 'pool', got {split!r}")
        with torch.set_grad_enabled(grad):
            logp, mask = self._completion_logprobs(batch, self.grpo.temperature)
            return torch.exp((logp * mask).sum(dim=1))

    def _exact_metrics(self) -> dict[str, float]:
        if self._exact_batch is None:
            return {}
        return {"eval/pass1_exact": float(self.exact_pass1().mean())}

    # ----------------------------------------------------------- helpers
    def pool_success_rates(self, samples: int, rng: np.random.Generator) -> np.ndarray:
        """Monte Carlo success rate of every pool prompt under the current policy, ``(N,)``."""
        samples = check_int(samples, "samples", min_value=1)
        comps = self._sample(self._pool_prompts, self.grpo.temperature, rng, samples)
        correct = np.array(
            [
                self.task.grade(self.pool[j // samples], self.policy.decode(c)).correct
                for j, c in enumerate(comps)
            ],
            dtype=np.float64,
        )
        return correct.reshape(self.pool_size, samples).mean(axis=1)

    def _sample(
        self,
        prompts: Sequence[Sequence[int]],
        temperature: float,
        rng: np.random.Generator,
        repeats: int = 1,
    ) -> list[list[int]]:
        """Completions (token lists, ``<eos>`` included when sampled): ``repeats`` of each
        prompt, grouped by prompt (each prompt is encoded once and shared)."""
        seed = int(rng.integers(2**62))
        size = max(1, self.evaluation.batch_size // repeats)  # rows per call stay bounded
        chunks = [list(prompts[start : start + size]) for start in range(0, len(prompts), size)]
        out: list[list[int]] = []
        for tokens in self._generate(chunks, max(temperature, 0.0), seed, repeats):
            out += self._completions(tokens)
        return out

    def _generate(
        self, chunks: list[list[list[int]]], temperature: float, seed: int, repeats: int
    ) -> list[torch.Tensor]:
        """Sampled tokens of each chunk of prompts, in order, from one generator seeded
        with ``seed`` (a batched run generates with its block)."""
        generator = torch.Generator(device=self.device)
        generator.manual_seed(seed)
        return [
            self.policy.generate(
                chunk, self.grpo.max_new_tokens, temperature, generator, repeats=repeats
            )
            for chunk in chunks
        ]

    def _completions(self, tokens: torch.Tensor) -> list[list[int]]:
        """Each row of sampled ``tokens`` up to and including its first ``<eos>``."""
        out = []
        for row in tokens.cpu().tolist():
            comp = []
            for t in row:
                comp.append(t)
                if t == self.policy.eos_id:
                    break
            out.append(comp)
        return out

    @torch.no_grad()
    def _step_evaluation(self) -> tuple[dict[str, float], float]:
        """The per-step evaluation: exact pass@1 and the mean answer log-probability.

        When the answer log-probability's problems are the first rows of the exact batch
        and the rollout temperature is 1, both come from one forward pass (the exact
        batch's per-token log-probabilities at temperature 1 are the answer's).
        """
        lp = self._logprob_batch
        exact = self._exact_batch
        shared = (
            exact is not None
            and lp is not None
            and self.grpo.temperature == 1.0
            and lp.tokens.shape[1] == exact.tokens.shape[1]
            and torch.equal(lp.tokens, exact.tokens[: lp.tokens.shape[0]])
        )
        if not shared:
            return self._exact_metrics(), self._answer_logprob()
        logp, mask = self._completion_logprobs(exact, 1.0)
        per_row = (logp * mask).sum(dim=1)
        n = lp.tokens.shape[0]
        answer = float(per_row[:n].sum() / mask[:n].sum())
        return {"eval/pass1_exact": float(torch.exp(per_row).double().mean())}, answer

    @torch.no_grad()
    def _answer_logprob(self) -> float:
        batch = self._logprob_batch
        if batch is None:
            return float("nan")
        logp, mask = self._completion_logprobs(batch)
        return float((logp * mask).sum() / mask.sum())
