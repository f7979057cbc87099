"""A Random-only study folder written from the measured learner, in ``rlvr-study``'s schema.

For tests and examples of :mod:`simulations.predict` and ``insight-bayes advise``: a
folder with ``manifest.json`` (``config.loop``, ``config.study``, ``config.grpo``),
``pool.parquet`` (``prompt_id``, ``warmup_rate``, ``feature_digits``) and
``steps.parquet`` (``rule, seed, step``, the metric ``eval/pass1_exact``,
``train/correct``, ``train/grad_norm``, ``informative_share``, ``m``), simulated at known
knobs, so that a calibration can be checked to recover them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from insight_bayes.loop import LoopConfig, SelectionLoop
from insight_bayes.selectors import selector_from_label
from insight_bayes.validation import check_int
from simulations.harness_record import EmpiricalLearningConfig, fit_tier_priors
from simulations.structure import learner_settings

__all__ = ["write_random_study"]


def write_random_study(
    folder: str | Path,
    structure: dict[str, Any],
    *,
    learning_rate: float,
    transfer_depletion: float | None,
    pool_size: int = 128,
    tiers: int = 3,
    m: int = 8,
    k: int = 8,
    steps: int = 30,
    seeds: int = 3,
    warmup_samples: int = 16,
    rng: int = 0,
) -> Path:
    """Simulate Random on a drawn pool at known knobs and write the study folder.

    The pool: ``tiers`` tiers of equal size whose starting rates are Beta draws of
    decreasing mean; ``warmup_rate`` is a Binomial(``warmup_samples``) estimate of each.
    Every seed shares the pool's counts (as a harness study's seeds share the warm-up).

    Returns the folder.
    """
    for name, value in (("pool_size", pool_size), ("tiers", tiers), ("m", m), ("k", k),
                        ("steps", steps), ("seeds", seeds)):  # fmt: skip
        check_int(value, name, min_value=1)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    gen = np.random.default_rng(rng)
    tier = np.arange(pool_size) % tiers
    means = np.linspace(0.5, 0.08, tiers)
    rate0 = gen.beta(2.0 * means[tier] / (1 - means[tier]) + 0.2, 2.0)
    successes = gen.binomial(warmup_samples, np.clip(rate0, 0, 1))
    priors = fit_tier_priors(successes, np.full(pool_size, warmup_samples), tier)
    env_config = EmpiricalLearningConfig(
        pool_size=pool_size, heldout_size=256, n_groups=tiers, group_spread=0.0,
        learning_rate=learning_rate, transfer_depletion=transfer_depletion,
        warmup_steps=2, max_grad_norm=1.0,
        start_successes=tuple(int(s) for s in successes),
        start_trials=(warmup_samples,) * pool_size,
        start_groups=tuple(int(t) for t in tier),
        tier_priors=tuple(priors[t] for t in range(tiers)),
        **learner_settings(structure, tiers),
    )  # fmt: skip
    loop_config = LoopConfig(m=m, k=k, steps=steps, candidate_ratio=4, eval_every=1)
    rows = []
    pool_rng = np.random.default_rng(rng + 1)
    pool_seed = int(pool_rng.integers(2**31))
    for seed in range(seeds):
        env = env_config.build(pool_seed)  # one pool for every seed, as a harness draw
        loop = SelectionLoop(env, selector_from_label("random"), loop_config, seed=100 + seed)
        for step in loop.iter_steps():
            row = {"rule": "random", "seed": seed, "step": step.step, "m": m,
                   "eval/pass1_exact": step.metrics["eval/accuracy"]}  # fmt: skip
            if step.step > 0:
                row["train/correct"] = step.metrics["train/true_rate_chosen"]
                row["train/grad_norm"] = step.metrics.get("train/grad_norm", np.nan)
                row["informative_share"] = float(step.informative_share)
            rows.append(row)
    pd.DataFrame(rows).to_parquet(folder / "steps.parquet", index=False)
    pd.DataFrame({
        "prompt_id": np.arange(pool_size),
        "warmup_rate": successes / warmup_samples,
        "feature_digits": (tier + 1).astype(np.float64),
    }).to_parquet(folder / "pool.parquet", index=False)  # fmt: skip
    manifest = {
        "kind": "study",
        "config": {
            "loop": {"m": m, "k": k, "steps": steps, "candidate_ratio": 4, "eval_every": 1},
            "study": {"rules": ["random"], "seeds": list(range(seeds)),
                      "metric": "eval/pass1_exact", "baseline": "random",
                      "pool_rate_samples": warmup_samples,
                      "target_fractions": [0.5, 0.75, 1.0]},
            "grpo": {"lr_warmup_steps": 2, "max_grad_norm": 1.0},
        },
        "simulated": {"learning_rate": learning_rate, "transfer_depletion": transfer_depletion},
    }  # fmt: skip
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return folder
