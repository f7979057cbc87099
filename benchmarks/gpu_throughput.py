"""How fast a study folder's runs trained and how busy the GPU was, from the folder alone.

    PYTHONPATH=. python benchmarks/gpu_throughput.py results/rlvr-gpu

A batched block's runs train together, and each run's ``wall_seconds`` (its
``*.done.json``) is the block's. So a block's time is counted once by dividing every run's
by its block size (the done record's ``block``):

- ``block_wall_seconds``: the sum over blocks of their wall time;
- ``tokens_per_wall_second``: tokens generated (every run's rollouts) over that time;
- ``gpu_util_mean``: the mean of ``gpu_util.csv``'s samples (``nvidia-smi`` every few
  seconds) taken while the study's process held GPU memory; ``None`` without samples;
- and (:func:`rounds_fit`) how much each of Dynamic Sampling's generation rounds adds to
  its block's step, which the block's other runs wait through.

``run_gpu_study.sh`` writes this into the folder's ``throughput.txt``; ``summary.py`` quotes
it in the READMEs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd


def _runs(folder: Path) -> pd.DataFrame:
    """One row per finished run: rule, seed, draw, block size and wall seconds."""
    rows = []
    for path in sorted(folder.rglob("*.done.json")):
        record = json.loads(path.read_text())
        draw = next((int(p.name[5:]) for p in path.parents if p.name.startswith("draw-")), 0)
        rows.append(
            {"rule": record["rule"], "seed": int(record["seed"]), "draw": draw,
             "block": int(record.get("block", 1)), "wall_seconds": float(record["wall_seconds"])}
        )  # fmt: skip
    if not rows:
        raise ValueError(f"{folder} holds no finished run (no *.done.json)")
    return pd.DataFrame(rows)


def gpu_util_mean(folder: Path) -> float | None:
    """Mean GPU utilisation (%) over the samples taken while memory was held, or None."""
    path = folder / "gpu_util.csv"
    if not path.exists():
        return None
    table = pd.read_csv(path, skipinitialspace=True, on_bad_lines="skip")
    if table.shape[1] < 3:
        return None
    util = pd.to_numeric(table.iloc[:, 1].astype(str).str.rstrip(" %"), errors="coerce")
    memory = pd.to_numeric(table.iloc[:, 2].astype(str).str.rstrip(" MiB"), errors="coerce")
    held = util[(memory > 0) & util.notna()]
    return float(held.mean()) if len(held) else None


def rounds_fit(folder: str | Path, rule: str = "dynamic-sampling") -> dict | None:
    """Least-squares fit of a block's step seconds on ``rule``'s generation rounds.

    The block's step time is read off Random's run and ``rule``'s rounds off its run at
    the same (draw, seed, step); this pairs them within one block when blocks hold whole
    seeds of every rule (what the study's time budget starts, ``time_budget.fit_block``).
    Only pairs where both runs trained in blocks of more than one run count. Returns
    ``intercept``, ``per_round`` (seconds) and ``n`` (block-steps), or None without pairs.
    """
    import numpy as np

    folder = Path(folder)
    runs = _runs(folder)
    steps = pd.read_parquet(folder / "steps.parquet")
    if "draw" not in steps:
        steps = steps.assign(draw=0)
    if "rounds" not in steps:
        return None
    steps = steps[steps["step"] > 0].merge(runs, on=["rule", "seed", "draw"])
    keys = ["draw", "seed", "step"]
    base = steps[(steps["rule"] == "random") & (steps["block"] > 1)].set_index(keys)
    other = steps[(steps["rule"] == rule) & (steps["block"] > 1)].set_index(keys)
    pairs = base[["step_seconds"]].join(other[["rounds"]], how="inner").dropna()
    if len(pairs) < 3 or pairs["rounds"].nunique() < 2:
        return None
    design = np.c_[np.ones(len(pairs)), pairs["rounds"].to_numpy(float)]
    (intercept, slope), *_ = np.linalg.lstsq(design, pairs["step_seconds"].to_numpy(float))
    return {"intercept": float(intercept), "per_round": float(slope), "n": int(len(pairs))}


def throughput(folder: str | Path) -> dict:
    """The folder's runs, tokens, block seconds, tokens per second and GPU utilisation."""
    folder = Path(folder)
    runs = _runs(folder)
    steps = pd.read_parquet(folder / "steps.parquet")
    if "draw" not in steps:
        steps = steps.assign(draw=0)
    trained = steps[steps["step"] > 0].merge(runs, on=["rule", "seed", "draw"], how="inner")
    tokens = float(trained["train/tokens_generated"].sum())
    wall = float((runs["wall_seconds"] / runs["block"]).sum())
    return {
        "runs": int(len(runs)),
        "blocks": runs["block"].value_counts().sort_index().to_dict(),
        "tokens_generated": tokens,
        "block_wall_seconds": wall,
        "tokens_per_wall_second": tokens / wall,
        "gpu_util_mean": gpu_util_mean(folder),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: gpu_throughput.py FOLDER", file=sys.stderr)
        return 2
    out = throughput(argv[0])
    util = out["gpu_util_mean"]
    print(f"runs {out['runs']} (runs by block size: {out['blocks']})")
    print(f"generated tokens {out['tokens_generated']:.0f} in {out['block_wall_seconds']:.1f} s "
          f"of block wall time: {out['tokens_per_wall_second']:.0f} tokens/s")  # fmt: skip
    print("GPU utilisation: " + ("no samples" if util is None else f"{util:.1f}% mean"))
    fit = rounds_fit(argv[0])
    if fit is not None:
        print(f"block step seconds = {fit['intercept']:.3f} + {fit['per_round']:.3f} x "
              f"Dynamic Sampling's rounds (least squares, {fit['n']} block-steps)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
