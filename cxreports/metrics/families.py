"""Every metric family of a breakdown, in report column order, as the two stages of
:func:`cxreports.metrics.core.aggregate`: what the engine computes per group (narwhals), then
the figures (polars, on the small result). The reports run them on polars; the figures across
tenants and years (:mod:`cxreports.metrics.portable`) run the same on PySpark or DuckDB.
"""

from __future__ import annotations

from typing import NamedTuple

import narwhals as nw
import polars as pl

from cxreports.hours import Clock
from cxreports.metrics import business_time, csat, handle_time, quality, sla, volume


class Stages(NamedTuple):
    """What :func:`cxreports.metrics.core.aggregate` runs for a breakdown."""

    #: the engine's stage: counts, sums, means and quantiles per group (narwhals)
    aggregations: list[nw.Expr]
    #: the columns of the breakdown, worked out from those in polars
    figures: list[pl.Expr]
    #: the interaction columns the aggregations read
    reads: tuple[str, ...]


def stages(frt_target_s: float = 60.0, business: Clock | None = None) -> Stages:
    """Volume, handle time, outcomes, SLA and CSAT, and with ``business`` (the clock of the
    first-response proxy) the business-time figures, whose columns the frame then has
    (:func:`business_time.add_columns`)."""
    frt = "first_response_business_s" if business == "business" else "first_response_time_s"
    parts = [
        (volume.aggregations(), volume.figures(), volume.READS),
        (handle_time.aggregations(), handle_time.figures(), handle_time.READS),
        (quality.aggregations(), quality.figures(), quality.READS),
        (sla.aggregations(frt_target_s, frt), sla.figures(), (*sla.READS, frt)),
        (csat.aggregations(), csat.figures(), csat.READS),
    ]
    if business:
        parts.append((business_time.aggregations(), business_time.figures(), business_time.COLUMNS))
    return Stages(
        [a for p in parts for a in p[0]],
        [f for p in parts for f in p[1]],
        tuple(dict.fromkeys(c for p in parts for c in p[2])),
    )
