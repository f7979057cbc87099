"""The pictures of a results folder, drawn by the layer that registered a plotter.

The library draws nothing: ``matplotlib`` lives with the figures. A layer above it (the
command table of ``insight-bayes``) registers the function that draws a folder, by its
``"module:function"`` name, and the sweep and study commands call :func:`draw_folder`
once their tables are written. Nothing is imported until a folder is drawn, and with no
plotter registered (the library used alone) :func:`draw_folder` draws nothing.

A plotter is ``plotter(folder, out=None) -> list[Path]``: it reads the folder through
:func:`insight_bayes.results.load_results` and returns the files it wrote.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

__all__ = ["draw_folder", "folder_plotters", "register_folder_plotter"]

_PLOTTERS: list[str] = []


def register_folder_plotter(spec: str) -> None:
    """Register ``"module:function"`` as a plotter of results folders (once per name)."""
    module, sep, function = spec.partition(":")
    if not sep or not module or not function:
        raise ValueError(f"a plotter is named 'module:function', got {spec!r}")
    if spec not in _PLOTTERS:
        _PLOTTERS.append(spec)


def folder_plotters() -> list[str]:
    """The registered plotters, in registration order."""
    return list(_PLOTTERS)


def draw_folder(
    folder: str | os.PathLike[str], out: str | os.PathLike[str] | None = None
) -> list[Path]:
    """Draw ``folder`` with every registered plotter; return the files written.

    ``out`` is the folder the pictures go to (default: ``folder`` itself).
    """
    written: list[Path] = []
    for spec in _PLOTTERS:
        module, _, function = spec.partition(":")
        plotter = getattr(importlib.import_module(module), function)
        written.extend(Path(p) for p in plotter(folder, out))
    return written
