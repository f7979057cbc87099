"""Ctrl-C during a sweep: one line (runs saved, the command that resumes), exit status 130."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from insight_bayes.results import ResultStore

ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    root = str(ROOT)
    return {
        **os.environ,
        "PYTHONPATH": root if not path else f"{root}{os.pathsep}{path}",
        "OMP_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
    }


@pytest.mark.skipif(sys.platform == "win32", reason="process groups and SIGINT are POSIX")
@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_stops_with_one_line_naming_the_saved_runs_and_the_resume_command(tmp_path, workers):
    out = tmp_path / "sweep"
    argv = ["sweep", "quick", "--rules", "random,insight", "--seeds", "100", "--workers",
            workers, "--out", str(out), "--no-progress", "--no-plots"]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "insight_bayes_cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        start_new_session=True,  # its own process group, as a terminal's foreground job
        # a job started in the background (nohup, `&`) inherits SIGINT ignored; a terminal's
        # foreground job does not
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 180  # generous: the first run on a loaded machine
        while not list(out.glob("runs/*/*/seed-*.done.json")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no run finished"
            time.sleep(0.05)  # polling the completion marker, not a timing assertion
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole group
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130
    assert "Traceback" not in stdout + stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    match = re.fullmatch(
        r"insight-bayes sweep: interrupted: (\d+) of 200 runs saved in (.+); "
        r"resume with: (insight-bayes .+)",
        lines[0],
    )
    assert match, lines[0]
    saved = int(match[1])
    assert saved >= 1 and saved == len(ResultStore(out).completed())
    assert Path(match[2]) == out
    assert shlex.split(match[3]) == ["insight-bayes", *argv]
