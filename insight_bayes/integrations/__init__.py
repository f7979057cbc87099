"""Use the selection rules inside trainers that run their own loop.

- :mod:`insight_bayes.integrations.online`: :class:`OnlineSelector`, a framework-agnostic,
  thread-safe object that hands out the next batch of prompt ids and takes their rewards
  back, with a plain-data state for the trainer's checkpoint. No extra dependency.
- :mod:`insight_bayes.integrations.trl`: TRL's ``GRPOTrainer`` with the prompt order chosen
  by a registered rule (``pip install -e ".[trl]"`` from a clone; imported on demand, since it
  needs ``torch``, ``transformers`` and a supported ``trl``).

verl 0.9 has no curriculum-sampler hook; see ``docs/integrations.md`` and
``examples/verl_style_loop.py`` for a verl-style loop on :class:`OnlineSelector`.
"""

from insight_bayes.integrations.online import (
    ONLINE_FORMAT_VERSION,
    OnlineConfig,
    OnlineSelector,
    ReportSummary,
)

__all__ = ["ONLINE_FORMAT_VERSION", "OnlineConfig", "OnlineSelector", "ReportSummary"]
