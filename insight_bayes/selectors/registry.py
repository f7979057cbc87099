"""The registry of selection rules, and the one label syntax that names a rule.

Every rule is registered by name (:func:`register_selector`) and built by
:func:`make_selector`; a *label* (``"insight:mu=0.1,eta=3"``) is how a rule with its
parameters is written everywhere: the sweep CLI, the harness's TOML and every results
table (:func:`parse_rule_label`, :func:`selector_from_label`).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable
from typing import Any

from insight_bayes.selectors.base import Selector

__all__ = [
    "RULE_PRESETS",
    "available_selectors",
    "canonical_rule_label",
    "canonical_rule_name",
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


def canonical_rule_name(name: str) -> str:
    """The registered spelling of a rule or preset name, written any way a person might.

    Case, spaces and underscores do not matter: the paper's ``"InSight"``, ``"MoPPS"``
    or ``"Dynamic Sampling"`` name ``"insight"``, ``"mopps"`` and
    ``"dynamic-sampling"``. Raises ``ValueError`` for an unknown name, suggesting the
    closest known ones (``difflib.get_close_matches``) and listing them all.

    >>> canonical_rule_name("InSight"), canonical_rule_name("dynamic_sampling")
    ('insight', 'dynamic-sampling')
    """
    if not isinstance(name, str):
        raise TypeError(f"a rule name must be a string, got {type(name).__name__}")
    known = [*_REGISTRY, *RULE_PRESETS]
    if name in known:
        return name
    key = "-".join(name.strip().lower().replace("_", " ").split())
    if key in known:
        return key
    close = difflib.get_close_matches(key, known, n=3, cutoff=0.75)
    hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
    raise ValueError(f"unknown selector {name!r}{hint}; available: {', '.join(known)}")


def make_selector(name: str, **params: Any) -> Selector:
    """Build the registered rule ``name`` with its parameters (paper defaults otherwise).

    ``name`` is read by :func:`canonical_rule_name` (``"InSight"`` is ``"insight"``).
    Raises ``ValueError`` for an unknown name (suggesting the closest, listing the
    known ones) and ``TypeError`` for a parameter the rule does not take (listing the
    ones it takes).
    """
    name = canonical_rule_name(name)
    if name not in _REGISTRY:  # a preset: its parameters, overridden by the given ones
        base, preset_params = parse_rule_label(RULE_PRESETS[name])
        return make_selector(base, **{**preset_params, **params})
    cls = _REGISTRY[name]
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

    The name may be written in any case, with spaces or underscores for hyphens
    (:func:`canonical_rule_name`: ``"InSight:mu=0.1"`` is ``"insight:mu=0.1"``).

    Raises ``ValueError`` for an empty label, an unknown name (with the closest known
    ones) or a parameter without ``=``.
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
    name = canonical_rule_name(name.strip())
    if name in RULE_PRESETS:
        base, preset_params = parse_rule_label(RULE_PRESETS[name])
        return base, {**preset_params, **kwargs}
    return name, kwargs


def canonical_rule_label(label: str) -> str:
    """A label with its rule name in the registered spelling, parameters as written.

    >>> canonical_rule_label("InSight:mu=0.1")
    'insight:mu=0.1'
    """
    name, sep, params = label.partition(":")
    parse_rule_label(label)  # refuses a bad name or parameter syntax
    return f"{canonical_rule_name(name.strip())}{sep}{params.strip()}"


def selector_from_label(label: str) -> Selector:
    """Build the rule a label names (see :func:`parse_rule_label`).

    >>> selector_from_label("insight:mu=0.1").mu
    0.1
    """
    name, params = parse_rule_label(label)
    return make_selector(name, **params)
