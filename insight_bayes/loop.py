"""Algorithm 1 as one piece of code: the selection loop and its per-step records.

Per step ``t``:

1. draw ``M_hat`` candidates uniformly from the pool;
2. score them with the selector and keep the top ``M`` (Eq. 16-17);
3. roll out ``K`` responses per kept prompt (through the rule's rollout filter, which
   for Dynamic Sampling drops all-equal groups and refills, every rollout counted);
4. let the learner take its step on that very :class:`~insight_bayes.rewards.Rollout`
   (simulated, or GRPO in the harness);
5. update the beliefs of the kept prompts (Eq. 6) from the binarised rewards.

Steps 2-3 are :meth:`insight_bayes.selectors.Selector.gather`, the same call for every
rule. The same loop drives the simulators and the RLVR harness, so a notebook can read
either one's records.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from insight_bayes.beliefs.beta_belief import BetaBelief
from insight_bayes.environment import Diagnosed, Environment
from insight_bayes.rewards import RewardMode, Rollout, binarize_rewards, informative_groups
from insight_bayes.selectors import Selector, draw_candidates, selector_from_label
from insight_bayes.validation import check_int, check_real

__all__ = ["LoopConfig", "SelectionConfig", "SelectionLoop", "StepRecord"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SelectionConfig:
    """How many prompts a selection step keeps, from how many candidates, and how rewards
    become belief counts: the settings every user of the selection rules shares (the loop
    here, :class:`~insight_bayes.integrations.online.OnlineSelector`).

    Attributes
    ----------
    m : int
        Prompts trained on per step (the paper's batch ``M = 256``).
    k : int
        Rollouts per prompt (``K = 8``); also the ``K`` of the information term.
    candidate_ratio : float
        ``M_hat / M`` (16); ignored when ``m_hat`` is given.
    m_hat : int, optional
        Candidates per step; defaults to ``ceil(candidate_ratio * m)``. Always capped at
        the pool size.
    reward_mode : {"binary", "fractional"}
        How rewards become belief counts (see :func:`insight_bayes.rewards.binarize_rewards`).
    reward_threshold : float
        Success threshold of the binary mode (``reward >= 1`` as in MoPPS).
    """

    m: int = 256
    k: int = 8
    candidate_ratio: float = 16.0
    m_hat: int | None = None
    reward_mode: RewardMode = "binary"
    reward_threshold: float = 1.0

    def __post_init__(self) -> None:
        check_int(self.m, "m", min_value=1)
        check_int(self.k, "k", min_value=1)
        check_real(self.candidate_ratio, "candidate_ratio", low=1.0)
        if self.m_hat is not None:
            check_int(self.m_hat, "m_hat", min_value=1)
            if self.m_hat < self.m:
                raise ValueError(f"m_hat must be >= m; got m_hat={self.m_hat} < m={self.m}")
        if self.reward_mode not in ("binary", "fractional"):
            raise ValueError(
                f"reward_mode must be 'binary' or 'fractional', got {self.reward_mode!r}"
            )
        check_real(self.reward_threshold, "reward_threshold")

    @property
    def wanted_m_hat(self) -> int:
        """Candidates per step before capping at the prompts available."""
        return self.m_hat if self.m_hat is not None else math.ceil(self.candidate_ratio * self.m)

    def resolved_m_hat(self, pool_size: int) -> int:
        """Candidates per step for a pool of ``pool_size`` prompts (checked against ``m``)."""
        m_hat = min(self.wanted_m_hat, pool_size)
        if self.m > m_hat:
            raise ValueError(
                f"m={self.m} prompts per step cannot be chosen from a pool of {pool_size}"
            )
        return m_hat


@dataclass(frozen=True)
class LoopConfig(SelectionConfig):
    """Settings of the selection loop (paper defaults, Section 7 of the method notes).

    The selection settings of :class:`SelectionConfig` (``m``, ``k``,
    ``candidate_ratio``, ``m_hat``, ``reward_mode``, ``reward_threshold``), plus:

    Attributes
    ----------
    steps : int
        Training steps (100).
    eval_every : int
        Evaluate the learner every this many steps and before the first (0: never).
    """

    steps: int = 100
    eval_every: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int(self.steps, "steps", min_value=0)
        check_int(self.eval_every, "eval_every", min_value=0)


@dataclass
class StepRecord:
    """One step of the loop. ``step = 0`` is the evaluation before training (no choices).

    Per-prompt arrays (``ids`` ... ``trials``) have one entry per chosen prompt, best
    score first. ``informative_share`` is the share of trained groups whose *binary*
    outcomes (``reward >= reward_threshold``) are mixed: graded rewards (a 0.1 format
    reward) never make an all-wrong group count. ``metrics`` holds the environment's
    namespaced metrics.
    """

    step: int
    rule: str
    seed: int
    ids: np.ndarray
    alpha_before: np.ndarray
    beta_before: np.ndarray
    scores: np.ndarray
    successes: np.ndarray
    trials: np.ndarray
    train_reward: float
    informative_share: float
    rollouts: int
    extra_rollouts: int
    rounds: int
    selection_seconds: float
    step_seconds: float
    metrics: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The per-step scalars as one flat dict (a row of the steps table)."""
        evidence = self.alpha_before + self.beta_before
        mean = self.alpha_before / evidence if evidence.size else evidence
        return {
            "step": self.step,
            "rule": self.rule,
            "seed": self.seed,
            "m": int(self.ids.size),
            "train_reward": self.train_reward,
            "informative_share": self.informative_share,
            "chosen_evidence": float(evidence.mean()) if evidence.size else math.nan,
            "chosen_mean_belief": float(mean.mean()) if evidence.size else math.nan,
            "chosen_score": float(self.scores.mean()) if self.scores.size else math.nan,
            "rollouts": self.rollouts,
            "extra_rollouts": self.extra_rollouts,
            "rounds": self.rounds,
            "selection_seconds": self.selection_seconds,
            "step_seconds": self.step_seconds,
            **self.metrics,
        }


def _empty(dtype: Any = np.float64) -> np.ndarray:
    return np.empty(0, dtype=dtype)


class SelectionLoop:
    """Drives an :class:`~insight_bayes.environment.Environment` with a selection rule.

    Parameters
    ----------
    env : Environment
        Rewards and learner.
    selector : Selector or str
        A rule, or a rule label (``"insight"``, ``"mopps:discount=0.5"``). The loop binds
        it to ``env`` (:meth:`~insight_bayes.selectors.Selector.bind`; only privileged
        rules, the oracles, read the environment, and only simulators allow it).
    config : LoopConfig
        Batch sizes, steps, reward binarisation, evaluation cadence.
    belief : BetaBelief, optional
        Starting beliefs; default a fresh ``Beta(1, 1)`` belief over the pool (with the
        rule's own discount when its label sets one).
    seed : int
        Root seed. Selection and environment draw from two independent streams spawned
        from it, so a rule's choices never shift the environment's random numbers.
    rule : str, optional
        Label written into the records; defaults to the selector's registry name.

    Examples
    --------
    >>> import numpy as np
    >>> from insight_bayes import FixedRateEnvironment, LoopConfig, SelectionLoop
    >>> env = FixedRateEnvironment(np.linspace(0, 1, 50))
    >>> loop = SelectionLoop(env, "insight", LoopConfig(m=4, k=8, steps=3, eval_every=0), seed=1)
    >>> [r.step for r in loop.run(progress=False)]
    [1, 2, 3]
    """

    def __init__(
        self,
        env: Environment,
        selector: Selector | str,
        config: LoopConfig,
        *,
        belief: BetaBelief | None = None,
        seed: int = 0,
        rule: str | None = None,
    ) -> None:
        if not isinstance(env, Environment):
            raise TypeError(
                f"env must implement the Environment protocol, got {type(env).__name__}"
            )
        self.env = env
        rule_object = selector_from_label(selector) if isinstance(selector, str) else selector
        if not isinstance(rule_object, Selector):
            raise TypeError(f"selector must be a Selector or a rule label, got {selector!r}")
        # every rule is bound; only a privileged one (an oracle) reads the environment
        self.selector = rule_object.bind(env)
        self.config = config
        self.m_hat = config.resolved_m_hat(env.pool_size)
        self.belief = belief if belief is not None else self.selector.new_belief(env.pool_size)
        self.selector.check_belief(self.belief)
        if self.belief.n_prompts != env.pool_size:
            raise ValueError(
                f"belief covers {self.belief.n_prompts} prompts but the pool has {env.pool_size}"
            )
        self.seed = check_int(seed, "seed", min_value=0)
        self.rule = rule or (selector if isinstance(selector, str) else self.selector.name)
        select_seq, env_seq = np.random.SeedSequence(self.seed).spawn(2)
        self.select_rng = np.random.default_rng(select_seq)
        self.env_rng = np.random.default_rng(env_seq)
        self.step_count = 0

    # ------------------------------------------------------------------ steps
    def evaluate(self) -> StepRecord:
        """A record with the learner's held-out metrics and no choices."""
        metrics = dict(self.env.evaluate(self.env_rng))
        return StepRecord(
            step=self.step_count,
            rule=self.rule,
            seed=self.seed,
            ids=_empty(np.int64),
            alpha_before=_empty(),
            beta_before=_empty(),
            scores=_empty(),
            successes=_empty(),
            trials=_empty(),
            train_reward=math.nan,
            informative_share=math.nan,
            rollouts=0,
            extra_rollouts=0,
            rounds=0,
            selection_seconds=0.0,
            step_seconds=0.0,
            metrics=metrics,
        )

    def step(self) -> StepRecord:
        """Run one step of Algorithm 1 and return its record."""
        cfg = self.config
        started = time.perf_counter()
        candidates = draw_candidates(self.env.pool_size, self.m_hat, self.select_rng)
        spent = 0.0

        def rollout(ids: np.ndarray) -> Rollout:
            nonlocal spent
            t0 = time.perf_counter()
            out = self.env.rollout(ids, cfg.k, self.env_rng)
            spent += time.perf_counter() - t0
            return out

        batch = self.selector.gather(
            candidates, self.belief, cfg.m, cfg.k, self.select_rng, rollout
        )
        selection_seconds = time.perf_counter() - started - spent
        ids = batch.ids
        rewards = batch.rollout.rewards
        alpha_before = self.belief.alpha[ids].copy()
        beta_before = self.belief.beta[ids].copy()
        successes, trials = binarize_rewards(
            rewards, mode=cfg.reward_mode, threshold=cfg.reward_threshold
        )
        verified = rewards >= cfg.reward_threshold
        metrics = dict(self.env.learn(ids, batch.rollout, self.env_rng))
        self.belief.observe(
            ids, rewards, successes, trials, fractional=cfg.reward_mode == "fractional"
        )
        self.step_count += 1
        if isinstance(self.env, Diagnosed):
            metrics.update(self.env.diagnostics(self.belief, ids, batch.rollout))
        if cfg.eval_every and self.step_count % cfg.eval_every == 0:
            metrics.update(self.env.evaluate(self.env_rng))
        return StepRecord(
            step=self.step_count,
            rule=self.rule,
            seed=self.seed,
            ids=ids,
            alpha_before=alpha_before,
            beta_before=beta_before,
            scores=batch.scores,
            successes=successes,
            trials=trials,
            train_reward=float(rewards.mean()),
            informative_share=float(informative_groups(verified).mean()),
            rollouts=int(batch.rollouts),
            extra_rollouts=int(batch.rollouts - cfg.m * cfg.k),
            rounds=int(batch.rounds),
            selection_seconds=selection_seconds,
            step_seconds=time.perf_counter() - started,
            metrics=metrics,
        )

    def iter_steps(self, steps: int | None = None) -> Iterator[StepRecord]:
        """Yield records until ``config.steps`` (or ``steps`` more) are done.

        Before the first step, when evaluation is on, a ``step = 0`` record is yielded.
        """
        end = (
            self.config.steps
            if steps is None
            else self.step_count + check_int(steps, "steps", min_value=0)
        )
        if self.step_count == 0 and self.config.eval_every:
            yield self.evaluate()
        while self.step_count < end:
            yield self.step()

    def run(self, steps: int | None = None, *, progress: bool = True) -> list[StepRecord]:
        """Run the loop and return every record (see :meth:`iter_steps`)."""
        total = (self.config.steps if steps is None else self.step_count + steps) - self.step_count
        records = []
        with tqdm(
            total=total, desc=f"{self.rule} seed {self.seed}", disable=not progress, leave=False
        ) as bar:
            for record in self.iter_steps(steps):
                records.append(record)
                if record.ids.size:
                    bar.update(1)
        return records

    # ---------------------------------------------------------------- resume
    def state_dict(self) -> dict[str, Any]:
        """Belief, random-number states and step count (plain data, JSON-able but arrays)."""
        return {
            "step": self.step_count,
            "rule": self.rule,
            "seed": self.seed,
            "config": dataclasses.asdict(self.config),
            "belief": self.belief.state_dict(),
            "select_rng": self.select_rng.bit_generator.state,
            "env_rng": self.env_rng.bit_generator.state,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state written by :meth:`state_dict` (the environment restores its own)."""
        if state["rule"] != self.rule or int(state["seed"]) != self.seed:
            raise ValueError(
                f"state is for rule {state['rule']!r} seed {state['seed']}, "
                f"not {self.rule!r} seed {self.seed}"
            )
        self.belief.load_state_dict(state["belief"])
        self.select_rng.bit_generator.state = state["select_rng"]
        self.env_rng.bit_generator.state = state["env_rng"]
        self.step_count = int(state["step"])
