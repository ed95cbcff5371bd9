# Two entry points for a fresh clone: `make run` and `make test`.
# Each bootstraps .venv with Python 3.12+ and (re)installs the package when
# pyproject.toml changes, so nothing has to be installed by hand.

VENV := .venv
STAMP := $(VENV)/.installed
PY := $(VENV)/bin/python

# First interpreter found that is Python 3.12 or newer.
BOOT_PY := $(shell for p in python3.12 python3.13 python3.14 python3 python; do \
	if command -v $$p >/dev/null 2>&1 && \
	   $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then \
	   echo $$p; break; fi; done)

.PHONY: run test test-slow test-all bench lint clean

run: $(STAMP)
	$(VENV)/bin/forumsim run

test: lint
	$(PY) -m pytest -q

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

test-all: $(STAMP)
	$(PY) -m pytest -q -m ""

bench: $(STAMP)
	$(PY) benchmarks/throughput.py

# Style (ruff) and the architecture: the import-linter contracts in pyproject.toml.
lint: $(STAMP)
	$(PY) -m ruff check src tests benchmarks scripts
	$(VENV)/bin/lint-imports

$(STAMP): pyproject.toml
	@if [ -z "$(BOOT_PY)" ]; then \
	  echo "forumsim needs Python 3.12 or newer, and none was found on PATH" \
	       "(tried python3.12, python3.13, python3.14, python3, python)." \
	       "Install Python 3.12+ (e.g. 'pyenv install 3.12' or your system's python3.12 package) and re-run." >&2; \
	  exit 1; fi
	@if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then \
	  rm -rf $(VENV) && $(BOOT_PY) -m venv $(VENV); fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

clean:
	rm -rf $(VENV) results .pytest_cache
