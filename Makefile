# lima-studio: `make run` serves the app with its worker on the embedded default;
# `make test` installs and runs the whole suite against real PostgreSQL, Redis and Chromium.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
HOST ?= 127.0.0.1
PORT ?= 8000

# What the tests and benchmarks talk to: this checkout's own PostgreSQL and Redis (tests/services.py starts
# them on free ports under var/test/services/ and writes their URLs to SERVICES_ENV).
SERVICES_ENV := var/test/services/env
TEST_ENV := . $(SERVICES_ENV) && LIMA_VAR_DIR=$(CURDIR)/var/test DJANGO_ALLOW_ASYNC_UNSAFE=true

.PHONY: install run test test-fast test-under-load services services-stop chromium slurm bench check clean fuzz loadtest bench-anchor mutate

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) manage.py migrate --no-input
	$(PY) manage.py build_tiny_model
	$(PY) manage.py load_demo
	HOST=$(HOST) PORT=$(PORT) PY=$(PY) scripts/run-embedded.sh

services: install
	$(PY) -m tests.services start

services-stop:
	$(PY) -m tests.services stop

slurm:
	scripts/slurm.sh

chromium:
	@command -v chromium >/dev/null || (apt-get install -y chromium chromium-driver || (apt-get update && apt-get install -y chromium chromium-driver))

# The suite runs in TEST_WORKERS processes (pytest-xdist, whole files per worker; each has its own test database,
# Redis databases and var/ directory: tests/xdist_isolation.py), then the `serial` tests alone. Deadlines stretch
# by LIMA_TEST_TIME_SCALE (default 2 here: two workers share the machine).
TEST_WORKERS ?= 2
test: install services chromium slurm
	$(VENV)/bin/lint-imports
	$(TEST_ENV) $(PY) manage.py makemigrations --check --dry-run
	$(TEST_ENV) LIMA_TEST_TIME_SCALE=$${LIMA_TEST_TIME_SCALE:-2} $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not serial" $(PYTEST_ARGS); \
		parallel=$$?; \
		$(TEST_ENV) LIMA_TEST_TIME_SCALE=$${LIMA_TEST_TIME_SCALE:-2} $(PY) -m pytest -m serial $(PYTEST_ARGS); \
		serial=$$?; [ $$serial -eq 5 ] && serial=0; exit $$(( parallel || serial ))

# `make test` RUNS times in a row (default 3) while a busy loop holds one CPU; times in bench/results/test_under_load.json.
test-under-load:
	scripts/test-under-load.sh

# The pure modules' tests (statistics, charts, scrubbing, style, formats, the training recipe, rendering): no
# services, about a minute (the SQLite write-queue test alone runs two 4-second loads). A test that needs the database is refused by name (tests/conftest.py), never run on SQLite.
FAST_TESTS := tests/test_statistics.py tests/test_statistics_truth.py tests/test_charts.py tests/test_scrub.py tests/test_style.py \
	tests/test_lima_format.py tests/test_formats.py tests/test_judgment_import.py tests/test_training_recipe.py tests/test_rendering.py \
	tests/test_helpfulness.py tests/test_importers_stackexchange.py tests/test_bradley_terry.py tests/test_safety_stats.py \
	tests/test_sqlite_backend.py tests/test_serve.py
test-fast: install
	LIMA_TEST_PURE_ONLY=1 DATABASE_URL=sqlite:///$(CURDIR)/var/test/fast.sqlite3 CELERY_BROKER_URL=memory:// \
		LIMA_VAR_DIR=$(CURDIR)/var/test $(PY) -m pytest -q $(FAST_TESTS)

bench: install services
	$(TEST_ENV) $(PY) -m bench

# 100 concurrent annotators for 10 minutes against gunicorn + PostgreSQL (bench/bench_loadtest.py).
loadtest: install services
	$(TEST_ENV) LIMA_LOADTEST_SECONDS=$${LIMA_LOADTEST_SECONDS:-600} $(PY) -m bench loadtest

check: install
	$(VENV)/bin/lint-imports
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

clean: services-stop
	rm -rf var/test test-artifacts

# Coverage-guided fuzzing of every importer (tests/fuzz_atheris.py); FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 60
fuzz: install
	@mkdir -p var/fuzz && cd var/fuzz && set -o pipefail && \
	for target in $$(PYTHONPATH=$(CURDIR) $(CURDIR)/$(PY) -m tests.fuzz_atheris --list 2>/dev/null); do \
		echo "== $$target"; \
		PYTHONPATH=$(CURDIR) $(CURDIR)/$(PY) -m tests.fuzz_atheris $$target -max_total_time=$(FUZZ_SECONDS) 2>&1 | tail -n 40 > $$target.log \
			|| { cat $$target.log; exit 1; }; grep -E "^Done" $$target.log; \
	done

# lima-studio beside Label Studio 1.23.2 (bench/anchor.py): Label Studio in its own virtualenv under var/anchor/,
# installed from the package index; both default installs, one interleaved closed-loop client; bench/results/anchor.json.
LABEL_STUDIO_VENV := var/anchor/label-studio-venv
$(LABEL_STUDIO_VENV)/.installed-1.23.2:
	$(PYTHON) -m venv $(LABEL_STUDIO_VENV)
	$(LABEL_STUDIO_VENV)/bin/pip install --quiet 'label-studio==1.23.2'
	touch $@

bench-anchor: install $(LABEL_STUDIO_VENV)/.installed-1.23.2
	$(PY) -m bench.anchor

# Mutation testing of the pure modules (statistics, scrub, style, lima_format, recipe, masking, slurm; [tool.mutmut] in
# pyproject.toml) against the pure tests, niced; results are kept in mutants/, so a second run only checks what
# changed or was not checked. MUTANTS limits it to some mutant names (fnmatch), e.g. MUTANTS='training.slurm.*'.
MUTATE_JOBS ?= 1
MUTANTS ?=
mutate: install
	LIMA_TEST_PURE_ONLY=1 DATABASE_URL=sqlite:///$(CURDIR)/var/test/fast.sqlite3 CELERY_BROKER_URL=memory:// \
		LIMA_VAR_DIR=$(CURDIR)/var/test nice -n 15 $(VENV)/bin/mutmut run --max-children $(MUTATE_JOBS) $(MUTANTS)
	$(PY) -m tests.mutation_score
