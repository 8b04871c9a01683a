# Townhall: `make demo` runs it, `make test` tests it. Both install what they need first.
# Every target is safe to run again: installs happen only when their inputs change.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SIZE   ?= small
SEED   ?= 42
HOST   ?= 127.0.0.1
PORT   ?= 8000
# Test processes: one a core (ADR 31). WORKERS=0 runs the suite in this process.
WORKERS ?= auto
VENDOR := src/townhall/portal/static/vendor

# Browsers come from Debian's packages, never downloaded by a test tool.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: install demo serve test lint format bench docs clean help

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

install: $(VENV)/.installed $(VENDOR)/.installed  ## Install Townhall and its tools into .venv, and the front-end assets

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || sh scripts/make-venv.sh "$(PYTHON)" "$(VENV)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(VENDOR)/.installed: node_modules/.installed scripts/vendor-assets.sh
	sh scripts/vendor-assets.sh node_modules $(VENDOR)
	@touch $@

demo: install  ## Build the synthetic borough (SIZE=small|borough|large) and serve it at http://127.0.0.1:8000
	$(BIN)/townhall demo --size $(SIZE) --seed $(SEED) --host $(HOST) --port $(PORT)

serve: install  ## Serve the database that is already there
	$(BIN)/townhall serve --host $(HOST) --port $(PORT)

test: install  ## Run the whole test suite (TOWNHALL_TEST_DATABASE=postgresql for PostgreSQL)
	# One hash seed: schemathesis draws from sets, so its examples repeat only with one.
	PYTHONHASHSEED=0 $(BIN)/pytest -n $(WORKERS) --dist worksteal --durations=20

lint: install  ## ruff, formatting and mypy --strict
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: install  ## Fix formatting and the lint findings that can be fixed safely
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: install  ## Run the benchmarks and print their figures
	$(BIN)/python bench/borough.py
	$(BIN)/python bench/gateway.py
	$(BIN)/python bench/addresses.py $(if $(TOWNHALL_BENCH_POSTGRES_URL),--postgres $(TOWNHALL_BENCH_POSTGRES_URL))
	$(BIN)/python bench/events.py $(if $(TOWNHALL_BENCH_POSTGRES_URL),--postgres $(TOWNHALL_BENCH_POSTGRES_URL))
	$(BIN)/python bench/audit.py
	$(BIN)/python bench/linkage.py
	$(if $(TOWNHALL_BENCH_POSTGRES_URL),$(BIN)/python bench/audit.py --postgres $(TOWNHALL_BENCH_POSTGRES_URL))

docs: install  ## Regenerate the settings and CLI references from the code
	$(BIN)/townhall docs generate

clean:  ## Remove the virtual environment, node_modules and built assets
	rm -rf $(VENV) node_modules $(VENDOR) .pytest_cache .mypy_cache .ruff_cache
