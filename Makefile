# One command each for a new user: `make demo` and `make test` install everything they need first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
UV_VERSION := 0.13.9

.PHONY: install system-packages demo test crash-test lint dev lock bench clean codebook

install: $(STAMP) system-packages

# Bytecode is compiled once here: with PYTHONDONTWRITEBYTECODE set (as on this machine) Python never
# writes .pyc files itself, and every start of ssm, Dagster or dbt would compile them from source again
# (importing the code location: 5.8 s without, 3.3 s with; bench/PROFILE.md).
$(STAMP): pyproject.toml requirements.lock Makefile
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib pipelines >/dev/null
	touch $(STAMP)

## Debian packages that the tests drive for real, installed when missing: chromium (Playwright drives it
## for the browser tests; it cannot download its own here), postgresql (a team deployment's Dagster
## storage; the tests start their own server) and nginx (the login in front of the Dagster UI).
DEBIAN_PACKAGES := chromium postgresql nginx

system-packages:
	@missing="$$(for p in $(DEBIAN_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || printf '%s ' $$p; done)"; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian's $$missing(apt-get)"; \
		SUDO="$$( [ $$(id -u) -eq 0 ] || echo sudo )"; \
		$$SUDO apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

## Install, write the demonstration deliveries (2016-2026) and run the whole pipeline on them.
demo: install
	$(BIN)/ssm demo

## Install and run the linters and the whole test suite.
test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadfile

## Issue 7's crash test at full strength: `ssm run` killed at all 20 seeded moments (about 30 min).
## The suite runs 2 of the same 20 (tests/test_crash_safety.py).
crash-test: install
	SSM_TEST_CRASH_MOMENTS=20 $(BIN)/python -m pytest tests/test_crash_safety.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## The Dagster UI on 127.0.0.1:3000, on the same instance and data folder as `ssm`.
dev: install
	DAGSTER_HOME="$$($(BIN)/python -m pipelines.project --dagster-home)" \
		$(BIN)/dagster dev -h 127.0.0.1 -p 3000 -m pipelines.definitions

## The benchmark of issue 6 (not a test): synthetic deliveries at the typical and the consortium scale
## in bench/work/, every scenario timed and its memory sampled; writes bench/results.json and .md.
## BENCH_ARGS="--scale typical --skip A,C" for a quicker run while developing (bench/run.py --help).
bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

## Write dbt's seeds and macros/codebook.sql again after editing schemas/codebook.yaml.
codebook: $(STAMP)
	$(BIN)/python -m pipelines.lib.warehouse.codebook_dbt

## Re-resolve the locked dependency versions after editing pyproject.toml.
lock: install
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --quiet -o requirements.lock

clean:
	rm -rf $(VENV) dbt_project/target dbt_project/logs
