# Two commands do all set-up on a fresh machine: `make run` and `make test`.
# Every pip call goes through constraints.txt: torch stays at 2.13.0 (a looser spec pulls GBs of CUDA wheels).

PY      ?= $(shell command -v python3.11 || command -v python3)
VENV    ?= .venv
BIN     := $(VENV)/bin
PIP     := $(BIN)/python -m pip
STAMP   := $(VENV)/.installed
# llama-cpp-python builds from source: GGML_NATIVE=OFF keeps the (cached) wheel portable across CPUs.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_BLAS=OFF
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: install models run test test-fast bench bench-quick package clean help

help:
	@echo "make run      install, provision models, seed the demo data, open the app"
	@echo "make test     install and run the whole test suite"
	@echo "make bench    run the benchmarks and write BENCHMARKS.md (make bench-quick: a short pass)"
	@echo "make package  build the Linux one-folder app and self-test it"

$(STAMP): pyproject.toml constraints.txt
	@test -n "$(PY)" || { echo "Python 3.11+ is needed (python3.11 or python3 on PATH)"; exit 1; }
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(PIP) install -q --upgrade pip wheel setuptools
	$(PIP) install -c constraints.txt -e ".[test]"
	@touch $@

install: $(STAMP)

models: install
	$(BIN)/sticker-assistant models install

run: models
	@$(BIN)/sticker-assistant launch

test: models
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

$(VENV)/.bench-installed: $(STAMP)
	$(PIP) install -c constraints.txt -e ".[test,bench]"
	@touch $@

bench: models $(VENV)/.bench-installed
	$(BIN)/python -m tests.benchmarks.run

bench-quick: models $(VENV)/.bench-installed
	$(BIN)/python -m tests.benchmarks.run --quick

package: models
	$(MAKE) -C packaging

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
