"""The examples in docstrings and in the README run and say what they claim."""

from __future__ import annotations

import doctest
import importlib
import re
from pathlib import Path

import pytest

CORE_MODULES = [
    "insight_bayes.beta",
    "insight_bayes.acquisition",
    "insight_bayes.beliefs.beta_belief",
    "insight_bayes.selectors",
    "insight_bayes.loop",
    "insight_bayes.cli_types",
]


@pytest.mark.parametrize("name", CORE_MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(
        importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 0 and result.failed == 0


def test_readme_python_example_runs():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert blocks, "README has a Python example"
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)  # noqa: S102
    belief = namespace["belief"]
    assert belief.evidence.sum() == 2_000 * 2 + 64 * 8
