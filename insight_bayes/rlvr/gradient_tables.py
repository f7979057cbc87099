"""The stored parts and the tables of ``insight-bayes rlvr-gradients`` (no torch).

Each finished (draw, checkpoint) of :func:`insight_bayes.rlvr.gradients.run_gradients`
is a part under ``runs/`` (its groups, effects and checkpoint tables, and a completion
marker written last: :func:`is_done`); :func:`gather_gradients` consolidates the parts
into the folder's ``groups.parquet``, ``effects.parquet``, ``checkpoints.csv`` and
``signal_noise.csv`` (:func:`signal_noise_table`). The columns are described in
:mod:`insight_bayes.rlvr.gradients`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

__all__ = ["gather_gradients", "is_done", "signal_noise_table"]


def signal_noise_table(groups: pd.DataFrame, effects: pd.DataFrame) -> pd.DataFrame:
    """Per (draw, checkpoint, prompt_id, k): signal and noise of the update and gradient.

    Recomputed from the per-replicate rows of ``groups.parquet`` (``*_norm`` and
    ``*_dot_mean``), so it needs no vectors: with ``R`` replicates,
    ``||mean||^2 = mean_r <x_r, mean>`` and ``sum_r ||x_r - mean||^2 =
    sum_r ||x_r||^2 - R ||mean||^2``. Columns: see the module docstring.
    """
    keys = ["draw", "checkpoint", "prompt_id", "k"]
    rows = []
    wide = (
        effects.pivot_table(index=[*keys, "replicate"], columns="target_tier", values="effect")
        .groupby(level=keys)
        .mean()
    )
    wide.columns = [f"effect_tier_{int(c)}" for c in wide.columns]
    for key, g in groups.groupby(keys, sort=True):
        R = len(g)
        row = dict(zip(keys, key, strict=True))
        row |= {
            "tier": int(g["tier"].iloc[0]),
            "band": int(g["band"].iloc[0]),
            "p_hat": float(g["p_hat"].iloc[0]),
            "replicates": R,
            "mixed_share": float(g["mixed"].mean()),
        }
        for name, norm, dot in (
            ("update", "update_norm", "update_dot_mean"),
            ("grad", "grad_norm", "grad_dot_mean"),
            ("lin", "lin_norm", "lin_dot_mean"),
        ):
            if norm not in g or dot not in g:
                continue
            mean_sq = max(float(g[dot].mean()), 0.0)
            total_dev = max(float((g[norm] ** 2).sum()) - R * mean_sq, 0.0)
            msd = total_dev / R
            s2 = total_dev / (R - 1) if R > 1 else float("nan")
            unbiased = mean_sq - s2 / R if R > 1 else float("nan")
            row |= {
                f"{name}_signal": mean_sq**0.5,
                f"{name}_noise": msd,
                f"{name}_noise_rms": msd**0.5,
                f"{name}_signal_sq_unbiased": unbiased,
                f"{name}_noise_to_signal": s2 / unbiased if unbiased > 0 else float("nan"),
            }
        for col in ("self_effect", "heldout_effect", "own_tier_effect"):
            row[col] = float(g[col].mean())
        rows.append(row)
    table = pd.DataFrame(rows)
    return table.merge(wide.reset_index(), on=keys, how="left")


def _part_paths(root: Path, draw: int, checkpoint: int) -> dict[str, Path]:
    base = root / "runs" / f"draw-{draw:04d}"
    stem = f"checkpoint-{checkpoint:05d}"
    return {
        name: base / f"{stem}.{name}.parquet" for name in ("groups", "effects", "checkpoints")
    } | {"done": base / f"{stem}.done.json"}


def is_done(root: str | os.PathLike[str], draw: int, checkpoint: int) -> bool:
    """Whether (draw, checkpoint) finished: its marker parses and its files have its sizes."""
    paths = _part_paths(Path(root), draw, checkpoint)
    try:
        marker = json.loads(paths["done"].read_text())
    except (OSError, ValueError):
        return False
    return all(
        paths[name].exists() and paths[name].stat().st_size == size
        for name, size in marker.get("sizes", {}).items()
    ) and set(marker.get("sizes", {})) == {"groups", "effects", "checkpoints"}


def _write_part(root: Path, draw: int, checkpoint: int, tables: dict[str, pd.DataFrame]) -> None:
    from insight_bayes.results.io import atomic_write_json, atomic_write_parquet

    paths = _part_paths(root, draw, checkpoint)
    sizes = {}
    for name, df in tables.items():
        df = df.copy()
        df.insert(0, "checkpoint", checkpoint)
        df.insert(0, "draw", draw)
        sizes[name] = atomic_write_parquet(paths[name], df)
    atomic_write_json(paths["done"], {"draw": draw, "checkpoint": checkpoint, "sizes": sizes})


def gather_gradients(
    root: str | os.PathLike[str], draws: Sequence[int], checkpoints: Sequence[int]
) -> dict[str, pd.DataFrame]:
    """Consolidate the finished parts into ``groups.parquet``, ``effects.parquet``,
    ``checkpoints.csv`` and ``signal_noise.csv`` (atomic writes); return the tables."""
    from insight_bayes.results.io import atomic_write_bytes, atomic_write_parquet

    root = Path(root)
    done = [(d, c) for d in draws for c in checkpoints if is_done(root, d, c)]
    if not done:
        return {}
    tables = {}
    for name in ("groups", "effects", "checkpoints"):
        frames = [pd.read_parquet(_part_paths(root, d, c)[name]) for d, c in done]
        tables[name] = pd.concat(frames, ignore_index=True)
    tables["signal_noise"] = signal_noise_table(tables["groups"], tables["effects"])
    atomic_write_parquet(root / "groups.parquet", tables["groups"])
    atomic_write_parquet(root / "effects.parquet", tables["effects"])
    for name in ("checkpoints", "signal_noise"):
        atomic_write_bytes(root / f"{name}.csv", tables[name].to_csv(index=False).encode())
    return tables
