"""What a learner model needs, measured on the GRPO harness: at checkpoints of a Random run
(for each task draw), single groups of prompts spanning the success-rate range, rolled out
several times, and each group's update as AdamW applies it (clipped, preconditioned by the
checkpoint's moments): its size, its noise across replicates, its first-order effect on the
exact held-out pass@1 of each difficulty tier, and the trained prompt's own gain. Also the
re-selection and tier spread of every rule in committed studies' choices. Writes
groups.parquet, effects.parquet, signal_noise.csv, checkpoints.csv, selection.csv,
manifest.json and README.md into OUT (resumable per draw and checkpoint); --summary-only
prints the headline numbers from a finished folder.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

__all__ = ["add_arguments", "headline", "run"]

DEFAULT_STUDIES = ("results/rlvr-cpu-tiered", "results/rlvr-cpu-tiered-mid",
                   "results/rlvr-cpu-tiered-narrow")  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``insight-bayes rlvr-gradients``."""
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
        "--draws", type=nonnegative_ints, default=None,
        help="task draws, e.g. 0,1,2 (default: the config's [study] draws, else 0)",
    )  # fmt: skip
    parser.add_argument(
        "--checkpoints",
        type=nonnegative_ints,
        default=(0, 25, 50, 100),
        help="Random-run steps (0,25,50,100)",
    )
    parser.add_argument("--groups", type=positive_int, default=48, help="prompts per checkpoint")
    parser.add_argument(
        "--replicates", type=int_at_least(2), default=4, help="rollout groups per prompt, >= 2"
    )
    parser.add_argument(
        "--k",
        type=nonnegative_ints,
        default=None,
        help="group sizes, e.g. 4,8,16 (default: the config's K)",
    )
    parser.add_argument(
        "--check-replicates", type=int, default=1,
        help="replicates per prompt whose actual held-out change is measured too (1)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="seed of the Random run (0)")
    parser.add_argument(
        "--device",
        default="cpu",
        choices=["auto", "cpu", "cuda"],
        help="where the checkpoints are trained and measured (auto: cuda when available)",
    )
    parser.add_argument(
        "--runs-per-process", type=positive_int, default=None,
        help="the draws' Random runs trained together as one batched block (1: one at a "
        "time; default on CUDA: every draw; on CPU: blocks of up to 8)",
    )  # fmt: skip
    parser.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads")
    parser.add_argument("--cache-dir", default=None, help="warm-up cache (.cache/insight-bayes)")
    parser.add_argument(
        "--studies", nargs="*", default=None,
        help="study folders whose choices give selection.csv (default: the committed tiered, "
        "mid and narrow studies that exist)",
    )  # fmt: skip
    parser.add_argument(
        "--summary-only", action="store_true", help="print the headline numbers of OUT and stop"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def headline(out: str | Path) -> str:
    """The headline numbers of a finished folder, read from its saved tables, as text.

    Ratios pool over groups (a ratio of means, never a mean of ratios). ``update`` is the
    applied single-group step, ``lin`` AdamW's step linearised in the gradient (a group's
    share of a large batch), ``grad`` the raw gradient; checkpoint 0 (AdamW's first step,
    ``lr sign(g)``) is shown apart from the later ones.
    """
    import numpy as np
    import pandas as pd

    root = Path(out)
    sn = pd.read_csv(root / "signal_noise.csv")
    groups = pd.read_parquet(root / "groups.parquet")
    effects = pd.read_parquet(root / "effects.parquet")
    checkpoints = pd.read_csv(root / "checkpoints.csv")
    fmt = {"float_format": lambda v: f"{v:.3g}"}
    lines = []
    phase = np.where(sn["checkpoint"] == 0, "step 0", "later")
    bands = pd.cut(sn["p_hat"], [0, 0.02, 0.15, 0.35, 0.6, 0.85, 1.0], include_lowest=True)
    R = sn["replicates"]
    table = {"prompts": sn.groupby([phase, sn["k"], bands], observed=True).size()}
    for name in ("update", "lin", "grad"):
        s2 = sn[f"{name}_noise"] * R / (R - 1)
        grouped = pd.DataFrame({"s2": s2, "mu2": sn[f"{name}_signal_sq_unbiased"]}).groupby(
            [phase, sn["k"], bands], observed=True
        )
        means = grouped.mean()
        table[f"{name}_nts"] = means["s2"] / means["mu2"].where(means["mu2"] > 0)
    table["mixed_share"] = sn.groupby([phase, sn["k"], bands], observed=True)["mixed_share"].mean()
    lines.append(
        "noise-to-signal of one group (replicate variance s^2 over the unbiased squared norm "
        "of its mean, pooled over the prompts of a band) by checkpoint phase, K, p_hat band:"
    )
    lines.append(pd.DataFrame(table).rename_axis(["phase", "k", "p_hat"]).to_string(**fmt))

    later = groups[(groups["checkpoint"] > 0) & groups["mixed"]]
    keys = ["draw", "checkpoint", "prompt_id", "k", "replicate"]
    eff = effects.merge(later[keys], on=keys)
    n_test = checkpoints.groupby("target_tier")["n_test"].first()
    w = (n_test / n_test.sum()).rename("w")
    eff = eff.join(w, on="target_tier")
    rows = {}
    for col, total in (("effect", "heldout_effect"), ("lin_effect", "lin_heldout_effect")):
        own = eff[eff["target_tier"] == eff["tier"]]
        own_sum = (own[col] * own["w"]).groupby(own["tier"]).sum()
        all_sum = later.groupby("tier")[total].sum()
        rows[f"{col}_own_tier_share"] = own_sum / all_sum
    lines.append(
        "\nshare of a mixed group's held-out effect (all test problems) that falls on its own "
        "tier, checkpoints > 0 (ratio of sums; >1 when the other tiers lose):"
    )
    lines.append(pd.DataFrame(rows).to_string(**fmt))
    for col in ("effect", "lin_effect"):
        matrix = eff.pivot_table(index="tier", columns="target_tier", values=col, aggfunc="mean")
        lines.append(
            f"\ntransfer matrix ({col}): mean first-order change of tier (column)'s exact "
            "pass@1 from a mixed group of tier (row), checkpoints > 0:"
        )
        lines.append(matrix.to_string(float_format=lambda v: f"{v:.2e}"))

    mixed = groups[groups["mixed"]]
    by_ck = mixed.groupby(["k", "checkpoint"]).agg(
        groups=("mixed", "size"),
        clipped=("clipped", "mean"),
        grad_norm=("grad_norm", "median"),
        update_norm=("update_norm", "median"),
        self_effect=("self_effect", "mean"),
        heldout_effect=("heldout_effect", "mean"),
        lin_self=("lin_self_effect", "mean"),
        lin_heldout=("lin_heldout_effect", "mean"),
    )
    by_ck["self_over_heldout"] = by_ck["self_effect"] / by_ck["heldout_effect"]
    by_ck["lin_self_over_heldout"] = by_ck["lin_self"] / by_ck["lin_heldout"]
    drift = checkpoints.groupby("checkpoint")["drift_norm"].mean()
    by_ck = by_ck.join(drift, on="checkpoint")
    lines.append(
        "\nmixed groups by K and checkpoint: own gain vs held-out gain (memorisation vs "
        "transfer), clipping, norms (drift: AdamW's step with a zero gradient):"
    )
    lines.append(by_ck.to_string(float_format=lambda v: f"{v:.3g}"))
    ok = groups["heldout_actual"].notna() & (groups["heldout_actual"] != 0)
    if ok.any():
        fo, act = groups.loc[ok, "heldout_effect"], groups.loc[ok, "heldout_actual"]
        so, sa = groups.loc[ok, "self_effect"], groups.loc[ok, "self_actual"]
        lines.append(
            f"\nfirst-order vs actual change over {int(ok.sum())} applied group updates: "
            f"held-out correlation {np.corrcoef(fo, act)[0, 1]:.4f}, median relative error "
            f"{float(np.median(np.abs(fo - act) / act.abs())):.3g}; own prompt correlation "
            f"{np.corrcoef(so, sa)[0, 1]:.4f}, median relative error "
            f"{float(np.median(np.abs(so - sa) / sa.abs())):.3g}"
        )
    return "\n".join(lines)


def _readme(command: str, manifest: dict) -> str:
    return f"""# rlvr-gradients: what a group's update does on the GRPO harness

Written by `insight-bayes rlvr-gradients` (module `insight_bayes.rlvr.gradients`, whose
docstring documents every column). Command:

```
{command}
```

Draws {manifest["draws"]}, checkpoints {manifest["checkpoints"]} of a Random run (seed
{manifest["seed"]}), {manifest["groups"]} prompts per checkpoint, {manifest["replicates"]}
replicate groups of K = {manifest["k"]} per prompt; wall time {manifest["seconds"]:.0f} s
on {manifest["device"]}.

- `groups.parquet`: one row per (draw, checkpoint, prompt_id, k, replicate);
- `effects.parquet`: one row per (draw, checkpoint, prompt_id, k, replicate, target_tier);
- `signal_noise.csv`: per (draw, checkpoint, prompt_id, k), signal and noise over replicates;
- `checkpoints.csv`: per (draw, checkpoint, target_tier), the held-out tier metric, its
  gradient norm, the learning rate and AdamW's drift (its update with a zero gradient);
- `selection.csv`: re-selection and tier spread of each rule in the committed studies.

The held-out metric is exact pass@1 on the probability scale (`eval/pass1_exact`). A
group's update is AdamW's step with the group's clipped gradient minus its step with a
zero gradient (zero for an all-equal group). Headline numbers:

```
insight-bayes rlvr-gradients {manifest["config_path"]} --out {manifest["out"]} --summary-only
```
"""


def run(args: argparse.Namespace) -> int:
    """Entry point of ``insight-bayes rlvr-gradients``."""
    import tomllib

    import torch

    from insight_bayes.results.io import atomic_write_bytes, build_manifest
    from insight_bayes.rlvr.config import load_config
    from insight_bayes.rlvr.gradient_tables import is_done
    from insight_bayes.rlvr.gradients import run_gradients
    from insight_bayes.rlvr.harness import resolve_device, warmup_weights
    from insight_bayes.rlvr.selection_stats import selection_table

    if args.summary_only:
        print(headline(args.out))
        return 0
    with open(args.config, "rb") as fh:
        raw = tomllib.load(fh)
    config = load_config(raw)  # validates the config before any training
    draws = args.draws if args.draws is not None else config.study.draws
    base = config.draw_config(0)
    ks = args.k or (base.loop.k,)
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    out = Path(args.out)
    trained = [d for d in draws if not all(is_done(out, d, c) for c in args.checkpoints)]
    tables = run_gradients(
        raw,
        out,
        draws=draws,
        checkpoints=args.checkpoints,
        groups=args.groups,
        replicates=args.replicates,
        ks=ks,
        check_replicates=args.check_replicates,
        seed=args.seed,
        device=device,
        cache_dir=args.cache_dir,
        progress=not args.no_progress,
        runs_per_process=args.runs_per_process,
    )
    studies = args.studies
    if studies is None:
        studies = [s for s in DEFAULT_STUDIES if (Path(s) / "choices.parquet").exists()]
    if studies:
        selection = selection_table({Path(s).name: s for s in studies})
        atomic_write_bytes(out / "selection.csv", selection.to_csv(index=False).encode())
    seconds = time.perf_counter() - started
    command = shlex.join(["insight-bayes", *sys.argv[2:]]) if len(sys.argv) > 1 else ""
    if sys.argv[1:2] and sys.argv[1] == "rlvr-gradients":
        command = shlex.join(["insight-bayes", *sys.argv[1:]])
    previous = {}
    manifest_path = out / "manifest.json"
    if manifest_path.exists():
        import json

        previous = json.loads(manifest_path.read_text())
    manifest = build_manifest(
        "gradients",
        raw,
        rules=["random"],
        seeds=[args.seed],
        analysis={"metric": "eval/pass1_exact", "scale": "probability"},
        previous=previous,
        torch=True,
        draws=list(draws),
        checkpoints=list(args.checkpoints),
        groups=args.groups,
        replicates=args.replicates,
        check_replicates=args.check_replicates,
        k=list(ks),
        seed=args.seed,
        device=device,
        command=command,
        config_path=str(args.config),
        out=str(args.out),
        selection_studies=list(studies),
        seconds=seconds + float(previous.get("seconds", 0.0)),
        seconds_this_call=seconds,
        parts=int(sum(1 for _ in (out / "runs").rglob("*.done.json"))),
        warmups={d: config.draw_config(d).warmup.seed for d in draws},
        warmup_weights=warmup_weights(
            config, trained, device, args.cache_dir, previous.get("warmup_weights")
        ),
    )
    from insight_bayes.results.io import atomic_write_json

    atomic_write_json(manifest_path, manifest)
    atomic_write_bytes(out / "README.md", _readme(command, manifest).encode())
    if tables:
        print(headline(out))
    print(f"results in {out} ({seconds:.0f} s)")
    return 0
