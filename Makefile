# Kopilka — two commands on a fresh machine:
#   make run    the whole product (web, Celery worker, beat, demo data) on the embedded default
#   make test   the test suite (SQLite unless DATABASE_URL says otherwise)
#   make serve  production: gunicorn + Celery worker + beat on DATABASE_URL / CELERY_BROKER_URL
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run serve test lint format messages benchmark benchmark-api clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/python manage.py compilemessages --ignore=.venv -v 0
	$(BIN)/python manage.py migrate --noinput -v 0
	HOST=$(HOST) PORT=$(PORT) $(BIN)/python manage.py setup_demo
	HOST=$(HOST) PORT=$(PORT) bin/run-all

# Production on this machine (README, "Production"); bin/serve refuses SQLite and the
# filesystem broker and says why.
serve: install
	bin/serve

test: install
	$(BIN)/python manage.py compilemessages --ignore=.venv -v 0
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py check

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

messages: install
	$(BIN)/python manage.py makemessages -l ru --ignore=.venv --ignore=var
	$(BIN)/python manage.py compilemessages --ignore=.venv

benchmark: install
	$(BIN)/python manage.py benchmark

# The POS API over HTTP against pgbench (docs/benchmarks.md). PostgreSQL database of its own;
# needs wrk and pgbench (apt-get install wrk postgresql-contrib). The server runs with the
# production settings, which want a shared cache and a real broker: Redis on this machine.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/kopilka_bench
BENCH_CACHE_URL ?= redis://127.0.0.1:6379/13
BENCH_BROKER_URL ?= redis://127.0.0.1:6379/14
BENCH_ARGS ?=
BENCH_DB_NAME = $(lastword $(subst /, ,$(BENCH_DATABASE_URL)))
benchmark-api: install
	@# The database is created when missing (createdb of the PostgreSQL client, as pgbench).
	@createdb --maintenance-db=$(patsubst %/$(BENCH_DB_NAME),%/postgres,$(BENCH_DATABASE_URL)) \
	  $(BENCH_DB_NAME) 2>/dev/null || true
	DATABASE_URL=$(BENCH_DATABASE_URL) CACHE_URL=$(BENCH_CACHE_URL) \
	CELERY_BROKER_URL=$(BENCH_BROKER_URL) $(BIN)/python manage.py benchmark_api $(BENCH_ARGS)

clean:
	rm -rf var .pytest_cache .hypothesis
