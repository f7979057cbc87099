"""The TRL versions the integration supports, and the check run when it is imported."""

from __future__ import annotations

import os
import warnings

__all__ = ["SUPPORTED_TRL", "check_trl_version"]

#: TRL versions this module was tested with (the ``trl`` extra pins the same range).
SUPPORTED_TRL = ">=1.16.0,<1.17"
_ALLOW_ENV = "INSIGHT_BAYES_ALLOW_UNTESTED_TRL"


def check_trl_version(version: str) -> str:
    """Return ``version`` if it is in :data:`SUPPORTED_TRL`, else raise ``ImportError``.

    Setting the environment variable ``INSIGHT_BAYES_ALLOW_UNTESTED_TRL=1`` turns the
    error into a warning.
    """
    from packaging.specifiers import SpecifierSet

    if version in SpecifierSet(SUPPORTED_TRL):
        return version
    message = (
        f"insight_bayes.integrations.trl supports trl{SUPPORTED_TRL} (it overrides the "
        f"private GRPOTrainer._get_train_sampler), but trl {version} is installed. Install "
        'a supported version with `pip install -e ".[trl]"` (from a clone), or set '
        f"{_ALLOW_ENV}=1 to try this one anyway"
    )
    if os.environ.get(_ALLOW_ENV) == "1":
        warnings.warn(message, stacklevel=2)
        return version
    raise ImportError(message)
