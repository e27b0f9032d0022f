# inkdex: `make serve` runs the service, `make test` runs lint + tests.
# Both create .venv on first use; re-running is fast when pyproject.toml has not changed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= config.yaml
FONT_CACHE ?= $(HOME)/.cache/inkdex/fonts
# English word list for the lexicon decoder (built from wordfreq, not kept in git).
LEXICON := models/lexicon-en.txt

.PHONY: serve test test-all lint chromium bench fonts fortunes train clean-venv

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

$(LEXICON): | $(VENV)/.runtime
	$(BIN)/inkdex lexicon --out $@

serve: $(VENV)/.runtime $(LEXICON)
	$(BIN)/inkdex serve --config $(CONFIG)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint chromium $(LEXICON)
	$(BIN)/pytest -q

test-all: lint chromium $(LEXICON)
	$(BIN)/pytest -q -m ''

# Headless Chromium for the web-page test (tests/api/test_browser.py). Installed with
# apt-get when missing and running as root; otherwise that test skips and says why.
chromium:
	@if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing chromium for the browser test"; \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null) \
				|| echo "could not install chromium; the browser test will be skipped"; \
		else \
			echo "chromium not found and not root: the browser test will be skipped"; \
		fi; \
	fi

bench: $(VENV)/.dev $(LEXICON)
	$(BIN)/python bench/run_all.py

# Handwriting fonts for synthetic training data, cached outside the repository.
fonts: $(VENV)/.dev
	$(BIN)/inkdex fonts fetch --dest $(FONT_CACHE)

# Sentences for synthetic text lines come from Debian's fortunes when it is installed
# (without it, lines are built from word lists only and the recipe is not the one the
# bundled model was trained with).
fortunes:
	@if [ ! -d /usr/share/games/fortunes ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing Debian's fortunes for synthetic text"; \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fortunes >/dev/null) \
				|| echo "could not install fortunes; synthetic text will use word lists only"; \
		else \
			echo "fortunes not installed and not root: synthetic text will use word lists only"; \
		fi; \
	fi

train: fonts fortunes
	$(BIN)/inkdex train --recipe default

clean-venv:
	rm -rf $(VENV)
