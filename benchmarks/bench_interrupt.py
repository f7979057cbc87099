"""How fast Ctrl-C stops a sweep: seconds from SIGINT to exit, with 1 and 2 workers.

    python benchmarks/bench_interrupt.py

A sweep of 200 quick runs is started in its own process group (as a terminal's
foreground job), SIGINT is sent to the group once the first run has finished, and the
time to exit, the exit status (130) and the one line it prints are reported. The goal:
within 2 s. (The tests check the line and the status; timings live here.)
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def stop_seconds(workers: int, out: Path) -> tuple[float, int, str]:
    """Seconds from SIGINT to exit, the exit status and the last line of stderr."""
    shutil.rmtree(out, ignore_errors=True)
    argv = ["sweep", "quick", "--rules", "random,insight", "--seeds", "100", "--workers",
            str(workers), "--out", str(out), "--no-progress", "--no-plots"]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "insight_bayes_cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    while not list(out.glob("runs/*/*/seed-*.done.json")):
        if proc.poll() is not None:
            raise RuntimeError(f"the sweep ended before any run finished: {proc.communicate()}")
        time.sleep(0.05)  # polling the completion marker
    started = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    lines = err.strip().splitlines()
    return time.monotonic() - started, proc.returncode, lines[-1] if lines else ""


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            seconds, status, line = stop_seconds(workers, Path(tmp) / "sweep")
            print(f"workers {workers}: stopped in {seconds:.2f} s, exit status {status}")
            print(f"  {line}")


if __name__ == "__main__":
    main()
