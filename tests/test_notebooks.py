"""Every notebook executes top to bottom in quick mode (INSIGHT_BAYES_QUICK=1), reading
the committed results and writing nothing under them; the committed copies hold the
outputs of a full run of their current code."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
RESULTS = ROOT / "results"


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``folder`` with its size and modification time."""
    entries = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            st = (Path(root) / name).stat()
            entries[str(Path(root, name).relative_to(folder))] = (st.st_size, st.st_mtime_ns)
    return entries


def _tool():
    """tools/notebooks.py (executes the notebooks in place; checks the committed copies)."""
    spec = importlib.util.spec_from_file_location("notebook_tool", ROOT / "tools" / "notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_notebooks_are_present():
    assert [p.name for p in NOTEBOOKS] == [
        "01_decomposition.ipynb",
        "02_selection_sweeps.ipynb",
        "03_rlvr_harness.ipynb",
        "04_beyond.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_has_outputs_of_its_current_code(path):
    """Blank or stale (code changed since the outputs were made) fails: `make notebooks`."""
    assert _tool().problems(path) == []


def test_staleness_check_sees_blank_and_changed_notebooks(tmp_path):
    tool = _tool()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    assert [p.split(" has ")[1] for p in tool.problems(path)] == [
        "no outputs: run `make notebooks`",
        "no stored code hash: run `make notebooks`",
    ]
    nb.cells[0].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "2"})]
    nb.metadata["insight_bayes"] = {"code_sha256": tool.code_hash(nb)}
    nbformat.write(nb, path)
    assert tool.problems(path) == []
    nb.cells[0].source = "1 + 2"  # code edited, outputs not re-made
    nbformat.write(nb, path)
    assert tool.problems(path) == [
        "n.ipynb is stale: its code changed since its outputs were made (the stored code "
        "hash differs): run `make notebooks`"
    ]
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("prose"))  # prose edits do not count
    nb.metadata["insight_bayes"]["code_sha256"] = tool.code_hash(nb)
    nbformat.write(nb, path)
    assert tool.problems(path) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes(path, monkeypatch, tmp_path):
    monkeypatch.setenv("INSIGHT_BAYES_QUICK", "1")
    monkeypatch.setenv("INSIGHT_BAYES_STATIC", "1")  # figures, not sliders
    monkeypatch.delenv("INSIGHT_BAYES_RESULTS", raising=False)  # the committed results
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(path.parents[1]), os.environ.get("PYTHONPATH", "")])
    )
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    before = _snapshot(RESULTS)
    client.execute()
    assert _snapshot(RESULTS) == before, "a notebook wrote under results/"
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert not errors
