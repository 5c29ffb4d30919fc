# Developer and CI entry points. Odoo 19.0 itself is a prerequisite
# (see README.md); these targets never install it.

PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
PIP_FLAGS ?= --disable-pip-version-check

.PHONY: help install test run lint bench

help:
	@echo "make install  install the Python dependencies, test extras and linters"
	@echo "make test     install every addon in a throwaway database and run its tests"
	@echo "make run      start the product on http://localhost:8069 (demo database)"
	@echo "make lint     run the pre-commit hooks on every file"
	@echo "make bench    run every tests/benchmarks/bench_*.py script"

install:
	$(PIP) install $(PIP_FLAGS) -r requirements.txt -r requirements-test.txt
	$(PIP) install $(PIP_FLAGS) -r requirements-lint.txt

test:
	$(PYTHON) tools/run_tests.py

run:
	tools/run_odoo.sh

lint:
	pre-commit run --all-files

bench:
	@set -e; found=0; \
	for script in tests/benchmarks/bench_*.py; do \
		[ -f "$$script" ] || continue; \
		found=1; \
		echo "== $(PYTHON) $$script"; \
		$(PYTHON) "$$script"; \
	done; \
	if [ "$$found" = 0 ]; then echo "No benchmark yet (tests/benchmarks/bench_*.py)."; fi
