# The local stack and everything that runs on it. Every target sets up what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STATE := .local
export ALERT_CONFIG ?= $(CURDIR)/config/alert_config.json

.PHONY: help venv prereqs up down status demo test test-unit bench clean

help:
	@echo "make demo   - the main job: replay real AHU alarms through the whole service on the local stack"
	@echo "make test   - every test (unit + end-to-end on the real emulators), with coverage"
	@echo "make up / make down / make status - the local stack in the background"
	@echo "make bench  - benchmarks, written to bench/results.json"

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed (set PYTHON=python3.11)")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.installed

prereqs: venv
	@$(PY) -m local.prereqs

up: prereqs
	$(PY) -m local.stack up --state-dir $(STATE) --config "$(ALERT_CONFIG)"

down:
	@if [ -x $(PY) ]; then $(PY) -m local.stack down --state-dir $(STATE); fi

status: venv
	$(PY) -m local.stack status --state-dir $(STATE)

demo: prereqs
	$(PY) -m local.demo --state-dir $(STATE)/demo

test: prereqs
	@rm -rf $(STATE)/coverage && mkdir -p $(STATE)/coverage
	$(PY) -m coverage run -m pytest $(PYTEST_ARGS); tests=$$?; \
	$(PY) -m coverage combine --quiet; \
	$(PY) -m coverage report; coverage=$$?; \
	if [ $$tests -ne 0 ]; then exit $$tests; fi; exit $$coverage

test-unit: venv
	$(PY) -m pytest tests/unit -q

bench: prereqs
	$(PY) -m bench.run

clean: down
	rm -rf $(STATE) .pytest_cache
