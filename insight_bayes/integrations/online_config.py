"""The online selector's settings, its report summary, and its small bookkeeping types.

:class:`OnlineConfig` (what :class:`~insight_bayes.integrations.online.OnlineSelector`
selects with), :class:`ReportSummary` (what one report did), the pending hand-out
record and the state format's constants.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from insight_bayes.beliefs.beta_belief import BetaBelief
from insight_bayes.loop import SelectionConfig
from insight_bayes.validation import check_int

__all__ = ["ONLINE_FORMAT_VERSION", "OnlineConfig", "ReportSummary"]

#: The keys of a plain BetaBelief state; a subclass's other keys travel as plain data.
_BETA_STATE_KEYS = frozenset(("format_version", "alpha", "beta", "alpha0", "beta0", "discount"))

#: Version tag of the state :meth:`~insight_bayes.integrations.online_state.OnlineState.state_dict`
#: writes; bump when the layout changes.
ONLINE_FORMAT_VERSION = 1

DuplicatePolicy = Literal["raise", "ignore"]
UnknownPolicy = Literal["raise", "ignore", "update"]

# Fields that must match between a saved state and the selector restoring it.
_STATE_CONFIG_FIELDS = ("m", "k", "reward_mode", "reward_threshold")


class _class_or_instance_method:
    """A method that receives the class when called on the class, else the instance."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self.__func__ = func
        self.__doc__ = func.__doc__
        self.__name__ = func.__name__
        self.__wrapped__ = func

    def __get__(self, obj: Any, objtype: type | None = None) -> types.MethodType:
        return types.MethodType(self.__func__, objtype if obj is None else obj)


def _belief_classes() -> dict[str, type[BetaBelief]]:
    """Every imported BetaBelief class by ``module.qualname``."""
    found: dict[str, type[BetaBelief]] = {}
    todo: list[type[BetaBelief]] = [BetaBelief]
    while todo:
        cls = todo.pop()
        found[f"{cls.__module__}.{cls.__qualname__}"] = cls
        todo.extend(cls.__subclasses__())
    return found


@dataclass(frozen=True)
class OnlineConfig(SelectionConfig):
    """Settings of an :class:`OnlineSelector`.

    The selection settings of :class:`~insight_bayes.loop.SelectionConfig` (``m``,
    ``k``, ``candidate_ratio``, ``m_hat`` capped at the prompts available,
    ``reward_mode``, ``reward_threshold``), plus the bookkeeping policies:

    Attributes
    ----------
    exclude_pending : bool, default True
        Draw candidates only among prompts with no pending hand-out (falls back to the
        whole pool, with a warning, when fewer than ``m`` are free).
    on_duplicate : {"raise", "ignore"}
        What to do with rewards for an id that was handed out but has nothing pending
        (rewarded already, or expired).
    on_unknown : {"raise", "ignore", "update"}
        What to do with rewards for an id never handed out. ``"update"`` uses them as
        evidence (e.g. rollouts the trainer made for its own reasons).
    max_pending_batches : int, optional
        Keep at most this many batches pending; older ones expire (their later rewards
        count as duplicates). ``None``: never expire.
    """

    exclude_pending: bool = True
    on_duplicate: DuplicatePolicy = "raise"
    on_unknown: UnknownPolicy = "raise"
    max_pending_batches: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.exclude_pending, bool):
            raise TypeError(f"exclude_pending must be a bool, got {self.exclude_pending!r}")
        if self.on_duplicate not in ("raise", "ignore"):
            raise ValueError(f"on_duplicate must be 'raise' or 'ignore', got {self.on_duplicate!r}")
        if self.on_unknown not in ("raise", "ignore", "update"):
            raise ValueError(
                f"on_unknown must be 'raise', 'ignore' or 'update', got {self.on_unknown!r}"
            )
        if self.max_pending_batches is not None:
            check_int(self.max_pending_batches, "max_pending_batches", min_value=1)


@dataclass(frozen=True)
class ReportSummary:
    """What one :meth:`OnlineSelector.report` call did.

    Attributes
    ----------
    accepted : int
        Groups matched to a pending hand-out and added to the belief.
    late : int
        Accepted groups whose batch was followed by other hand-outs before the rewards
        came (lag >= 1).
    lags : ndarray of int, shape (accepted,)
        Per accepted group, the batches handed out after its own before its rewards.
    duplicates_ignored : int
        Groups dropped by ``on_duplicate="ignore"``.
    unknown_ignored, unknown_updated : int
        Groups for never-handed-out ids dropped, or used as evidence.
    """

    accepted: int
    late: int
    lags: np.ndarray
    duplicates_ignored: int = 0
    unknown_ignored: int = 0
    unknown_updated: int = 0

    @property
    def max_lag(self) -> int:
        return int(self.lags.max()) if self.lags.size else 0


@dataclass
class _Batch:
    """One hand-out: ids in rank order, their scores, which ones were rewarded."""

    ids: np.ndarray
    scores: np.ndarray
    rewarded: np.ndarray
    position: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.position = {int(pid): i for i, pid in enumerate(self.ids.tolist())}

    @property
    def n_left(self) -> int:
        return int(self.ids.size - self.rewarded.sum())


def _empty_stats() -> dict[str, int]:
    return {
        "batches_drawn": 0,
        "batches_replayed": 0,
        "groups_accepted": 0,
        "groups_late": 0,
        "max_lag": 0,
        "duplicates_ignored": 0,
        "unknown_ignored": 0,
        "unknown_updated": 0,
        "groups_expired": 0,
        "pending_fallbacks": 0,
    }
