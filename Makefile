# Developer and CI entry points (see README.md).

PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
PIP_FLAGS ?= --disable-pip-version-check
# Where `make install` takes Odoo 19.0 from when $(PYTHON) cannot import it:
# a folder with an Odoo wheel and its requirements.txt, or a source archive
# (path or URL). Empty: Odoo's official 19.0 nightly source archive.
ODOO_SOURCE ?=
export ODOO_SOURCE
# The interpreter's own scripts folder first, so that the linters of
# `make install` run for a virtual environment's interpreter too.
PYTHON_BIN = $(shell $(PYTHON) -c 'import os, sys; print(os.path.dirname(sys.executable))')

.PHONY: help install test run lint bench

help:
	@echo "make install  install Odoo 19.0 if needed, the Python dependencies, test extras and linters"
	@echo "make test     install every addon in a throwaway database and run its tests"
	@echo "make run      start the product on http://localhost:8069 (demo database)"
	@echo "make lint     run the pre-commit hooks on every file"
	@echo "make bench    run every tests/benchmarks/bench_*.py script"

install:
	$(PYTHON) tools/install_odoo.py
	$(PIP) install $(PIP_FLAGS) -r requirements.txt -r requirements-test.txt
	$(PIP) install $(PIP_FLAGS) -r requirements-lint.txt

test:
	$(PYTHON) tools/run_tests.py

run:
	tools/run_odoo.sh

lint:
	PATH="$(PYTHON_BIN):$$PATH" $(PYTHON) -m pre_commit run --all-files

bench:
	@set -e; found=0; \
	for script in tests/benchmarks/bench_*.py; do \
		[ -f "$$script" ] || continue; \
		found=1; \
		echo "== $(PYTHON) $$script"; \
		$(PYTHON) "$$script"; \
	done; \
	if [ "$$found" = 0 ]; then echo "No benchmark yet (tests/benchmarks/bench_*.py)."; fi
