"""torch (and pandas) stay out of the core: only the harness imports them, when used."""

from __future__ import annotations

import subprocess
import sys


def test_core_and_cli_parser_do_not_import_torch():
    code = (
        "import sys, insight_bayes\n"
        "from insight_bayes_cli import build_parser\n"
        "build_parser()\n"
        "import insight_bayes.rlvr.tasks\n"
        "bad = [m for m in ('torch', 'pandas', 'transformers') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
