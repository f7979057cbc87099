"""Does predicted information explain the learning that followed? (PyMC regressions)

Each chosen prompt's belief before the choice gives the two factors of Eq. 8, the
difficulty term ``m (1 - m)`` and the evidence term ``1 / (n + 1)``; a hierarchical
regression (:mod:`insight_bayes.models.information_regression`) asks how much each
explains of a realised gain.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

__all__ = ["harness_regressions", "regression_data"]

log = logging.getLogger(__name__)


def regression_data(prompts: pd.DataFrame, outcome: str = "success_gain") -> pd.DataFrame:
    """Chosen prompts with their belief terms and a realised gain (rows with no gain dropped).

    Adds ``difficulty = m (1 - m)`` and ``evidence = 1 / (n + 1)`` from the belief
    before the choice (``m = alpha / n``, ``n = alpha + beta``; Eq. 8's two factors).

    Parameters
    ----------
    prompts : DataFrame
        A study's ``prompts`` table (``alpha, beta`` before the choice, the gains).
    outcome : str
        The realised gain column to keep rows of.
    """
    from insight_bayes.models.information_regression import information_terms

    df = prompts.copy()
    terms = information_terms(df["alpha"].to_numpy(), df["beta"].to_numpy())
    for name, values in terms.items():
        df[name] = values
    return df[df[outcome].notna()].reset_index(drop=True)


def harness_regressions(
    prompts: pd.DataFrame,
    outcomes: tuple[str, ...] = ("success_gain", "step_logprob_gain"),
    **fit_kwargs: Any,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Regress each realised gain on the difficulty and evidence terms (PyMC).

    ``success_gain``: the chosen prompt's own success-rate change at its next visit;
    ``step_logprob_gain``: the held-out answer log-likelihood gain (nats/token) of the
    step that trained on it. Outcomes with too few rows or a term that does not vary
    (tiny smoke studies) are skipped with a note.

    Parameters
    ----------
    prompts : DataFrame
        A study's ``prompts`` table.
    outcomes : tuple of str
        Gain columns to regress, one fit each.
    **fit_kwargs
        Passed to :func:`insight_bayes.models.information_regression.fit_information_regression`
        (``draws``, ``tune``, ``chains``, ...).

    Returns
    -------
    table : DataFrame
        The stacked summaries (``outcome`` column first, ``n_obs`` added).
    fits : dict
        Outcome -> its fit, or the reason it was skipped (a string).
    """
    from insight_bayes.models.information_regression import fit_information_regression

    tables, fits = [], {}
    for outcome in outcomes:
        if outcome not in prompts:
            fits[outcome] = f"no column {outcome!r} in the study's prompts table"
            continue
        data = regression_data(prompts, outcome)
        try:
            fit = fit_information_regression(data, outcome, **fit_kwargs)
        except ValueError as err:
            fits[outcome] = f"skipped: {err}"
            log.info("regression of %s skipped: %s", outcome, err)
            continue
        fits[outcome] = fit
        tables.append(fit.summary.assign(outcome=outcome, n_obs=fit.n_obs))
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    if not table.empty:
        table = table[["outcome", *[c for c in table.columns if c != "outcome"]]]
    return table, fits
