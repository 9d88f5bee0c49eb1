# The words users say. Every target installs what it needs first (a project-local .venv).
PYTHON ?= python3
VENV ?= .venv
# `make test` runs the suite in two lanes side by side (tests/conftest.py says which tests go where).
TEST_LANES ?= 2
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install browser postgres manifest up down status run test test-fast lint-python docs ui sql dashboard api publish bench bench-dbt bench-baseline bench-dagster bench-cluster bench-growth bench-live bench-serving bench-soak lint clean distclean
# Browser tests drive Debian's Chromium (Playwright cannot download its own browser here).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

help:
	@echo "make run     start the services, load the sample data, build every layer (the main job)"
	@echo "LAKEHOUSE_MODE=cluster make run   the same on three Kafka brokers, a Spark master and two workers, a PostgreSQL metastore"
	@echo "make test    run the test suite against real Kafka, Spark and dbt"
	@echo "make up | down | status    start, stop, show the local services"
	@echo "make ui      the Dagster UI (assets, runs, schedules, sensors) on 127.0.0.1:3000"
	@echo "make sql     beeline on the Spark server    make docs    dbt docs with lineage"
	@echo "make dashboard   charts of gold and data health on 127.0.0.1:8501    make api   REST API on 127.0.0.1:8000"
	@echo "make publish     copy gold and the ledger into PostgreSQL (the project's own, or LAKEHOUSE_POSTGRES_URL)"
	@echo "make bench   ingestion figures    make bench-dbt   dbt build figures    make bench-dagster   orchestration overhead"
	@echo "make bench-baseline   the full dbt build against the same SQL in a plain PySpark program"
	@echo "make bench-cluster    local mode against cluster mode (one and two workers) on the same data"
	@echo "make bench-growth   the whole pipeline at 20,000, 200,000 and 2,000,000 records per source"
	@echo "make bench-live   how soon new messages and files reach gold with the Dagster daemon running"
	@echo "make bench-soak   2,000 micro-batches and 200 files with a build per round: does batch 2,000 cost what batch 100 did"
	@echo "make lint    ruff, sqlfluff                  make clean   wipe the data home (keeps jars)"

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --constraint constraints.txt --editable '.[dev]'
	touch $(STAMP)

install: $(STAMP)

up: install
	$(BIN)/lakehouse up

down:
	@test -x $(BIN)/lakehouse && $(BIN)/lakehouse down || true

status: install
	$(BIN)/lakehouse status

run: install
	$(BIN)/lakehouse run

browser:
	@command -v chromium >/dev/null || { echo "installing Debian's chromium for the browser tests"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# PostgreSQL from Debian's package; the project runs its own server under the data home.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || { echo "installing Debian's postgresql"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq postgresql >/dev/null; }

# The dbt manifest the Dagster code location loads, prepared at build time (dbt parse).
manifest: install
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/dagster-dbt project prepare-and-package --file orchestration/transform/project.py

test: install browser postgres manifest lint-python
	LAKEHOUSE_MODE=cluster $(BIN)/lakehouse jars  # cluster mode's Hadoop jars too: the cluster test starts HDFS
	$(BIN)/pytest -n $(TEST_LANES) $(PYTEST_ARGS)

test-fast: install manifest
	$(BIN)/pytest -m fast $(PYTEST_ARGS)

docs: install
	$(BIN)/lakehouse docs

ui: install manifest
	$(BIN)/lakehouse ui

sql: install
	$(BIN)/lakehouse sql

dashboard: install
	$(BIN)/lakehouse dashboard

api: install
	$(BIN)/lakehouse api

publish: install postgres
	$(BIN)/lakehouse publish

bench: install
	$(BIN)/python benchmarks/ingestion.py $(BENCH_ARGS)

bench-dbt: install manifest
	$(BIN)/python benchmarks/dbt_build.py $(BENCH_ARGS)

bench-baseline: install
	$(BIN)/python benchmarks/gold_baseline.py $(BENCH_ARGS)

bench-dagster: install
	$(BIN)/python benchmarks/dagster_overhead.py $(BENCH_ARGS)

bench-cluster: install postgres
	$(BIN)/python benchmarks/cluster_mode.py $(BENCH_ARGS)

bench-growth: install manifest
	$(BIN)/python benchmarks/growth.py $(BENCH_ARGS)

bench-serving: install postgres
	$(BIN)/python benchmarks/serving.py $(BENCH_ARGS)

bench-live: install manifest
	$(BIN)/python benchmarks/live_latency.py $(BENCH_ARGS)

bench-soak: install
	$(BIN)/python benchmarks/soak.py $(BENCH_ARGS)

# sqlfluff's dbt templater compiles the models, and `is_incremental()` asks the Spark server.
# The Python half of `make lint`, which `make test` runs first (the suite runs sqlfluff itself):
# ruff, and the type check of the ingestion library (mypy, configured in pyproject.toml).
lint-python: install
	$(BIN)/ruff check ingestion lakehouse orchestration tests benchmarks
	$(BIN)/ruff format --check ingestion lakehouse orchestration tests benchmarks
	$(BIN)/mypy

lint: lint-python
	$(BIN)/lakehouse spark start
	$(BIN)/sqlfluff lint models tests/dbt

clean: install
	$(BIN)/lakehouse clean

distclean: down
	rm -rf .lakehouse target logs $(VENV)
