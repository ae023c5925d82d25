# `make run` runs the study; `make test` runs the tests. Both set up .venv and the Debian voices.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
CORES ?= all
# Offline TTS voices for the embedded corpus.
APT_VOICES := espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
# Headless Chromium renders the HTML report in the report test; a private single-node SLURM
# cluster (munge, slurmctld, slurmd, client commands) runs the workflow in the SLURM test.
APT_TEST := chromium munge slurmctld slurmd slurm-client

# Test-only references whose declared dependencies would add ~15 packages (whisper, accelerate,
# umap...) that their model code, all the tests import, does not need: installed without them.
REFERENCES := s3prl==0.4.18 wespeaker-unofficial==0.0.2

.PHONY: setup voices run train test test-fast bench plan lint fmt dag clean

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

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pip install -q --no-deps $(REFERENCES)
	touch $@

setup: $(VENV)/.installed

voices:
	$(call ensure_apt,$(APT_VOICES))

run: setup voices
	$(VENV)/bin/snakemake --profile profiles/workstation --cores $(CORES)

# Retrain the shipped checkpoints from scratch with the train_model rule (training.checkpoints:
# train), then write them into checkpoints/ with their sha256 sums (commit them to ship).
train: setup voices
	$(VENV)/bin/snakemake --profile profiles/workstation --cores $(CORES) \
	  --config 'training={"checkpoints": "train"}' --until train_model
	$(PY) -m strata.training.shipped results/trained checkpoints

test: setup voices
	$(call ensure_apt,$(APT_TEST))
	$(VENV)/bin/pytest -q

test-fast: setup
	$(VENV)/bin/pytest -q -m "not e2e"

bench: setup voices
	$(call ensure_apt,$(APT_TEST))
	$(PY) -m strata.benchmarks --out docs/benchmarks.md

# A study's cost before the spend (CONFIG=configs/paper.yaml): nothing is fetched or run.
CONFIG ?= config.yaml
plan: setup
	$(PY) -m strata.plan --configfile $(CONFIG)

lint: setup
	$(VENV)/bin/ruff check strata tests workflow_scripts
	$(VENV)/bin/ruff format --check strata tests workflow_scripts
	$(VENV)/bin/snakefmt --check Snakefile rules
	$(VENV)/bin/snakemake --lint

fmt: setup
	$(VENV)/bin/ruff format strata tests workflow_scripts
	$(VENV)/bin/snakefmt Snakefile rules

dag: setup
	$(VENV)/bin/snakemake --rulegraph | dot -Tsvg > docs/rulegraph.svg

clean:
	rm -rf results logs benchmarks .snakemake
