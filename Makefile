# The two commands a new user needs: `make run` and `make test`. Each sets up .venv first, with the
# versions CI tested (constraints.txt): `make run` only what the web app needs, `make test` the test
# tools too.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt
HOST ?= 127.0.0.1
PORT ?= 8000
DATA ?= ./data

.PHONY: install install-web run test lint services bench constraints clean video-example

$(PY):
	python3 -m venv $(VENV)

$(VENV)/.web: pyproject.toml constraints.txt | $(PY)
	@echo "Installing Impasto with PyTorch and the web app into $(VENV): once, a minute or two (about 1 GB)…"
	$(PIP) -e '.[web]'
	@echo "Installed. The command line is $(VENV)/bin/impasto (or run: source $(VENV)/bin/activate)."
	touch $@

$(VENV)/.dev: pyproject.toml constraints.txt | $(PY)
	$(PIP) -e '.[dev]'
	touch $@ $(VENV)/.web

install-web: $(VENV)/.web
install: $(VENV)/.dev

# A short log for a person (jobs, warnings, errors), also when make's output is not a terminal;
# IMPASTO_LOG_FORMAT=json make run gives the JSON lines, one per request too.
run: $(VENV)/.web
	IMPASTO_LOG_FORMAT=$${IMPASTO_LOG_FORMAT:-text} $(VENV)/bin/impasto serve --host $(HOST) --port $(PORT) --data-dir $(DATA)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check impasto tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# PostgreSQL, Redis (loopback only) and Chromium from Debian packages, for the service and browser tests.
# Outside CI a service that cannot be started (no root to install it, say) is not fatal: the tests
# that need it skip, naming it. Under CI=true it is.
services:
	@bash .ci/services || { [ "$$CI" != true ] && echo "services: not all test services could be started; the tests that need them will be skipped, naming what is missing"; }

test: lint services
	$(PY) -m pytest

# Refresh constraints.txt from the dev environment after changing dependencies (then run `make test`).
constraints: $(VENV)/.dev
	$(PY) -m pip freeze --exclude-editable --disable-pip-version-check | grep -v '^impasto' | sed 's/+cpu$$//' > constraints.txt

# The README's video example (docs/video-example.*): a pan over Tübingen, painted.
video-example: $(VENV)/.dev
	$(PY) docs/video_example.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
