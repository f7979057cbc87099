"""The results pages, written at build time from the saved results (by :mod:`results_pages`).

Every folder under ``results/`` with a ``manifest.json`` becomes one page,
``docs/results/<folder>.md`` (git-ignored, rewritten by every build), with

- what the folder holds and the command that makes it (the manifest's ``command``, or
  the one :mod:`paper_figures.sources` or :data:`COMMANDS` names);
- the manifest's settings: kind, rules, seeds, completed runs, analysis plan, package
  and git revision, dates;
- the headline and summary table that ``insight-bayes plot`` prints (from
  ``summary.csv`` through :func:`insight_bayes.results.headline.summary_text`), and the
  folder's ``headline.txt`` when it has one;
- a study's design checks when it ran them (``design.json``: the verdict, each warm-up
  tried through :func:`insight_bayes.rlvr.design.design_table`, each pilot rate);
- every small CSV table of the folder as a Markdown table (numbers to three significant
  digits), the larger ones listed by name and size;
- the folder's learning-curve, speed-up and warm-up pictures when it holds them.

No number on these pages is typed by hand: each comes from a file under ``results/``.
``docs/results/index.md`` lists the pages. The module can also run alone
(``python docs/_ext/result_folder_pages.py OUT``) to write the pages into ``OUT``.
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
    "rlvr-cpu-tiered-warmup2": "The tiered CPU harness study again, from a second warm-up",
    "rlvr-cpu-tiered-narrow": "The tiered harness study, narrow operand tiers (1-3 digits)",
    "rlvr-cpu-tiered-mid": "The tiered harness study, middle operand tiers (1-5 digits)",
    "rlvr-cpu-k16": "The out-of-sample harness study at K = 16, over task draws",
    "rlvr-gpu": "The GPU study (25M parameters, one H200): draw 0 of 3 so far",
    "rlvr-gpu-tiered": "The first GPU harness study (14M parameters, one H200; superseded)",
    "rlvr-gpu-attempts": "The GPU study's design checks on one H200: every warm-up tried",
    "rlvr-gpu-tiered-warmup2": "The first GPU harness study, second warm-up (superseded)",
    "rlvr-intervention": "A causal test of the decomposition: batches by score quintile",
    "rlvr-intervention-rerun": "The causal test re-run by later code (draw 0's cached warm-up)",
    "rlvr-intervention-rerun-b": "The causal test re-run by later code (another warm-up of draw 0)",
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
    "rlvr-cpu-tiered-warmup2": "PYTHONPATH=. python benchmarks/warmup_kernels.py --kernels avx2 "
    "--keep-cache .cache/warmup-avx2 && insight-bayes rlvr-study configs/rlvr/cpu-tiered.toml "
    "--out results/rlvr-cpu-tiered-warmup2 --device cpu --threads 1 --workers 2 "
    "--cache-dir .cache/warmup-avx2",
    "rlvr-gpu-tiered": "bash benchmarks/run_gpu_study.sh",
    "rlvr-gpu": "STUDY_TIMEOUT=540 BENCH=0 PYTHON=python3 RUNS_PER_PROCESS=28 PACK=$OUT "
    "bash benchmarks/run_gpu_study.sh .gpu/rlvr-gpu (on the device machine; see "
    "results/rlvr-gpu/README.md)",
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
    from insight_bayes.results.reader import manifest_horizon, read_table

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
            horizon=manifest_horizon(manifest),
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


def _design(folder: Path) -> list[str]:
    """The design checks of a study that ran them (its ``design.json``): the verdict, each
    warm-up tried and each pilot learning rate."""
    import pandas as pd

    from insight_bayes.rlvr.design import design_table, read_design

    record = read_design(folder)
    if not record.get("warmups"):
        return []
    verdict = "passed" if record.get("passed") else "failed"
    lines = ["## Design checks (from `design.json`)", "",
             f"**{verdict}**: {record.get('reason', '')}", "",
             "### Warm-ups tried", "", markdown_table(design_table(record)), ""]  # fmt: skip
    pilots = record.get("pilots", [])
    if pilots:
        table = pd.DataFrame(
            {"lr": p["lr"], "mean_gain": p["mean_gain"], "passed": p["passed"],
             "gains": ", ".join(f"{g:+.4f}" for g in p["gains"]),
             "seconds_per_run_step": p.get("seconds_per_run_step", float("nan"))}
            for p in pilots
        )  # fmt: skip
        lines += ["### Random-only learning-rate pilot", "", markdown_table(table), ""]
    return lines


def result_page(folder: Path, out: Path) -> str:
    """The Markdown page of one result folder (pictures are copied next to ``out``)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    name = folder.name
    lines = [f"# {name}", "", TITLES.get(name, f"A saved {manifest.get('kind', 'result')}."), ""]
    command = _command(name, manifest)
    lines += ["Made by", "", "```bash", command or "(no command recorded)", "```", ""]
    if (folder / "steps.parquet").exists():
        lines += ["Read it with", "", "```python", "from insight_bayes.results import load_results",
                  "", f'res = load_results("results/{name}")', "```", ""]  # fmt: skip
    elif tables := sorted(p.name for p in folder.glob("*.csv")):  # no runs: tables alone
        lines += ["Read a table with", "", "```python", "import pandas as pd", "",
                  f'table = pd.read_csv("results/{name}/{tables[0]}")', "```", ""]  # fmt: skip
    lines += ["## Settings (from `manifest.json`)", "", *_settings(manifest), ""]
    lines += _summary(folder, manifest)
    lines += _design(folder)
    headline = folder / "headline.txt"
    if headline.exists():
        lines += ["## `headline.txt`", "", "```text", headline.read_text().rstrip(), "```", ""]
    shown = ("learning_curve.png", "speedup.png", "warmups.png")
    pictures = [p for p in shown if (folder / p).exists()]
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


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "results"
    sys.path.insert(0, str(ROOT))
    print("\n".join(write_pages(ROOT / "results", target)))
