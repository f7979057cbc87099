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
    "sim-countdown-paper-measured": "The robustness grid under the learner measured on the harness",
    "sim-beyond-measured": "Rules beyond InSight under the learner measured on the harness",
    "rlvr-eb-tiered": "Evidence-term decision: the tiered design over 3 task draws",
    "rlvr-eb-k16": "Evidence-term decision: K = 16, M = 16 over 3 task draws",
    "rlvr-eb-narrow": "Evidence-term decision: a 1-3 digit pool over 3 task draws",
    "rlvr-eb-decision": "Does the learned prior pay? The paired decision over three designs",
}

#: Commands of folders whose manifest does not record one and that
#: :mod:`paper_figures.sources` does not name.
COMMANDS = {
    "rlvr-cpu-tiered-narrow": "insight-bayes rlvr-study configs/rlvr/cpu-tiered-narrow.toml "
    "--out results/rlvr-cpu-tiered-narrow --device cpu --threads 1 --workers 2",
    "rlvr-cpu-tiered-mid": "insight-bayes rlvr-study configs/rlvr/cpu-tiered-mid.toml "
    "--out results/rlvr-cpu-tiered-mid --device cpu --threads 1 --workers 2",
    "rlvr-gpu-tiered": "bash benchmarks/run_gpu_study.sh",
    **{
        f"rlvr-eb-{design}": f"insight-bayes rlvr-study configs/rlvr/eb-{design}.toml "
        f"--out results/rlvr-eb-{design} --device cpu --threads 1 --workers 2"
        for design in ("tiered", "k16", "narrow")
    },
    "rlvr-eb-decision": "insight-bayes decide results/rlvr-eb-tiered results/rlvr-eb-k16 "
    "results/rlvr-eb-narrow --new insight-eb,mopps-eb "
    "--incumbents insight,mopps,expected-difficulty,weight --out results/rlvr-eb-decision",
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
_CLAIMS_MEASURED = "sim-countdown-paper-measured/fidelity_summary.csv"
#: The paper's claims the findings page tabulates (its name -> the fidelity table's id).
_CLAIM_IDS = {
    "insight_random": "insight>random", "insight_mopps": "insight>mopps",
    "ed_mopps": "ed>mopps", "ie_random": "ie~random", "mi_wmi": "mi<wmi",
    "weight_wmi": "weight<wmi", "ds_costly": "ds-costly", "mu": "mu0.3best",
    "speedup_range": "speedup1.5-2.2", "shrinks": "shrinks",
}  # fmt: skip
_CAUSAL = "{slope:+.3f} points per e-fold (95% CI {ci_low:+.3f} to {ci_high:+.3f}; VIF {vif:.1f})"
_SCORES = "sim-vs-harness/scores.csv"
_PAIRED = "{speedup:.3f}x (95% CI {ci_low:.3f}-{ci_high:.3f})"
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
    **{
        f"claim_{name}{suffix}": (file, {"claim": claim}, _CLAIM)
        for name, claim in _CLAIM_IDS.items()
        for suffix, file in (("", _CLAIMS), ("_measured", _CLAIMS_MEASURED))
    },
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
    "eb_insight_vs_insight": (
        "sim-eb/against_insight.csv", {"rule": "insight-eb"}, _PAIRED
    ),
    "eb_mopps_vs_mopps": ("sim-eb/against_mopps.csv", {"rule": "mopps-eb"}, _PAIRED),
    "eb_default": (
        "rlvr-eb-decision/ranking.csv", {"fraction": 1.0, "rank": 1},
        "`{rule}` ({geomean_speedup:.2f}x faster than Random to 100% of Random's gain, the "
        "geometric mean over the three designs; {worst_speedup:.2f}x on its worst, "
        "`{worst_design}`)",
    ),
    "eb_mopps_eb_final": ("sim-eb/summary.csv", {"rule": "mopps-eb"}, "{final_accuracy:.3f}"),
    "eb_mopps_final": ("sim-eb/summary.csv", {"rule": "mopps"}, "{final_accuracy:.3f}"),
    "eb_insight_065": (
        "sim-eb/speedup_curve.csv", {"rule": "insight-eb", "target": 0.65}, "{speedup:.2f}x"
    ),
    "eb_plain_065": (
        "sim-eb/speedup_curve.csv", {"rule": "insight", "target": 0.65}, "{speedup:.2f}x"
    ),
    "graded_vs_insight": ("sim-beyond/against_insight.csv", {"rule": "insight-graded"}, _PAIRED),
    "beyond_best_vs_insight": (
        "sim-beyond/against_insight.csv", {"rule": "mopps-tracking"}, _PAIRED
    ),
    "beyond_best_vs_random": ("sim-beyond/summary.csv", {"rule": "mopps-tracking"}, _SPEED),
    "beyond_best_of_oracle": (
        "sim-beyond/speedup_curve.csv", {"rule": "mopps-tracking", "target": 0.6},
        "{oracle_fraction:.0%}",
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
    file, keys, template = NUMBERS[name]
    try:
        row = _row(results, file, keys)
    except LookupError as err:
        raise LookupError(f"{name}: {err}") from None
    return template.format(**row.to_dict())


def _row(results: Path, file: str, keys: dict):
    """The one row of ``results/file`` that ``keys`` picks (``LookupError`` otherwise)."""
    import pandas as pd

    from insight_bayes.results.reader import read_table

    path = results / file
    frame = read_table(path.parent, path.stem)
    mask = pd.Series(True, index=frame.index)
    for column, value in keys.items():
        mask &= frame[column] == value
    rows = frame[mask]
    if len(rows) != 1:
        raise LookupError(f"{keys} picks {len(rows)} rows of {file}, not 1")
    return rows.iloc[0]


def _never(row) -> str:
    """``to Random's final``: the speed-up, or how many runs never got there."""
    if row.n_censored >= row.n_seeds:
        return f"never ({row.n_censored:.0f} of {row.n_seeds:.0f} censored)"
    return f"{row.speedup:.2f} [{row.ci_low:.2f}, {row.ci_high:.2f}]"


_BEYOND = "sim-beyond"
_AT = {"target": 0.6}

#: Tables the pages show, as MyST substitutions (``{{ beyond_signal_table }}`` alone on a
#: line): name -> (sources: alias -> (file under ``results/``, key columns besides
#: ``rule``), rows: rule -> label, columns: (header, format of the aliases' rows, or a
#: callable of the row of the first alias named in the format)). Every cell is read from
#: the saved tables when the site is built.
TABLES: dict[str, tuple[dict, dict, tuple]] = {
    "beyond_signal_table": (
        {"s": (f"{_BEYOND}/summary.csv", {}), "i": (f"{_BEYOND}/against_insight.csv", {}),
         "c": (f"{_BEYOND}/speedup_curve.csv", _AT),
         "f": (f"{_BEYOND}/speedup_to_baseline_final.csv", {}), "a": (f"{_BEYOND}/auc.csv", {})},
        {r: f"`{r}`" for r in ("oracle", "insight-adaptive", "insight", "signal-information",
                               "learning-signal", "expected-std")},
        (("speed-up vs Random at 0.6", "{s.speedup:.2f} [{s.ci_low:.2f}, {s.ci_high:.2f}]"),
         ("against InSight (paired)", "{i.speedup:.3f} [{i.ci_low:.3f}, {i.ci_high:.3f}]"),
         ("fraction of the oracle's", "{c.oracle_fraction:.3f}"),
         ("to Random's final accuracy", ("f", _never)),
         ("AUC gain", "{a.auc_gain:+.3f}")),
    ),
    "beyond_all_table": (
        {"s": (f"{_BEYOND}/summary.csv", {}), "i": (f"{_BEYOND}/against_insight.csv", {}),
         "c": (f"{_BEYOND}/speedup_curve.csv", _AT), "a": (f"{_BEYOND}/auc.csv", {})},
        {r: f"`{r}`" for r in ("mopps-tracking", "insight-tracking", "insight-adaptive",
                               "insight-graded", "insight-noisy", "signal-information",
                               "learning-signal", "expected-std", "insight")},
        (("speed-up vs Random at 0.6", "{s.speedup:.2f} [{s.ci_low:.2f}, {s.ci_high:.2f}]"),
         ("against InSight (paired)", "{i.speedup:.3f} [{i.ci_low:.3f}, {i.ci_high:.3f}]"),
         ("fraction of the oracle's", "{c.oracle_fraction:.2f}"),
         ("final accuracy", "{s.final_accuracy:.3f}"),
         ("AUC gain", "{a.auc_gain:+.3f}")),
    ),
    "noisy_table": (
        {"s": ("sim-beyond-noisy/summary.csv", {}),
         "i": ("sim-beyond-noisy/against_insight.csv", {}),
         "a": ("sim-beyond-noisy/auc.csv", {})},
        {"insight-noisy:eps0=0.1,eps1=0.1": "`insight-noisy` (ε0 = ε1 = 0.1)",
         "insight": "`insight`", "oracle": "`oracle`"},
        (("speed-up vs Random at 0.6", "{s.speedup:.3f} [{s.ci_low:.3f}, {s.ci_high:.3f}]"),
         ("against InSight (paired)", "{i.speedup:.3f} [{i.ci_low:.3f}, {i.ci_high:.3f}]"),
         ("final accuracy", "{s.final_accuracy:.3f}"),
         ("AUC gain", "{a.auc_gain:+.4f} [{a.gain_ci_low:+.4f}, {a.gain_ci_high:+.4f}]")),
    ),
    "eb_table": (
        {"s": ("sim-eb/summary.csv", {})},
        {r: f"`{r}`" for r in ("insight-eb", "insight", "weight", "mopps", "mopps-eb",
                               "expected-difficulty")},
        (("speed-up vs Random at 0.6", "{s.speedup:.3f} [{s.ci_low:.3f}, {s.ci_high:.3f}]"),
         ("final accuracy", "{s.final_accuracy:.3f}"),
         ("mixed groups", "{s.informative_share:.3f}")),
    ),
}  # fmt: skip


_MEASURED_BASE = {"scenario": "countdown-paper-measured-lam1@v2"}


def _reached(template: str):
    """A cell formatter: ``template`` of the row, or "-" when every run was censored."""

    def cell(row) -> str:
        return "-" if row.n_censored >= row.n_seeds else template.format(row=row)

    return cell


_GRID_COLUMNS = (
    ("at 100% of Random's gain", ("s", _never)),
    ("at 50%", ("h", _never)),
    ("per rollout at 100%", ("s", _reached("{row.rollout_speedup:.2f}"))),
    ("fraction of the oracle's at 100%", ("s", _reached("{row.oracle_fraction:.2f}"))),
)


def _grid_sources(folder: str) -> dict:
    file = f"{folder}/grid_speedups.csv"
    return {"s": (file, {**_MEASURED_BASE, "fraction": 1.0}),
            "h": (file, {**_MEASURED_BASE, "fraction": 0.5})}  # fmt: skip


#: The base cell of the grids under the measured learner: speed-ups over Random.
TABLES["measured_grid_table"] = (
    _grid_sources("sim-countdown-paper-measured"),
    {r: f"`{r}`" for r in ("oracle", "dynamic-sampling", "insight", "insight:mu=0.1",
                           "insight:mu=0.7", "mopps", "expected-difficulty", "weight", "mi",
                           "inverse-evidence")},
    _GRID_COLUMNS,
)  # fmt: skip
TABLES["beyond_measured_table"] = (
    _grid_sources("sim-beyond-measured"),
    {r: f"`{r}`" for r in ("oracle", "mopps-tracking", "insight-tracking", "insight-adaptive",
                           "insight-graded", "insight-noisy", "signal-information",
                           "learning-signal", "expected-std", "insight")},
    _GRID_COLUMNS,
)  # fmt: skip

TABLES["eb_measured_table"] = (
    _grid_sources("sim-eb-measured"),
    {r: f"`{r}`" for r in ("insight-eb", "mopps-eb", "insight", "mopps", "expected-difficulty",
                           "weight")},
    _GRID_COLUMNS[:2],
)  # fmt: skip

_DECIDED = "rlvr-eb-decision"
_AT_FULL = {"fraction": 1.0}

#: The evidence-term decision's rules over its three designs, ranked by the geometric mean
#: of their speed-up over Random at 100% of Random's gain (``ranking.csv``).
TABLES["eb_harness_table"] = (
    {"r": (f"{_DECIDED}/ranking.csv", _AT_FULL),
     **{alias: (f"{_DECIDED}/speedups.csv", {"design": f"rlvr-eb-{design}", **_AT_FULL})
        for alias, design in (("t", "tiered"), ("k", "k16"), ("n", "narrow"))}},
    {r: f"`{r}`" for r in ("insight-eb", "mopps-eb", "insight", "mopps", "expected-difficulty",
                           "weight")},
    (("geometric mean over the designs", "{r.geomean_speedup:.2f}"),
     ("tiered (K = 8, M = 32)", ("t", _never)),
     ("K = 16, M = 16", ("k", _never)),
     ("1-3 digit pool", ("n", _never))),
)  # fmt: skip

#: ``insight-bayes advise`` on each evidence-term design's Random runs, against what the
#: harness realised (the decision's ``speedups.csv``), at 100% of Random's gain.
TABLES["advise_eb_table"] = (
    {**{f"p{a}": (f"advise-eb/{d}/advice.csv", _AT_FULL)
        for a, d in (("t", "tiered"), ("k", "k16"), ("n", "narrow"))},
     **{f"r{a}": (f"{_DECIDED}/speedups.csv", {"design": f"rlvr-eb-{d}", **_AT_FULL})
        for a, d in (("t", "tiered"), ("k", "k16"), ("n", "narrow"))}},
    {r: f"`{r}`" for r in ("insight-eb", "mopps-eb", "insight", "mopps", "expected-difficulty",
                           "weight")},
    tuple(
        column
        for a, label in (("t", "tiered"), ("k", "K = 16"), ("n", "1-3 digits"))
        for column in (
            (f"{label}: predicted [90% PI]",
             f"{{p{a}.predicted:.2f}} [{{p{a}.predicted_low:.2f}}, {{p{a}.predicted_high:.2f}}]"),
            (f"{label}: realised [95% CI]",
             f"{{r{a}.speedup:.2f}} [{{r{a}.ci_low:.2f}}, {{r{a}.ci_high:.2f}}]"),
        )
    ),
)  # fmt: skip

#: Row counts the pages quote (``{{ name }}``): name -> (file under ``results/``, the rows
#: in scope (key columns), the rows counted among them (key columns), text with ``{n}``
#: (counted) and ``{total}`` (in scope)).
COUNTS: dict[str, tuple[str, dict, dict, str]] = {
    "oracle_violations_limits": (
        "sim-countdown-paper-robustness/oracle_violations.csv", {}, {},
        "{n} (cell, target, rule) cases",
    ),
    "oracle_violations_measured": (
        "sim-countdown-paper-measured/oracle_violations.csv", {}, {},
        "{n} (cell, target, rule) cases",
    ),
    **{
        f"beyond_goal_measured_{rule.replace('-', '_')}": (
            "sim-beyond-measured/goal_cells.csv", {"rule": rule}, {"meets": True},
            "{n} of {total} (cell, target) cases",
        )
        for rule in ("mopps-tracking", "insight-tracking", "insight-adaptive")
    },
}  # fmt: skip


def count(results: Path, name: str) -> str:
    """The text of :data:`COUNTS` entry ``name``: how many rows of its table are in scope
    and how many of those match.

    Raises
    ------
    LookupError
        When no row is in scope.
    """
    import pandas as pd

    from insight_bayes.results.reader import read_table

    file, scope, match, template = COUNTS[name]
    path = results / file
    frame = read_table(path.parent, path.stem)

    def picked(frame, keys):
        mask = pd.Series(True, index=frame.index)
        for column, value in keys.items():
            mask &= frame[column] == value
        return frame[mask]

    inside = picked(frame, scope)
    if scope and inside.empty:
        raise LookupError(f"{name}: {scope} picks no row of {file}")
    return template.format(n=len(picked(inside, match)), total=len(inside))


def table(results: Path, name: str) -> str:
    """The Markdown table of :data:`TABLES` entry ``name``, read from ``results``, its rows
    in the order of the speed-up of the first column's source (fastest first).

    Raises
    ------
    LookupError
        When a row's keys do not pick exactly one row of a file.
    """
    sources, rows, columns = TABLES[name]
    first = next(iter(sources))
    found = []
    for rule, label in rows.items():
        picked = {}
        for alias, (file, keys) in sources.items():
            try:
                picked[alias] = _row(results, file, {"rule": rule, **keys})
            except LookupError as err:
                raise LookupError(f"{name}: {err}") from None
        cells = [label]
        for _, spec in columns:
            if isinstance(spec, tuple):
                alias, function = spec
                cells.append(function(picked[alias]))
            else:
                cells.append(spec.format(**picked))
        row = picked[first]  # rows sort by the first source's speed-up, mean or prediction
        order = row.get("speedup", row.get("geomean_speedup", row.get("predicted")))
        found.append((-float(order), cells))
    header = ["rule", *(h for h, _ in columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(c) + " |" for _, c in sorted(found, key=lambda x: x[0])]
    return "\n".join(lines)


#: Decisions the pages show (``{{ eb_decision_table }}`` alone on a line): name -> the
#: folder ``insight-bayes decide`` wrote. The table is its ``decision.csv``, one row per
#: (design, fraction), and the verdict line is read from its manifest.
DECISIONS: dict[str, str] = {"eb_decision_table": "rlvr-eb-decision"}


def _interval(row, prefix: str = "") -> str:
    ratio, low, high = (row[f"{prefix}{c}"] for c in ("ratio", "ci_low", "ci_high"))
    return f"{ratio:.2f} [{low:.2f}, {high:.2f}]"


def decision(results: Path, name: str) -> str:
    """The Markdown table and verdict of :data:`DECISIONS` entry ``name``.

    Raises
    ------
    LookupError
        When the folder has no decision table or its manifest no verdict.
    """
    from insight_bayes.results.reader import read_manifest, read_table

    folder = results / DECISIONS[name]
    if not (folder / "decision.csv").exists():
        raise LookupError(f"{name}: {folder} holds no decision.csv")
    frame = read_table(folder, "decision")
    manifest = read_manifest(folder)
    found, goal = manifest.get("verdict"), manifest.get("analysis", {})
    if not found:
        raise LookupError(f"{name}: the manifest of {folder} has no verdict")
    header = ["design", "share of Random's gain", "best new rule", "best incumbent",
              "new vs Random", "incumbent vs Random", "new vs incumbent (paired)",
              "per rollout", "task draws / runs"]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for _, row in frame.iterrows():
        cells = [f"`{row.design}`", f"{row.fraction:.0%}", f"`{row.best_new}`",
                 f"`{row.best_incumbent}`", f"{row.new_vs_baseline:.2f}x",
                 f"{row.incumbent_vs_baseline:.2f}x", _interval(row),
                 _interval(row, "rollout_"), f"{row.n_draws:.0f} / {row.n_seeds:.0f}"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    wins = ", ".join(f"`{d}`" for d in found["clear_wins"]) or "none"
    below = ", ".join(f"`{d}`" for d in found["below_floor"]) or "none"
    lines += [
        "",
        f"**Goal at {goal.get('at', 1.0):.0%} of Random's gain** (at least "
        f"{goal.get('goal', 1.1):.2f}x the best incumbent with the paired interval above 1 on at "
        f"least {goal.get('min_wins', 2)} of the {found['designs']} designs, never below "
        f"{goal.get('floor', 0.95):.2f}x): **{'met' if found['met'] else 'not met'}**. "
        f"Clear wins: {wins}; below the floor: {below}.",
    ]
    return "\n".join(lines)


def substitutions(results: Path) -> dict[str, str]:
    """Every :data:`NUMBERS` entry as text, every :data:`TABLES` entry as a Markdown table
    and every :data:`DECISIONS` entry as a table with its verdict, for
    ``myst_substitutions``."""
    return {
        **{name: quote(results, name) for name in NUMBERS},
        **{name: table(results, name) for name in TABLES},
        **{name: decision(results, name) for name in DECISIONS},
        **{name: count(results, name) for name in COUNTS},
    }


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
