"""Design checks of a study, run before any rule: is the warm-up strong enough, is the pool
in the gate's band, and which GRPO learning rate lets Random learn?

A config's ``[design]`` section (:class:`DesignSettings`) states the checks; :func:`run_design`
runs them on the study's first task draw and fixes the outcome in ``OUT/design.json``:

1. **Warm-up.** For each warm-up length of ``warmup_steps`` in turn (shortest first), the
   warm-up policy's success rate on the pool's easiest tiers (``tiers``: the prompts whose
   ``digits`` feature is one of them, ``tier_samples`` rollouts each) must reach
   ``min_tier_success`` in every one of those tiers, and the pool gate
   (:mod:`insight_bayes.rlvr.gate`, the config's ``[gate]``) must pass. The first length
   that passes both is kept.
2. **Learning rate.** For each ``pilot_lrs`` in increasing order, Random alone trains
   ``pilot_seeds`` runs (seeds the study does not use) for ``pilot_steps`` steps from that
   warm-up (as one block, :mod:`insight_bayes.rlvr.batched`, at the float32 precision of
   the study's blocks, :mod:`insight_bayes.rlvr.precision`; its speed
   is recorded for a :mod:`~insight_bayes.rlvr.time_budget`); the rate is kept when the
   held-out exact pass@1, averaged over the last ``pilot_window`` steps and the seeds,
   exceeds the warm-up's by at least ``pilot_min_gain``. The lowest such rate is kept.

The study runs only if both checks pass (:class:`DesignFailed` says which did not and
why). Nothing here trains or looks at any rule other than Random. The study then runs on
:func:`designed_config`: the config with ``warmup.steps`` and ``grpo.lr`` set to the kept
values (its digest, hence its results folder, follows them), and the study's manifest
holds the design's record.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from insight_bayes.rlvr.design_settings import DesignSettings
from insight_bayes.rlvr.warmup_check import tier_success, warmup_check

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DesignFailed",
    "DesignSettings",
    "design_table",
    "designed_config",
    "read_design",
    "run_design",
    "tier_success",
    "warmup_check",
]

log = logging.getLogger(__name__)

#: The design's record in a study folder.
DESIGN_FILE = "design.json"


class DesignFailed(RuntimeError):
    """A design check failed: the study does not run (``record`` holds what was measured)."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record
        super().__init__(f"the study's design checks failed: {record['reason']}")


def _with(config, **sections: dict[str, Any]):
    """``config`` with fields of some sections replaced (a new, validated config)."""
    from insight_bayes.rlvr.config import load_config

    raw = copy.deepcopy(config.raw)
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return load_config(raw)


def designed_config(config, record: dict[str, Any]):
    """The study's config with the warm-up length and learning rate the design kept."""
    return _with(
        config,
        warmup={"steps": int(record["warmup_steps"])},
        grpo={"lr": float(record["lr"])},
    )


def read_design(out: str | os.PathLike[str]) -> dict[str, Any]:
    """The design record in ``out`` (``{}`` when there is none)."""
    path = Path(out) / DESIGN_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def design_table(record: dict[str, Any]) -> pd.DataFrame:
    """The warm-ups a design record tried, one row each (tidy; the record's own numbers).

    Columns: ``warmup_steps`` (the length tried; the most, for a warm-up trained until the
    check passes), ``steps_trained`` (where it stopped), ``warmup_seconds`` (training time,
    its checks included; 0 when read from the cache), ``warmup_loss`` (last training loss,
    nats per token), ``tier_<t>`` (mean Monte Carlo success of the pool's tier-``t``
    prompts), ``mid_range`` (pool prompts with success in the gate's open band),
    ``uninformative_share`` (pool share whose K rollouts would all agree), ``tiers_ok``,
    ``gate_ok`` and ``kept`` (the rung the study runs on).
    """
    import pandas as pd

    rows = []
    for rung in record.get("warmups", []):
        warmup = rung.get("warmup", {})
        row = {
            "warmup_steps": int(rung["steps"]),
            "steps_trained": int(warmup.get("steps_trained", rung["steps"])),
            "warmup_seconds": float(0.0 if warmup.get("cached") else warmup.get("seconds", 0.0)),
            "warmup_loss": float(warmup.get("loss", float("nan"))),
        }
        tiers = sorted(rung["tier_success"].items(), key=lambda kv: int(kv[0]))
        row |= {f"tier_{t}": float(v) for t, v in tiers}
        row |= {
            "mid_range": int(rung["gate"]["mid_range"]),
            "uninformative_share": float(rung["gate"]["uninformative_share"]),
            "tiers_ok": bool(rung["tiers_ok"]),
            "gate_ok": bool(rung["gate_ok"]),
            "kept": int(rung["steps"]) == record.get("warmup_steps"),
        }
        rows.append(row)
    return pd.DataFrame(rows)


def run_design(
    config,
    out: str | os.PathLike[str],
    *,
    device: str = "auto",
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Run (or read back) the design checks of ``config`` and write ``out/design.json``.

    Returns the record: ``passed``, ``reason``, ``warmup_steps`` and ``lr`` kept, every
    warm-up tried (tier success, gate) and every pilot rate (gain per seed), the base
    config's digest. A record already in ``out`` for the same config is returned as it is
    (a second call resumes). Raises :class:`DesignFailed` when a check fails (the record
    is written first).
    """
    from insight_bayes.results.io import atomic_write_bytes, utc_now
    from insight_bayes.rlvr.harness import harness_for, resolve_device

    settings = config.design
    base = config.draw_config(config.study.draws[0]) if config.multi_draw else config
    digest = config.digest()
    old = read_design(out)
    if old and old.get("config_digest") == digest and old.get("settings") == _plain(settings):
        if not old.get("passed"):
            raise DesignFailed(old)
        return old
    device = resolve_device(device)
    record: dict[str, Any] = {
        "config_digest": digest,
        "settings": _plain(settings),
        "draw": int(config.study.draws[0]),
        "device": device,
        "started": utc_now(),
        "warmups": [],
        "pilots": [],
    }

    def finish(passed: bool, reason: str) -> dict[str, Any]:
        record.update(passed=passed, reason=reason, finished=utc_now())
        Path(out).mkdir(parents=True, exist_ok=True)
        text = json.dumps(record, indent=2, sort_keys=True).encode()
        atomic_write_bytes(Path(out) / DESIGN_FILE, text)
        if not passed:
            raise DesignFailed(record)
        return record

    # 1. the warm-up: the shortest length whose easiest tiers succeed and whose pool passes
    chosen = None
    for steps in settings.warmup_steps or (base.warmup.steps,):
        candidate = _with(base, warmup={"steps": int(steps)})
        harness = harness_for(candidate, device, cache_dir, progress)
        check = warmup_check(harness.environment(), candidate)
        record["warmups"].append(
            {"steps": int(steps), **check, "warmup": dict(harness.warmup_info)}
        )
        log.info("design: warm-up %d steps: tiers %s, gate %s", steps, check["tiers_ok"],
                 check["gate_ok"])  # fmt: skip
        if check["tiers_ok"] and check["gate_ok"]:
            chosen = (int(steps), candidate, harness)
            break
    if chosen is None:
        last = record["warmups"][-1]
        problems = []
        if not last["tiers_ok"]:
            shown = ", ".join(
                f"tier {t}: {last['tier_success'].get(str(t), float('nan')):.2f}"
                for t in settings.tiers
            )
            problems.append(f"easiest tiers below {settings.min_tier_success:g} ({shown})")
        if not last["gate_ok"]:
            problems.append("pool gate out of band (" + last["gate"]["summary"] + ")")
        return finish(
            False, f"no warm-up length of {[w['steps'] for w in record['warmups']]} passed: "
            + "; ".join(problems) + f" at {last['steps']} steps",
        )  # fmt: skip
    steps, candidate, harness = chosen
    record["warmup_steps"] = steps

    # 2. the learning rate: Random alone, lowest rate whose held-out exact pass@1 rises
    if not settings.pilot_lrs:
        record["lr"] = float(candidate.grpo.lr)
        return finish(True, "warm-up passed; no pilot asked (config's learning rate kept)")
    baseline = float(harness.environment().exact_pass1().mean())
    record["warmup_pass1_exact"] = baseline
    for lr in settings.pilot_lrs:
        gains, speed = _pilot(candidate, lr, settings, device, cache_dir, baseline)
        passed = bool(np.mean(gains) >= settings.pilot_min_gain)
        record["pilots"].append(
            {
                "lr": float(lr), "gains": gains, "mean_gain": float(np.mean(gains)),
                "passed": passed, "seconds_per_run_step": speed,
            }
        )  # fmt: skip
        log.info("design: pilot lr %g: gain %.4f", lr, np.mean(gains))
        if passed:
            record["lr"] = float(lr)
            return finish(True, f"warm-up {steps} steps passed; lr {lr:g} passed the pilot")
    shown = ", ".join(f"{p['lr']:g}: {p['mean_gain']:+.4f}" for p in record["pilots"])
    return finish(
        False,
        f"no pilot learning rate raised Random's held-out exact pass@1 by "
        f">= {settings.pilot_min_gain:g} within {settings.pilot_steps} steps ({shown})",
    )


def _pilot(config, lr, settings, device, cache_dir, baseline) -> tuple[list[float], float]:
    """Gain of each pilot seed (mean exact pass@1 over the last steps minus the warm-up's)
    and the pilot block's wall seconds per run-step (the speed a study's
    :class:`~insight_bayes.rlvr.time_budget.TimeBudget` plans with)."""
    import time

    from insight_bayes.rlvr.batched import train_block
    from insight_bayes.rlvr.harness import harness_for

    pilot = _with(
        config,
        grpo={"lr": float(lr)},
        loop={"steps": settings.pilot_steps, "eval_every": 0},
    )
    harness = harness_for(pilot, device, cache_dir)
    start = time.perf_counter()
    tables = train_block(harness, [("random", int(s)) for s in settings.pilot_seeds])
    speed = (time.perf_counter() - start) / (len(settings.pilot_seeds) * settings.pilot_steps)
    gains = []
    for steps, _ in tables:
        last = steps[steps["step"] > settings.pilot_steps - settings.pilot_window]
        gains.append(float(last["eval/pass1_exact"].mean()) - baseline)
    return gains, float(speed)


def _plain(settings: DesignSettings) -> dict[str, Any]:
    return {
        k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(settings).items()
    }
