# The two commands a new user needs: `make run` and `make test`. Both set up .venv first.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test lint services bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/impasto serve --host 127.0.0.1 --port 8000 --data-dir ./data

lint: $(STAMP)
	$(VENV)/bin/ruff check impasto tests bench
	$(VENV)/bin/mypy

# PostgreSQL, Redis (loopback only) and Chromium from Debian packages, for the service and browser tests.
services:
	bash .ci/services

test: lint services
	$(PY) -m pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
