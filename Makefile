# drtests: `make drill` runs a full drill on the bundled lab; `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
JARS := fixtures/elasticsearch/lib/.complete

.PHONY: deps-drill deps-test venv jars docker image lab-up lab-down lab-status drill drill-isolated drill-existing \
	bench test verify-cosign lint format clean

# What the machine needs (java, maven, docker.io, ...): installed with apt-get when running as root
# on Debian, else the one command that installs them is printed (exit 2).
deps-drill:
	@$(PYTHON) fixtures/deps.py drill

deps-test:
	@$(PYTHON) fixtures/deps.py test

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

# The Docker engine (started in the background when not answering) and the lab image (built
# offline with debootstrap, tagged by a hash of its inputs, reused).
docker:
	fixtures/docker/start-dockerd.sh

image: venv docker
	$(BIN)/python -m fixtures.docker.image

lab-up: venv jars
	$(BIN)/python -m fixtures.lab up

lab-down: venv
	$(BIN)/python -m fixtures.lab down

lab-status: venv
	$(BIN)/python -m fixtures.lab status

# The lab picks its ports and folders when it starts; the drill config gets them with --set.
LAB_SETS = --set stackstate.home="$$(cat .lab/stackstate.prefix)/stackstate" \
	--set probe.api_url="$$(cat .lab/stackstate-api.url)" \
	--set elasticsearch.url="$$(cat .lab/es.url)" \
	--set elasticsearch.repository_location="$(CURDIR)/.lab/es/repo/sts-backup" \
	--set target.owner="$$(id -un)"

# The lab signs its drills with a key made once in .lab/keys (never a production key: production
# configs name theirs in [evidence] signing_key_file); the report says it is the lab's.
LAB_KEY = .lab/keys/drtests.key

$(LAB_KEY): | venv
	$(BIN)/drtests keygen --out .lab/keys

drill: deps-drill lab-up $(LAB_KEY)
	DRTESTS_SIGNING_KEY_FILE=$(LAB_KEY) $(BIN)/drtests run --config fixtures/drills/lab-local.toml $(LAB_SETS) \
		--set evidence.signing_key_note="lab key, not for production use"

# Isolated: back up the lab container, restore the graph into a fresh disposable container and the
# snapshot into the lab's restore cluster (a second ES node reading the same repository), compare,
# remove both copies.
ISO_SETS = --set elasticsearch.url="$$(cat .lab/es.url)" \
	--set elasticsearch.repository_location="$(CURDIR)/.lab/es/repo/sts-backup" \
	--set isolated.image="$$($(BIN)/python -m fixtures.docker.image)"

drill-isolated: deps-test lab-up image
	$(BIN)/python -m fixtures.lab restore-cluster-up
	$(BIN)/python -m fixtures.lab docker-up
	$(BIN)/drtests run --config fixtures/drills/lab-isolated.toml $(ISO_SETS) \
		--set restore_cluster.url="$$(cat .lab/es-restore.url)"; rc=$$?; \
	$(BIN)/python -m fixtures.lab docker-down; exit $$rc

# Existing backups: the lab container's "nightly" sts-backup.sh file and snapshot (made first, their
# facts recorded with drtests record-backup), restored in a disposable container and compared; the
# container's stackstate.service is never stopped by the drill.
drill-existing: deps-test lab-up image
	$(BIN)/python -m fixtures.lab docker-up
	$(BIN)/python -m fixtures.lab nightly && \
	$(BIN)/drtests record-backup --config fixtures/drills/lab-existing.toml $(ISO_SETS) && \
	$(BIN)/drtests run --config fixtures/drills/lab-existing.toml $(ISO_SETS); rc=$$?; \
	$(BIN)/python -m fixtures.lab docker-down; exit $$rc

# Benchmarks at the scale of a real install (about 20-30 minutes); writes bench/RESULTS.md.
bench: deps-test venv jars image
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.graph_proof --out bench/RESULTS.md

# Two workers (pytest-xdist), each with its own Elasticsearch node; the tests that start containers
# run on one of them in turn (tests/conftest.py). TEST_WORKERS=0 runs everything in this process.
TEST_WORKERS ?= 2
test: deps-test venv jars image
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS))

# cosign (pinned, built from the Go module proxy into .cache/bin, about 4 minutes the first time)
# verifies a real drill's envelope with the public key alone: tests/e2e/test_cosign.py.
COSIGN_VERSION := v2.4.3
COSIGN := .cache/bin/cosign-$(COSIGN_VERSION)
$(COSIGN):
	mkdir -p .cache/bin
	GOBIN=$(CURDIR)/.cache/gobin go install github.com/sigstore/cosign/v2/cmd/cosign@$(COSIGN_VERSION)
	mv .cache/gobin/cosign $@

verify-cosign: deps-test venv jars $(COSIGN)
	DRTESTS_COSIGN=$(CURDIR)/$(COSIGN) $(BIN)/pytest -p no:cacheprovider tests/e2e/test_cosign.py

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean: lab-down
	rm -rf .lab reports/*/ reports/latest
