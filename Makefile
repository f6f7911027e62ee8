# Two commands for a newcomer: `make demo` and `make test`. Both create .venv when needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= var/demo
YEAR ?= 2024
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= 1
export GX_ANALYTICS_ENABLED ?= false

.PHONY: venv lock demo test test-fast lint format bench soak screenshots clean

venv: $(STAMP)

# The exact dependency set of requirements.lock (hash-checked), then the project itself.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e '.[dev]'
	touch $(STAMP)

# Re-resolve requirements.lock from pyproject.toml's ranges (runtime, extras and dev tools; any
# platform, Python 3.11+, every file's hash); commit the result, then `make venv`.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--generate-hashes --custom-compile-command 'make lock' --quiet -o requirements.lock

demo: $(STAMP)
	$(BIN)/bureau-stats demo --year $(YEAR) --dir $(DEMO_DIR)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

soak: $(STAMP)
	$(BIN)/python -m pytest -q -m soak --runslow

# PNGs of the flow-run page, its artifacts and the HTML report (headless system Chromium).
screenshots: $(STAMP)
	$(BIN)/python -m tools.ui_pages --out docs/img

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
