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


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"expected integers >= 0, got {text!r}")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``insight-bayes rlvr-gradients``."""
    from insight_bayes.cli_types import int_at_least, positive_int, toml_file

    parser.add_argument(
        "config", type=toml_file, help="study config (TOML), e.g. configs/rlvr/cpu-tiered.toml"
    )
    parser.add_argument("--out", required=True, help="output folder (resumable)")
    parser.add_argument(
        "--draws", type=_ints, default=None,
        help="task draws, e.g. 0,1,2 (default: the config's [study] draws, else 0)",
    )  # fmt: skip
    parser.add_argument(
        "--checkpoints", type=_ints, default=(0, 25, 50, 100), help="Random-run steps (0,25,50,100)"
    )
    parser.add_argument("--groups", type=positive_int, default=48, help="prompts per checkpoint")
    parser.add_argument(
        "--replicates", type=int_at_least(2), default=4, help="rollout groups per prompt, >= 2"
    )
    parser.add_argument(
        "--k", type=_ints, default=None, help="group sizes, e.g. 4,8,16 (default: the config's K)"
    )
    parser.add_argument(
        "--check-replicates", type=int, default=1,
        help="replicates per prompt whose actual held-out change is measured too (1)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="seed of the Random run (0)")
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
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
    """The headline numbers of a finished folder, read from its saved tables, as text."""
    import numpy as np
    import pandas as pd

    root = Path(out)
    sn = pd.read_csv(root / "signal_noise.csv")
    groups = pd.read_parquet(root / "groups.parquet")
    effects = pd.read_parquet(root / "effects.parquet")
    lines = []
    bands = pd.cut(sn["p_hat"], [0, 0.02, 0.15, 0.35, 0.6, 0.85, 1.0], include_lowest=True)
    ratio = sn.groupby([sn["k"], bands], observed=True).agg(
        prompts=("p_hat", "size"),
        mixed=("mixed_share", "mean"),
        # noise-to-signal of the pooled band: total noise over total unbiased signal
        noise=("update_noise", "mean"),
        signal_sq=("update_signal_sq_unbiased", "mean"),
        update_signal=("update_signal", "median"),
    )
    ratio["noise_to_signal"] = (
        ratio["noise"]
        * sn["replicates"].iloc[0]
        / (sn["replicates"].iloc[0] - 1)
        / ratio["signal_sq"].where(ratio["signal_sq"] > 0)
    )
    lines.append("update noise-to-signal by K and p_hat band (s^2 / unbiased ||E dθ||^2, means "
                 "over prompts of the band; all draws and checkpoints):")  # fmt: skip
    lines.append(ratio.to_string(float_format=lambda v: f"{v:.3g}"))
    mixed = effects.merge(
        groups[["draw", "checkpoint", "prompt_id", "k", "replicate", "mixed"]],
        on=["draw", "checkpoint", "prompt_id", "k", "replicate"],
    )
    mixed = mixed[mixed["mixed"]]
    own = mixed[mixed["target_tier"] == mixed["tier"]].groupby("tier")["effect"].mean()
    other = mixed[mixed["target_tier"] != mixed["tier"]].groupby("tier")["effect"].mean()
    lines.append(
        "\nmean first-order effect of a mixed group's update on the held-out pass@1 of its own "
        "tier vs the mean over the other tiers (probability units):"
    )
    lines.append(pd.DataFrame({"own_tier": own, "other_tiers": other}).to_string())
    tr = effects[effects["target_tier"].isin(mixed["target_tier"].unique())]
    tr = mixed.pivot_table(index="tier", columns="target_tier", values="effect", aggfunc="mean")
    lines.append("\ntransfer matrix: mean effect of a mixed group of tier (row) on tier (col):")
    lines.append(tr.to_string(float_format=lambda v: f"{v:.2e}"))
    g = groups[groups["mixed"]]
    by_ck = g.groupby("checkpoint").agg(
        groups=("mixed", "size"),
        self_effect=("self_effect", "mean"),
        heldout_effect=("heldout_effect", "mean"),
        clipped=("clipped", "mean"),
        grad_norm=("grad_norm", "median"),
        update_norm=("update_norm", "median"),
        lin_self=("lin_self_effect", "mean"),
        lin_heldout=("lin_heldout_effect", "mean"),
    )
    by_ck["self_over_heldout"] = by_ck["self_effect"] / by_ck["heldout_effect"]
    by_ck["lin_self_over_heldout"] = by_ck["lin_self"] / by_ck["lin_heldout"]
    lines.append("\nmixed groups by checkpoint: own gain vs held-out gain (memorisation/transfer):")
    lines.append(by_ck.to_string(float_format=lambda v: f"{v:.4g}"))
    ok = groups["heldout_actual"].abs() > 0
    if ok.any():
        rel = np.corrcoef(groups.loc[ok, "heldout_effect"], groups.loc[ok, "heldout_actual"])[0, 1]
        lines.append(
            f"\nfirst-order vs actual held-out change over {int(ok.sum())} groups: "
            f"correlation {rel:.4f}; median |first-order - actual| / |actual| "
            f"{float(np.median(np.abs(groups.loc[ok, 'heldout_effect'] - groups.loc[ok, 'heldout_actual']) / groups.loc[ok, 'heldout_actual'].abs())):.3g}"  # noqa: E501
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
    from insight_bayes.rlvr.gradients import config_draws, draw_config, run_gradients
    from insight_bayes.rlvr.harness import resolve_device
    from insight_bayes.rlvr.selection_stats import selection_table

    if args.summary_only:
        print(headline(args.out))
        return 0
    with open(args.config, "rb") as fh:
        raw = tomllib.load(fh)
    draws = args.draws if args.draws is not None else config_draws(raw)
    base = draw_config(raw, 0)  # validates the config before any training
    ks = args.k or (base.loop.k,)
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    out = Path(args.out)
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
        "intervention",  # the results layer's kinds; "kind" is set to "gradients" below
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
        warmups={d: draw_config(raw, d).raw["warmup"]["seed"] for d in draws},
    )
    manifest["kind"] = "gradients"
    from insight_bayes.results.io import atomic_write_json

    atomic_write_json(manifest_path, manifest)
    atomic_write_bytes(out / "README.md", _readme(command, manifest).encode())
    if tables:
        print(headline(out))
    print(f"results in {out} ({seconds:.0f} s)")
    return 0
