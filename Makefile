# The two commands of the README. Both work on a fresh machine: they create
# .venv and install what they need the first time (and when pyproject changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint web bench fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[outlook,dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/mailfiler demo --serve

lint: $(STAMP)
	$(BIN)/ruff check src tests bench fuzz
	$(BIN)/ruff format --check src tests bench fuzz
	$(BIN)/mypy src

# The pages (src/mailfiler/web): type-checked against the API's types, linted, formatted,
# their state's transitions unit-tested (package.json: npm run check).
NODE_STAMP := node_modules/.installed

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

web: $(NODE_STAMP)
	npm run --silent check

# The pages' types, from the API as it is now (tests/web/test_api_types.py says when stale).
api-types: $(STAMP) $(NODE_STAMP)
	$(BIN)/python tools/api_types.py

test: lint web
	$(BIN)/pytest -n 2

bench: $(STAMP)
	$(BIN)/python bench/filing.py

# An hour of coverage-guided fuzzing of the reader (a short round is part of make test).
fuzz: $(STAMP)
	$(BIN)/python fuzz/run.py --seconds 3600

clean:
	rm -rf $(VENV) node_modules mailfiler.db mailfiler.db-* mailfiler-blobs .fuzz
