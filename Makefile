# drtests: `make drill` runs a full drill on the bundled lab; `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
JARS := fixtures/elasticsearch/lib/.complete

.PHONY: venv jars lab-up lab-down lab-status drill test lint format clean

venv: $(BIN)/.installed
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

jars: $(JARS)
$(JARS): fixtures/elasticsearch/pom.xml
	mvn -q -B -f fixtures/elasticsearch/pom.xml dependency:copy-dependencies -DoutputDirectory=lib
	touch $@

lab-up: venv jars
	$(BIN)/python -m fixtures.lab up

lab-down: venv
	$(BIN)/python -m fixtures.lab down

lab-status: venv
	$(BIN)/python -m fixtures.lab status

drill: lab-up
	$(BIN)/drtests run --config fixtures/drills/lab-local.toml

test: venv jars
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean: lab-down
	rm -rf .lab reports/*/ reports/latest
