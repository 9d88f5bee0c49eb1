# The words users say. Every target installs what it needs first (a project-local .venv).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install up down status run test docs sql bench lint clean distclean

help:
	@echo "make run     start the services, load the sample data, build every layer (the main job)"
	@echo "make test    run the test suite against real Kafka, Spark and dbt"
	@echo "make up | down | status    start, stop, show the local services"
	@echo "make sql     beeline on the Spark server    make docs    dbt docs with lineage"
	@echo "make bench   ingestion figures (Kafka and files -> bronze)"
	@echo "make lint    ruff                            make clean   wipe the data home (keeps jars)"

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

test: install
	$(BIN)/lakehouse jars
	$(BIN)/pytest $(PYTEST_ARGS)

docs: install
	$(BIN)/lakehouse docs

sql: install
	$(BIN)/lakehouse sql

bench: install
	$(BIN)/python benchmarks/ingestion.py $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check ingestion orchestration tests benchmarks
	$(BIN)/ruff format --check ingestion orchestration tests benchmarks

clean: install
	$(BIN)/lakehouse clean

distclean: down
	rm -rf .lakehouse target logs $(VENV)
