"""The drift of a tracked success rate: its parameters and their online empirical-Bayes fit.

The walk and its propagation are described in :mod:`insight_bayes.beliefs.tracking_maths`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from insight_bayes.beliefs.tracking_maths import _grid_loglik
from insight_bayes.validation import (
    check_real,
)

__all__ = [
    "DEFAULT_DIFFUSION_GRID",
    "DEFAULT_JUMP_GRID",
    "DEFAULT_TREND_GRID",
    "DriftFit",
    "DriftParams",
]


#: Default grid of the empirical-Bayes fit's trend (logits per step).
DEFAULT_TREND_GRID: tuple[float, ...] = tuple(np.round(np.linspace(-0.1, 0.3, 9), 10))
#: Default grid of the fit's diffusion variance (logits^2 per step).
DEFAULT_DIFFUSION_GRID: tuple[float, ...] = tuple(np.geomspace(1e-4, 1.0, 9))
#: Default grid of the fit's jump after a visit (logits).
DEFAULT_JUMP_GRID: tuple[float, ...] = (0.0, 0.15, 0.3, 0.45)


@dataclass(frozen=True)
class DriftParams:
    r"""Parameters of the logit random walk between visits.

    Attributes
    ----------
    trend : float
        Mean logit change per step ``delta`` (shared by every prompt), finite.
    diffusion : float
        Logit variance added per step ``sigma^2``, >= 0.
    jump : float
        Mean logit change right after a visit ``nu`` (memorisation), finite.
    """

    trend: float = 0.0
    diffusion: float = 0.0
    jump: float = 0.0

    def __post_init__(self) -> None:
        check_real(self.trend, "trend")
        check_real(self.diffusion, "diffusion", low=0.0)
        check_real(self.jump, "jump")

    def shift(self, elapsed: np.ndarray, visited: np.ndarray) -> np.ndarray:
        """Mean logit change ``delta * elapsed + nu * visited`` (no jump when elapsed = 0)."""
        return self.trend * elapsed + self.jump * (visited & (elapsed > 0))

    def variance(self, elapsed: np.ndarray) -> np.ndarray:
        """Added logit variance ``sigma^2 * elapsed``."""
        return self.diffusion * elapsed


def _check_grid(values: Any, name: str, *, low: float | None = None) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-d sequence, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or (low is not None and np.any(arr < low)):
        raise ValueError(f"{name} must be finite{'' if low is None else f' and >= {low}'}")
    if np.any(np.diff(arr) <= 0):
        raise ValueError(f"{name} must be strictly increasing, got {arr.tolist()}")
    return arr


def _parabola_peak(grid: np.ndarray, values: np.ndarray, i: int) -> float:
    """Vertex of the parabola through grid points i-1, i, i+1 (grid[i] at an edge)."""
    if i == 0 or i == grid.size - 1 or not np.all(np.isfinite(values[i - 1 : i + 2])):
        return float(grid[i])
    x0, x1, x2 = grid[i - 1 : i + 2]
    y0, y1, y2 = values[i - 1 : i + 2]
    denom = (x0 - x1) * (x0 - x2) * (x1 - x2)
    a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / denom
    b = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / denom
    if a >= 0:
        return float(grid[i])
    return float(np.clip(-b / (2 * a), x0, x2))


class DriftFit:
    r"""Online empirical-Bayes fit of :class:`DriftParams` on a fixed grid.

    At every update the revisited prompts' outcomes add, at every grid point, their log
    predictive probability ``ln BB(S; K, a', b')`` under the Beta propagated from the
    last visit; older evidence is discounted by ``memory`` per update:

    .. math::
        L_t(\theta) = \rho\, L_{t-1}(\theta)
                      + \sum_{g \in \text{revisits}} \ln P(S_g \mid K_g, \theta)

    The estimate is the grid maximiser, refined by a parabola along the trend and
    log-diffusion axes. Cost per update: ``G x |grid|`` Newton solves.

    Parameters
    ----------
    trends, diffusions, jumps : sequence of float
        Strictly increasing grids (diffusions > 0 or including 0; jumps may be ``(0,)``).
    memory : float
        Discount ``rho`` in (0, 1] of past log likelihood (1: never forget).
    """

    def __init__(
        self,
        trends: Any = DEFAULT_TREND_GRID,
        diffusions: Any = DEFAULT_DIFFUSION_GRID,
        jumps: Any = DEFAULT_JUMP_GRID,
        *,
        memory: float = 0.95,
    ) -> None:
        self.trends = _check_grid(trends, "trends")
        self.diffusions = _check_grid(diffusions, "diffusions", low=0.0)
        self.jumps = _check_grid(jumps, "jumps")
        self.memory = check_real(memory, "memory", low=0.0, high=1.0, low_inclusive=False)
        self.loglik = np.zeros((self.trends.size, self.diffusions.size, self.jumps.size))
        self.observations = 0.0

    def add(
        self,
        alpha: np.ndarray,
        beta: np.ndarray,
        elapsed: np.ndarray,
        visited: np.ndarray,
        successes: np.ndarray,
        trials: np.ndarray,
    ) -> None:
        """Discount the running log likelihood and add these groups' (see class doc)."""
        step = np.zeros_like(self.loglik)
        arrays = [np.ascontiguousarray(x, dtype=np.float64) for x in (alpha, beta, elapsed)]
        if arrays[0].size:
            _grid_loglik(
                *arrays,
                np.ascontiguousarray(visited, dtype=np.bool_),
                np.ascontiguousarray(successes, dtype=np.float64),
                np.ascontiguousarray(trials, dtype=np.float64),
                self.trends,
                self.diffusions,
                self.jumps,
                step,
            )
        self.loglik = self.memory * self.loglik + step
        self.observations = self.memory * self.observations + arrays[0].size

    def estimate(self) -> DriftParams:
        """The current maximiser; zero drift before any observation."""
        if self.observations == 0:
            return DriftParams()
        i, j, q = np.unravel_index(np.argmax(self.loglik), self.loglik.shape)
        trend = _parabola_peak(self.trends, self.loglik[:, j, q], i)
        if self.diffusions[0] > 0:
            log_diff = _parabola_peak(np.log(self.diffusions), self.loglik[i, :, q], j)
            diffusion = float(np.exp(log_diff))
        else:
            diffusion = float(self.diffusions[j])
        return DriftParams(trend=trend, diffusion=diffusion, jump=float(self.jumps[q]))

    def state_dict(self) -> dict[str, Any]:
        return {
            "trends": self.trends.copy(),
            "diffusions": self.diffusions.copy(),
            "jumps": self.jumps.copy(),
            "memory": self.memory,
            "loglik": self.loglik.copy(),
            "observations": self.observations,
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> DriftFit:
        fit = cls(
            np.asarray(state["trends"]),
            np.asarray(state["diffusions"]),
            np.asarray(state["jumps"]),
            memory=float(np.asarray(state["memory"])),
        )
        loglik = np.asarray(state["loglik"], dtype=np.float64)
        if loglik.shape != fit.loglik.shape or np.any(np.isnan(loglik)):
            raise ValueError(
                f"saved drift loglik must have shape {fit.loglik.shape} without NaN, "
                f"got {loglik.shape}"
            )
        fit.loglik = loglik.copy()
        fit.observations = check_real(
            float(np.asarray(state["observations"])), "observations", low=0.0
        )
        return fit
