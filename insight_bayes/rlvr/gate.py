"""The pool gate: is there anything for selection to choose, before any RL step?

A selection rule can only beat Random when Random wastes part of its batch on groups
whose ``K`` binary outcomes are all equal (all wrong or all right: zero GRPO advantage)
and when enough prompts sit in the middle, where a rule can find mixed groups. The gate
measures both under the warm-up policy, on two independent samples (a split sample, so
the two figures do not share noise):

* **uninformative share**: one group of ``K`` rollouts per pool prompt; the share whose
  binary outcomes are all equal. Random draws prompts uniformly, so this is an unbiased
  estimate of the share of Random's groups that teach nothing (at the warm-up policy).
* **mid-range prompts**: from a second, independent sample of ``samples`` rollouts per
  prompt, the number of prompts whose estimated rate lies in ``(low, high)``.

Outside the configured band the study stops before training, with a message naming the
knob to turn (``--skip-gate`` overrides).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from insight_bayes.rewards import informative_groups
from insight_bayes.validation import check_int, check_real

__all__ = ["GateFailed", "GateReport", "GateSettings", "gate_pool", "measure_pool"]


@dataclass(frozen=True)
class GateSettings:
    """The band a study's pool must fall in.

    Attributes
    ----------
    min_uninformative, max_uninformative : float
        Accepted range of Random's binary uninformative share at ``K`` (0.45-0.75): below
        it, most of Random's groups already teach and no rule can gain much; above it,
        the policy cannot learn from the pool at all.
    min_mid_range : int
        Least number of prompts with an estimated rate in ``(mid_low, mid_high)``.
    mid_low, mid_high : float
        The mid range (0.05, 0.95).
    samples : int
        Rollouts per prompt of the rate sample (>= 1).
    enforce : bool
        Stop the study when the pool fails (``--skip-gate`` overrides it for one run);
        ``False`` only reports.
    """

    min_uninformative: float = 0.45
    max_uninformative: float = 0.75
    min_mid_range: int = 150
    mid_low: float = 0.05
    mid_high: float = 0.95
    samples: int = 16
    enforce: bool = True

    def __post_init__(self) -> None:
        check_real(self.min_uninformative, "min_uninformative", low=0.0, high=1.0)
        check_real(
            self.max_uninformative, "max_uninformative", low=self.min_uninformative, high=1.0
        )
        check_int(self.min_mid_range, "min_mid_range", min_value=0)
        check_real(self.mid_low, "mid_low", low=0.0, high=1.0)
        check_real(self.mid_high, "mid_high", low=self.mid_low, high=1.0, low_inclusive=False)
        check_int(self.samples, "samples", min_value=1)
        if not isinstance(self.enforce, bool):
            raise TypeError(f"enforce must be true or false, got {self.enforce!r}")


@dataclass(frozen=True)
class GateReport:
    """What the gate measured, and whether the pool passes.

    Attributes
    ----------
    k : int
        Group size the uninformative share is measured at.
    uninformative_share : float
        Share of one-per-prompt groups of ``K`` whose binary outcomes are all equal.
    all_wrong_share, all_right_share : float
        Its two parts.
    mid_range : int
        Prompts with an estimated rate in ``(mid_low, mid_high)`` (second sample).
    pool_size : int
        Prompts measured.
    by_feature : dict
        ``{feature: {value: uninformative share}}`` per prompt feature (e.g. per tier).
    settings : GateSettings
    """

    k: int
    uninformative_share: float
    all_wrong_share: float
    all_right_share: float
    mid_range: int
    pool_size: int
    by_feature: dict[str, dict[str, float]] = field(default_factory=dict)
    settings: GateSettings = field(default_factory=GateSettings)

    @property
    def passed(self) -> bool:
        s = self.settings
        return (
            s.min_uninformative <= self.uninformative_share <= s.max_uninformative
            and self.mid_range >= s.min_mid_range
        )

    def problems(self) -> list[str]:
        """One sentence per failed check, naming the knob to turn."""
        s, out = self.settings, []
        if self.uninformative_share < s.min_uninformative:
            out.append(
                f"only {self.uninformative_share:.2f} of Random's K={self.k} groups are "
                f"uninformative (band {s.min_uninformative}-{s.max_uninformative}): most groups "
                "already teach, so selection cannot matter much. Make the pool harder "
                "(task.params: more digits/numbers than the warm-up saw) or warm up less "
                "(warmup.steps)"
            )
        if self.uninformative_share > s.max_uninformative:
            out.append(
                f"{self.uninformative_share:.2f} of Random's K={self.k} groups are "
                f"uninformative (band {s.min_uninformative}-{s.max_uninformative}): the policy "
                "can hardly learn from this pool. Make it easier (task.params) or warm up "
                "longer (warmup.steps, or warmup.task_params closer to the pool)"
            )
        if self.mid_range < s.min_mid_range:
            out.append(
                f"only {self.mid_range} prompts have a rate in ({s.mid_low}, {s.mid_high}) "
                f"(at least {s.min_mid_range} wanted): enlarge the pool (task.pool_size) or "
                "widen the tiers (task.params)"
            )
        return out

    def summary(self) -> str:
        """A few lines for the console, before any RL step."""
        lines = [
            f"pool gate (warm-up policy, {self.pool_size} prompts, K={self.k}): "
            f"Random's uninformative share {self.uninformative_share:.3f} "
            f"(all wrong {self.all_wrong_share:.3f}, all right {self.all_right_share:.3f}); "
            f"{self.mid_range} prompts in ({self.settings.mid_low}, {self.settings.mid_high})"
        ]
        for feature, shares in self.by_feature.items():
            parts = ", ".join(f"{v}: {share:.2f}" for v, share in shares.items())
            lines.append(f"  uninformative share by {feature}: {parts}")
        lines.append("  gate: " + ("passed" if self.passed else "FAILED"))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "k": self.k,
            "uninformative_share": self.uninformative_share,
            "all_wrong_share": self.all_wrong_share,
            "all_right_share": self.all_right_share,
            "mid_range": self.mid_range,
            "pool_size": self.pool_size,
            "by_feature": self.by_feature,
            "passed": self.passed,
            "settings": self.settings.__dict__,
        }


def measure_pool(
    group_correct: np.ndarray,
    rate_correct: np.ndarray,
    settings: GateSettings | None = None,
    features: Sequence[Mapping[str, float]] | None = None,
) -> GateReport:
    """The gate's figures from two independent samples of binary outcomes.

    Parameters
    ----------
    group_correct : ndarray of bool, shape (N, K)
        One group of ``K`` rollouts per pool prompt.
    rate_correct : ndarray of bool, shape (N, S)
        An independent sample of ``S`` rollouts per prompt (the rate estimates).
    settings : GateSettings, optional
    features : sequence of mappings, optional
        Per-prompt features; the uninformative share is broken down by each of them.
    """
    settings = settings or GateSettings()
    group_correct = np.asarray(group_correct, dtype=bool)
    rate_correct = np.asarray(rate_correct, dtype=bool)
    if group_correct.ndim != 2 or rate_correct.ndim != 2:
        raise ValueError("group_correct and rate_correct must be (prompts, rollouts) arrays")
    if group_correct.shape[0] != rate_correct.shape[0]:
        raise ValueError(
            f"the two samples cover {group_correct.shape[0]} and {rate_correct.shape[0]} prompts"
        )
    n, k = group_correct.shape
    uninformative = ~informative_groups(group_correct)
    wrong = ~group_correct.any(axis=1)
    right = group_correct.all(axis=1)
    rates = rate_correct.mean(axis=1)
    mid = int(np.sum((rates > settings.mid_low) & (rates < settings.mid_high)))
    by_feature: dict[str, dict[str, float]] = {}
    if features is not None:
        if len(features) != n:
            raise ValueError(f"features cover {len(features)} prompts, not {n}")
        for name in sorted({key for f in features for key in f}):
            values = np.array([f.get(name, np.nan) for f in features], dtype=float)
            by_feature[name] = {
                f"{v:g}": float(uninformative[values == v].mean())
                for v in np.unique(values[np.isfinite(values)])
            }
    return GateReport(
        k=k,
        uninformative_share=float(uninformative.mean()),
        all_wrong_share=float(wrong.mean()),
        all_right_share=float(right.mean()),
        mid_range=mid,
        pool_size=n,
        by_feature=by_feature,
        settings=settings,
    )


class GateFailed(ValueError):
    """The pool is outside the gate's band (the message names the knob to turn)."""

    def __init__(self, report: GateReport) -> None:
        self.report = report
        super().__init__(
            "the pool gate failed before any RL step: "
            + "; ".join(report.problems())
            + " (or pass --skip-gate to run anyway)"
        )


def gate_pool(env, k: int, settings: GateSettings, rng: np.random.Generator) -> GateReport:
    """Measure a harness environment's pool at its current (warm-up) policy.

    Draws one group of ``k`` rollouts per pool prompt, then an independent sample of
    ``settings.samples`` per prompt for the rates (see :func:`measure_pool`). ``env`` is a
    :class:`~insight_bayes.rlvr.grpo_environment.GRPOEnvironment` (any environment whose
    ``pool`` holds problems with ``features`` works).
    """
    ids = np.arange(env.pool_size)
    groups = env.rollout(ids, check_int(k, "k", min_value=2), rng).correct
    rates = env.rollout(ids, settings.samples, rng).correct
    return measure_pool(groups, rates, settings, [p.features for p in env.pool])
