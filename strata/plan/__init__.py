"""A study's cost before the spend: jobs, bytes, memory and CPU time per rule (``python -m
strata.plan``), and the per-job figures the rules declare as resources."""
