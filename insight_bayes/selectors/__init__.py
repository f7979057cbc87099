"""Prompt-selection rules behind one registry (Algorithm 1, Eq. 17, and the baselines).

A selector maps ``(candidate ids, belief, K, rng)`` to chosen ids and their scores.
Every rule is a small frozen dataclass registered by name, so the simulators, the RLVR
harness and the trainer integrations all build rules with :func:`make_selector`:

>>> import numpy as np
>>> from insight_bayes import BetaBelief, make_selector
>>> belief = BetaBelief(100)
>>> rule = make_selector("insight", mu=0.3, eta=3.0)
>>> chosen = rule.select(np.arange(100), belief, m=8, k=8, rng=0)
>>> chosen.ids.shape
(8,)

The package's modules: :mod:`~insight_bayes.selectors.base` (the contract),
:mod:`~insight_bayes.selectors.registry` (names and labels),
:mod:`~insight_bayes.selectors.rules` (the paper's rules) and
:mod:`~insight_bayes.selectors.filters` (Dynamic Sampling's filter) and
:mod:`~insight_bayes.selectors.privileged` (the oracle ceilings, simulators only).

Every rule implements :meth:`Selector.score` (higher is better); the base class keeps
the top ``M`` with ties broken uniformly at random (never by index).

What happens between choosing and training is a **rollout filter**
(:class:`RolloutFilter`), which :meth:`Selector.gather` applies and the selection loop
calls for every rule alike: :class:`KeepChosen` (every rule but one) rolls out the
chosen ``M`` once; :class:`KeepInformative` (Dynamic Sampling, DAPO) rolls candidates
out in the rule's order, drops groups whose rewards are all equal and refills, counting
every rollout. No caller needs to know which filter a rule has.
"""

from insight_bayes.selectors.base import (
    KEEP_CHOSEN,
    Batch,
    KeepChosen,
    RolloutFilter,
    RolloutFn,
    Selection,
    Selector,
    draw_candidates,
    top_m,
)
from insight_bayes.selectors.filters import KeepInformative
from insight_bayes.selectors.registry import (
    available_selectors,
    canonical_rule_label,
    canonical_rule_name,
    make_selector,
    parse_rule_label,
    register_selector,
    selector_from_label,
)
from insight_bayes.selectors.rules import (
    DifficultyWeighted,
    DynamicSampling,
    ExpectedDifficulty,
    InSight,
    InSightSampled,
    InverseEvidence,
    MoPPS,
    MutualInformationOnly,
    RandomSelector,
    WeightOnly,
)

# isort: split
# registered after the paper's rules, so that available_selectors() lists those first
from insight_bayes.selectors.privileged import Oracle, OracleScore, PrivilegedSelector
from insight_bayes.selectors.signal import (
    ExpectedStd,
    InSightAdaptive,
    LearningSignal,
    SignalInformation,
)

# isort: split
# beyond the paper
from insight_bayes.selectors.noisy import InSightGraded, InSightNoisy
from insight_bayes.selectors.tracking import InSightTracking, MoPPSTracking

# isort: split
# on a prior learned from the pool (empirical Bayes)
from insight_bayes.selectors.eb import EB_RULES, EmpiricalBayesRule, InSightEB, MoPPSEB

__all__ = [
    "BEYOND_RULES",
    "EB_RULES",
    "KEEP_CHOSEN",
    "PAPER_RULES",
    "REFERENCE_RULES",
    "Batch",
    "DifficultyWeighted",
    "DynamicSampling",
    "EmpiricalBayesRule",
    "ExpectedDifficulty",
    "ExpectedStd",
    "InSight",
    "InSightEB",
    "InSightAdaptive",
    "InSightGraded",
    "InSightNoisy",
    "InSightSampled",
    "InSightTracking",
    "InverseEvidence",
    "KeepChosen",
    "KeepInformative",
    "LearningSignal",
    "MoPPS",
    "MoPPSEB",
    "MoPPSTracking",
    "MutualInformationOnly",
    "Oracle",
    "OracleScore",
    "PrivilegedSelector",
    "RandomSelector",
    "RolloutFilter",
    "RolloutFn",
    "Selection",
    "Selector",
    "SignalInformation",
    "WeightOnly",
    "available_selectors",
    "canonical_rule_label",
    "canonical_rule_name",
    "draw_candidates",
    "make_selector",
    "parse_rule_label",
    "register_selector",
    "selector_from_label",
    "top_m",
]

#: The nine rules compared in the paper (method notes, Section 6), in table order.
PAPER_RULES: tuple[str, ...] = (
    "random",
    "mopps",
    "expected-difficulty",
    "inverse-evidence",
    "mi",
    "weight",
    "insight",
    "insight-sampled",
    "dynamic-sampling",
)

#: The reference sweep's rules: the paper's nine, MoPPS at its published discount and
#: Dynamic Sampling at MoPPS's script setting (presets of the registry), and the two
#: privileged ceilings (simulators only).
REFERENCE_RULES: tuple[str, ...] = (
    *PAPER_RULES,
    "mopps-published",
    "dynamic-sampling-mopps",
    "oracle",
    "oracle-score:rule=insight",
)

#: Rules beyond the paper, each registered, each derived in docs/guide/beyond.md.
BEYOND_RULES: tuple[str, ...] = (
    "insight-tracking",
    "mopps-tracking",
    "learning-signal",
    "expected-std",
    "signal-information",
    "insight-adaptive",
    "insight-noisy",
    "insight-graded",
)
