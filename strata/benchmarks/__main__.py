"""``python -m strata.benchmarks --out docs/benchmarks.md`` (what ``make bench`` runs)."""

from strata.benchmarks.bench import main

main()
