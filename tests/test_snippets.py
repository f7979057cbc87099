"""Every Python block of the README and the documentation runs as a script, as a user
would save and run it, and prints readable tables.

Each ```` ```python ```` block of ``README.md``, ``docs/*.md`` and ``docs/guide/*.md``
is written to a file and run in a fresh interpreter from a folder whose ``results/``
holds the committed result folders (linked) and an empty ``scratch/``, so a snippet
that writes ``results/scratch/...`` never touches the repository. A block must be a
whole program: no name from another block, no unused name (``ruff`` rules F), and a
``__main__`` guard where it starts worker processes. Printed tables must not be cut
by pandas (no ``...`` column).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
         *sorted((ROOT / "docs" / "guide").glob("*.md"))]  # fmt: skip
BLOCK = re.compile(r"^```python\n(.*?)^```", flags=re.S | re.M)


def _blocks() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for number, match in enumerate(BLOCK.finditer(page.read_text()), start=1):
            found.append((f"{page.relative_to(ROOT)}#{number}", match.group(1)))
    return found


BLOCKS = _blocks()


def test_the_pages_have_python_blocks():
    names = {name.split("#")[0] for name, _ in BLOCKS}
    assert {"README.md", "docs/guide/sweeps.md", "docs/guide/results.md"} <= names


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A working folder whose ``results/`` links the committed folders."""
    work = tmp_path_factory.mktemp("snippets")
    results = work / "results"
    (results / "scratch").mkdir(parents=True)
    for folder in (ROOT / "results").iterdir():
        if folder.is_dir() and folder.name != "scratch":
            (results / folder.name).symlink_to(folder, target_is_directory=True)
    return work


@pytest.mark.parametrize("source", [b for _, b in BLOCKS], ids=[n for n, _ in BLOCKS])
def test_block_is_a_whole_program(source, tmp_path):
    script = tmp_path / "snippet.py"
    script.write_text(source)
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--select", "F", "--isolated",
         str(script)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert lint.returncode == 0, lint.stdout


@pytest.mark.slow
@pytest.mark.parametrize("source", [b for _, b in BLOCKS], ids=[n for n, _ in BLOCKS])
def test_block_runs_as_a_script(source, workdir, tmp_path):
    script = tmp_path / "snippet.py"
    script.write_text(source)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    run = subprocess.run(
        [sys.executable, str(script)],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    assert run.stdout.strip(), "a snippet shows its result"
    cut = [line for line in run.stdout.splitlines() if re.search(r"\s\.\.\.(\s|$)", line)]
    assert not cut, f"pandas cut a table: {cut[:3]}"
