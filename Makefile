# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow test-all test-fast lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/weir run examples/fan_out.py:squares -p n=5

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/mypy

# Everything but the long suites (under 10 minutes on 2 cores); CI also runs `make test-slow`.
test: lint
	$(BIN)/pytest -q -m "not slow"

# The long suites: many seeds, real processes for many seconds, years of simulated schedules.
test-slow: $(STAMP)
	$(BIN)/pytest -q -m slow

test-all: test test-slow

# The quick loop while working: no slow (many-seed, long) and no browser tests.
test-fast: lint
	$(BIN)/pytest -q -m "not slow and not browser"

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .weir .pytest_cache .ruff_cache
