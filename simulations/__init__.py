"""Simulations of latent success rates: environments, scenarios, sweeps, speed-ups.

Heavy parts (pandas, the process pool, Ray) are imported on first use, so
``import simulations`` stays light.

>>> import simulations
>>> "countdown-paper" in simulations.available_scenarios()
True
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "PAPER_RULES",
    "ResultStore",
    "Scenario",
    "available_scenarios",
    "bootstrap_speedups",
    "get_scenario",
    "run_one",
    "run_sweep",
    "steps_to_target",
    "summary_table",
]

_LAZY = {
    "PAPER_RULES": "insight_bayes.selectors",
    "run_one": "simulations.sweep",
    "run_sweep": "simulations.sweep",
    "ResultStore": "insight_bayes.results.store",
    "Scenario": "simulations.scenarios",
    "available_scenarios": "simulations.scenarios",
    "get_scenario": "simulations.scenarios",
    "bootstrap_speedups": "insight_bayes.results.targets",
    "steps_to_target": "insight_bayes.results.targets",
    "summary_table": "insight_bayes.results.summary",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'simulations' has no attribute {name!r}")
