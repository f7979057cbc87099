"""The top level of a study replicated over task draws: one folder per draw, and the
draws' tables gathered with hierarchical (draws, then seeds) intervals. Torch-free.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from insight_bayes.rlvr.config import StudyConfig
from insight_bayes.rlvr.study_plan import analysis_plan

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["check_draws_folder", "draw_folder", "gather_draws", "start_draws_manifest"]

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ task draws
def draw_folder(out: str | os.PathLike[str], draw: int) -> Path:
    """The study folder of task draw ``draw`` of a multi-draw study: ``out/draw-{draw}``."""
    return Path(out) / f"draw-{draw}"


def check_draws_folder(config: StudyConfig, out: str | os.PathLike[str]) -> Path:
    """``out`` as a multi-draw study's top level: refuses a single-draw study's folder
    and a multi-draw study of another config (the draws may differ: extending is fine)."""
    import json

    root = Path(out)
    path = root / "manifest.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    if old and old.get("draws") is None:
        raise ValueError(
            f"{root} holds a single-draw study; a multi-draw study needs its own --out"
        )
    if old and old.get("config_digest") != config.digest():
        raise ValueError(
            f"{root} holds a study with a different config (digest "
            f"{old.get('config_digest')} != {config.digest()}); use another --out"
        )
    return root


def start_draws_manifest(config: StudyConfig, out: str | os.PathLike[str]) -> None:
    """Write a multi-draw study's top-level manifest (status ``running``) unless it has
    one: the study's config, rules, seeds, draws and analysis plan, so that a study stopped
    in its first draw is recognised, and resumed, by the next call."""
    from insight_bayes.results.io import build_manifest
    from insight_bayes.results.store import ResultStore

    store = ResultStore(out)
    if store.read_manifest():
        return
    store.root.mkdir(parents=True, exist_ok=True)
    study = config.study
    store.write_manifest(
        build_manifest(
            "study",
            config.raw,
            rules=list(study.rules),
            seeds=list(study.seeds),
            analysis=analysis_plan(config).record(),
            key=config.key,
            config_digest=config.digest(),
            draws=list(study.draws),
            status="running",
        )
    )


def gather_draws(config: StudyConfig, out: str | os.PathLike[str]) -> dict[str, pd.DataFrame]:
    """Write a multi-draw study's top-level tables from its gathered draw folders.

    Reads each ``out/draw-{d}/`` already gathered (its ``steps.parquet``,
    ``choices.parquet`` and manifest; a draw without them is left out with a warning)
    and writes, through the results layer, atomically:

    - ``steps.parquet``, ``choices.parquet``: the draws' tables concatenated, with an
      integer ``draw`` column after ``scenario`` (each draw's scenario is its own key);
    - ``steps_to_target.csv`` and ``summary.csv`` at ``study.target``
      (:func:`insight_bayes.results.analysis_summary`);
    - ``speedup_curve.csv`` at ``study.target_fractions``, targets placed per draw
      (:func:`insight_bayes.results.targets.draw_relative_steps_to_target`; ``target``
      is the mean over draws of the draws' targets), in steps and in rollouts;
    - ``auc.csv`` (:func:`insight_bayes.results.auc_table`);
    - ``manifest.json``: kind study, the draws, each draw's config digest and status,
      the runs complete of expected over all draws, the analysis plan.

    Every interval is the hierarchical bootstrap (draws, then seeds, paired on
    ``(draw, seed)``) and every speed-up and AUC row has ``n_draws`` and
    ``between_draw_share`` (:mod:`insight_bayes.results.targets`). Torch-free.

    Raises ``ValueError`` when no draw folder holds gathered runs, or one holds a study
    of another config than its draw's.
    """
    import pandas as pd

    from insight_bayes.results.io import build_manifest, utc_now
    from insight_bayes.results.report import write_report
    from insight_bayes.results.store import ResultStore

    store = ResultStore(out)
    study = config.study
    steps_parts, choices_parts, per_draw = [], [], {}
    runs = {"complete": 0, "expected": 0}
    for draw in study.draws:
        derived = config.draw_config(draw)
        folder = draw_folder(store.root, draw)
        manifest = ResultStore(folder).read_manifest() if folder.is_dir() else {}
        expected = len(study.rules) * len(study.seeds)
        runs["expected"] += expected
        entry = {"folder": folder.name, "config_digest": derived.digest(), "status": "absent"}
        per_draw[str(draw)] = entry
        if manifest and manifest.get("config_digest") != derived.digest():
            raise ValueError(
                f"{folder} holds a study with a different config (digest "
                f"{manifest.get('config_digest')} != {derived.digest()} of draw {draw})"
            )
        if not manifest or not (folder / "steps.parquet").exists():
            log.warning("draw %d: no gathered runs in %s", draw, folder)
            continue
        entry["status"] = manifest.get("status", "unknown")
        entry["runs"] = manifest.get("runs", {})
        runs["complete"] += int(entry["runs"].get("complete", 0))
        for name, parts in (("steps", steps_parts), ("choices", choices_parts)):
            path = folder / f"{name}.parquet"
            if path.exists():
                table = pd.read_parquet(path)
                table.insert(1, "draw", draw)
                parts.append(table)
    if not steps_parts:
        raise ValueError(f"{store.root} holds no gathered draw of this study")
    steps = pd.concat(steps_parts, ignore_index=True)
    tables: dict[str, pd.DataFrame] = {"steps": steps}
    store.write_table("steps", steps)
    if choices_parts:
        tables["choices"] = pd.concat(choices_parts, ignore_index=True)
        store.write_table("choices", tables["choices"])
    plan = analysis_plan(config)
    tables.update(write_report(store.root, steps, plan))
    done = runs["complete"] == runs["expected"]
    store.write_manifest(
        build_manifest(
            "study",
            config.raw,
            rules=list(study.rules),
            seeds=list(study.seeds),
            analysis={
                **plan.record(),
                "relative_targets": "per draw: the draw's step-0 mean plus a fraction of "
                "its baseline's mean final gain",
                "bootstrap": "hierarchical: draws with replacement, then seeds within each "
                "drawn draw, rules paired with the baseline on (draw, seed)",
                "between_draw_share": "between-draw sum of squares over the total, of the "
                "runs' log speed-ups (summary, speedup_curve) or AUC gains (auc)",
            },
            previous=store.read_manifest(),
            key=config.key,
            config_digest=config.digest(),
            draws=list(study.draws),
            draw_studies=per_draw,
            **({"design": _design(store.root)} if _design(store.root) else {}),
            status="complete" if done else "incomplete",
            runs=runs,
            gathered=utc_now(),
        )
    )
    return tables


def _design(root: Path) -> dict[str, Any]:
    from insight_bayes.rlvr.design import read_design

    return read_design(root)
