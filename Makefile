# One command to try it, one to test it. Both start from a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= config/demo.toml

.PHONY: install run test lint bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

run: install
	mkdir -p var
	$(BIN)/aftersales --config $(CONFIG) db upgrade
	$(BIN)/aftersales --config $(CONFIG) demo seed
	$(BIN)/aftersales --config $(CONFIG) serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest

bench: install
	$(BIN)/python bench/webhook_load.py

clean:
	rm -rf $(VENV) var .pytest_cache
