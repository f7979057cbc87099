"""insight-bayes: information-guided prompt selection for RLVR (InSight, arXiv 2603.01907).

The exact Beta-Binomial mathematics (:mod:`insight_bayes.beta`), the acquisition scores
(:mod:`insight_bayes.acquisition`), the belief state (:mod:`insight_bayes.beliefs`), the
registry of selection rules (:mod:`insight_bayes.selectors`) and the selection loop
(:mod:`insight_bayes.loop`). Heavier parts live in subpackages with optional extras:
``insight_bayes.models`` (PyMC/ArviZ), ``insight_bayes.rlvr`` (PyTorch GRPO harness),
``insight_bayes.integrations`` (TRL and other trainers).
"""

from insight_bayes.acquisition import (
    difficulty_weight,
    distance_score,
    inverse_evidence_score,
    wmi_score,
)
from insight_bayes.beliefs.beta_belief import BetaBelief
from insight_bayes.beta import (
    beta_binomial_pmf,
    beta_entropy,
    expected_variance_reduction,
    mutual_information,
    mutual_information_asymptotic,
)
from insight_bayes.environment import Environment, FixedRateEnvironment
from insight_bayes.loop import (
    LoopConfig,
    SelectionConfig,
    SelectionLoop,
    StepRecord,
)
from insight_bayes.rewards import (
    Rollout,
    binarize_rewards,
    group_advantages,
    informative_groups,
    informative_probability,
)
from insight_bayes.selectors import (
    PAPER_RULES,
    Batch,
    RolloutFilter,
    Selection,
    Selector,
    available_selectors,
    draw_candidates,
    make_selector,
    register_selector,
    selector_from_label,
    top_m,
)

__version__ = "0.1.0"

__all__ = [
    "PAPER_RULES",
    "Batch",
    "BetaBelief",
    "Environment",
    "FixedRateEnvironment",
    "LoopConfig",
    "Rollout",
    "RolloutFilter",
    "Selection",
    "SelectionConfig",
    "SelectionLoop",
    "Selector",
    "StepRecord",
    "__version__",
    "available_selectors",
    "beta_binomial_pmf",
    "beta_entropy",
    "binarize_rewards",
    "difficulty_weight",
    "distance_score",
    "draw_candidates",
    "expected_variance_reduction",
    "group_advantages",
    "informative_groups",
    "informative_probability",
    "inverse_evidence_score",
    "make_selector",
    "mutual_information",
    "mutual_information_asymptotic",
    "register_selector",
    "selector_from_label",
    "top_m",
    "wmi_score",
]
