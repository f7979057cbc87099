"""50-digit reference values computed with mpmath straight from the paper's definitions.

These are the textbook forms of Eq. 11-13 evaluated at high precision, sharing no code
with the package: the cancellation that ruins them in float64 is harmless at 60 digits.
"""

from __future__ import annotations

import mpmath as mp

mp.mp.dps = 60


def entropy(a: float, b: float) -> mp.mpf:
    a, b = mp.mpf(a), mp.mpf(b)
    return (
        mp.log(mp.beta(a, b))
        - (a - 1) * mp.digamma(a)
        - (b - 1) * mp.digamma(b)
        + (a + b - 2) * mp.digamma(a + b)
    )


def pmf(k: int, a: float, b: float) -> list[mp.mpf]:
    a, b = mp.mpf(a), mp.mpf(b)
    return [mp.binomial(k, s) * mp.beta(a + s, b + k - s) / mp.beta(a, b) for s in range(k + 1)]


def mutual_information(a: float, b: float, k: int) -> mp.mpf:
    a_, b_ = mp.mpf(a), mp.mpf(b)
    probs = pmf(k, a, b)
    return entropy(a_, b_) - sum(p * entropy(a_ + s, b_ + k - s) for s, p in enumerate(probs))
