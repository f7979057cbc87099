"""Every notebook executes top to bottom in quick mode (INSIGHT_BAYES_QUICK=1), reading
the committed results and writing nothing under them."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))
RESULTS = Path(__file__).parents[1] / "results"


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``folder`` with its size and modification time."""
    entries = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            st = (Path(root) / name).stat()
            entries[str(Path(root, name).relative_to(folder))] = (st.st_size, st.st_mtime_ns)
    return entries


def test_notebooks_are_present_and_stored_without_outputs():
    assert [p.name for p in NOTEBOOKS] == [
        "01_decomposition.ipynb",
        "02_selection_sweeps.ipynb",
        "03_rlvr_harness.ipynb",
    ]
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes(path, monkeypatch, tmp_path):
    monkeypatch.setenv("INSIGHT_BAYES_QUICK", "1")
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
