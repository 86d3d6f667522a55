# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check

.PHONY: demo test test-fast lint typecheck unit install sample schema docs constraints clean bench system-deps

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet -c constraints.txt -e '.[test]'
	touch $@

install: $(BIN)/.installed

# Debian packages for the browser tests (headless Chromium, CJK fonts; no browser download)
# the PostGIS tests (a throwaway server started by the tests themselves) and the workbook
# test (LibreOffice opens result.xlsx).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
system-deps:
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk fontconfig \
		postgresql-15 postgresql-15-postgis-3 libreoffice-calc

sample: install
	$(BIN)/allocator generate-sample --if-missing

demo: sample
	$(BIN)/allocator solve scenarios/baseline.yaml --out out/baseline
	$(BIN)/allocator report out/baseline

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/python -m pytest

test: lint typecheck unit

# The fast tier only: no solver, browser or database (under a minute).
test-fast: install
	$(BIN)/python -m pytest -m fast

# Benchmarks (long: tens of minutes): writes benchmarks/RESULTS.md.
bench: install
	$(BIN)/python -m benchmarks

schema: install
	$(BIN)/allocator schema --out scenarios/schema.json

docs: install
	$(BIN)/python -c "from allocator.words import input_columns_doc; print(input_columns_doc())" > docs/input_columns.md

# Re-pin after changing dependencies: the versions the tests passed with.
constraints: install
	$(PIP) freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean:
	rm -rf $(VENV) out .mypy_cache .ruff_cache .pytest_cache
