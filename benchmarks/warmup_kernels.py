"""The warm-up and the pool gate of one study config under different CPU kernel sets.

    PYTHONPATH=. python benchmarks/warmup_kernels.py --kernels native,avx2 \\
        --recorded results/rlvr-cpu-tiered --out benchmarks/results/warmup_kernels.csv

Each kernel set trains the config's warm-up from its seed in a fresh process (a fresh
cache) with PyTorch, MKL and oneDNN limited to those instructions (``native``: whatever
the machine has), then measures the pool gate exactly as ``rlvr-study`` does (same
generator seed). Float sums are ordered differently by different vector widths, 250
AdamW steps amplify the differences, and the warm-up, hence the pool gate and every run
after it, is a different draw: this table says how different. ``--recorded FOLDER`` adds
the warm-up and gate a committed study recorded on the machine it ran on; ``--keep-cache
DIR`` (one kernel set) keeps the trained warm-up there, for ``rlvr-study --cache-dir DIR``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

_CHILD = """
import json, sys
import numpy as np, torch
from insight_bayes.rlvr.config import load_config
from insight_bayes.rlvr.gate import gate_pool
from insight_bayes.rlvr.harness import Harness
from insight_bayes.rlvr.machine import device_name
torch.set_num_threads(1)
config = load_config(sys.argv[1])
harness = Harness(config, "cpu", sys.argv[2])
report = gate_pool(harness.environment(), config.loop.k, config.gate, np.random.default_rng(54321))
print(json.dumps({
    "device": device_name("cpu"), "warmup_loss": harness.warmup_info["loss"],
    "warmup_sha256": harness.warmup_info["sha256"][:16],
    "uninformative_share": report.uninformative_share, "mid_range": report.mid_range,
    "gate_passed": report.passed,
}))
"""

_LIMITS = {  # what each library reads to cap its instruction set
    "avx2": {
        "ATEN_CPU_CAPABILITY": "avx2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
    },
    "native": {},
}


def measure(config: str, kernels: str, keep: Path | None = None) -> dict:
    """Warm-up loss and pool gate of ``config`` in a fresh process under ``kernels``
    (the warm-up trained into ``keep`` when given, else into a temporary folder)."""
    if kernels not in _LIMITS:
        raise SystemExit(f"--kernels: each must be one of {sorted(_LIMITS)}, got {kernels!r}")
    if keep is not None and any(keep.glob("warmup/*/model.pt")):
        raise SystemExit(f"--keep-cache {keep} already holds a warm-up; give an empty folder")
    with tempfile.TemporaryDirectory() as temporary:
        cache = str(keep) if keep is not None else temporary
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, config, cache],
            env=os.environ | _LIMITS[kernels],
            capture_output=True,
            text=True,
            check=True,
        )
    return {"config": config, "kernels": kernels} | json.loads(out.stdout.splitlines()[-1])


def recorded(folder: Path) -> dict:
    """The warm-up loss and pool gate that the study in ``folder`` recorded."""
    manifest = json.loads((folder / "manifest.json").read_text())
    gate = manifest["gate"]
    return {
        "config": str(folder),
        "kernels": "recorded",
        "device": manifest["device_name"],
        "warmup_loss": manifest["warmup"]["loss"],
        "warmup_sha256": str(manifest["warmup"].get("sha256", ""))[:16],
        "uninformative_share": gate["uninformative_share"],
        "mid_range": gate["mid_range"],
        "gate_passed": gate["passed"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/rlvr/cpu-tiered.toml")
    parser.add_argument("--kernels", default="native,avx2")
    parser.add_argument("--recorded", type=Path, default=None, help="a committed study folder")
    parser.add_argument("--keep-cache", type=Path, default=None, help="keep the warm-up here")
    parser.add_argument("--out", default=None, help="CSV of the table (and a .md beside it)")
    args = parser.parse_args()
    kernels = args.kernels.split(",")
    if args.keep_cache is not None and len(kernels) != 1:
        raise SystemExit("--keep-cache needs exactly one kernel set in --kernels")
    rows = [recorded(args.recorded)] if args.recorded else []
    table = pd.DataFrame(rows + [measure(args.config, k, args.keep_cache) for k in kernels])
    print(table.to_string(index=False))
    if args.out:
        table.to_csv(args.out, index=False)
        Path(args.out).with_suffix(".md").write_text(table.round(4).to_markdown(index=False) + "\n")


if __name__ == "__main__":
    main()
