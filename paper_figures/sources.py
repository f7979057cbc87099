"""The saved results the figures read, and the command that makes each one.

The figures only draw: they read result folders under the results root and never
train, sweep, fit or write there. Each folder is a :class:`SavedResult`: the files a
figure needs and the ``insight-bayes`` command that writes them. When one is missing,
:meth:`SavedResult.require` raises :class:`MissingResult`, whose message is one line
naming that command::

    results/sim-countdown-paper is missing: run 'insight-bayes sweep countdown-paper ...'

``insight-bayes reproduce`` (:mod:`paper_figures.reproduce`) runs those commands, in
its process, through :func:`insight_bayes_cli.main` (with ``--no-plots``: the figures draw
their own pictures, so the committed folders get no stray PNG). The
quick set (``--quick``) holds small stand-ins under ``RESULTS/scratch/`` (git-ignored)
for CI.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ABLATIONS",
    "BEYOND",
    "BEYOND_MEASURED",
    "BEYOND_ROBUSTNESS",
    "EB",
    "EB_MEASURED",
    "NOISY",
    "HARNESS",
    "MEASURED",
    "ROBUSTNESS",
    "INTERVENTION",
    "TIERED",
    "SIMULATED",
    "SIM_VS_HARNESS",
    "MissingResult",
    "SavedResult",
    "shown",
]

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]


class MissingResult(FileNotFoundError):
    """A saved result a figure needs is absent; the message names the command to run."""


def _config(name: str) -> str:
    """A study config's path as a user types it (relative to the working directory)."""
    path = REPO / "configs" / "rlvr" / name
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def shown(path: str | Path) -> str:
    """A results path as captions and notebooks print it: relative to the repository when
    it lies inside it (``results/sim-countdown-paper``), else as given."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class SavedResult:
    """One result folder under the results root: the files it needs and who makes them.

    Parameters
    ----------
    what : str
        What the folder holds, for messages and captions ("simulated sweep").
    folder : str
        Path below the results root.
    needs : tuple of str
        Files that must exist in the folder.
    arguments : callable
        ``arguments(results_root) -> list[str]``: the ``insight-bayes`` arguments that
        write the folder.
    duration : str
        How long that command takes, shown in the message.
    """

    what: str
    folder: str
    needs: tuple[str, ...]
    arguments: Callable[[Path], list[str]]
    duration: str = ""

    def path(self, results: Path) -> Path:
        return Path(results) / self.folder

    def command(self, results: Path) -> str:
        """The command line that makes this result, as a user would type it."""
        return "insight-bayes " + shlex.join(self.arguments(Path(results)))

    def missing_files(self, results: Path) -> list[str]:
        return [name for name in self.needs if not (self.path(results) / name).exists()]

    def message(self, results: Path, reason: str | None = None) -> str:
        """``<folder> is missing: run '<command>'`` (one line)."""
        took = f" ({self.duration})" if self.duration else ""
        what = reason or "is missing"
        return f"{self.path(results)} {what}: run '{self.command(results)}'{took}"

    def require(self, results: Path) -> Path:
        """The folder when it holds every file of ``needs``; else :class:`MissingResult`."""
        folder = self.path(results)
        missing = self.missing_files(results)
        if missing:
            reason = "is missing" if not folder.exists() else f"lacks {', '.join(missing)}"
            raise MissingResult(self.message(results, reason))
        return folder

    def make(self, results: Path) -> None:
        """Run the command that writes this result (in this process)."""
        from insight_bayes_cli import main

        log.warning("making %s: %s", self.path(results), self.command(results))
        status = main(self.arguments(Path(results)))
        if status:
            raise RuntimeError(f"'{self.command(results)}' exited with status {status}")
        still = self.missing_files(results)
        if still:
            raise MissingResult(
                f"{self.path(results)} still lacks {', '.join(still)} after "
                f"'{self.command(results)}'"
            )


def _sweep(scenario: str, seeds: int, workers: int, out: str, bayes: bool) -> Callable:
    def arguments(results: Path) -> list[str]:
        args = ["sweep", scenario, "--seeds", str(seeds), "--workers", str(workers)]
        return [*args, *(["--bayes"] if bayes else []), "--no-plots", "--no-progress", "--out",
                str(results / out)]  # fmt: skip

    return arguments


def _study(config: str, out: str) -> Callable:
    def arguments(results: Path) -> list[str]:
        return ["rlvr-study", _config(config), "--out", str(results / out), "--device", "cpu",
                "--threads", "1", "--no-plots", "--no-progress"]  # fmt: skip

    return arguments


def _ablations(base: str, seeds: int, workers: int, out: str) -> Callable:
    def arguments(results: Path) -> list[str]:
        return ["ablations", base, "--seeds", str(seeds), "--workers", str(workers),
                "--no-progress", "--out", str(results / out)]  # fmt: skip

    return arguments


_STUDY_FILES = ("manifest.json", "steps.parquet", "prompts.parquet", "pool.parquet")

#: The simulated sweep of Figure 4 and the main table (full, quick).
SIMULATED = (
    SavedResult(
        "simulated sweep",
        "sim-countdown-paper",
        ("manifest.json", "steps.parquet", "speedup_posterior.csv"),
        _sweep("countdown-paper", 10, 2, "sim-countdown-paper", bayes=True),
        "about a minute on 2 cores, the PyMC fit included",
    ),
    SavedResult(
        "QUICK simulated sweep",
        "scratch/sim-quick",
        ("manifest.json", "steps.parquet"),
        _sweep("quick", 3, 1, "scratch/sim-quick", bayes=False),
    ),
)

#: The RLVR harness study (full, quick).
HARNESS = (
    SavedResult(
        "harness study",
        "rlvr-cpu-study",
        _STUDY_FILES,
        _study("cpu.toml", "rlvr-cpu-study"),
        "about 35-60 min on 2 cores",
    ),
    SavedResult(
        "SMOKE harness study",
        "scratch/rlvr-smoke",
        _STUDY_FILES,
        _study("smoke.toml", "scratch/rlvr-smoke"),
    ),
)

#: The five ablations of InSight (full, quick).
ABLATIONS = (
    SavedResult(
        "ablation sweeps",
        "sim-ablations",
        ("manifest.json", "steps.parquet", "summary.csv"),
        _ablations("countdown-paper", 10, 2, "sim-ablations"),
        "about a minute on 2 cores",
    ),
    SavedResult(
        "QUICK ablation sweeps",
        "scratch/sim-ablations-quick",
        ("manifest.json", "steps.parquet", "summary.csv"),
        _ablations("quick", 2, 1, "scratch/sim-ablations-quick"),
    ),
)


def _grid(
    scenario: str, seeds: int, workers: int, out: str, rules: str = "", grid: str = "robustness"
) -> Callable:
    def arguments(results: Path) -> list[str]:
        chosen = ["--rules", rules] if rules else []
        if grid == "measured":  # the structure the comparison with the harness fitted
            chosen += ["--structure", str(results / "sim-vs-harness" / "structure.json")]
        return ["sweep", scenario, "--grid", grid, *chosen, "--seeds", str(seeds),
                "--workers", str(workers), "--no-plots", "--no-progress", "--out",
                str(results / out)]  # fmt: skip

    return arguments


def _rules_sweep(
    scenario: str, rules: str, seeds: int, workers: int, out: str, against: str = ""
) -> Callable:
    def arguments(results: Path) -> list[str]:
        paired = ["--against", against] if against else []
        return ["sweep", scenario, "--rules", rules, "--seeds", str(seeds), "--workers",
                str(workers), *paired, "--no-plots", "--no-progress", "--out",
                str(results / out)]  # fmt: skip

    return arguments


#: The robustness grid around the paper-shaped scenario and its fidelity table (full, quick).
ROBUSTNESS = (
    SavedResult(
        "robustness grid",
        "sim-countdown-paper-robustness",
        ("manifest.json", "cells.csv", "fidelity.csv", "fidelity_summary.csv", "grid_speedups.csv"),
        _grid("countdown-paper", 6, 2, "sim-countdown-paper-robustness"),
        "about 15 min on 2 cores",
    ),  # fmt: skip
    SavedResult(
        "QUICK robustness grid",
        "scratch/sim-quick-robustness",
        ("manifest.json", "cells.csv", "fidelity.csv", "fidelity_summary.csv", "grid_speedups.csv"),
        _grid("quick", 2, 1, "scratch/sim-quick-robustness"),
    ),  # fmt: skip
)


def _intervention(config: str, out: str) -> Callable:
    def arguments(results: Path) -> list[str]:
        return ["rlvr-intervention", _config(config), "--out", str(results / out),
                "--draws", "0,1,2", "--seeds", "0,1,2", "--checkpoints", "25,50",
                "--strata", "4", "--levels", "3", "--controls", "4", "--check-batches", "2",
                "--n-boot", "2000", "--threads", "1", "--no-progress"]  # fmt: skip

    return arguments


_TIERED = SavedResult(
    "tiered harness study",
    "rlvr-cpu-tiered",
    ("manifest.json", "steps.parquet", "choices.parquet", "speedup_curve.csv", "auc.csv"),
    _study("cpu-tiered.toml", "rlvr-cpu-tiered"),
    "about 25 min on 2 cores (benchmarks/results/rlvr_study_wall_cpu.md)",
)
#: The tiered harness study; its quick stand-in is the committed study itself
#: (reading it takes a second; there is no cheap substitute for 25 minutes of training).
TIERED = (_TIERED, _TIERED)

_INTERVENTION = SavedResult(
    "intervention study",
    "rlvr-intervention",
    ("manifest.json", "batches.parquet", "slopes.csv", "arms.csv", "headline.txt"),
    _intervention("cpu-tiered.toml", "rlvr-intervention"),
    "about 30 min on 2 shared cores",
)
#: The causal test of the two terms; quick: the committed one.
INTERVENTION = (_INTERVENTION, _INTERVENTION)


#: The harness studies the simulator is calibrated on and predicts.
SIM_VS_HARNESS_STUDIES = (
    "rlvr-cpu-tiered", "rlvr-cpu-tiered-mid", "rlvr-cpu-tiered-narrow", "rlvr-cpu-k16"
)  # fmt: skip


def _sim_vs_harness(out: str) -> Callable:
    def arguments(results: Path) -> list[str]:
        return ["sim-vs-harness", *(str(results / s) for s in SIM_VS_HARNESS_STUDIES),
                "--gradients", str(results / "rlvr-gradients"),
                "--gradients-k", str(results / "rlvr-gradients-k"),
                "--seeds", "12", "--fit-seeds", "2", "--settings", "6", "--boot", "1000",
                "--no-progress", "--out", str(results / out)]  # fmt: skip

    return arguments


_SIM_VS_HARNESS = SavedResult(
    "simulator-versus-harness comparison",
    "sim-vs-harness",
    ("manifest.json", "predictions.csv", "agreement.csv", "scores.csv", "structure.json"),
    _sim_vs_harness("sim-vs-harness"),
    "not timed here (the four harness studies and rlvr-gradients must exist)",
)
#: The measured learner against four harness studies; quick: the committed comparison.
SIM_VS_HARNESS = (_SIM_VS_HARNESS, _SIM_VS_HARNESS)


def _beyond_rules() -> str:
    """Every rule beyond InSight, with InSight, Random and the oracle (one label list)."""
    from insight_bayes.selectors import BEYOND_RULES

    return ",".join((*BEYOND_RULES, "insight", "random", "oracle"))


def _beyond_sweep(scenario: str, seeds: int, workers: int, out: str) -> Callable:
    def arguments(results: Path) -> list[str]:
        return _rules_sweep(scenario, _beyond_rules(), seeds, workers, out, against="insight")(
            results
        )

    return arguments


#: The rules beyond InSight with InSight, Random and the oracle (full, quick).
BEYOND = (
    SavedResult(
        "sweep of the rules beyond InSight",
        "sim-beyond",
        ("manifest.json", "steps.parquet"),
        _beyond_sweep("countdown-paper", 10, 2, "sim-beyond"),
        "a few minutes on 2 cores",
    ),
    SavedResult(
        "QUICK sweep of the rules beyond InSight",
        "scratch/sim-beyond-quick",
        ("manifest.json", "steps.parquet"),
        _beyond_sweep("quick", 2, 1, "scratch/sim-beyond-quick"),
    ),
)


_EB_RULES = "random,insight,mopps,expected-difficulty,weight,insight-eb,mopps-eb"

#: The learned-prior rules against the paper's pre-rollout rules (full, quick).
EB = (
    SavedResult(
        "sweep of the learned-prior rules",
        "sim-eb",
        ("manifest.json", "steps.parquet", "summary.csv"),
        _rules_sweep("countdown-paper", _EB_RULES, 10, 2, "sim-eb", against="insight,mopps"),
        "a few minutes on 2 cores",
    ),
    SavedResult(
        "QUICK sweep of the learned-prior rules",
        "scratch/sim-eb-quick",
        ("manifest.json", "steps.parquet", "summary.csv"),
        _rules_sweep("quick", _EB_RULES, 2, 1, "scratch/sim-eb-quick", against="insight,mopps"),
    ),
)

_NOISY_RULES = "random,insight,insight-noisy:eps0=0.1,eps1=0.1,oracle"

#: InSight with and without the noisy-verifier belief under a noisy verifier, with Random
#: and the oracle (full, quick).
NOISY = (
    SavedResult(
        "sweep with a noisy verifier",
        "sim-beyond-noisy",
        ("manifest.json", "steps.parquet", "summary.csv"),
        _rules_sweep("countdown-noisy", _NOISY_RULES, 10, 2, "sim-beyond-noisy", against="insight"),
        "about a minute on 2 cores",
    ),
    SavedResult(
        "QUICK sweep with a noisy verifier",
        "scratch/sim-noisy-quick",
        ("manifest.json", "steps.parquet", "summary.csv"),
        _rules_sweep("quick", _NOISY_RULES, 2, 1, "scratch/sim-noisy-quick"),
    ),
)

_BEYOND_GRID_RULES = "random,insight,oracle,mopps-tracking,insight-adaptive"

#: The best rules beyond InSight over the robustness grid (full, quick).
BEYOND_ROBUSTNESS = (
    SavedResult(
        "robustness grid of the rules beyond InSight",
        "sim-beyond-robustness",
        ("manifest.json", "cells.csv", "grid_speedups.csv"),
        _grid("countdown-paper", 4, 2, "sim-beyond-robustness", _BEYOND_GRID_RULES),
        "about 6 min on 2 cores",
    ),
    SavedResult(
        "QUICK robustness grid of the rules beyond InSight",
        "scratch/sim-beyond-robustness-quick",
        ("manifest.json", "cells.csv", "grid_speedups.csv"),
        _grid("quick", 2, 1, "scratch/sim-beyond-robustness-quick", _BEYOND_GRID_RULES),
    ),
)


_GRID_FILES = ("manifest.json", "cells.csv", "fidelity.csv", "fidelity_summary.csv",
               "grid_speedups.csv")  # fmt: skip

#: The robustness grid under the learner measured on the harness (discount and pool
#: strength; its structure is the comparison's ``structure.json``) (full, quick).
MEASURED = (
    SavedResult(
        "robustness grid under the measured learner",
        "sim-countdown-paper-measured",
        _GRID_FILES,
        _grid("countdown-paper", 6, 2, "sim-countdown-paper-measured", grid="measured"),
        "a few minutes on 2 cores",
    ),
    SavedResult(
        "QUICK robustness grid under the measured learner",
        "scratch/sim-quick-measured",
        _GRID_FILES,
        _grid("quick", 2, 1, "scratch/sim-quick-measured", grid="measured"),
    ),
)


def _beyond_grid(scenario: str, seeds: int, workers: int, out: str) -> Callable:
    def arguments(results: Path) -> list[str]:
        return _grid(scenario, seeds, workers, out, _beyond_rules(), grid="measured")(results)

    return arguments


#: Every rule beyond InSight (with InSight, Random and the oracle) under the measured
#: learner, over its grid (full, quick).
BEYOND_MEASURED = (
    SavedResult(
        "rules beyond InSight under the measured learner",
        "sim-beyond-measured",
        _GRID_FILES,
        _beyond_grid("countdown-paper", 6, 2, "sim-beyond-measured"),
        "about 10 min on 2 cores",
    ),
    SavedResult(
        "QUICK rules beyond InSight under the measured learner",
        "scratch/sim-beyond-quick-measured",
        _GRID_FILES,
        _beyond_grid("quick", 2, 1, "scratch/sim-beyond-quick-measured"),
    ),
)


#: The learned-prior rules and their incumbents under the measured learner, over its grid
#: (the simulator's secondary table of the evidence-term decision) (full, quick).
EB_MEASURED = (
    SavedResult(
        "learned-prior rules under the measured learner",
        "sim-eb-measured",
        _GRID_FILES,
        _grid("countdown-paper", 6, 2, "sim-eb-measured", _EB_RULES, grid="measured"),
        "a few minutes on 2 cores",
    ),
    SavedResult(
        "QUICK learned-prior rules under the measured learner",
        "scratch/sim-eb-quick-measured",
        _GRID_FILES,
        _grid("quick", 2, 1, "scratch/sim-eb-quick-measured", _EB_RULES, grid="measured"),
    ),
)


def pick(pair: tuple[SavedResult, SavedResult], quick: bool) -> SavedResult:
    """The full result of ``pair``, or its quick stand-in."""
    return pair[1] if quick else pair[0]
