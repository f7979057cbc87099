"""Simulated environments: stationary and learning pools, reward noise and grading."""

from simulations.environments.learner_tables import grpo_logit_gradient
from simulations.environments.learning import LearningConfig, LearningPool
from simulations.environments.noise import Verifier, observed_rate
from simulations.environments.stationary import PoolComposition, StationaryConfig, StationaryPool

__all__ = [
    "LearningConfig",
    "LearningPool",
    "PoolComposition",
    "StationaryConfig",
    "StationaryPool",
    "Verifier",
    "grpo_logit_gradient",
    "observed_rate",
]
