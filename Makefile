# The two commands of the README: `make demo` and `make test`. Each creates .venv and installs
# what it needs on first use, so a fresh clone needs nothing else than Python >= 3.11.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck unit bench soak clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Earmark needs Python >= 3.11" or 0)'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m node.demo

test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy dsl engine node bridges

# The PostgreSQL tests need a server: .ci/postgres starts one (installing it where it can);
# without one they skip, except under CI, where they fail.
unit: $(STAMP)
	EARMARK_TEST_POSTGRES_URL="$${EARMARK_TEST_POSTGRES_URL:-$$(.ci/postgres || true)}" \
	$(BIN)/pytest -q -n 2

# Long fault runs, kept out of `make test`: 200 SIGKILLs of a committing process per store.
soak: $(STAMP)
	EARMARK_CRASH_KILLS=200 EARMARK_TEST_POSTGRES_URL="$${EARMARK_TEST_POSTGRES_URL:-$$(.ci/postgres)}" \
	$(BIN)/pytest -q tests/engine/test_crash.py

bench: $(STAMP)
	$(BIN)/earmark bench dsl

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
