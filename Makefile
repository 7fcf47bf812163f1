# The two commands of the README. Both work on a fresh machine: they create
# .venv and install what they need the first time (and when pyproject changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench fuzz clean

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

test: lint
	$(BIN)/pytest -n 2

bench: $(STAMP)
	$(BIN)/python bench/filing.py

# An hour of coverage-guided fuzzing of the reader (a short round is part of make test).
fuzz: $(STAMP)
	$(BIN)/python fuzz/run.py --seconds 3600

clean:
	rm -rf $(VENV) mailfiler.db mailfiler.db-* mailfiler-blobs .fuzz
