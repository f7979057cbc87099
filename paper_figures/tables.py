"""Tables as Markdown and LaTeX (booktabs), with the caption beside them.

No extra dependency: cells are formatted here (numbers to a fixed number of decimals,
intervals as ``1.59 [1.57, 1.61]``) and both formats are written from the same strings.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

__all__ = ["fmt", "fmt_interval", "save_table", "to_latex", "to_markdown"]


def fmt(value: object, digits: int = 3) -> str:
    """A number for a table: thousands as ``2,048``, tens to 1 decimal, smaller numbers to
    ``digits`` decimals; NaN/None as a dash; other values as text."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        if isinstance(value, float) and math.isnan(value):
            return "-"
        if isinstance(value, int) or abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.{digits}f}"
    return str(value)


def fmt_interval(est: float, low: float, high: float, digits: int = 2) -> str:
    """``est [low, high]``, or the dash when ``est`` is missing."""
    if est is None or (isinstance(est, float) and math.isnan(est)):
        return "-"
    return f"{est:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def to_markdown(df: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of ``df`` (cells already strings or numbers)."""
    cells = df.map(fmt)
    head = "| " + " | ".join(str(c) for c in df.columns) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(row) + " |" for row in cells.to_numpy().tolist()]
    return "\n".join([head, rule, *body]) + "\n"


def _tex(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&")):
        text = text.replace(a, b)
    text = text.replace("#", r"\#").replace("±", r"$\pm$")
    return text.replace("`", "")


def to_latex(df: pd.DataFrame, caption: str, label: str) -> str:
    """A booktabs LaTeX ``table`` of ``df`` with ``caption`` and ``label``."""
    cells = df.map(fmt)
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        r"\begin{tabular}{l" + "r" * (len(df.columns) - 1) + "}",
        r"\toprule",
        " & ".join(_tex(str(c)) for c in df.columns) + r" \\",
        r"\midrule",
        *(" & ".join(_tex(c) for c in row) + r" \\" for row in cells.to_numpy().tolist()),
        r"\bottomrule",
        r"\end{tabular}",
        rf"\caption{{{_tex(caption)}}}",
        rf"\label{{tab:{label}}}",
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"


def save_table(df: pd.DataFrame, out_dir: Path, name: str, caption: str) -> list[Path]:
    """Write ``name.md`` (caption, then the table), ``name.tex`` and ``name.caption.txt``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / f"{name}.md"
    md.write_text(f"{caption.strip()}\n\n{to_markdown(df)}")
    tex = out_dir / f"{name}.tex"
    tex.write_text(to_latex(df, caption.strip(), name))
    cap = out_dir / f"{name}.caption.txt"
    cap.write_text(caption.strip() + "\n")
    return [md, tex, cap]
