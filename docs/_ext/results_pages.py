"""Sphinx extension: the results pages and the numbers the prose pages quote.

At build time it writes one page per saved result folder
(:mod:`result_folder_pages`, next to this file) and gives MyST the substitutions
(``{{ name }}``) that pages quote: numbers (:data:`NUMBERS`), tables (:data:`TABLES`),
decisions (:data:`DECISIONS`) and row counts (:data:`COUNTS`), each read from a file under
``results/`` when the site is built. No number a page quotes is typed by hand.
"""

from __future__ import annotations

from pathlib import Path

_SPEED = "{speedup:.2f}x [95% CI {ci_low:.2f}-{ci_high:.2f}]"
_ROLL = "{rollout_speedup:.2f}x"
_REF = "sim-countdown-paper/summary.csv"
_FINAL = "sim-countdown-paper/speedup_to_baseline_final.csv"
_TIER = "rlvr-cpu-tiered/speedup_curve.csv"
_TIER2 = "rlvr-cpu-tiered-warmup2/speedup_curve.csv"
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
    **{
        f"warmup2_{alias}_full": (_TIER2, {"rule": rule, "fraction": 1.0}, _SPEED)
        for alias, rule in (("insight", "insight"), ("mopps", "mopps"),
                            ("ed", "expected-difficulty"), ("ds", "dynamic-sampling"))
    },  # fmt: skip
    **{  # the causal test and its re-runs by later code (two warm-ups of draw 0): a term's
        # slope with both terms in the model, and the evidence term's alone
        f"causal{run}_{prior}_{term}{alone}": (
            f"rlvr-intervention{folder}/slopes.csv",
            {"prior": prior, "model": "evidence only" if alone else "both terms", "term": term},
            _CAUSAL,
        )
        for run, folder in (("", ""), ("_rerun", "-rerun"), ("_rerun_b", "-rerun-b"))
        for prior in ("flat", "eb")
        for term, alone in (("weight", ""), ("evidence", ""), ("evidence", "_alone"))
    },
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
    "gpu_quarter": (
        "rlvr-gpu/speedup_curve.csv", {"rule": "random", "fraction": 0.25},
        "{target:.3f}",
    ),
    "gpu_random_final": (
        "rlvr-gpu/speedup_curve.csv", {"rule": "random", "fraction": 1.0},
        "{target:.3f}",
    ),
    "gpu_insight_target": ("rlvr-gpu/summary.csv", {"rule": "insight"}, _SPEED),
    "gpu_ds_target": ("rlvr-gpu/summary.csv", {"rule": "dynamic-sampling"}, _SPEED),
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


def _picked(frame, keys: dict):
    """The rows of ``frame`` whose ``keys`` columns hold the given values."""
    import pandas as pd

    mask = pd.Series(True, index=frame.index)
    for column, value in keys.items():
        mask &= frame[column] == value
    return frame[mask]


def _row(results: Path, file: str, keys: dict):
    """The one row of ``results/file`` that ``keys`` picks (``LookupError`` otherwise)."""

    from insight_bayes.results.reader import read_table

    path = results / file
    rows = _picked(read_table(path.parent, path.stem), keys)
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

_GPU = "rlvr-gpu"

#: The GPU study (so far draw 0, seeds 0-2 of every rule): speed-ups over Random to
#: relative targets (its config's ``target_fractions``) and the AUC gain, paired by seed.
TABLES["gpu_table"] = (
    {"f": (f"{_GPU}/speedup_curve.csv", {"fraction": 1.0}),  # rows sort by this one
     "h": (f"{_GPU}/speedup_curve.csv", {"fraction": 0.5}),
     "t": (f"{_GPU}/speedup_curve.csv", {"fraction": 0.75}),
     "a": (f"{_GPU}/auc.csv", {})},
    {r: f"`{r}`" for r in ("dynamic-sampling", "insight", "insight-adaptive", "mopps",
                           "mopps-tracking", "expected-difficulty")},
    (("seeds", "{f.n_seeds:.0f}"),
     ("to 50% of Random's gain", "{h.speedup:.2f} [{h.ci_low:.2f}, {h.ci_high:.2f}]"),
     ("to 75%", "{t.speedup:.2f} [{t.ci_low:.2f}, {t.ci_high:.2f}]"),
     ("to 100%", ("f", _never)),
     ("to 100%, per rollout", "{f.rollout_speedup:.2f}"),
     ("AUC gain", "{a.auc_gain:+.4f} [{a.gain_ci_low:+.4f}, {a.gain_ci_high:+.4f}]")),
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

    from insight_bayes.results.reader import read_table

    file, scope, match, template = COUNTS[name]
    path = results / file
    frame = read_table(path.parent, path.stem)

    inside = _picked(frame, scope)
    if scope and inside.empty:
        raise LookupError(f"{name}: {scope} picks no row of {file}")
    return template.format(n=len(_picked(inside, match)), total=len(inside))


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
    from result_folder_pages import write_pages  # docs/_ext is on Sphinx's path (conf.py)

    srcdir = Path(app.srcdir)
    write_pages(srcdir.parent / "results", srcdir / "results")


def setup(app):
    app.connect("builder-inited", _on_builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
