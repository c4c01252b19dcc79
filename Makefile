# The two commands of the quick start: `make serve` and `make test`.
# Each creates .venv on first use and installs what it needs; nothing else is required.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The server install: no JAX, no test tools.
$(VENV)/.serve-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[server]"
	touch $@

# Everything: the server, the baselines (JAX), the scale-out parts and the test tools.
$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[server,baselines,scale,dev]"
	touch $@ $(VENV)/.serve-installed

.PHONY: serve test bench clean
serve: $(VENV)/.serve-installed
	$(BIN)/arena serve --port $(PORT)

# The documentation site is built first (strict: a broken link or page fails), into build/, then ruff's lint and
# format checks, then mypy's type checks (configured in pyproject.toml), then the tests.
test: $(VENV)/.test-installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir build/site
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.test-installed
	$(BIN)/python bench/scoring.py

clean:
	rm -rf $(VENV) build *.egg-info
