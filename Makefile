# Harbour Mall + Summit Bank sandbox. The README's Quick start is `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SHOP_PORT ?= 8000
ISSUER_PORT ?= 8001
HOST ?= 127.0.0.1
# Both apps run under gunicorn as gunicorn.conf.py says (gthread workers, `client_id` header kept, no access log);
# e2e/harness.py and `make bench` start them from that same file.
GUNICORN = $(BIN)/gunicorn --config gunicorn.conf.py

.PHONY: demo test lint bench chromium fonts install install-test clean

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q python3-venv && $(PYTHON) -m venv $(VENV); \
	  else echo "Python's venv module is missing: run 'sudo apt-get install -y python3-venv'" >&2; exit 1; fi; }
	@$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# Playwright cannot download browsers here: the suite drives the system Chromium.
chromium:
	@if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium; \
	else echo "Chromium is missing: run 'sudo apt-get install -y chromium'" >&2; exit 1; fi

# Chinese pages need a CJK font, or Chromium's screenshots (and a person's screen) show boxes. The CSS names
# system fonts only (no web fonts); Debian's fonts-noto-cjk provides "Noto Sans CJK TC".
fonts:
	@if command -v fc-list >/dev/null 2>&1 && [ -n "$$(fc-list :lang=zh family 2>/dev/null)" ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q fonts-noto-cjk; \
	else echo "No Chinese font found (fc-list :lang=zh is empty): run 'sudo apt-get install -y fonts-noto-cjk'" \
	  "so the Traditional Chinese pages show characters, not boxes." >&2; fi

# seed upgrades each app's database in place (its Alembic migrations), then adds whatever seed rows are missing.
demo: $(VENV)/.installed
	@$(BIN)/flask --app issuer_sandbox seed
	@$(BIN)/flask --app shop seed
	@echo
	@echo "Harbour Mall (shop):            http://$(HOST):$(SHOP_PORT)"
	@echo "Summit Bank sandbox (issuer):   http://$(HOST):$(ISSUER_PORT)"
	@echo
	@$(BIN)/flask --app shop demo-info
	@echo
	@$(BIN)/flask --app issuer_sandbox demo-info
	@echo
	@echo "Press Ctrl-C to stop both apps."
	@SHOP_ISSUER_URL=$${SHOP_ISSUER_URL:-http://$(HOST):$(ISSUER_PORT)} bash -c '\
	  $(GUNICORN) --bind $(HOST):$(ISSUER_PORT) "issuer_sandbox:create_app()" & issuer=$$!; \
	  $(GUNICORN) --bind $(HOST):$(SHOP_PORT) "shop:create_app()" & shop=$$!; \
	  trap "kill -TERM $$issuer $$shop 2>/dev/null; wait; echo; echo Both apps stopped.; exit 0" INT TERM; \
	  wait -n; kill -TERM $$issuer $$shop 2>/dev/null; wait; exit 1'

# Three passes (the README's Tests section has the table). 1: everything on SQLite, plus the
# PostgreSQL-marked tests when TEST_POSTGRES_URL is set (.ci/run sets it). With it set, 2: the shop's and the
# issuer's suites again with every test on PostgreSQL (TEST_DATABASE=postgresql, see testing/postgres.py), and
# 3: the whole e2e suite with both apps on fresh PostgreSQL databases (E2E_DATABASE=postgresql, e2e/harness.py).
PG_SUITE_WORKERS ?= 2
E2E_POSTGRES_WORKERS ?= 2
test: $(VENV)/.installed-test chromium fonts
	@echo "== Pass 1/3: all suites on SQLite (and the PostgreSQL-marked tests if TEST_POSTGRES_URL is set) =="; \
	  $(BIN)/python -m pytest -n auto $(PYTEST_ARGS); status=$$?; \
	  if [ $$status -eq 5 ]; then echo "No tests were collected."; status=0; fi; \
	  if [ $$status -ne 0 ]; then exit $$status; fi; \
	  if [ -z "$$TEST_POSTGRES_URL" ]; then \
	    echo "PostgreSQL: skipped (set TEST_POSTGRES_URL=postgresql+psycopg://user:password@host/db, a role that"; \
	    echo "  may create databases, or run .ci/run as root) - the suites above ran on SQLite only."; \
	    exit 0; fi; \
	  echo "== Pass 2/3: the shop's and the issuer's suites, every test on PostgreSQL (TEST_DATABASE=postgresql) =="; \
	  TEST_DATABASE=postgresql $(BIN)/python -m pytest shop/tests issuer_sandbox/tests -n $(PG_SUITE_WORKERS) \
	    $(PYTEST_ARGS); status=$$?; \
	  if [ $$status -eq 5 ]; then status=0; fi; \
	  if [ $$status -ne 0 ]; then exit $$status; fi; \
	  echo "== Pass 3/3: the e2e suite again, both apps on PostgreSQL (E2E_DATABASE=postgresql) =="; \
	  E2E_DATABASE=postgresql $(BIN)/python -m pytest e2e -n $(E2E_POSTGRES_WORKERS) $(PYTEST_ARGS) \
	    --output test-results/postgresql; status=$$?; \
	  if [ $$status -eq 5 ]; then status=0; fi; exit $$status

# Load figures of both apps against a bare-Flask floor (wrk; SQLite, and PostgreSQL where one can be had).
# Iterate with `make bench BENCH_ARGS=--quick`; see `.venv/bin/python e2e/bench.py --help`.
bench: $(VENV)/.installed
	$(BIN)/python e2e/bench.py $(BENCH_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) instance test-results .pytest_cache
