# The two commands of the README: `make demo` and `make test`. Both create or reuse .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.avgkit-installed
LINTED := src tests examples benchmarks docs

.PHONY: install demo test lint types docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/avgkit demo --db build/demo.db
	$(BIN)/python examples/ticketshop_walkthrough.py

test: $(STAMP)
	$(BIN)/pytest
	$(MAKE) lint types docs

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

types: $(STAMP)
	$(BIN)/mypy --strict src
	MYPYPATH=examples $(BIN)/mypy --strict examples/ticketshop examples/ticketshop_walkthrough.py \
		benchmarks/retention_plan.py benchmarks/run.py benchmarks/_table.py benchmarks/hot_paths.py benchmarks/writers.py \
		benchmarks/consent_audience.py
	$(BIN)/mypy --strict examples/custom_store/avgkit_docstore
	cd examples/django_shop && ../../$(BIN)/mypy --config-file mypy.ini

docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -q -b html docs build/docs

clean:
	rm -rf build docs/_build .mypy_cache .ruff_cache .hypothesis
