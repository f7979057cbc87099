# Two commands set everything up on a fresh machine:
#   make run    installs into .venv and runs the main job
#   make test   installs into .venv and runs lint + the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of PyTorch is installed first and pinned, so nothing pulls a CUDA build.
TORCH_PIN ?= torch==2.13.0

.PHONY: setup run test lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_PIN)"
	$(BIN)/python -m pip install -q -e ".[all,dev]" "$(TORCH_PIN)"
	touch $@

run: setup
	$(BIN)/insight-bayes demo

lint: setup
	$(BIN)/ruff check .

test: setup lint
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python benchmarks/bench_scores.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
