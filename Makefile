# inkdex: `make serve` runs the service, `make test` runs lint + tests.
# Both create .venv on first use; re-running is fast when pyproject.toml has not changed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= config.yaml
FONT_CACHE ?= $(HOME)/.cache/inkdex/fonts
# English word list for the lexicon decoder (built from wordfreq, not kept in git).
LEXICON := models/lexicon-en.txt

# $(call apt_install,PACKAGE,WHAT HAPPENS WITHOUT IT): shell code that installs a
# Debian package with apt-get when running as root, and otherwise says what is missing.
apt_install = if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing $(1)"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(1) >/dev/null) \
			|| echo "could not install $(1); $(2)"; \
	else \
		echo "$(1) not installed and not root: $(2)"; \
	fi

.PHONY: serve test test-all lint chromium bench fonts text train clean-venv

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
		$(call apt_install,chromium,the browser test will be skipped); \
	fi

bench: $(VENV)/.dev $(LEXICON)
	$(BIN)/python bench/run_all.py

# Handwriting fonts for synthetic training data, cached outside the repository.
fonts: $(VENV)/.dev
	$(BIN)/inkdex fonts fetch --dest $(FONT_CACHE)

# Text the recipe needs from Debian: the fortunes' sentences for synthetic text lines
# (without them, lines are built from word lists only and the recipe is not the one
# the bundled model was trained with), and with them WordNet's glosses for the
# decoders' character language model (`inkdex charlm`, run at the end of training).
text:
	@if [ ! -d /usr/share/games/fortunes ]; then \
		$(call apt_install,fortunes,synthetic text will use word lists only); \
	fi
	@if [ ! -d /usr/share/wordnet ]; then \
		$(call apt_install,wordnet-base,the language model will be built without WordNet); \
	fi

train: fonts text
	$(BIN)/inkdex train --recipe default

clean-venv:
	rm -rf $(VENV)
