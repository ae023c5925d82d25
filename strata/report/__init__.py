"""The HTML report: probe curves, similarity heatmaps, best layers, provenance."""

from strata.report.build import build_report

__all__ = ["build_report"]
