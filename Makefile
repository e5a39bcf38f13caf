# Kopilka — two commands on a fresh machine:
#   make run    the whole product (web, Celery worker, beat, demo data) on the embedded default
#   make test   the test suite (SQLite unless DATABASE_URL says otherwise)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint format messages benchmark clean

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

clean:
	rm -rf var .pytest_cache .hypothesis
