"""How rules choose on the harness: re-selection of the same prompts and spread over tiers.

Read from a study's ``choices`` table (one row per chosen prompt and step) and its
``pool`` table (``feature_digits``: the prompt's tier). Per (study, rule, phase), pooled
over the rule's seeds:

- ``share_seen_before``: per step, the share of the chosen prompts that the same run had
  already chosen at an earlier step; averaged over steps and seeds;
- ``times_chosen_mean``: per run, choices in the phase over distinct prompts chosen in the
  phase (how often a chosen prompt is chosen), averaged over seeds;
- ``unique_prompts``: distinct prompts chosen in the phase, averaged over seeds;
- ``effective_prompts``: per run, the inverse Simpson index ``1 / sum_i s_i^2`` of the
  shares ``s_i`` of the phase's choices falling on prompt ``i`` (the number of equally
  chosen prompts that would give the same concentration), averaged over seeds;
- ``tier_<t>``: share of the phase's choices in digit tier ``t`` (NaN in a stacked table
  for a tier that this study's pool lacks); ``mean_tier`` the mean tier of the choices.

Phases: ``all``; ``early`` (steps ``<= T / 2``, ``T`` the run's last step) and ``late``
(the rest). A row with ``rule = "(pool)"`` gives the pool's own tier shares. pandas only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["selection_stats", "selection_table"]

PHASES = ("all", "early", "late")


def selection_stats(choices: pd.DataFrame, pool: pd.DataFrame, study: str = "") -> pd.DataFrame:
    """Re-selection and tier spread of every rule in one study (see the module docstring).

    Parameters
    ----------
    choices : DataFrame
        Columns ``rule``, ``seed``, ``step``, ``prompt_id`` (a study's ``choices.parquet``).
    pool : DataFrame
        Columns ``prompt_id``, ``feature_digits`` (a study's ``pool.parquet``).
    study : str
        Label written into the ``study`` column.

    Returns
    -------
    DataFrame
        One row per (rule, phase), plus the ``(pool)`` row.
    """
    needed = {"rule", "seed", "step", "prompt_id"}
    if missing := needed - set(choices):
        raise ValueError(f"choices lacks column(s) {sorted(missing)}")
    if missing := {"prompt_id", "feature_digits"} - set(pool):
        raise ValueError(f"pool lacks column(s) {sorted(missing)}")
    tier_of = pool.set_index("prompt_id")["feature_digits"].astype(int)
    df = choices[["rule", "seed", "step", "prompt_id"]].copy()
    if not df["prompt_id"].isin(tier_of.index).all():
        raise ValueError("choices name prompts that the pool table lacks")
    df["tier"] = tier_of.loc[df["prompt_id"]].to_numpy()
    run = ["rule", "seed"]
    first = df.groupby([*run, "prompt_id"])["step"].transform("min")
    df["seen"] = df["step"] > first
    last = df.groupby(run)["step"].transform("max")
    df["phase"] = np.where(df["step"] <= last / 2, "early", "late")
    tiers = sorted(tier_of.unique())
    rows = []
    for rule, by_rule in df.groupby("rule", sort=True):
        for phase in PHASES:
            part = by_rule if phase == "all" else by_rule[by_rule["phase"] == phase]
            if part.empty:
                continue
            per_step = part.groupby([*run, "step"])["seen"].mean()
            per_run = part.groupby(run)["prompt_id"].agg(["size", "nunique"])
            shares = part["tier"].value_counts(normalize=True)
            simpson = part.groupby(run)["prompt_id"].agg(
                lambda ids: 1.0 / float((ids.value_counts(normalize=True) ** 2).sum())
            )
            rows.append(
                {
                    "study": study,
                    "rule": rule,
                    "phase": phase,
                    "runs": len(per_run),
                    "choices": len(part),
                    "share_seen_before": float(per_step.mean()),
                    "times_chosen_mean": float((per_run["size"] / per_run["nunique"]).mean()),
                    "unique_prompts": float(per_run["nunique"].mean()),
                    "effective_prompts": float(simpson.mean()),
                    **{f"tier_{t}": float(shares.get(t, 0.0)) for t in tiers},
                    "mean_tier": float(part["tier"].mean()),
                }
            )
    shares = tier_of.value_counts(normalize=True)
    rows.append(
        {
            "study": study,
            "rule": "(pool)",
            "phase": "all",
            "runs": 0,
            "choices": 0,
            "share_seen_before": np.nan,
            "times_chosen_mean": np.nan,
            "unique_prompts": float(len(tier_of)),
            "effective_prompts": float(len(tier_of)),
            **{f"tier_{t}": float(shares.get(t, 0.0)) for t in tiers},
            "mean_tier": float(tier_of.mean()),
        }
    )
    return pd.DataFrame(rows)


def selection_table(studies: Mapping[str, str | os.PathLike[str]]) -> pd.DataFrame:
    """:func:`selection_stats` of several study folders (``name -> folder``), stacked."""
    frames = []
    for name, folder in studies.items():
        folder = Path(folder)
        for table in ("choices", "pool"):
            if not (folder / f"{table}.parquet").exists():
                raise FileNotFoundError(f"{folder} has no {table}.parquet")
        frames.append(
            selection_stats(
                pd.read_parquet(folder / "choices.parquet"),
                pd.read_parquet(folder / "pool.parquet"),
                name,
            )
        )
    return pd.concat(frames, ignore_index=True)
