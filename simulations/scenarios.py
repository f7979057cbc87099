"""Named, versioned simulation scenarios.

A scenario fixes everything a run needs except the rule and the seed: the environment
(stationary or learning pool, verifier), the loop settings (``M``, ``K``, ``M_hat``,
steps, the binarisation the rules see), the belief prior and the accuracy target used
for steps-to-target. Change a scenario's meaning only together with its ``version``.

>>> from simulations.scenarios import get_scenario
>>> s = get_scenario("countdown-paper")
>>> s.loop.m, s.loop.k, s.resolved_m_hat()
(256, 8, 2000)
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from insight_bayes.beliefs.beta_belief import BetaBelief
from insight_bayes.loop import LoopConfig
from insight_bayes.selectors import Selector
from insight_bayes.validation import check_int, check_real
from simulations.environments import (
    LearningConfig,
    PoolComposition,
    StationaryConfig,
    Verifier,
)

__all__ = [
    "SCENARIOS",
    "Scenario",
    "available_scenarios",
    "derive_seed",
    "get_scenario",
    "register_scenario",
]

EnvConfig = LearningConfig | StationaryConfig


@dataclass(frozen=True)
class Scenario:
    """Everything that defines a simulated experiment except the rule and the seed.

    Attributes
    ----------
    name : str
        Registry key, e.g. ``"countdown-paper"``.
    version : int
        Bumped whenever the scenario's meaning changes (results are keyed by it).
    description : str
        One line for listings.
    env : LearningConfig or StationaryConfig
        The environment.
    loop : LoopConfig
        Batch ``M``, rollouts ``K``, candidates, steps, reward binarisation, eval cadence.
    target_accuracy : float
        ``eval/accuracy`` that defines the headline steps-to-target, in (0, 1].
    curve_targets : tuple of float
        Targets of the speed-up curve (a speed-up is a curve over targets, not one
        point); empty: only ``target_accuracy``.
    alpha0, beta0, discount : float
        Belief prior and discount (Eq. 3, 6); a rule whose label sets its own discount
        (``"mopps:discount=0.5"``) overrides the scenario's.
    pool_of : str, optional
        Key (``name@vN``) of the scenario whose pool seeds this one draws; a variant of a
        base scenario (an ablation, a grid cell) sets it to the base's key so that both
        meet the same pool at the same seed (a paired comparison). Default: its own key.
    """

    name: str
    version: int
    description: str
    env: EnvConfig
    loop: LoopConfig
    target_accuracy: float = 0.6
    curve_targets: tuple[float, ...] = ()
    alpha0: float = 1.0
    beta0: float = 1.0
    discount: float = 1.0
    pool_of: str | None = None

    def __post_init__(self) -> None:
        if not self.name or any(c in self.name for c in "/\\ "):
            raise ValueError(f"name must be non-empty without '/', '\\' or spaces: {self.name!r}")
        check_int(self.version, "version", min_value=1)
        check_real(self.target_accuracy, "target_accuracy", low=0.0, high=1.0, low_inclusive=False)
        object.__setattr__(self, "curve_targets", tuple(self.curve_targets))
        for t in self.curve_targets:
            check_real(t, "curve_targets", low=0.0, high=1.0, low_inclusive=False)
        check_real(self.alpha0, "alpha0", low=0.0, low_inclusive=False)
        check_real(self.beta0, "beta0", low=0.0, low_inclusive=False)
        check_real(self.discount, "discount", low=0.0, high=1.0)
        if not isinstance(self.env, LearningConfig | StationaryConfig):
            raise TypeError(f"env must be a LearningConfig or StationaryConfig, got {self.env!r}")

    @property
    def key(self) -> str:
        """``name@vN``: the label written into results."""
        return f"{self.name}@v{self.version}"

    @property
    def pool_size(self) -> int:
        return self.env.pool_size

    def resolved_m_hat(self) -> int:
        """Candidates per step (``M_hat``, capped at the pool)."""
        return self.loop.resolved_m_hat(self.pool_size)

    @property
    def pool_key(self) -> str:
        """The key the pool seeds derive from (``pool_of``, else :attr:`key`)."""
        return self.pool_of or self.key

    def build_env(self, seed: int) -> Any:
        """The environment for ``seed``; the pool depends on (:attr:`pool_key`, seed) only,
        so every rule, and every variant of a base scenario, meets the same pool at the
        same seed (a paired comparison)."""
        return self.env.build(np.random.default_rng(derive_seed(self.pool_key, "pool", seed)))

    def new_belief(self, rule: Selector | None = None) -> BetaBelief:
        """A fresh belief with the scenario's prior and discount (or ``rule``'s own)."""
        settings = {"alpha0": self.alpha0, "beta0": self.beta0, "discount": self.discount}
        if rule is None:
            return BetaBelief(self.pool_size, **settings)
        return rule.new_belief(self.pool_size, **settings)

    def variant(self, suffix: str, description: str, **changes: Any) -> Scenario:
        """A copy named ``<name>-<suffix>`` that draws this scenario's pools (paired)."""
        return self.with_changes(
            name=f"{self.name}-{suffix}",
            description=f"{self.description}; {description}",
            pool_of=self.pool_key,
            **changes,
        )

    def with_changes(self, **changes: Any) -> Scenario:
        """A copy with fields replaced (nested: ``loop=dataclasses.replace(...)``)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (for the manifest)."""
        out = dataclasses.asdict(self)
        for name, default in (("pool_of", None), ("curve_targets", ())):
            if out[name] in (default, list(default) if default == () else default):
                del out[name]  # the default: keeps older manifests comparable
        out["env_type"] = type(self.env).__name__
        return out


def derive_seed(*parts: Any) -> int:
    """A 63-bit seed derived deterministically from ``parts`` (SHA-256 of their repr).

    The same parts give the same seed on every machine, process and backend.
    """
    text = "|".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "little") >> 1


#: The registered scenarios by name (see :func:`get_scenario`).
SCENARIOS: dict[str, Scenario] = {}


def register_scenario(scenario: Scenario) -> Scenario:
    """Add ``scenario`` to the registry (name must be new)."""
    if scenario.name in SCENARIOS:
        raise ValueError(f"a scenario named {scenario.name!r} is already registered")
    SCENARIOS[scenario.name] = scenario
    return scenario


def available_scenarios() -> list[str]:
    return list(SCENARIOS)


def get_scenario(name: str | Scenario) -> Scenario:
    """The registered scenario ``name`` (a Scenario is returned as is)."""
    if isinstance(name, Scenario):
        return name
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(
            f"unknown scenario {name!r}; available: {', '.join(available_scenarios())}"
        ) from None


_COUNTDOWN_VERIFIER = Verifier(graded=True, correct_reward=1.0, format_reward=0.1, format_rate=0.5)
_PAPER_LOOP = LoopConfig(
    m=256, k=8, steps=100, candidate_ratio=16.0, reward_mode="binary", reward_threshold=1.0,
    eval_every=1,
)  # fmt: skip

register_scenario(
    Scenario(
        name="countdown-paper",
        version=2,
        description=(
            "Paper-shaped Countdown run: learning pool of 2000 (35% unsolvable, 15% solved), "
            "512 held-out, 8 skill groups, graded 1/0.1/0 rewards binarised at 1; "
            "M=256, K=8, M_hat=16M capped at the pool, 200 steps (Random is not censored); "
            "speed-up curve at held-out accuracy 0.45-0.65"
        ),
        env=LearningConfig(pool_size=2000, heldout_size=512, verifier=_COUNTDOWN_VERIFIER),
        loop=dataclasses.replace(_PAPER_LOOP, steps=200),
        target_accuracy=0.6,
        curve_targets=(0.45, 0.5, 0.55, 0.6, 0.65),
    )
)
register_scenario(
    Scenario(
        name="countdown-noisy",
        version=1,
        description="countdown-paper with a verifier that flips 10% of rewards",
        env=LearningConfig(
            pool_size=2000,
            heldout_size=512,
            verifier=Verifier(graded=False, flip_prob=0.1),
        ),
        loop=_PAPER_LOOP,
        target_accuracy=0.6,
    )
)
register_scenario(
    Scenario(
        name="stationary-rlvr",
        version=1,
        description="Stationary pool of 2000 fixed rates (35% ~0, 15% ~1); M=256, K=8",
        env=StationaryConfig(pool_size=2000),
        loop=dataclasses.replace(_PAPER_LOOP, eval_every=0),
        target_accuracy=1.0,
    )
)
register_scenario(
    Scenario(
        name="large-pool",
        version=1,
        description="1,000,000-prompt learning pool; M=1024, K=8, M_hat=16384 (benchmarks)",
        env=LearningConfig(pool_size=1_000_000, heldout_size=2048, n_groups=32),
        loop=LoopConfig(m=1024, k=8, steps=20, m_hat=16384, eval_every=5),
        target_accuracy=0.6,
    )
)
register_scenario(
    Scenario(
        name="quick",
        version=1,
        description="Small learning pool for tests and CI: 300 prompts, M=24, K=8, 30 steps",
        env=LearningConfig(
            pool_size=300,
            heldout_size=128,
            n_groups=4,
            composition=PoolComposition(unsolvable_share=0.3, solved_share=0.1),
            learning_rate=1.0,
            verifier=_COUNTDOWN_VERIFIER,
        ),
        loop=LoopConfig(m=24, k=8, steps=30, candidate_ratio=8.0, eval_every=1),
        target_accuracy=0.55,
    )
)
register_scenario(
    Scenario(
        name="quick-stationary",
        version=1,
        description="Small stationary pool for tests: 200 prompts, M=16, K=8, 20 steps",
        env=StationaryConfig(pool_size=200),
        loop=LoopConfig(m=16, k=8, steps=20, candidate_ratio=8.0, eval_every=0),
        target_accuracy=1.0,
    )
)
