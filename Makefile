# `make run` runs the study; `make test` runs the tests. `make run` installs what running needs
# (strata and its pinned dependencies, all wheels, and the Debian voices); `make test` adds the
# `dev` extra, the test-only references and the Debian packages they and the tests need.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
CORES ?= all
# Offline TTS voices for the embedded corpus.
APT_VOICES := espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
# Headless Chromium renders the HTML report in the report test; a private single-node SLURM
# cluster (munge, slurmctld, slurmd, client commands) runs the workflow in the SLURM test.
APT_TEST := chromium munge slurmctld slurmd slurm-client
# repsim (a test-only reference in the `dev` extra) is built from source: a C++ compiler and the
# Python headers (its build fetches cmake and ninja from PyPI itself).
APT_BUILD := build-essential python3-dev

# Test-only references whose declared dependencies would add ~15 packages (whisper, accelerate,
# umap...) that their model code, all the tests import, does not need: installed without them.
REFERENCES := s3prl==0.4.18 wespeaker-unofficial==0.0.2
# The real GE2E weights the default run loads: resemblyzer ships them. Installed without its
# dependencies (strata reads only the weights file; its webrtcvad would need a C compiler).
WEIGHTS := resemblyzer==0.1.4

.PHONY: setup setup-dev voices run train test test-fast bench plan docs lint fmt dag clean

# Install missing Debian packages when root; otherwise print the exact command and stop.
define ensure_apt
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "strata needs these Debian packages:$$missing"; \
	    echo "install them with: sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi
endef

# Running needs only the package's own dependencies: wheels, or pure-Python sources (nothing
# that needs a compiler).
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	$(PY) -m pip install -q --no-deps $(WEIGHTS)
	touch $@

# The tests add the dev extra (pytest, linters, references; repsim compiles) and the references
# installed without their dependencies.
$(VENV)/.installed-dev: $(VENV)/.installed
	$(call ensure_apt,$(APT_BUILD))
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pip install -q --no-deps $(REFERENCES)
	touch $@

setup: $(VENV)/.installed

setup-dev: $(VENV)/.installed-dev

voices:
	$(call ensure_apt,$(APT_VOICES))

run: setup voices
	$(VENV)/bin/snakemake --profile profiles/workstation --cores $(CORES)

# Retrain the shipped checkpoints from scratch with the train_model rule (training.checkpoints:
# train), then write them into checkpoints/ with their sha256 sums (commit them to ship).
train: setup voices
	$(PY) -m strata.training.shipped results/trained checkpoints --check-tree
	$(VENV)/bin/snakemake --profile profiles/workstation --cores $(CORES) \
	  --config 'training={"checkpoints": "train"}' --until train_model
	$(PY) -m strata.training.shipped results/trained checkpoints --series configs/dynamics.yaml

test: setup-dev voices
	$(call ensure_apt,$(APT_TEST))
	$(VENV)/bin/pytest -q

test-fast: setup-dev
	$(VENV)/bin/pytest -q -m "not e2e"

bench: setup-dev voices
	$(call ensure_apt,$(APT_TEST))
	$(PY) -m strata.benchmarks --out docs/benchmarks.md

# Rewrite the README's and docs/' generated blocks; RUN=<dir of a finished default run> first
# replaces docs/runs/default/ with that run's tables and runs the docs' examples in it, and
# DYNAMICS=<dir of a finished configs/dynamics.yaml run> replaces docs/runs/dynamics/.
RUN ?=
DYNAMICS ?=
docs: setup-dev
	$(PY) -m strata.docs $(if $(RUN),--snapshot $(RUN)) $(if $(DYNAMICS),--dynamics $(DYNAMICS))

# A study's cost before the spend (CONFIG=configs/paper.yaml): nothing is fetched or run.
CONFIG ?= config.yaml
plan: setup
	$(PY) -m strata.plan --configfile $(CONFIG)

lint: setup-dev
	$(VENV)/bin/ruff check strata tests workflow_scripts
	$(VENV)/bin/ruff format --check strata tests workflow_scripts
	$(VENV)/bin/snakefmt --check Snakefile rules
	$(VENV)/bin/snakemake --lint

fmt: setup-dev
	$(VENV)/bin/ruff format strata tests workflow_scripts
	$(VENV)/bin/snakefmt Snakefile rules

dag: setup
	$(VENV)/bin/snakemake --rulegraph | dot -Tsvg > docs/rulegraph.svg

clean:
	rm -rf results logs benchmarks .snakemake
