"""Layers: the library never imports the simulator, the figures or the command above them."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "insight_bayes"
#: Packages above the library: it never imports them, by name or through importlib.
ABOVE = ("simulations", "paper_figures", "insight_bayes_cli")
MODULE_NAME = re.compile(rf"^(?:{'|'.join(ABOVE)})(?:\.\w+)*$")


def upward_references(source: str) -> list[tuple[int, str]]:
    """``(line, text)`` of every import of, or module name naming, a package in ``ABOVE``.

    Imports anywhere (module level, inside functions, under ``TYPE_CHECKING``) and every
    string that is a whole module name (what ``importlib.import_module`` would be given,
    directly or through a table); prose that mentions a module does not count.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value]
        else:
            continue
        found += [(node.lineno, name) for name in names if MODULE_NAME.match(name)]
    return found


def test_the_check_finds_every_form_of_upward_import():
    source = (
        "import simulations.sweep\n"
        "def f():\n    from paper_figures import registry\n"
        "import importlib\nimportlib.import_module('simulations.sweep_cli')\n"
        "TABLE = {'figures': ('paper_figures.__main__', 'help')}\n"
        "FOLDERS = ('insight_bayes', 'simulations')\n"
        "'''Prose naming :mod:`simulations.scenarios` is fine.'''\n"
        "HELP = 'a ceiling for simulations only'\n"
        "import insight_bayes.cli\n"
    )
    assert sorted(line for line, _ in upward_references(source)) == [1, 3, 5, 6, 7]


def test_no_library_module_names_a_layer_above_it():
    found = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in sorted(LIBRARY.rglob("*.py"))
        for line, name in upward_references(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_importing_every_library_module_loads_nothing_above_it():
    """In a fresh interpreter: import each module of the package, then look at sys.modules."""
    code = (
        "import importlib, pkgutil, sys\n"
        "import insight_bayes\n"
        "for info in pkgutil.walk_packages(insight_bayes.__path__, 'insight_bayes.'):\n"
        "    importlib.import_module(info.name)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {ABOVE!r}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
