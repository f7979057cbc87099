"""Sphinx configuration of the insight-bayes documentation (``make docs``).

Built with warnings as errors and nitpicky cross-references (``-W -n``): a broken
reference to a name of this package, a missing page or a broken link inside the site
fails the build. Names of other libraries (NumPy, pandas, PyTorch, ...) cannot be
resolved without their inventories (the build runs offline), so they are listed in
``nitpick_ignore_regex``. Notebooks are rendered from the committed, executed copies in
``notebooks/`` (``nb_execution_mode = "off"``); a blank or stale one fails the build.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

from sphinx.util import logging

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "_ext"))

import results_pages  # noqa: E402  (docs/_ext)

import insight_bayes  # noqa: E402

project = "insight-bayes"
author = "insight-bayes contributors"
copyright = "2026, insight-bayes contributors"  # noqa: A001
version = release = insight_bayes.__version__

extensions = [
    "myst_nb",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx_copybutton",
    "matplotlib.sphinxext.plot_directive",
    "results_pages",  # docs/_ext: docs/results/*.md from results/ at build time
]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "README.md"]
templates_path = ["_templates"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"

# -- MyST and notebooks ------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist", "substitution"]
# {{ name }} in a page: a number read from results/ at build time (results_pages.NUMBERS)
myst_substitutions = results_pages.substitutions(ROOT / "results")
myst_heading_anchors = 3
nb_execution_mode = "off"  # the committed notebooks hold the outputs of a full run
nb_merge_streams = True

# -- API reference -----------------------------------------------------------------
autosummary_generate = True
# Each public name is documented on the page of the module that defines it; the
# packages' re-exports (their __all__) are not documented twice.
autosummary_ignore_module_all = True
autosummary_imported_members = False
autodoc_typehints = "none"  # types are in the numpydoc "Parameters" sections
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_mock_imports: list[str] = []
numpydoc_show_class_members = False  # autosummary lists them
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
add_module_names = False
python_use_unqualified_type_names = True

# -- plots made by the package at build time (user guide) --------------------------
plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 150)]
plot_rcparams = {"figure.figsize": (7.0, 2.8), "font.size": 9}

# -- checks ------------------------------------------------------------------------
nitpicky = True
_EXTERNAL = (
    "np|numpy|pd|pandas|xr|xarray|az|arviz|pm|pymc|pt|pytensor|scipy|torch|datasets"
    "|transformers|trl|accelerate|matplotlib|plt|mpl|ray|tqdm|numba|collections|typing"
    "|pathlib|os|argparse|concurrent|dataclasses|enum|io|json|logging|random|threading"
    "|types|abc|packaging|pyarrow|tokenizers|builtins|contextlib|functools|itertools"
    "|fractions|string|math|zipfile|tomllib|hashlib|pickle|shutil|subprocess|sys|time"
)
nitpick_ignore_regex = [
    # private names (a leading underscore in any part) are not documented
    (r"py:.*", r"(.*\.)?_[^.]*(\..*)?"),
    # other libraries and the standard library (no inventories offline)
    (r"py:.*", rf"({_EXTERNAL})(\..*)?"),
    # builtins and typing words in numpydoc type fields and signatures
    (
        r"py:.*",
        r"(int|float|str|bool|bytes|dict|list|tuple|set|frozenset|object|None|type"
        r"|callable|Callable|Any|Sequence|Mapping|Iterable|Iterator|Generator|Literal"
        r"|Path|PathLike|Self|TypeVar|ClassVar|Optional|Union|NoReturn|Exception"
        r"|ValueError|TypeError|KeyError|RuntimeError|ImportError|FileNotFoundError"
        r"|NotImplementedError|UserWarning|Warning|BaseException|ArgumentParser"
        r"|Namespace|ArgumentTypeError|SimpleNamespace|SeedSequence|Generator"
        r"|ndarray|ArrayLike|DataFrame|Series|Dataset|InferenceData|Figure|Axes"
        r"|Sampler|Module|Tensor|TrainerCallback|GRPOTrainer|RLock|Event"
        r"|optional|default|array_like|array-like|shape|of|or|and)",
    ),
]
linkcheck_ignore = [r"https?://.*"]  # external links are not checked offline

# -- maths: MathJax from the local copy of the ``sphinx-mathjax-offline`` package ------
# (the site then renders its equations without a network; without the package the
# default CDN copy is used)
_MATHJAX = importlib.util.find_spec("sphinx-mathjax-offline")
if _MATHJAX is not None:
    mathjax_path = "mathjax/tex-chtml.js"


def _copy_mathjax(app, exc) -> None:
    """Copy the MathJax CHTML bundle and its fonts (1.5 MB of the package's 24 MB)."""
    if exc is not None or _MATHJAX is None or app.builder.format != "html":
        return
    source = Path(next(iter(_MATHJAX.submodule_search_locations))) / "static" / "mathjax"
    target = Path(app.outdir) / "_static" / "mathjax"
    fonts = Path("output") / "chtml" / "fonts" / "woff-v2"
    (target / fonts).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / "tex-chtml.js", target / "tex-chtml.js")
    for font in (source / fonts).glob("*.woff"):
        shutil.copyfile(font, target / fonts / font.name)


# -- HTML ----------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"insight-bayes {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_sidebars = {"index": [], "getting-started": []}

# -- the committed notebooks ------------------------------------------------------------
NOTEBOOK_SOURCE = ROOT / "notebooks"
NOTEBOOK_PAGES = DOCS / "notebooks"


def _notebook_tool():
    spec = importlib.util.spec_from_file_location("notebook_tool", ROOT / "tools" / "notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _copy_notebooks(app) -> None:
    """Copy the committed notebooks into the site; a blank or stale one is a warning
    (an error under -W)."""
    log = logging.getLogger(__name__)
    NOTEBOOK_PAGES.mkdir(exist_ok=True)
    tool = _notebook_tool()
    for path in sorted(NOTEBOOK_SOURCE.glob("*.ipynb")):
        for problem in tool.problems(path):
            log.warning("notebook %s", problem, type="insight_bayes", subtype="notebook")
        target = NOTEBOOK_PAGES / path.name
        if not target.exists() or target.read_bytes() != path.read_bytes():
            shutil.copyfile(path, target)


def _canonical_name(target: str) -> str | None:
    """``module.qualname`` of the object a dotted path names, through re-exports
    (``insight_bayes.BetaBelief`` -> ``insight_bayes.beliefs.beta_belief.BetaBelief``)."""
    import importlib

    parts = target.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
        return f"{module}.{qualname}" if module and qualname else None
    return None


def _resolve_short_names(app, env, node, contnode):
    """Resolve a Python reference that the docstrings write as they read in their own
    module: a short name (``OnlineSelector``, ``report``), a re-export
    (``insight_bayes.BetaBelief``) or an attribute listed in a class's "Attributes"
    section (``Selection.rollouts``, linked to the class). Tried in order: the current
    class and module, the object the dotted path imports, any documented object whose
    full name ends with the target. An ambiguous or unknown name stays unresolved and
    fails the nitpicky build."""
    from sphinx.util.nodes import make_refnode

    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip("~.")
    objects = env.get_domain("py").objects
    module, cls = node.get("py:module"), node.get("py:class")

    def lookup(name: str) -> list[str]:
        scopes = [f"{module}.{cls}" if module and cls else None, module]
        found = [f"{scope}.{name}" for scope in scopes if scope and f"{scope}.{name}" in objects]
        if not found and "." in name:
            canonical = _canonical_name(name)
            found = [canonical] if canonical in objects else []
        if not found:
            found = [full for full in objects if full.endswith(f".{name}")]
        return found

    found = lookup(target)
    if not found and node.get("reftype") in ("attr", "meth") and "." in target:
        found = lookup(target.rsplit(".", 1)[0])  # documented in the class's sections
    if len(found) != 1:
        return None
    entry = objects[found[0]]
    return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id, contnode)


API_PACKAGES = ("insight_bayes", "simulations", "paper_figures", "insight_bayes_cli")


def public_names() -> dict[str, list[str]]:
    """module -> its public names: ``__all__``, or the public classes and functions it
    defines. Every module of :data:`API_PACKAGES` is imported."""
    import importlib
    import inspect
    import pkgutil

    found: dict[str, list[str]] = {}
    for package in API_PACKAGES:
        root = importlib.import_module(package)
        names = [package] + [
            info.name for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}.")
        ]
        for name in names:
            if any(part.startswith("_") for part in name.split(".")[1:]):
                continue
            module = importlib.import_module(name)
            if hasattr(module, "__all__"):
                public = [n for n in module.__all__ if not n.startswith("_")]
            else:
                public = [
                    n
                    for n, obj in vars(module).items()
                    if not n.startswith("_")
                    and (inspect.isclass(obj) or inspect.isfunction(obj))
                    and getattr(obj, "__module__", None) == name
                ]
            found[name] = public
    return found


def _check_every_public_name(app, env) -> None:
    """Warn (an error under -W) about a public name that no page documents."""
    log = logging.getLogger(__name__)
    objects = env.get_domain("py").objects
    for module, names in public_names().items():
        if module not in objects:
            log.warning("API reference: module %s is not documented", module)
        for name in names:
            full = f"{module}.{name}"
            canonical = _canonical_name(full)
            documented = {full, canonical} & set(objects) or any(
                key.endswith(f".{name}") for key in objects
            )
            if not documented:
                log.warning("API reference: %s is not documented", full)


def setup(app):
    app.connect("env-check-consistency", _check_every_public_name)
    app.connect("builder-inited", _copy_notebooks)
    app.connect("missing-reference", _resolve_short_names)
    app.connect("build-finished", _copy_mathjax)
