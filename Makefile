# Two commands do everything on a fresh Debian machine with Python 3.11 (see README.md):
#   make run    install (once) and reproduce the embedded default with `snakemake --cores all`
#   make test   install (once) and run the test suite (what CI runs: .ci/run)
SHELL := /bin/bash
VENV  := .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.mixrep-installed
CORES ?= all

.PHONY: setup run test dry-run lint report benchmarks clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock scripts/setup.sh
	bash scripts/setup.sh $(VENV)
	touch $@

run: setup
	$(BIN)/snakemake --cores $(CORES)

test: setup
	$(BIN)/python -m pytest

dry-run: setup
	$(BIN)/snakemake -n

lint: setup
	$(BIN)/snakemake --lint

report: setup
	$(BIN)/snakemake --report results/report.html

benchmarks: setup
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf results .snakemake
