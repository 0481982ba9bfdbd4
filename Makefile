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

# The lab picks its ports and folders when it starts; the drill config gets them with --set.
LAB_SETS = --set stackstate.home="$$(cat .lab/stackstate.prefix)/stackstate" \
	--set elasticsearch.url="$$(cat .lab/es.url)" \
	--set elasticsearch.repository_location="$(CURDIR)/.lab/es/repo/sts-backup" \
	--set target.owner="$$(id -un)"

drill: lab-up
	$(BIN)/drtests run --config fixtures/drills/lab-local.toml $(LAB_SETS)

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
