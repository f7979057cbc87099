# Two commands set everything up on a fresh machine:
#   make run    installs into .venv and runs the main job
#   make test   installs into .venv and runs lint + the whole test suite + the docs build
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of PyTorch is installed first and pinned, so nothing pulls a CUDA build.
TORCH_PIN ?= torch==2.13.0

.PHONY: setup run test lint docs notebooks notebooks-serve bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_PIN)"
	$(BIN)/python -m pip install -q -e ".[all,dev]" "$(TORCH_PIN)"
	touch $@

# The main job draws every figure and table into figures/ from the committed results
# (results/: the paper-shaped sweep with its PyMC posterior, the ablation sweeps, the
# robustness grid, the CPU and GPU harness studies, the intervention study and the
# simulator-versus-harness comparison, each without its per-run folders, runs/, which are ignored); it simulates
# nothing and writes nothing under results/. It first prints the committed sweep's
# headline and summary table and draws its learning curves and speed-ups into
# figures/sweep (`insight-bayes plot`).
# `make run FRESH=1` first deletes the two quick simulated results and re-simulates them
# into results/ through `insight-bayes reproduce` (a few minutes on 2 cores),
# then shows `git diff --stat results/`; the robustness grid (about 15 min), the harness
# studies (about an hour each), the intervention study and the simulator-versus-harness
# comparison are always reused.
# `git checkout results/` restores the committed results.
SWEEP_OUT ?= results/sim-countdown-paper
SIMULATED := $(SWEEP_OUT) results/sim-ablations
FRESH ?= 0

run: setup
ifeq ($(FRESH),1)
	@echo "FRESH=1: re-simulating $(SIMULATED) into results/ (the harness study results/rlvr-cpu-study is reused)"
	rm -rf $(SIMULATED)
	$(BIN)/insight-bayes reproduce --results results
	$(BIN)/insight-bayes figures --out figures --results results
	$(BIN)/insight-bayes plot $(SWEEP_OUT) --out figures/sweep
	@git diff --stat -- results/ 2>/dev/null || true
else
	@$(BIN)/python -c "import json; \
m = json.load(open('$(SWEEP_OUT)/manifest.json')); \
print(f\"Reusing the committed sweep in $(SWEEP_OUT) (git {str(m.get('git_revision'))[:10]}, \
{m.get('updated', m.get('created', '?'))[:10]}) instead of re-simulating; make run FRESH=1 re-simulates.\")"
	$(BIN)/insight-bayes plot $(SWEEP_OUT) --out figures/sweep
	$(BIN)/insight-bayes figures --out figures --results results
endif

lint: setup
	$(BIN)/ruff check .

test: setup lint
	$(BIN)/python -m pytest -q
	$(MAKE) docs

# The documentation site into $(DOCS_OUT) (entry page: $(DOCS_OUT)/index.html), built from
# scratch with warnings as errors and nitpicky cross-references. Notebooks are rendered
# from the committed executed copies (never executed here: the build is the same in CI's
# quick mode and locally); a blank or stale notebook fails it (see `make notebooks`).
DOCS_OUT ?= docs/_build/html

docs: setup
	rm -rf docs/api/generated $(DOCS_OUT) docs/_build/doctrees
	MPLBACKEND=Agg $(BIN)/sphinx-build -W --keep-going -n -q -b html -d docs/_build/doctrees \
		docs $(DOCS_OUT)
	@echo "documentation: $(DOCS_OUT)/index.html"

# Re-execute every notebook in full mode, in place (outputs, PNG at 150 dpi, code hash).
notebooks: setup
	$(BIN)/python tools/notebooks.py execute

# Open the notebooks in JupyterLab from the project's environment (the `notebooks` extra
# installs JupyterLab and ipywidgets; paper_figures.explore.explore() gives sliders for
# mu, eta, K and n). INSIGHT_BAYES_STATIC=1 draws static figures instead of sliders.
notebooks-serve: setup
	@test -x $(BIN)/jupyter-lab || { echo "JupyterLab is not installed: $(BIN)/python -m pip install -e '.[notebooks]'"; exit 1; }
	$(BIN)/jupyter-lab notebooks/

bench: setup
	$(BIN)/python benchmarks/bench_scores.py
	$(BIN)/python benchmarks/bench_simulator.py
	$(BIN)/python benchmarks/bench_online.py
	$(BIN)/python benchmarks/bench_rlvr.py --threads 1

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
