"""Run a GRPO study of selection rules over seeds from one cached warm-up: rules x seeds
on a small language model, then print the summary (held-out metric, informative share,
interpolated steps-to-target and the speed-up of every rule versus the baseline, in
steps and in rollouts, with paired bootstrap intervals).

The config is a TOML file (``configs/rlvr/*.toml``); rules are labels such as
``"insight:mu=0.1"``. Re-running the same command resumes: it says how many runs it trained
and how many it resumed. Results land in OUT like a sweep's (steps.parquet,
choices.parquet, prompts.parquet, pool.parquet, summary.csv, steps_to_target.csv,
manifest.json; read them with insight_bayes.results.load_results). A config with
``study.draws = [0, 1, 2]`` replicates the study over task draws (draw d: task and warm-up
seeds + d), one ordinary study folder per draw in OUT/draw-d, and writes top-level tables
with a draw column and hierarchical (draws, then seeds) bootstrap intervals.

A config with a ``[design]`` section first runs its design checks (warm-up strong enough,
pool gate in band, a Random-only learning-rate pilot; insight_bayes.rlvr.design), records
them in OUT/design.json and the manifest, and trains the study on the warm-up length and
learning rate they kept; when a check fails the study does not run (exit status 3).

OUT holds one study: a config with other settings, rules, seeds or draws is refused
unless --extend (add rules, seeds or draws to the finished runs) or --overwrite (delete
OUT's results first). The command ends with a one-line headline, the summary table, and
learning_curve.png and speedup.png in OUT (--no-plots: none).

With --time-budget SECONDS the study starts only the runs expected to finish within
SECONDS of the command's start (its design checks and warm-ups included), sizing blocks
to fit, at the speed an earlier call's blocks or else the design's Random pilot measured,
refined by each finished block (or at --run-step-seconds throughout); it then
gathers the finished runs and exits with status 4 when runs are left, which the same
command resumes (insight_bayes.rlvr.time_budget). With --skip-mismatched-draws a
multi-draw study leaves a draw whose warm-up this machine does not re-train bit for bit
(another GPU, say) as it is, trains the next draws, and exits with status 5.
"""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``insight-bayes rlvr-study``."""
    from insight_bayes.cli_types import positive_float, positive_int, toml_file

    parser.add_argument(
        "config", type=toml_file, help="study config (TOML), e.g. configs/rlvr/smoke.toml"
    )
    parser.add_argument("--out", required=True, help="output folder (resumable)")
    parser.add_argument(
        "--device",
        default="auto",
        choices=["auto", "cpu", "cuda"],
        help="where the model trains: auto picks cuda when a GPU is visible, else cpu "
        "(default auto)",
    )
    parser.add_argument("--model", default=None, help="local Hugging Face model folder")
    parser.add_argument("--cache-dir", default=None, help="warm-up cache (.cache/insight-bayes)")
    parser.add_argument(
        "--threads", type=positive_int, default=None, help="torch CPU threads per run, >= 1"
    )
    parser.add_argument(
        "--backend",
        choices=("local", "ray"),
        default="local",
        help="local (in-process or worker processes) or Ray (a run asks for a GPU on cuda)",
    )
    parser.add_argument(
        "--workers", type=positive_int, default=1, help="worker processes, or Ray CPUs (default 1)"
    )
    parser.add_argument(
        "--runs-per-process",
        type=positive_int,
        default=None,
        help="runs trained together in one process, their model work batched (1: one run "
        "at a time, the reference path; default on CUDA: every run, up to 64; on CPU: blocks "
        "of up to 8, one run per pass, the same floats as one run at a time)",
    )
    parser.add_argument(
        "--time-budget",
        type=positive_float,
        default=None,
        metavar="SECONDS",
        help="start only the runs expected to finish within SECONDS of this command's start "
        "(blocks sized to fit); exit status 4 when some are left for the same command to resume",
    )
    parser.add_argument(
        "--run-step-seconds",
        type=positive_float,
        default=None,
        help="wall seconds of one run's step that --time-budget plans with, kept throughout "
        "(default: the design's Random pilot measures it, and each finished block refines it)",
    )
    parser.add_argument(
        "--cuda-graphs",
        action="store_true",
        help="blocks of runs generate with fixed-shape steps replayed as CUDA graphs (the "
        "same draws, logits equal to rounding; on a CPU the same steps run without graphs)",
    )
    parser.add_argument(
        "--skip-mismatched-draws",
        action="store_true",
        help="a multi-draw study: leave a draw whose finished runs started from another "
        "warm-up than this machine trains (not bit-reproducible here) as it is and run the "
        "next draws; exit status 5 when one was left",
    )
    parser.add_argument(
        "--skip-gate",
        action="store_true",
        help="train even if the pool gate (measured before any RL step) fails",
    )
    parser.add_argument(
        "--gather-only",
        action="store_true",
        help="write the tables from the runs already finished in --out, without training",
    )
    parser.add_argument(
        "--extend",
        action="store_true",
        help="add this config's rules, seeds or draws to the study in --out (same settings)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="delete the results of another study found in --out before running",
    )
    parser.add_argument(
        "--no-plots", action="store_true", help="write no learning-curve or speed-up PNG"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``insight-bayes rlvr-study``."""
    from insight_bayes.rlvr.time_budget import now

    started = now()  # a --time-budget counts from here, design checks included
    from insight_bayes.rlvr.config import load_config
    from insight_bayes.rlvr.study import gather_study

    config = load_config(args.config, model_path=args.model)
    design = None
    if config.design.active:  # the design checks fix the warm-up and lr before any rule
        from insight_bayes.rlvr.design import (
            DesignFailed,
            designed_config,
            read_design,
            run_design,
        )

        if args.gather_only:
            design = read_design(args.out)
        else:
            try:
                design = run_design(
                    config, args.out, device=args.device, cache_dir=args.cache_dir,
                    progress=not args.no_progress,
                )  # fmt: skip
            except DesignFailed as err:
                print(f"study not run: {err} (the record is in {args.out}/design.json)")
                return 3
        if design:
            config = designed_config(config, design)
            print(f"design: {design['reason']}")
    if args.gather_only:
        tables = gather_study(config, args.out)
        _finish(config, tables.get("summary"), args)
        return 0
    _claim(config, args)
    budget = None
    if args.time_budget is not None:
        from insight_bayes.rlvr.time_budget import (
            TimeBudget,
            pilot_seconds_per_run_step,
            previous_seconds_per_run_step,
        )

        # stated, else what an earlier call's blocks measured, else the design's pilot
        speed = (
            args.run_step_seconds
            or previous_seconds_per_run_step(args.out)
            or pilot_seconds_per_run_step(design)
        )
        if speed is None:
            print(
                "--time-budget needs a speed to plan with: pass --run-step-seconds, or give "
                "the config a [design] Random pilot (design.pilot_lrs), which measures it"
            )
            return 2
        # a pilot's speed is refined by each block's; a speed the user states is kept
        budget = TimeBudget(
            args.time_budget, speed, started=started, measure=args.run_step_seconds is None
        )

    import torch

    from insight_bayes.rlvr.study import run_study

    if args.threads:
        torch.set_num_threads(args.threads)
    result = run_study(
        config,
        args.out,
        device=args.device,
        cache_dir=args.cache_dir,
        backend=args.backend,
        workers=args.workers,
        threads=args.threads,
        progress=not args.no_progress,
        skip_gate=args.skip_gate,
        runs_per_process=args.runs_per_process,
        design=design,
        budget=budget,
        skip_mismatched_draws=args.skip_mismatched_draws,
        cuda_graphs=args.cuda_graphs,
    )
    if result.gate is not None:
        print(result.gate.get("summary", ""))
    print(f"{result.report.describe()} -> {result.out}")
    _finish(config, result.tables.get("summary"), args)
    for draw, why in result.skipped.items():
        print(f"draw {draw} left as it is (its runs started from another warm-up): {why}")
    if budget is not None and budget.stopped_early:
        print(
            f"stopped by the time budget ({args.time_budget:g} s at "
            f"{budget.seconds_per_run_step:.3g} s per run-step): runs are left; the same "
            "command resumes them"
        )
        return 4 if not result.skipped else 5
    return 5 if result.skipped else 0


#: Study settings left out of the comparison of two configs: those a study may change
#: and keep its runs (the same as those ``StudyConfig.digest`` leaves out).
_NOT_SHAPING = ("rules", "seeds", "draws", "target", "metric", "baseline", "target_fractions")


def _shaping(raw: dict) -> dict:
    """A config's sections that shape its runs (compared by ``--out``'s check)."""
    raw = {key: value for key, value in dict(raw or {}).items() if key not in ("gate", "design")}
    study = {k: v for k, v in dict(raw.get("study", {})).items() if k not in _NOT_SHAPING}
    return {**raw, "study": study}


def _claim(config, args: argparse.Namespace) -> None:
    """Refuse an --out holding another study (see :mod:`insight_bayes.results.folders`);
    a folder holding only the design checks' record (and hidden entries, such as a warm-up
    cache) is this study's, and so is a
    multi-draw study's top level stopped before its manifest was written (only draw
    folders: each draw folder is checked against its draw's config when it resumes)."""
    import os
    import re

    from insight_bayes.results.folders import claim_folder
    from insight_bayes.results.io import plain

    if os.path.isdir(args.out):
        # hidden entries are not results: the GPU script keeps the warm-up cache in OUT/.cache
        held = {name for name in os.listdir(args.out) if not name.startswith(".")}
        if held <= {"design.json"}:
            return
        draws_only = all(re.fullmatch(r"draw-\d+", name) for name in held - {"design.json"})
        if config.multi_draw and "manifest.json" not in held and draws_only:
            return

    def identity(manifest: dict) -> dict:
        found = {
            "kind": manifest.get("kind"),
            "config": _shaping(manifest.get("config", {})),
            "rules": manifest.get("rules"),
            "seeds": manifest.get("seeds"),
        }
        return {**found, "draws": manifest.get("draws")} if "draws" in wanted else found

    wanted = {
        "kind": "study",
        "config": _shaping(plain(config.raw)),
        "rules": list(config.study.rules),
        "seeds": [int(s) for s in config.study.seeds],
    }
    if config.multi_draw:
        wanted["draws"] = [int(d) for d in config.study.draws]
    claim_folder(
        args.out,
        wanted,
        identity,
        overwrite=args.overwrite,
        extend=args.extend,
        extendable=("rules", "seeds", "draws"),
        resume_hint=f"run this command with the config that made it ({args.out}/manifest.json "
        "holds it)",
    )


def _finish(config, summary, args: argparse.Namespace) -> None:
    """The headline and the summary table, then the pictures of the folder."""
    from insight_bayes.results.headline import summary_text
    from insight_bayes.results.plots import draw_folder

    study = config.study
    if summary is not None:
        print()
        print(summary_text(summary, baseline=study.baseline, metric=study.metric,
                           target=study.target, horizon=config.loop.steps))  # fmt: skip
        print(
            f"speed-up: steps to {study.metric} >= {study.target:g} versus {study.baseline}, "
            "95% paired bootstrap "
            + ("over draws, then seeds" if config.multi_draw else "over seeds")
            + " (censored runs count at the horizon); summary.csv has every column"
        )
    if not args.no_plots and summary is not None:
        written = draw_folder(args.out)
        if written:
            print(f"pictures: {', '.join(str(p) for p in written)}")
    print(f"results in {args.out}")
