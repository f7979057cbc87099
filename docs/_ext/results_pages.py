"""Sphinx extension: the results pages, written at build time from the saved results.

Every folder under ``results/`` with a ``manifest.json`` becomes one page,
``docs/results/<folder>.md`` (git-ignored, rewritten by every build), with

- what the folder holds and the command that makes it (the manifest's ``command``, or
  the one :mod:`paper_figures.sources` or :data:`COMMANDS` names);
- the manifest's settings: kind, rules, seeds, completed runs, analysis plan, package
  and git revision, dates;
- the headline and summary table that ``insight-bayes plot`` prints (from
  ``summary.csv`` through :func:`insight_bayes.results.headline.summary_text`), and the
  folder's ``headline.txt`` when it has one;
- every small CSV table of the folder as a Markdown table (numbers to three significant
  digits), the larger ones listed by name and size;
- the folder's learning-curve and speed-up pictures when it holds them.

No number on these pages is typed by hand: each comes from a file under ``results/``.
``docs/results/index.md`` lists the pages. The module can also run alone
(``python docs/_ext/results_pages.py OUT``) to write the pages into ``OUT``.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Tables with more rows than this are listed, not printed.
MAX_ROWS = 60

#: What each committed folder is, in one line (a folder not named here gets its kind).
TITLES = {
    "sim-countdown-paper": "The reference sweep: the paper-shaped simulated Countdown run",
    "sim-countdown-paper-robustness": "The robustness grid around the reference sweep",
    "sim-ablations": "Ablations of InSight on the reference scenario",
    "sim-beyond": "Rules beyond InSight on the reference scenario",
    "sim-beyond-noisy": "Rules beyond InSight with a noisy verifier",
    "sim-beyond-robustness": "Rules beyond InSight over the robustness grid",
    "sim-eb": "Empirical-Bayes priors on the reference scenario",
    "sim-vs-harness": "Does the simulator predict the harness?",
    "rlvr-cpu-study": "The first CPU harness study (addition)",
    "rlvr-cpu-tiered": "The tiered CPU harness study",
    "rlvr-cpu-tiered-narrow": "The tiered harness study, narrow operand tiers (1-3 digits)",
    "rlvr-cpu-tiered-mid": "The tiered harness study, middle operand tiers (1-5 digits)",
    "rlvr-cpu-k16": "The out-of-sample harness study at K = 16, over task draws",
    "rlvr-gpu-tiered": "The GPU harness study (one H200)",
    "rlvr-gpu-tiered-warmup2": "The GPU harness study, second warm-up",
    "rlvr-intervention": "A causal test of the decomposition: batches by score quintile",
    "rlvr-gradients": "Per-group gradients of the tiered design",
    "rlvr-gradients-k": "Per-group gradients of the tiered design at K = 4 and 16",
}

#: Commands of folders whose manifest does not record one and that
#: :mod:`paper_figures.sources` does not name.
COMMANDS = {
    "rlvr-cpu-tiered-narrow": "insight-bayes rlvr-study configs/rlvr/cpu-tiered-narrow.toml "
    "--out results/rlvr-cpu-tiered-narrow --device cpu --threads 1 --workers 2",
    "rlvr-cpu-tiered-mid": "insight-bayes rlvr-study configs/rlvr/cpu-tiered-mid.toml "
    "--out results/rlvr-cpu-tiered-mid --device cpu --threads 1 --workers 2",
    "rlvr-gpu-tiered": "bash benchmarks/run_gpu_study.sh",
}


def _command(name: str, manifest: dict) -> str | None:
    """The command that makes folder ``name``, or ``None`` when none is known."""
    if manifest.get("command"):
        return str(manifest["command"])
    try:
        from paper_figures import sources
    except ImportError:  # pragma: no cover - the docs build installs it
        sources = None
    if sources is not None:
        for value in vars(sources).values():
            pairs = value if isinstance(value, tuple) else (value,)
            for saved in pairs:
                if isinstance(saved, sources.SavedResult) and saved.folder == name:
                    return saved.command(Path("results"))
    return COMMANDS.get(name)


def _number(value) -> str:
    """A cell as text: floats to three significant digits, integers as they are."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value == int(value) and abs(value) < 1e6:
            return str(int(value))
        return f"{value:.3g}" if abs(value) >= 1e-3 else f"{value:.2e}"
    return str(value)


def _cell(value) -> str:
    return _number(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(frame) -> str:
    """A pandas frame as a Markdown pipe table (numbers by :func:`_number`)."""
    header = "| " + " | ".join(_cell(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = [
        "| " + " | ".join(_cell(v) for v in row) + " |"
        for row in frame.astype(object).itertuples(index=False)
    ]
    return "\n".join([header, rule, *rows])


def _settings(manifest: dict) -> list[str]:
    """The manifest's settings as a bulleted list (long values shortened)."""

    def short(value, limit: int = 160) -> str:
        text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        return text if len(text) <= limit else text[: limit - 3] + "..."

    lines = []
    for key, label in (
        ("kind", "kind"),
        ("rules", "rules"),
        ("seeds", "seeds"),
        ("runs", "runs"),
        ("analysis", "analysis plan"),
        ("note", "note"),
        ("device_name", "device"),
        ("package_version", "package version"),
        ("git_revision", "git revision"),
        ("created", "created"),
        ("updated", "updated"),
    ):
        if key not in manifest:
            continue
        value = manifest[key]
        if key == "runs" and isinstance(value, dict):
            value = f"{value.get('complete', '?')} of {value.get('expected', '?')} complete"
        elif key == "analysis" and isinstance(value, dict):
            value = "; ".join(f"{k} = {short(v, 80)}" for k, v in value.items())
        lines.append(f"- **{label}**: `{short(value)}`" if key in ("rules", "git_revision")
                     else f"- **{label}**: {short(value)}")  # fmt: skip
    return lines


def _summary(folder: Path, manifest: dict) -> list[str]:
    """The headline and the summary table that ``insight-bayes plot`` prints."""

    from insight_bayes.results.headline import summary_text
    from insight_bayes.results.reader import read_table

    if not (folder / "summary.csv").exists():
        return []
    summary = read_table(folder, "summary")
    if "rule" not in summary.columns:
        return []
    analysis = manifest.get("analysis", {}) if isinstance(manifest.get("analysis"), dict) else {}
    try:
        text = summary_text(
            summary,
            baseline=str(analysis.get("baseline", "random")),
            metric=str(analysis.get("metric", "metric")).split("/")[-1],
            target=float(analysis.get("target", float("nan"))),
        )
    except (KeyError, TypeError, ValueError):
        return []
    return ["## Headline and summary", "", "```text", text.rstrip(), "```", ""]


def _tables(folder: Path) -> list[str]:
    """Every CSV of the folder: small ones printed, large ones listed."""

    from insight_bayes.results.reader import read_table

    lines: list[str] = []
    listed: list[str] = []
    for path in sorted(folder.glob("*.csv")):
        frame = read_table(folder, path.stem)
        if len(frame) > MAX_ROWS or len(frame.columns) > 24:
            listed.append(f"- `{path.name}`: {len(frame):,} rows x {len(frame.columns)} columns")
            continue
        lines += [f"### `{path.name}`", "", markdown_table(frame), ""]
    if listed:
        lines += ["### Larger tables (in the folder)", "", *listed, ""]
    if lines:
        lines = ["## Tables", "", *lines]
    return lines


def result_page(folder: Path, out: Path) -> str:
    """The Markdown page of one result folder (pictures are copied next to ``out``)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    name = folder.name
    lines = [f"# {name}", "", TITLES.get(name, f"A saved {manifest.get('kind', 'result')}."), ""]
    command = _command(name, manifest)
    lines += ["Made by", "", "```bash", command or "(no command recorded)", "```", ""]
    lines += ["Read it with", "", "```python", "from insight_bayes.results import load_results",
              "", f'res = load_results("results/{name}")', "```", ""]  # fmt: skip
    lines += ["## Settings (from `manifest.json`)", "", *_settings(manifest), ""]
    lines += _summary(folder, manifest)
    headline = folder / "headline.txt"
    if headline.exists():
        lines += ["## `headline.txt`", "", "```text", headline.read_text().rstrip(), "```", ""]
    pictures = [p for p in ("learning_curve.png", "speedup.png") if (folder / p).exists()]
    if pictures:
        lines += ["## Pictures", ""]
        for picture in pictures:
            target = out / f"{name}-{picture}"
            shutil.copyfile(folder / picture, target)
            lines += [f"![{picture}]({target.name})", ""]
    lines += _tables(folder)
    return "\n".join(lines).rstrip() + "\n"


def write_pages(results: Path, out: Path) -> list[str]:
    """Write one page per result folder and an index into ``out``; return the names."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    names = []
    for folder in sorted(p for p in results.iterdir() if (p / "manifest.json").exists()):
        (out / f"{folder.name}.md").write_text(result_page(folder, out))
        names.append(folder.name)
    index = [
        "# Saved results",
        "",
        "One page per folder of `results/`, written when the site is built from the",
        "files in that folder (its manifest, summary, tables and pictures): no number on",
        "these pages is typed by hand. Each page names the command that makes the folder.",
        "",
        "| folder | what |",
        "|---|---|",
        *(f"| [{n}]({n}.md) | {TITLES.get(n, '')} |" for n in names),
        "",
        "```{toctree}",
        ":hidden:",
        "",
        *names,
        "```",
        "",
    ]
    (out / "index.md").write_text("\n".join(index))
    return names


_SPEED = "{speedup:.2f}x [95% CI {ci_low:.2f}-{ci_high:.2f}]"
_ROLL = "{rollout_speedup:.2f}x"
_REF = "sim-countdown-paper/summary.csv"
_FINAL = "sim-countdown-paper/speedup_to_baseline_final.csv"
_TIER = "rlvr-cpu-tiered/speedup_curve.csv"
_SLOPE = "rlvr-intervention/slopes.csv"
_CLAIMS = "sim-countdown-paper-robustness/fidelity_summary.csv"
_CAUSAL = "{slope:+.3f} points per e-fold (95% CI {ci_low:+.3f} to {ci_high:+.3f}; VIF {vif:.1f})"
_SCORES = "sim-vs-harness/scores.csv"
_CLAIM = "{reproduced} reproduced, {refuted} refuted, {unresolved} unresolved of {cases}"

#: The numbers the prose pages quote, as MyST substitutions (``{{ ref_insight }}``):
#: name -> (file under ``results/``, the row's key columns, a format of the row's columns).
NUMBERS: dict[str, tuple[str, dict, str]] = {
    "ref_insight": (_REF, {"rule": "insight"}, _SPEED),
    "ref_weight": (_REF, {"rule": "weight"}, _SPEED),
    "ref_mopps": (_REF, {"rule": "mopps"}, _SPEED),
    "ref_mopps_published": (_REF, {"rule": "mopps-published"}, _SPEED),
    "ref_expected_difficulty": (_REF, {"rule": "expected-difficulty"}, _SPEED),
    "ref_mi": (_REF, {"rule": "mi"}, _SPEED),
    "ref_inverse_evidence": (_REF, {"rule": "inverse-evidence"}, _SPEED),
    "ref_oracle": (_REF, {"rule": "oracle"}, _SPEED),
    "ref_oracle_score": (_REF, {"rule": "oracle-score:rule=insight"}, _SPEED),
    "ref_ds": (_REF, {"rule": "dynamic-sampling"}, _SPEED),
    "ref_ds_rollout": (_REF, {"rule": "dynamic-sampling"}, _ROLL),
    "ref_ds_mopps_rollout": (_REF, {"rule": "dynamic-sampling-mopps"}, _ROLL),
    "ref_random_informative": (
        _REF, {"rule": "random"}, "{informative_share:.3f} (expected {expected_informative:.3f})"
    ),
    "ref_ds_informative": (
        _REF, {"rule": "dynamic-sampling"},
        "{informative_share:.2f} (expected {expected_informative:.2f})",
    ),
    "ref_insight_final_of_oracle": (_FINAL, {"rule": "insight"}, "{oracle_fraction:.0%}"),
    "ref_oracle_score_final_of_oracle": (
        _FINAL, {"rule": "oracle-score:rule=insight"}, "{oracle_fraction:.0%}"
    ),
    "claim_insight_random": (_CLAIMS, {"claim": "insight>random"}, _CLAIM),
    "claim_insight_mopps": (_CLAIMS, {"claim": "insight>mopps"}, _CLAIM),
    "claim_ed_mopps": (_CLAIMS, {"claim": "ed>mopps"}, _CLAIM),
    "claim_ie_random": (_CLAIMS, {"claim": "ie~random"}, _CLAIM),
    "claim_ds_costly": (_CLAIMS, {"claim": "ds-costly"}, _CLAIM),
    "claim_mu": (_CLAIMS, {"claim": "mu0.3best"}, _CLAIM),
    "claim_shrinks": (_CLAIMS, {"claim": "shrinks"}, _CLAIM),
    "beyond_mopps_tracking": ("sim-beyond/summary.csv", {"rule": "mopps-tracking"}, _SPEED),
    "beyond_insight_tracking": ("sim-beyond/summary.csv", {"rule": "insight-tracking"}, _SPEED),
    "cpu_insight": ("rlvr-cpu-study/summary.csv", {"rule": "insight"}, _SPEED),
    "cpu_ed": ("rlvr-cpu-study/summary.csv", {"rule": "expected-difficulty"}, _SPEED),
    "tiered_insight_full": (_TIER, {"rule": "insight", "fraction": 1.0}, _SPEED),
    "tiered_mopps_full": (_TIER, {"rule": "mopps", "fraction": 1.0}, _SPEED),
    "tiered_ed_full": (_TIER, {"rule": "expected-difficulty", "fraction": 1.0}, _SPEED),
    "tiered_ds_full": (_TIER, {"rule": "dynamic-sampling", "fraction": 1.0}, _SPEED),
    "tiered_ds_full_rollout": (_TIER, {"rule": "dynamic-sampling", "fraction": 1.0}, _ROLL),
    "causal_flat_weight": (
        _SLOPE, {"prior": "flat", "model": "both terms", "term": "weight"}, _CAUSAL
    ),
    "causal_flat_evidence": (
        _SLOPE, {"prior": "flat", "model": "both terms", "term": "evidence"}, _CAUSAL
    ),
    "causal_flat_evidence_alone": (
        _SLOPE, {"prior": "flat", "model": "evidence only", "term": "evidence"}, _CAUSAL
    ),
    "causal_eb_weight": (
        _SLOPE, {"prior": "eb", "model": "both terms", "term": "weight"}, _CAUSAL
    ),
    "causal_eb_evidence": (
        _SLOPE, {"prior": "eb", "model": "both terms", "term": "evidence"}, _CAUSAL
    ),
    "causal_eb_evidence_alone": (
        _SLOPE, {"prior": "eb", "model": "evidence only", "term": "evidence"}, _CAUSAL
    ),
    "causal_batches": (
        _SLOPE, {"prior": "flat", "model": "both terms", "term": "weight"},
        "{n_batches:.0f} batches of {n_cells:.0f} cells ({n_draws:.0f} task draws x "
        "{n_seeds:.0f} Random runs x 2 checkpoints)",
    ),
    "svh_male": (_SCORES, {"scope": "all", "study": "all"}, "{male:.2f}"),
    "svh_coverage": (
        _SCORES, {"scope": "all", "study": "all"}, "{coverage:.0%} of {points:.0f} points"
    ),
    "svh_spearman": (_SCORES, {"scope": "all", "study": "all"}, "{spearman_at_1:.2f}"),
    "svh_tiered": (
        _SCORES, {"scope": "all", "study": "rlvr-cpu-tiered"},
        "error {male:.2f}, coverage {coverage:.0%}, Spearman {spearman_at_1:.2f}",
    ),
    "svh_k16": (
        _SCORES, {"scope": "all", "study": "rlvr-cpu-k16"},
        "error {male:.2f}, coverage {coverage:.0%}, Spearman {spearman_at_1:.2f}",
    ),
    "svh_mid": (
        _SCORES, {"scope": "all", "study": "rlvr-cpu-tiered-mid"},
        "error {male:.2f}, coverage {coverage:.0%}, Spearman {spearman_at_1:.2f}",
    ),
    "svh_narrow": (
        _SCORES, {"scope": "all", "study": "rlvr-cpu-tiered-narrow"},
        "error {male:.2f}, coverage {coverage:.0%}, Spearman {spearman_at_1:.2f}",
    ),
    "gpu_insight_auc": (
        "rlvr-gpu-tiered/auc.csv", {"rule": "insight"},
        "{auc_gain:+.3f} ({gain_ci_low:.3f} to {gain_ci_high:.3f})",
    ),
}  # fmt: skip


def quote(results: Path, name: str) -> str:
    """The text of :data:`NUMBERS` entry ``name``, read from ``results``.

    Raises
    ------
    LookupError
        When the key columns do not pick exactly one row of the file.
    """
    import pandas as pd

    from insight_bayes.results.reader import read_table

    file, keys, template = NUMBERS[name]
    path = results / file
    frame = read_table(path.parent, path.stem)
    mask = pd.Series(True, index=frame.index)
    for column, value in keys.items():
        mask &= frame[column] == value
    rows = frame[mask]
    if len(rows) != 1:
        raise LookupError(f"{name}: {keys} picks {len(rows)} rows of {file}, not 1")
    return template.format(**rows.iloc[0].to_dict())


def substitutions(results: Path) -> dict[str, str]:
    """Every :data:`NUMBERS` entry as text, for ``myst_substitutions``."""
    return {name: quote(results, name) for name in NUMBERS}


def _on_builder_inited(app) -> None:
    srcdir = Path(app.srcdir)
    write_pages(srcdir.parent / "results", srcdir / "results")


def setup(app):
    app.connect("builder-inited", _on_builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "results"
    sys.path.insert(0, str(ROOT))
    print("\n".join(write_pages(ROOT / "results", target)))
