"""The online selector's state: plain data into a trainer's checkpoint and back.

:class:`OnlineState` is the part of
:class:`~insight_bayes.integrations.online.OnlineSelector` that writes and reads its
state (the belief, the random-number state, the step, the pending batches and counters):
:meth:`~OnlineState.state_dict`, :meth:`~OnlineState.load_state_dict`,
:meth:`~OnlineState.save` and :meth:`~OnlineState.load`. The state is lists, numbers and
strings, so it goes into ``torch.save`` or JSON.
"""

from __future__ import annotations

import dataclasses
import json
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from insight_bayes.integrations.online_config import (
    _BETA_STATE_KEYS,
    _STATE_CONFIG_FIELDS,
    ONLINE_FORMAT_VERSION,
    OnlineConfig,
    _Batch,
    _belief_classes,
    _class_or_instance_method,
    _empty_stats,
)
from insight_bayes.selectors import (
    make_selector,
)
from insight_bayes.validation import SavedFileError, check_ids, check_int, read_json_file

__all__ = ["OnlineState"]


class OnlineState:
    """Saving and restoring an online selector (a base of
    :class:`~insight_bayes.integrations.online.OnlineSelector`)."""

    def state_dict(self) -> dict[str, Any]:
        """The full state as plain data (lists, ints, floats, strings; no arrays)."""
        with self._lock:
            belief = self._belief.state_dict()
            return {
                "format_version": ONLINE_FORMAT_VERSION,
                "belief_class": f"{type(self._belief).__module__}."
                f"{type(self._belief).__qualname__}",
                "rule": self.rule.name,
                "rule_params": dataclasses.asdict(self.rule),
                "config": dataclasses.asdict(self.config),
                "seed": self.seed,
                "step": self._step,
                "belief": {
                    "format_version": int(belief["format_version"]),
                    "alpha": belief["alpha"].tolist(),
                    "beta": belief["beta"].tolist(),
                    "alpha0": float(belief["alpha0"]),
                    "beta0": float(belief["beta0"]),
                    "discount": float(belief["discount"]),
                    # a belief subclass's own fields (noise rates, category counts, a
                    # TrackingBelief's clock and fit, a LagBelief's lag), as plain data
                    **{
                        key: _python_scalars(np.asarray(value).tolist())
                        for key, value in belief.items()
                        if key not in _BETA_STATE_KEYS
                    },
                },
                "rng": _python_scalars(self._rng.bit_generator.state),
                "handed_out": self._handed_out.tolist(),
                "pending": [
                    {
                        "batch": number,
                        "ids": batch.ids.tolist(),
                        "scores": batch.scores.tolist(),
                        "rewarded": batch.rewarded.tolist(),
                    }
                    for number, batch in self._batches.items()
                ],
                "stats": dict(self._stats),
            }

    def load_state_dict(
        self,
        state: Mapping[str, Any],
        *,
        replay_pending: bool = True,
        grow_pool: bool = False,
    ) -> None:
        """Restore a state from :meth:`state_dict` (validated in full before anything changes).

        Parameters
        ----------
        state : mapping
            As written by :meth:`state_dict` (also after a JSON or ``torch.save`` trip).
        replay_pending : bool, default True
            Hand out again, before drawing anything new, the batches that were handed
            out but got no reward at all (a trainer's prefetched batch lost at a restart).
        grow_pool : bool, default False
            When the saved pool is smaller than this selector's, keep this selector's
            size: the saved prompts keep their ids and beliefs, and the ones beyond them
            start at the prior (as after
            :meth:`~insight_bayes.integrations.online.OnlineSelector.grow`). Without it a
            pool-size mismatch is refused; a saved pool larger than this selector's always
            is.

        Raises ``ValueError`` if the state is for another rule, rule parameters, seed,
        ``m``, ``k``, reward binarisation or pool size, or is malformed.
        """
        version = int(state.get("format_version", -1))
        if version != ONLINE_FORMAT_VERSION:
            raise ValueError(
                f"online-selector format_version {version} is not supported "
                f"(expected {ONLINE_FORMAT_VERSION})"
            )
        mine = {
            "rule": self.rule.name,
            "rule_params": dataclasses.asdict(self.rule),
            "seed": self.seed,
            **{f"config.{k}": getattr(self.config, k) for k in _STATE_CONFIG_FIELDS},
        }
        saved = {
            "rule": state["rule"],
            "rule_params": dict(state["rule_params"]),
            "seed": int(state["seed"]),
            **{f"config.{k}": state["config"][k] for k in _STATE_CONFIG_FIELDS},
        }
        differ = [k for k in mine if mine[k] != saved[k]]
        if differ:
            detail = ", ".join(f"{k}: saved {saved[k]!r} != {mine[k]!r}" for k in differ)
            raise ValueError(f"state does not belong to this selector ({detail})")
        belief = type(self._belief).from_state_dict(
            {
                **state["belief"],
                "alpha": np.asarray(state["belief"]["alpha"], dtype=np.float64),
                "beta": np.asarray(state["belief"]["beta"], dtype=np.float64),
            }
        )
        n_saved, n = belief.n_prompts, self.pool_size
        if n_saved != n and not (grow_pool and n_saved < n):
            hint = (
                "; pass grow_pool=True to keep this pool and start the prompts beyond the "
                "saved ones at the prior"
                if n_saved < n
                else "; build the selector with the saved pool size"
            )
            raise ValueError(
                f"the state holds a pool of {n_saved} prompts but this selector has {n}{hint}"
            )
        if n_saved < n:
            belief.grow(n - n_saved)
        rng = np.random.default_rng()
        try:
            rng.bit_generator.state = dict(state["rng"])
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(f"saved rng state is not a PCG64 state: {exc}") from exc
        handed_out = np.asarray(state["handed_out"], dtype=np.int64)
        if handed_out.shape != (n_saved,) or np.any(handed_out < 0):
            raise ValueError(
                f"saved handed_out must be {n_saved} non-negative counts, got shape "
                f"{handed_out.shape}"
            )
        handed_out = np.concatenate([handed_out, np.zeros(n - n_saved, dtype=np.int64)])
        step = check_int(int(state["step"]), "step", min_value=0)
        batches: dict[int, _Batch] = {}
        for entry in sorted(state["pending"], key=lambda e: int(e["batch"])):
            number = int(entry["batch"])
            ids = check_ids(np.asarray(entry["ids"], dtype=np.int64), "pending ids", n_saved)
            scores = np.asarray(entry["scores"], dtype=np.float64)
            rewarded = np.asarray(entry["rewarded"], dtype=bool)
            if not (ids.shape == scores.shape == rewarded.shape) or not 0 <= number < step:
                raise ValueError(f"saved pending batch {number} is malformed")
            batches[number] = _Batch(ids=ids, scores=scores, rewarded=rewarded)
        pending_by_id: dict[int, deque[int]] = {}
        pending_count = np.zeros(n, dtype=np.int64)
        for number, batch in batches.items():
            for pid in batch.ids[~batch.rewarded].tolist():
                pending_by_id.setdefault(pid, deque()).append(number)
                pending_count[pid] += 1
        replay = deque(
            number
            for number, batch in batches.items()
            if replay_pending and not batch.rewarded.any()
        )
        stats = _empty_stats()
        stats.update({k: int(v) for k, v in dict(state.get("stats", {})).items() if k in stats})
        with self._lock:
            self._belief.load_state_dict(belief.state_dict())
            self._rng = rng
            self._step = step
            self._batches = batches
            self._pending_by_id = pending_by_id
            self._pending_count = pending_count
            self._handed_out = handed_out
            self._replay = replay
            self._stats = stats

    def save(self, path: str | Path) -> Path:
        """Write :meth:`state_dict` as JSON (no pickle), atomically; returns the path."""
        from insight_bayes.results.io import atomic_write_bytes

        path = Path(path)
        atomic_write_bytes(path, json.dumps(self.state_dict()).encode())
        return path

    @_class_or_instance_method
    def load(
        target: OnlineState | type[OnlineState],
        path: str | Path,
        *,
        replay_pending: bool = True,
        grow_pool: bool = False,
    ) -> OnlineState:
        """Restore from a JSON file written by :meth:`save`; return the selector.

        Called on the class, ``OnlineSelector.load(path)`` builds the selector the file
        describes, whole: its rule with the saved parameters, its :class:`OnlineConfig`,
        seed, belief (of the saved class) and random-number state, so it continues
        exactly where the saved one stopped. Called on a selector,
        ``selector.load(path)`` restores into it after checking that the file belongs to
        it (same rule, parameters, seed, ``m``, ``k``, reward binarisation and pool).

        Parameters
        ----------
        path : str or Path
            The file.
        replay_pending : bool, default True
            See :meth:`load_state_dict`.
        grow_pool : bool, default False
            See :meth:`load_state_dict` (only for a selector built with a larger pool).

        Raises ``FileNotFoundError`` if there is no such file, and
        :class:`~insight_bayes.validation.SavedFileError` (a ``ValueError``) naming the
        file if it is not JSON, is not a selector state, or is one for another rule,
        seed, configuration or pool size (the message of :meth:`load_state_dict`).
        """
        path = Path(path)
        expected = "an OnlineSelector state written by OnlineSelector.save"
        state = read_json_file(path, expected)
        if not isinstance(state, dict):
            raise SavedFileError(
                f"{path} holds a JSON {type(state).__name__}, not an object; expected {expected}"
            )
        if "format_version" not in state:
            raise SavedFileError(
                f"{path} has no format_version field (its fields: {sorted(state)[:8]}); "
                f"expected {expected}"
            )
        try:
            if isinstance(target, type):
                selector = target._from_state(state)
                grow_pool = False
            else:
                selector = target
            selector.load_state_dict(state, replay_pending=replay_pending, grow_pool=grow_pool)
        except (ValueError, KeyError, TypeError) as err:
            message = f"missing field {err}" if isinstance(err, KeyError) else str(err)
            raise SavedFileError(f"{path}: {message}") from None
        return selector

    @classmethod
    def _from_state(cls, state: Mapping[str, Any]) -> OnlineState:
        """A fresh selector with the rule, config, seed, pool and belief class of ``state``."""
        version = int(state.get("format_version", -1))
        if version != ONLINE_FORMAT_VERSION:
            raise ValueError(
                f"online-selector format_version {version} is not supported "
                f"(expected {ONLINE_FORMAT_VERSION})"
            )
        rule = make_selector(str(state["rule"]), **dict(state["rule_params"]))
        config = OnlineConfig(**dict(state["config"]))
        saved_belief = state["belief"]
        n = len(saved_belief["alpha"])
        class_name = state.get("belief_class")
        if class_name is None:  # written before the class was recorded: the rule's own
            belief = rule.new_belief(n)
        else:
            belief_cls = _belief_classes().get(str(class_name))
            if belief_cls is None:
                raise ValueError(
                    f"the state's belief is a {class_name}, which is not imported; import "
                    "the module that defines it first, or build the selector with such a "
                    "belief and call selector.load(path) on it"
                )
            belief = belief_cls.from_state_dict(
                {
                    **saved_belief,
                    "alpha": np.asarray(saved_belief["alpha"], dtype=np.float64),
                    "beta": np.asarray(saved_belief["beta"], dtype=np.float64),
                }
            )
        return cls(belief, rule, config, seed=int(state["seed"]))


def _python_scalars(value: Any) -> Any:
    """Nested dicts of numpy scalars -> Python ints/floats (JSON- and torch.load-safe)."""
    if isinstance(value, Mapping):
        return {str(k): _python_scalars(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value
