"""Tooling, not the library: ``make bench`` (``python -m strata.benchmarks``) and its sections
(extraction, similarity, the paper grid's DAG, SLURM grouping, scale), and the private
single-node SLURM cluster the SLURM bench and tests start (:mod:`strata.benchmarks.cluster`)."""
