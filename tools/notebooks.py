"""Execute the notebooks in place with their outputs, and check the committed copies.

The notebooks are committed *with* the outputs of a full run (``INSIGHT_BAYES_QUICK``
unset: the committed results under ``results/`` are read), so they read on a code host
and the documentation renders them without executing anything. Each executed notebook
carries, in its metadata, the SHA-256 of its code cells (``insight_bayes.code_sha256``):
a notebook whose code changed since its outputs were made is *stale*.

    python tools/notebooks.py execute              # every notebook, full mode (make notebooks)
    python tools/notebooks.py execute notebooks/01_decomposition.ipynb
    python tools/notebooks.py check                # exit 1 if a notebook is blank or stale

Figures are stored as PNG at ``--dpi`` (150 by default, whatever the notebook's own
``figure.dpi``), through the kernel's ``InlineBackend.print_figure_kwargs``, then
re-encoded with a 256-colour palette when that is smaller (plots have few colours; a
trace plot drops from 320 kB to 73 kB).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
METADATA_KEY = "insight_bayes"
DEFAULT_DPI = 150
#: Outputs larger than this (bytes of one output's data) are refused by :func:`problems`.
MAX_OUTPUT_BYTES = 400_000


def notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def code_hash(nb) -> str:
    """SHA-256 of the notebook's code cells (their sources, in order)."""
    sources = [cell.source for cell in nb.cells if cell.cell_type == "code"]
    return hashlib.sha256(json.dumps(sources).encode()).hexdigest()


def problems(path: Path) -> list[str]:
    """Why the committed notebook ``path`` is not fit to publish (empty when it is)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    found = []
    if not any(cell.get("outputs") for cell in code):
        found.append(f"{path.name} has no outputs: run `make notebooks`")
    stored = nb.metadata.get(METADATA_KEY, {}).get("code_sha256")
    if stored is None:
        found.append(f"{path.name} has no stored code hash: run `make notebooks`")
    elif stored != code_hash(nb):
        found.append(
            f"{path.name} is stale: its code changed since its outputs were made "
            "(the stored code hash differs): run `make notebooks`"
        )
    for i, cell in enumerate(code):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append(f"{path.name}: code cell {i} stored an error ({out.get('ename')})")
            size = len(json.dumps(out.get("data", {})))
            if size > MAX_OUTPUT_BYTES:
                found.append(f"{path.name}: code cell {i} has an output of {size:,} bytes")
    return found


def _kernel_config_dir(dpi: int) -> str:
    """An IPYTHONDIR whose kernel stores inline figures as PNG at ``dpi``."""
    folder = Path(tempfile.mkdtemp(prefix="ipython-"))
    profile = folder / "profile_default"
    profile.mkdir()
    # tqdm.auto's "IProgress not found" warning (no ipywidgets) would be stored as output
    quiet = "import warnings as _w; _w.filterwarnings('ignore', message='IProgress not found')"
    (profile / "ipython_kernel_config.py").write_text(
        'c.InlineBackend.figure_formats = {"png"}\n'
        f'c.InlineBackend.print_figure_kwargs = {{"bbox_inches": "tight", "dpi": {dpi}}}\n'
        f"c.InteractiveShellApp.exec_lines = [{quiet!r}]\n"
    )
    return str(folder)


def shrink_pngs(nb) -> int:
    """Re-encode every PNG output with a 256-colour palette where that is smaller.

    Returns the bytes saved (of the base64 text). Needs Pillow (a Matplotlib dependency).
    """
    import base64
    import io

    from PIL import Image

    saved = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "image/png" not in data:
                continue
            raw = base64.b64decode(data["image/png"])
            image = Image.open(io.BytesIO(raw)).convert("RGBA")
            buffer = io.BytesIO()
            image.quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(
                buffer, format="PNG", optimize=True
            )
            if buffer.tell() < len(raw):
                text = base64.b64encode(buffer.getvalue()).decode("ascii")
                saved += len(data["image/png"]) - len(text)
                data["image/png"] = text
    return saved


def execute(path: Path, *, dpi: int = DEFAULT_DPI, timeout: int = 1800) -> float:
    """Run ``path`` top to bottom in full mode and write it back with its outputs.

    Returns the seconds it took. The code hash and the run's details go into the
    notebook's metadata; cell timings are not recorded (they would churn every diff).
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env = {k: v for k, v in os.environ.items() if k != "INSIGHT_BAYES_QUICK"}
    env.update(
        IPYTHONDIR=_kernel_config_dir(dpi),
        MPLBACKEND="module://matplotlib_inline.backend_inline",
        INSIGHT_BAYES_STATIC="1",  # the committed copy shows figures, not sliders
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    started = time.perf_counter()
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute(env=env)  # the kernel's environment
    seconds = time.perf_counter() - started
    shrink_pngs(nb)
    nb.metadata[METADATA_KEY] = {
        "code_sha256": code_hash(nb),
        "executed": {"mode": "full", "seconds": round(seconds, 1), "png_dpi": dpi},
    }
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/notebooks.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("execute", help="execute notebooks in place (full mode)")
    run.add_argument("paths", nargs="*", type=Path, help="default: every notebook")
    run.add_argument("--dpi", type=int, default=DEFAULT_DPI, help="PNG resolution")
    sub.add_parser("check", help="exit 1 if a committed notebook is blank or stale")
    args = parser.parse_args(argv)
    if args.command == "execute":
        for path in args.paths or notebook_paths():
            seconds = execute(path.resolve(), dpi=args.dpi)
            print(f"{path.name}: executed in {seconds:.0f} s ({path.stat().st_size:,} bytes)")
        return 0
    found = [p for path in notebook_paths() for p in problems(path)]
    print("\n".join(found) or f"{len(notebook_paths())} notebooks executed and up to date")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
