"""A verl-style training loop that picks its prompts with InSight (no verl needed).

The shape is that of verl's ``RayPPOTrainer.fit`` with the MoPPS recipe's sampler: the
data loader yields a *candidate* batch of ``M_hat`` prompts, the rule scores them and
keeps the top ``M``, the kept prompts are rolled out ``K`` times and verified, the actor
takes its step, and only then are the beliefs updated from the rewards. The selector
state goes into the trainer's checkpoint folder next to the model.

The "policy" here is a toy: prompt ``i`` is solved with probability
``sigmoid(skill - difficulty_i)``, and a step raises ``skill`` in proportion to the share
of groups whose ``K`` rewards are mixed (the only groups with a GRPO gradient). Swap
``ToyPolicy.rollout``/``ToyPolicy.update`` for generation + reward and the actor update.

Run: ``python examples/verl_style_loop.py --rule insight --steps 40``
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from insight_bayes import available_selectors, informative_groups
from insight_bayes.integrations import OnlineConfig, OnlineSelector


@dataclass(frozen=True)
class Args:
    """Arguments of the example (each is a command-line flag)."""

    rule: str = "insight"
    """Registered selection rule (see insight_bayes.available_selectors())."""
    pool: int = 512
    """Training prompts."""
    m: int = 16
    """Prompts trained on per step (verl: data.train_batch_size)."""
    k: int = 8
    """Rollouts per prompt (verl: actor_rollout_ref.rollout.n)."""
    candidate_ratio: int = 4
    """Candidate batch / kept batch (the data loader's batch is M_hat = ratio * M)."""
    steps: int = 40
    """Training steps."""
    seed: int = 0
    """Root seed (data order, rollouts, selection)."""
    save_every: int = 10
    """Write a checkpoint every this many steps (0: never)."""
    output_dir: str = "results/scratch/verl_style_loop"
    """Checkpoint folder root."""


class ToyPolicy:
    """Success probability ``sigmoid(skill - difficulty)``; learns from mixed groups."""

    def __init__(self, pool: int, rng: np.random.Generator) -> None:
        self.difficulty = rng.normal(0.0, 2.0, size=pool)
        self.skill = -1.0

    def rollout(self, ids: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(self.difficulty[ids] - self.skill))
        return (rng.random((ids.size, k)) < p[:, None]).astype(np.float64)

    def update(self, ids: np.ndarray, rewards: np.ndarray) -> dict[str, float]:
        informative = float(informative_groups(rewards).mean())
        self.skill += 0.05 * informative
        return {"train/reward": float(rewards.mean()), "train/informative_share": informative}


def candidate_loader(pool: int, m_hat: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Shuffled passes over the pool in batches of ``m_hat`` (drop_last), like verl's loader."""
    while True:
        order = rng.permutation(pool)
        for start in range(0, pool - m_hat + 1, m_hat):
            yield order[start : start + m_hat]


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in vars(Args()).items():
        kind = type(default)
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=default)
    args = Args(**vars(parser.parse_args(argv)))
    if args.rule not in available_selectors():
        parser.error(f"--rule must be one of {available_selectors()}")

    data_seq, env_seq = np.random.SeedSequence(args.seed).spawn(2)
    data_rng, env_rng = np.random.default_rng(data_seq), np.random.default_rng(env_seq)
    policy = ToyPolicy(args.pool, env_rng)
    # [loop]
    selector = OnlineSelector(
        args.pool, args.rule, OnlineConfig(m=args.m, k=args.k), seed=args.seed
    )
    loader = candidate_loader(args.pool, args.candidate_ratio * args.m, data_rng)

    records = []
    for step in range(1, args.steps + 1):
        candidates = next(loader)  # the data loader's batch of M_hat prompts
        chosen = selector.next_batch(candidates)  # score them, keep the top M
        rewards = policy.rollout(chosen, args.k, env_rng)  # generate + verify
        metrics = policy.update(chosen, rewards)  # actor update
        selector.report(chosen, rewards)  # beliefs updated after the step
        records.append(
            {
                "step": step,
                "candidates": candidates,
                "chosen": chosen,
                "rewards": rewards,
                **metrics,
            }
        )
        if args.save_every and step % args.save_every == 0:
            folder = Path(args.output_dir) / f"global_step_{step}"
            folder.mkdir(parents=True, exist_ok=True)
            selector.save(folder / "insight_selector.json")
        # [loop end]
        if step % 10 == 0 or step == args.steps:
            print(
                f"step {step:4d}  reward {metrics['train/reward']:.3f}  "
                f"informative {metrics['train/informative_share']:.2f}  skill {policy.skill:.2f}"
            )
    return records


if __name__ == "__main__":
    main()
