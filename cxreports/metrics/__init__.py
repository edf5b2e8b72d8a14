"""Metrics of the weekly reports, one module per family; :func:`weekly` computes them all."""

from __future__ import annotations

from cxreports.metrics.core import ratio, wilson
from cxreports.metrics.data_quality import NOT_AVAILABLE
from cxreports.metrics.families import stages
from cxreports.metrics.weekly import KPIS, WeeklyMetrics, breakdown, weekly

__all__ = [
    "KPIS",
    "NOT_AVAILABLE",
    "WeeklyMetrics",
    "breakdown",
    "ratio",
    "stages",
    "weekly",
    "wilson",
]
