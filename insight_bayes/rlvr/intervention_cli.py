"""A causal test of InSight's two terms on the GRPO harness: at checkpoints (> 0) of Random
runs over task draws, batches drawn in strata so that the evidence term (MI at the belief)
varies at a fixed difficulty weight and the reverse, under the flat and the
empirical-Bayes prior, plus uniform control batches; each batch's update as AdamW applies
it (clipped, from the checkpoint's moments) and its first-order effect on exact held-out
pass@1. Writes batches.parquet, slopes.csv (both terms in one model on logs, VIF,
hierarchical-bootstrap intervals, placebo p), arms.csv, headline.txt, manifest.json and
README.md into OUT (resumable per draw, seed and checkpoint); --summary-only re-analyses a
finished folder.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

__all__ = ["add_arguments", "analyse", "headline", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``insight-bayes rlvr-intervention``."""
    from insight_bayes.cli_types import (
        int_at_least,
        nonnegative_ints,
        positive_int,
        toml_file,
    )

    parser.add_argument(
        "config", type=toml_file, help="study config (TOML), e.g. configs/rlvr/cpu-tiered.toml"
    )
    parser.add_argument("--out", required=True, help="output folder (resumable)")
    parser.add_argument(
        "--draws", type=nonnegative_ints, default=(0, 1, 2), help="task draws (0,1,2)"
    )
    parser.add_argument(
        "--seeds", type=nonnegative_ints, default=(0, 1, 2), help="Random-run seeds (0,1,2)"
    )
    parser.add_argument(
        "--checkpoints", type=nonnegative_ints, default=(25, 50),
        help="Random-run steps, all > 0 (25,50); checkpoint 0 is refused (every belief "
        "is the prior: neither term varies)",
    )  # fmt: skip
    parser.add_argument("--strata", type=positive_int, default=4, help="strata of the held term")
    parser.add_argument(
        "--levels", type=int_at_least(2), default=3, help="levels of the varied term per stratum"
    )
    parser.add_argument("--controls", type=positive_int, default=4, help="uniform batches per cell")
    parser.add_argument(
        "--check-batches", type=int, default=2,
        help="batches per checkpoint whose actual held-out change is measured too (2)",
    )  # fmt: skip
    parser.add_argument("--n-boot", type=int_at_least(100), default=2000, help="bootstrap size")
    parser.add_argument(
        "--device", default="cpu", choices=["auto", "cpu", "cuda"],
        help="where the runs are trained and measured (auto: cuda when available)",
    )  # fmt: skip
    parser.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--runs-per-process", type=positive_int, default=None,
        help="Random runs (draw, seed) trained together as one batched block (1: one at a "
        "time; default on CUDA: every run; on CPU: blocks of up to 8)",
    )  # fmt: skip
    parser.add_argument("--cache-dir", default=None, help="warm-up cache (.cache/insight-bayes)")
    parser.add_argument(
        "--summary-only", action="store_true", help="re-analyse OUT's batches and stop"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def analyse(out: str | Path, n_boot: int, seed: int = 0) -> dict:
    """Fit the pre-declared analysis on ``out/batches.parquet``; write slopes.csv, arms.csv
    and headline.txt; return the tables."""
    import pandas as pd

    from insight_bayes.analysis.causal_slopes import arm_table, causal_slopes
    from insight_bayes.results.io import atomic_write_bytes

    root = Path(out)
    batches = pd.read_parquet(root / "batches.parquet")
    slopes = causal_slopes(batches, n_boot=n_boot, n_perm=n_boot, seed=seed)
    arms = arm_table(batches)
    for name, table in (("slopes", slopes), ("arms", arms)):
        atomic_write_bytes(root / f"{name}.csv", table.to_csv(index=False).encode())
    text = headline(batches, slopes, arms)
    atomic_write_bytes(root / "headline.txt", (text + "\n").encode())
    return {"batches": batches, "slopes": slopes, "arms": arms, "headline": text}


def _ints_of(column) -> list[int]:
    return [int(v) for v in sorted(column.unique())]


def headline(batches, slopes, arms) -> str:
    """The result as text, every number read from the tables."""
    import numpy as np

    lines = []
    fo = batches["actual"].notna() & (batches["actual"] != 0)
    if fo.sum() > 2:
        r = np.corrcoef(batches.loc[fo, "effect"], batches.loc[fo, "actual"])[0, 1]
        lines.append(
            f"first-order vs actual held-out change of {int(fo.sum())} applied batch updates: "
            f"correlation {r:.3f}"
        )
    cells = batches.groupby(["draw", "seed", "checkpoint"]).ngroups
    lines.append(
        f"{len(batches)} batches over {cells} cells (draws {_ints_of(batches['draw'])}, "
        f"Random seeds {_ints_of(batches['seed'])}, checkpoints "
        f"{_ints_of(batches['checkpoint'])}); clipping fired on "
        f"{batches['clipped'].mean():.0%} of batches"
    )
    lines.append(
        "slopes: points of held-out exact pass@1 per e-fold of the batch-mean term, cell "
        "intercepts; [hierarchical bootstrap 95%] (batch bootstrap); VIF; placebo p:"
    )
    for _, r in slopes.iterrows():
        lines.append(
            f"  {r['prior']:>4} | {r['model']:<13} | {r['term']:<8} {r['slope']:+.4f} "
            f"[{r['ci_low']:+.4f}, {r['ci_high']:+.4f}] ({r['batch_ci_low']:+.4f}, "
            f"{r['batch_ci_high']:+.4f}) VIF {r['vif']:.2f} placebo p {r['placebo_p']:.3f}"
        )
    lines.append("arms (mean effect in points; vs the uniform batches of the same cell):")
    lines.append(arms.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return "\n".join(lines)


def _readme(command: str, manifest: dict) -> str:
    return f"""# rlvr-intervention: the evidence term at a fixed weight vs the update's effect

Written by `insight-bayes rlvr-intervention` (modules `insight_bayes.rlvr.intervention`,
design and measurement, and `insight_bayes.analysis.causal_slopes`, the model; their
docstrings document every column). Command:

```
{command}
```

Pre-declared analysis (written in `manifest.json` before the slopes were read):
{json.dumps(manifest["analysis"], indent=1)}

- `batches.parquet`: one row per batch (draw, seed, checkpoint, prior, family, stratum,
  level), its terms under both priors and its update's first-order held-out effect;
- `slopes.csv`: the slopes with intervals, VIF and placebo p-values;
- `arms.csv`: mean effect of each family's levels against the uniform control batches;
- `headline.txt`: the numbers as text.

Re-analyse: `insight-bayes rlvr-intervention {manifest["config_path"]} --out
{manifest["out"]} --summary-only`.
"""


#: The analysis, decided before any slope was read (also the manifest's ``analysis``).
def analysis_plan(args: argparse.Namespace) -> dict:
    """The pre-declared analysis as plain data."""
    return {
        "response": "100 x first-order change of exact held-out pass@1 (eval/pass1_exact, "
        "all test problems) of the batch's update as AdamW applies it (clipped gradient, "
        "checkpoint moments, minus the zero-gradient drift)",
        "model": "OLS: y ~ cell intercepts (draw, seed, checkpoint) + log mean weight (Eq. 15) "
        "+ log mean MI (Eq. 13) of the batch, per prior, on the batches stratified under "
        "that prior; also each term alone",
        "priors": ["flat Beta(1,1) (the Random run's belief)",
                   "eb: per-digit-tier empirical-Bayes prior fitted to the run's counts"],
        "strata": f"{args.strata} strata of the held term x {args.levels} levels of the varied "
        "term, both families, both priors; plus uniform control batches",
        "controls_per_cell": args.controls,
        "checkpoints": list(args.checkpoints),
        "checkpoint_0": "excluded: every belief is the prior, neither term varies",
        "draws": list(args.draws),
        "seeds": list(args.seeds),
        "intervals": f"95% percentile, hierarchical bootstrap (draws, then seeds within "
        f"draws, then batches within cells), {args.n_boot} replicates; batch bootstrap too",
        "placebo": f"permutation p of each term's slope in the two-term model ({args.n_boot})",
        "question": "is the evidence slope at a fixed weight > 0 with the hierarchical "
        "interval above 0, under each prior?",
    }  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Entry point of ``insight-bayes rlvr-intervention``."""
    import tomllib

    import torch

    from insight_bayes.results.io import atomic_write_bytes, atomic_write_json, build_manifest
    from insight_bayes.rlvr.config import load_config
    from insight_bayes.rlvr.harness import resolve_device, warmup_weights
    from insight_bayes.rlvr.intervention import check_checkpoints, is_done, run_intervention

    out = Path(args.out)
    if args.summary_only:
        print(analyse(out, args.n_boot)["headline"])
        return 0
    check_checkpoints(args.checkpoints)
    with open(args.config, "rb") as fh:
        raw = tomllib.load(fh)
    config = load_config(raw)  # validates the config before any training
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    command = shlex.join(["insight-bayes", *sys.argv[1:]])
    if sys.argv[1:2] != ["rlvr-intervention"]:
        command = shlex.join(["insight-bayes", "rlvr-intervention", *sys.argv[1:]])
    previous = {}
    manifest_path = out / "manifest.json"
    if manifest_path.exists():
        previous = json.loads(manifest_path.read_text())

    def manifest(seconds: float, finished: bool) -> dict:
        return build_manifest(
            "intervention",
            raw,
            rules=["random"],
            seeds=list(args.seeds),
            analysis=analysis_plan(args),
            previous=previous,
            torch=True,
            draws=list(args.draws),
            checkpoints=list(args.checkpoints),
            strata=args.strata,
            levels=args.levels,
            controls=args.controls,
            check_batches=args.check_batches,
            n_boot=args.n_boot,
            device=device,
            command=command,
            config_path=str(args.config),
            out=str(args.out),
            seconds=seconds,
            finished=finished,
            **weights,
        )

    weights: dict = {}  # the warm-ups' identity, once they are trained or loaded
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(manifest_path, manifest(0.0, False))  # the plan, before any slope
    started = time.perf_counter()
    trained = [
        d for d in args.draws
        if not all(is_done(out, d, s, c) for s in args.seeds for c in args.checkpoints)
    ]  # fmt: skip
    batches = run_intervention(
        raw,
        out,
        draws=args.draws,
        seeds=args.seeds,
        checkpoints=args.checkpoints,
        strata=args.strata,
        levels=args.levels,
        controls=args.controls,
        check_batches=args.check_batches,
        device=device,
        cache_dir=args.cache_dir,
        progress=not args.no_progress,
        runs_per_process=args.runs_per_process,
    )
    seconds = time.perf_counter() - started + float(previous.get("seconds", 0.0))
    weights["warmup_weights"] = warmup_weights(
        config, trained, device, args.cache_dir, previous.get("warmup_weights")
    )
    final = manifest(seconds, True)
    atomic_write_json(manifest_path, final)
    atomic_write_bytes(out / "README.md", _readme(command, final).encode())
    if not batches.empty:
        print(analyse(out, args.n_boot)["headline"])
    print(f"results in {out} ({time.perf_counter() - started:.0f} s)")
    return 0
