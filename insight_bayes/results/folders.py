"""Whether a results folder may receive the runs of a configuration (sweeps and studies).

A folder holds the runs of one configuration (a sweep's scenarios, rules and seeds; a
study's config digest, rules and seeds), recorded in its ``manifest.json``. Before a
command writes anything, :func:`claim_folder` compares that record with what the
command is about to run:

* the same configuration: the command resumes (only missing runs are made);
* another one: refused with one line naming the folder, what differs and what to do,
  unless the caller asks to ``extend`` the folder (add rules, seeds or scenarios; never
  two configurations under one key) or to ``overwrite`` it (its results are deleted
  first by :func:`clear_folder`);
* a folder that is not empty but holds no manifest is refused the same way.

>>> import tempfile
>>> folder = tempfile.mkdtemp()
>>> claim_folder(folder, {"kind": "sweep", "rules": ["random"]}, lambda m: m)  # empty: fine
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["FolderInUse", "claim_folder", "clear_folder", "describe_differences"]

#: Top-level files of a results folder that :func:`clear_folder` deletes (with ``runs/``).
RESULT_SUFFIXES = (".parquet", ".csv", ".png", ".pdf")


class FolderInUse(ValueError):
    """A results folder holds the results of another configuration."""


def _short(values: list[Any], limit: int = 4) -> str:
    text = ", ".join(str(v) for v in values[:limit])
    return f"{text}, ..." if len(values) > limit else text


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def _describe(name: str, saved: Any, wanted: Any) -> str:
    if isinstance(saved, list) and isinstance(wanted, list):
        return (
            f"{name}: the folder has {len(saved)} ({_short(saved)}), "
            f"this command {len(wanted)} ({_short(wanted)})"
        )
    if isinstance(saved, Mapping) and isinstance(wanted, Mapping):
        if set(saved) != set(wanted):
            return (
                f"{name}: the folder has {_short(sorted(saved))}, "
                f"this command {_short(sorted(wanted))}"
            )
        flat_saved, flat_wanted = _flatten(saved), _flatten(wanted)
        keys = sorted(k for k in set(flat_saved) | set(flat_wanted)
                      if flat_saved.get(k) != flat_wanted.get(k))  # fmt: skip
        shown = ", ".join(f"{k} {flat_saved.get(k)!r} -> {flat_wanted.get(k)!r}" for k in keys[:3])
        more = f" and {len(keys) - 3} more" if len(keys) > 3 else ""
        return f"{name} differ: {shown}{more}"
    return f"{name}: the folder has {saved!r}, this command {wanted!r}"


def describe_differences(
    saved: Mapping[str, Any],
    wanted: Mapping[str, Any],
    *,
    extend: bool = False,
    extendable: Iterable[str] = (),
) -> tuple[list[str], bool]:
    """What differs between a folder's configuration and a command's, one phrase each.

    Returns ``(phrases, only_extendable)``. Lists are compared as sets. With ``extend``
    the keys in ``extendable`` may differ: a list may gain or lose items, and a mapping
    (a sweep's scenarios by key) must agree on the keys both hold.
    """
    extendable = set(extendable)
    phrases: list[str] = []
    only_extendable = True
    for key, want in wanted.items():
        have = saved.get(key)
        if isinstance(want, list) and isinstance(have, list):
            same = sorted(map(str, have)) == sorted(map(str, want))
        else:
            same = have == want
        if same:
            continue
        if key in extendable:
            if isinstance(want, Mapping) and isinstance(have, Mapping):
                shared = set(have) & set(want)
                changed = {k for k in shared if have[k] != want[k]}
                if changed:
                    only_extendable = False
                    phrases.append(
                        _describe(
                            f"{key} {_short(sorted(changed))}",
                            {k: have[k] for k in changed},
                            {k: want[k] for k in changed},
                        )
                    )
                    continue
            if extend:
                continue
            phrases.append(_describe(key, have, want))
            continue
        only_extendable = False
        phrases.append(_describe(key, have, want))
    return phrases, only_extendable


def clear_folder(root: str | os.PathLike[str]) -> int:
    """Delete a results folder's results: ``runs/``, ``manifest.json`` and its top-level
    tables and pictures (:data:`RESULT_SUFFIXES`), and the same in each subfolder that
    holds a ``manifest.json`` (a multi-draw study's draws); other files stay. Returns
    how many entries were deleted."""
    root = Path(root)
    removed = 0
    if (root / "runs").is_dir():
        shutil.rmtree(root / "runs")
        removed += 1
    for path in sorted(root.iterdir()) if root.is_dir() else ():
        if path.is_dir() and (path / "manifest.json").is_file():
            removed += clear_folder(path)
        elif path.is_file() and (path.name == "manifest.json" or path.suffix in RESULT_SUFFIXES):
            path.unlink()
            removed += 1
    return removed


def claim_folder(
    root: str | os.PathLike[str],
    wanted: Mapping[str, Any],
    identity: Callable[[Mapping[str, Any]], Mapping[str, Any]],
    *,
    overwrite: bool = False,
    extend: bool = False,
    extendable: Iterable[str] = (),
    resume_hint: str = "re-run the command that made it",
) -> None:
    """Make sure ``root`` may receive the runs of the configuration ``wanted``.

    Parameters
    ----------
    root : path
        The results folder (it need not exist).
    wanted : mapping
        The command's configuration, as ``identity`` reads it from a manifest.
    identity : callable
        ``identity(manifest) -> mapping`` with the keys of ``wanted``.
    overwrite : bool
        Delete the folder's results (:func:`clear_folder`) when they belong to another
        configuration, instead of refusing.
    extend : bool
        Accept differences in the keys of ``extendable`` (see
        :func:`describe_differences`).
    extendable : iterable of str
        Keys that ``extend`` may change.
    resume_hint : str
        What resumes the folder's own configuration, for the message.

    Raises
    ------
    FolderInUse
        One line: the folder, what differs, and the flags that would proceed.
    """
    root = Path(root)
    if not root.is_dir() or not any(root.iterdir()):
        return
    manifest_path = root / "manifest.json"
    only_extendable = False
    try:
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else None
    except ValueError:
        manifest = None
    if isinstance(manifest, dict):
        differ, only_extendable = describe_differences(
            identity(manifest), wanted, extend=extend, extendable=extendable
        )
    elif manifest_path.exists():
        differ = ["its manifest.json is unreadable"]
    elif (root / "runs").exists():
        differ = ["it holds runs but no manifest.json"]
    else:
        differ = ["it is not empty and holds no manifest.json"]
    if not differ:
        return
    if overwrite:
        clear_folder(root)
        return
    flags = "add --extend to add these runs to it, " if only_extendable else ""
    raise FolderInUse(
        f"{root} holds results of another configuration ({'; '.join(differ)}); to resume "
        f"it, {resume_hint}; {flags}add --overwrite to delete its results and start "
        "again, or choose another --out"
    )
