"""The ``[design]`` section of a study config: which checks run before any rule.

Its own module so that :mod:`insight_bayes.rlvr.config` can hold it without importing the
checks themselves (:mod:`insight_bayes.rlvr.design`, which train).
"""

from __future__ import annotations

from dataclasses import dataclass

from insight_bayes.validation import check_int, check_real

__all__ = ["DesignSettings"]


@dataclass(frozen=True)
class DesignSettings:
    """``[design]``: the checks of :mod:`insight_bayes.rlvr.design` (none by default).

    Attributes
    ----------
    tiers : tuple of int
        The easiest tiers (values of the prompts' ``digits`` feature) the warm-up must solve.
    min_tier_success : float
        Least warm-up success rate in each of ``tiers``.
    tier_samples : int
        Rollouts per pool prompt of the tier success rates.
    warmup_steps : tuple of int
        Warm-up lengths to try, increasing (empty: the config's ``warmup.steps`` only).
    pilot_lrs : tuple of float
        GRPO learning rates of the Random pilot, increasing (empty: no pilot; the config's
        ``grpo.lr`` is kept).
    pilot_seeds : tuple of int
        Seeds of the pilot's Random runs (keep them apart from the study's).
    pilot_steps : int
        Steps of each pilot run.
    pilot_window : int
        Last steps averaged for the pilot's final held-out exact pass@1.
    pilot_min_gain : float
        Least rise of held-out exact pass@1 over the warm-up's for a rate to pass.
    """

    tiers: tuple[int, ...] = ()
    min_tier_success: float = 0.4
    tier_samples: int = 16
    warmup_steps: tuple[int, ...] = ()
    pilot_lrs: tuple[float, ...] = ()
    pilot_seeds: tuple[int, ...] = (1000, 1001)
    pilot_steps: int = 30
    pilot_window: int = 5
    pilot_min_gain: float = 0.02

    def __post_init__(self) -> None:
        for name in ("tiers", "warmup_steps", "pilot_lrs", "pilot_seeds"):
            value = getattr(self, name)
            if not isinstance(value, list | tuple):
                raise ValueError(f"design.{name} must be a list, got {value!r}")
            object.__setattr__(self, name, tuple(value))
        for t in self.tiers:
            check_int(t, "design.tiers", min_value=0)
        check_real(self.min_tier_success, "design.min_tier_success", low=0.0, high=1.0)
        check_int(self.tier_samples, "design.tier_samples", min_value=1)
        for name in ("warmup_steps", "pilot_lrs"):
            values = getattr(self, name)
            if list(values) != sorted(set(values)):
                raise ValueError(f"design.{name} must increase, got {list(values)}")
        for s in self.warmup_steps:
            check_int(s, "design.warmup_steps", min_value=1)
        for lr in self.pilot_lrs:
            check_real(lr, "design.pilot_lrs", low=0.0, low_inclusive=False)
        if self.pilot_lrs and not self.pilot_seeds:
            raise ValueError("design.pilot_seeds must name at least one seed")
        for s in self.pilot_seeds:
            check_int(s, "design.pilot_seeds", min_value=0)
        check_int(self.pilot_steps, "design.pilot_steps", min_value=1)
        check_int(self.pilot_window, "design.pilot_window", min_value=1)
        if self.pilot_window > self.pilot_steps:
            raise ValueError(
                f"design.pilot_window={self.pilot_window} exceeds pilot_steps={self.pilot_steps}"
            )
        check_real(self.pilot_min_gain, "design.pilot_min_gain")

    @property
    def active(self) -> bool:
        """Whether there is anything to check."""
        return bool(self.tiers or self.warmup_steps or self.pilot_lrs)
