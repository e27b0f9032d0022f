# inkdex: `make serve` runs the service, `make test` runs lint + tests.
# Both create .venv on first use; re-running is fast when pyproject.toml has not changed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= config.yaml
FONT_CACHE ?= $(HOME)/.cache/inkdex/fonts

.PHONY: serve test test-all lint bench fonts train clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Runtime install (what `make serve` needs).
$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

# Development install: runtime + training extras + test tools.
$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[train,dev]'
	touch $(VENV)/.runtime $@

serve: $(VENV)/.runtime
	$(BIN)/inkdex serve --config $(CONFIG)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/pytest -q

test-all: lint
	$(BIN)/pytest -q -m ''

bench: $(VENV)/.dev
	$(BIN)/python bench/run_all.py

# Handwriting fonts for synthetic training data, cached outside the repository.
fonts: $(VENV)/.dev
	$(BIN)/inkdex fonts fetch --dest $(FONT_CACHE)

train: $(VENV)/.dev
	$(BIN)/inkdex train --recipe default

clean-venv:
	rm -rf $(VENV)
