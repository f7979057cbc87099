"""The registry of selection rules, and the one label syntax that names a rule.

Every rule is registered by name (:func:`register_selector`) and built by
:func:`make_selector`; a *label* (``"insight:mu=0.1,eta=3"``) is how a rule with its
parameters is written everywhere: the sweep CLI, the harness's TOML and every results
table (:func:`parse_rule_label`, :func:`selector_from_label`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from insight_bayes.selectors.base import Selector

__all__ = [
    "RULE_PRESETS",
    "available_selectors",
    "make_selector",
    "parse_rule_label",
    "register_selector",
    "selector_from_label",
]

_REGISTRY: dict[str, type[Selector]] = {}

#: Named variants, each a label; a label may start with a preset's name and override its
#: parameters (``"dynamic-sampling-mopps:max_rounds=5"``).
RULE_PRESETS: dict[str, str] = {
    # MoPPS's DAPO script: 1 x M prompts per round, up to 10 rounds
    "dynamic-sampling-mopps": "dynamic-sampling:oversample=1,max_rounds=10",
    # MoPPS at its published Countdown setting (bandit_decay_ratio = 0.5, Eq. 6's lambda)
    "mopps-published": "mopps:discount=0.5",
}


def register_selector(name: str) -> Callable[[type[Selector]], type[Selector]]:
    """Class decorator adding a selector to the registry under ``name``."""

    def decorator(cls: type[Selector]) -> type[Selector]:
        if name in _REGISTRY:
            raise ValueError(f"a selector named {name!r} is already registered")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorator


def available_selectors() -> list[str]:
    """Names accepted by :func:`make_selector`, in registration order."""
    return list(_REGISTRY)


def make_selector(name: str, **params: Any) -> Selector:
    """Build the registered rule ``name`` with its parameters (paper defaults otherwise).

    Raises ``ValueError`` for an unknown name (listing the known ones) and
    ``TypeError`` for a parameter the rule does not take (listing the ones it takes).
    """
    try:
        cls = _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown selector {name!r}; available: {', '.join(available_selectors())}"
        ) from None
    allowed = {f.name for f in dataclasses.fields(cls) if not f.name.startswith("_")}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise TypeError(
            f"selector {name!r} takes no parameter(s) {unknown}; its parameters are "
            f"{sorted(allowed) or 'none'}"
        )
    return cls(**params)


def parse_rule_label(label: str) -> tuple[str, dict[str, Any]]:
    """Split a rule label into its registry name and parameters.

    The one label syntax of the package, used by the sweep CLI, the harness's TOML
    ``study.rules`` and every results table: ``"name"`` or
    ``"name:param=value,param=value"`` (e.g. ``"insight:mu=0.1,eta=3"``). Values are
    parsed as int, then float, then kept as strings. ``name`` may be a preset of
    :data:`RULE_PRESETS`, whose parameters the label's own override. A rule's belief
    setting (``discount``) is written the same way (``"mopps:discount=0.5"``).

    Raises ``ValueError`` for an empty label or a parameter without ``=``.
    """
    if not isinstance(label, str) or not label.strip():
        raise ValueError(f"a rule label must be a non-empty string, got {label!r}")
    name, _, params = label.partition(":")
    kwargs: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in params.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"rule parameter {item!r} in {label!r} must look like name=value")
        value = value.strip()
        for cast in (int, float):
            try:
                kwargs[key.strip()] = cast(value)
                break
            except ValueError:
                continue
        else:
            kwargs[key.strip()] = value
    name = name.strip()
    if name in RULE_PRESETS:
        base, preset_params = parse_rule_label(RULE_PRESETS[name])
        return base, {**preset_params, **kwargs}
    return name, kwargs


def selector_from_label(label: str) -> Selector:
    """Build the rule a label names (see :func:`parse_rule_label`).

    >>> selector_from_label("insight:mu=0.1").mu
    0.1
    """
    name, params = parse_rule_label(label)
    return make_selector(name, **params)
