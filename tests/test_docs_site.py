"""The documentation site's sources: included examples exist with their markers, and the
cross-reference helper of docs/conf.py resolves re-exports. (The site itself is built by
`make docs`, which `make test` runs after the tests, with warnings as errors.)"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
INCLUDE = re.compile(r"```\{literalinclude\} (\S+)\n((?::\S+: .*\n)*)```")


def _includes():
    for page in sorted(DOCS.rglob("*.md")):
        if "_build" in page.parts:
            continue
        for match in INCLUDE.finditer(page.read_text()):
            options = dict(re.findall(r":(\S+): (.*)", match.group(2)))
            yield page, match.group(1), options


@pytest.mark.parametrize(
    "page, target, options",
    list(_includes()),
    ids=lambda v: v.name if isinstance(v, Path) else None,
)
def test_included_examples_exist_with_their_markers(page, target, options):
    source = (page.parent / target).resolve()
    assert source.is_file(), f"{page.name} includes a missing {target}"
    assert source.parent == ROOT / "examples"  # every included snippet is a tested example
    text = source.read_text()
    for key in ("start-after", "end-before", "start-at"):
        if key in options:
            assert options[key].strip('"') in text, f"{target} lacks {options[key]}"


def test_canonical_names_follow_re_exports():
    pytest.importorskip("sphinx")
    spec = importlib.util.spec_from_file_location("docs_conf", DOCS / "conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    assert (
        conf._canonical_name("insight_bayes.BetaBelief")
        == "insight_bayes.beliefs.beta_belief.BetaBelief"
    )
    assert conf._canonical_name("insight_bayes.nosuch") is None
