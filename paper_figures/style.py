"""One matplotlib style for every figure: colour-blind-safe and readable in black and white.

Each rule has a fixed colour (Okabe-Ito palette), marker and line style, so it can be
told apart in colour, in greyscale and in print. Figures are written as PDF and PNG with
their caption (which names the command and configuration that made them) beside them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import matplotlib.pyplot as plt

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#999999",
}

#: Paul Tol's muted palette (colour-blind safe), for the rules beyond the paper's.
TOL_MUTED = {
    "indigo": "#332288",
    "cyan": "#88CCEE",
    "teal": "#44AA99",
    "green": "#117733",
    "olive": "#999933",
    "rose": "#CC6677",
    "wine": "#882255",
    "purple": "#AA4499",
}

#: rule -> (colour, marker, line style). InSight is the solid black line.
RULE_STYLE: dict[str, tuple[str, str, str]] = {
    "insight": (OKABE_ITO["black"], "o", "-"),
    "random": (OKABE_ITO["orange"], "s", "--"),
    "mopps": (OKABE_ITO["sky"], "^", "-."),
    "expected-difficulty": (OKABE_ITO["blue"], "v", "-"),
    "inverse-evidence": (OKABE_ITO["yellow"], "D", ":"),
    "mi": (OKABE_ITO["green"], "P", "--"),
    "weight": (OKABE_ITO["purple"], "X", "-."),
    "dynamic-sampling": (OKABE_ITO["vermillion"], "*", (0, (5, 1))),
    "oracle": (OKABE_ITO["grey"], "", (0, (1, 1))),
    # variants of the paper's rules: their own colour, or the base rule's with a dotted line
    "insight-sampled": (TOL_MUTED["indigo"], "o", ":"),
    "mopps-published": (TOL_MUTED["olive"], "^", ":"),
    "dynamic-sampling-mopps": (OKABE_ITO["vermillion"], "*", (0, (2, 2))),
    "oracle-score:rule=insight": (TOL_MUTED["wine"], "o", "--"),
    # beyond InSight (no two colours alike among the rules that share a figure)
    "insight-tracking": (TOL_MUTED["indigo"], "<", "-"),
    "mopps-tracking": (TOL_MUTED["wine"], ">", "-."),
    "learning-signal": (TOL_MUTED["cyan"], "h", "--"),
    "expected-std": (TOL_MUTED["olive"], "p", ":"),
    "signal-information": (TOL_MUTED["rose"], "d", "-"),
    "insight-adaptive": (TOL_MUTED["teal"], "H", "--"),
    "insight-noisy": (TOL_MUTED["green"], "8", "-."),
    "insight-graded": (TOL_MUTED["purple"], "*", ":"),
}

#: Sequential colours for families of curves (K values, mu values): dark to light.
SEQUENTIAL = ["#000000", "#0072B2", "#009E73", "#E69F00", "#CC79A7", "#56B4E9"]
LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1))]

RC = {
    "figure.dpi": 110,
    "savefig.dpi": 200,
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 7.5,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "lines.linewidth": 1.5,
    "lines.markersize": 4,
    "legend.frameon": False,
    "pdf.fonttype": 42,
}


#: Parameter names as the paper writes them (matplotlib mathtext), for labels and titles.
GREEK = {"mu": r"$\mu$", "eta": r"$\eta$", "lambda": r"$\lambda$", "M_hat": r"$\hat{M}$"}


def greek(text: str) -> str:
    r"""``text`` with parameter names spelled as symbols (:data:`GREEK`).

    >>> print(greek("Belief discount lambda, M_hat = 8 M"))
    Belief discount $\lambda$, $\hat{M}$ = 8 M
    """
    for name, symbol in GREEK.items():
        pattern = rf"(?<![A-Za-z_$\\]){re.escape(name)}(?![A-Za-z_])"
        text = re.sub(pattern, lambda _match, symbol=symbol: symbol, text)
    return text


def apply_style() -> None:
    """Set the package's rcParams (idempotent)."""
    plt.rcParams.update(RC)


def rule_style(rule: str) -> dict:
    """Keyword arguments for ``ax.plot`` that identify ``rule`` in colour and in greyscale."""
    colour, marker, linestyle = RULE_STYLE.get(rule, (OKABE_ITO["grey"], ".", "-"))
    return {"color": colour, "marker": marker, "linestyle": linestyle, "label": rule}


def save_figure(fig: plt.Figure, out_dir: Path, name: str, caption: str) -> list[Path]:
    """Write ``name.pdf``, ``name.png`` and ``name.caption.txt`` into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("pdf", "png"):
        path = out_dir / f"{name}.{ext}"
        fig.savefig(path, bbox_inches="tight", metadata={"Title": name} if ext == "pdf" else None)
        paths.append(path)
    caption_path = out_dir / f"{name}.caption.txt"
    caption_path.write_text(caption.strip() + "\n")
    paths.append(caption_path)
    plt.close(fig)
    return paths


def ordered_rules(rules: Iterable[str]) -> list[str]:
    """Rules in the figure order: InSight first, then the baselines, then the rest."""
    order = list(RULE_STYLE)
    present = list(dict.fromkeys(rules))
    return sorted(present, key=lambda r: order.index(r) if r in order else len(order))
