"""Convergence checks for every PyMC fit of the package: r-hat, ESS and divergences.

Checked, not just printed: a fit that fails warns with :class:`ConvergenceWarning` or
raises :class:`ConvergenceError`, as its caller chooses.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import arviz as az
import numpy as np

__all__ = ["ConvergenceError", "ConvergenceWarning", "check_convergence"]


class ConvergenceWarning(UserWarning):
    """The sampler's diagnostics (r-hat, ESS, divergences) fail the thresholds."""


class ConvergenceError(RuntimeError):
    """Raised instead of :class:`ConvergenceWarning` when ``on_fail="raise"``."""


def check_convergence(
    idata: Any,
    var_names: list[str],
    *,
    rhat_max: float = 1.01,
    ess_min: float = 400.0,
    on_fail: Literal["warn", "raise", "ignore"] = "warn",
) -> dict[str, Any]:
    """Check r-hat, bulk/tail ESS and divergences of ``var_names`` in ``idata``.

    Returns a dict of the worst values and a list ``problems``; warns with
    :class:`ConvergenceWarning` or raises :class:`ConvergenceError` when it is non-empty.
    """
    if on_fail not in ("warn", "raise", "ignore"):
        raise ValueError(f"on_fail must be 'warn', 'raise' or 'ignore', got {on_fail!r}")
    rhat = az.rhat(idata, var_names=var_names)
    ess_bulk = az.ess(idata, var_names=var_names, method="bulk")
    ess_tail = az.ess(idata, var_names=var_names, method="tail")

    def _extreme(ds: Any, fn: Any) -> tuple[float, str]:
        best_val, best_name = None, ""
        for name, da in ds.data_vars.items():
            values = np.asarray(da.values, dtype=float).ravel()
            if values.size == 0 or np.all(np.isnan(values)):
                continue
            v = float(fn(values[~np.isnan(values)]))
            if best_val is None or fn([v, best_val]) == v:
                best_val, best_name = v, name
        return (np.nan if best_val is None else best_val), best_name

    max_rhat, rhat_var = _extreme(rhat, np.max)
    min_bulk, bulk_var = _extreme(ess_bulk, np.min)
    min_tail, tail_var = _extreme(ess_tail, np.min)
    divergences = int(np.asarray(idata.sample_stats["diverging"]).sum())
    problems = []
    if not max_rhat <= rhat_max:
        problems.append(f"r-hat {max_rhat:.3f} > {rhat_max} (worst: {rhat_var})")
    if not min_bulk >= ess_min:
        problems.append(f"bulk ESS {min_bulk:.0f} < {ess_min:.0f} (worst: {bulk_var})")
    if not min_tail >= ess_min:
        problems.append(f"tail ESS {min_tail:.0f} < {ess_min:.0f} (worst: {tail_var})")
    if divergences:
        problems.append(f"{divergences} divergent transitions")
    out = {
        "max_rhat": max_rhat,
        "min_ess_bulk": min_bulk,
        "min_ess_tail": min_tail,
        "divergences": divergences,
        "problems": problems,
    }
    if problems and on_fail != "ignore":
        message = (
            "the speed-up posterior did not pass its convergence checks: "
            + "; ".join(problems)
            + ". Draw more samples (draws, tune, chains) or raise target_accept."
        )
        if on_fail == "raise":
            raise ConvergenceError(message)
        warnings.warn(message, ConvergenceWarning, stacklevel=3)
    return out
