"""The HTML report: probe curves, similarity heatmaps, best layers, provenance."""

from strata._lazy import lazy_exports

# Lazy: rules/report.smk imports the light snakemake_report module at parse time, and this
# package's build module pulls matplotlib and pandas in.
_EXPORTS = {"build_report": "strata.report.build"}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
