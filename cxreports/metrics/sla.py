"""SLA family: the platform's SLA verdicts, and a first-response proxy labelled as one."""

from __future__ import annotations

import narwhals as nw
import polars as pl

from cxreports.metrics.core import count, ratio, wilson

#: SLA verdicts the platform is known to send; anything else counts as missed and is listed.
KNOWN_SLA = ("meet", "breach")


#: The interaction columns the family reads.
READS = ("sla_status", "first_response_time_s")


def aggregations(
    frt_target_s: float = 60.0, frt_column: str = "first_response_time_s"
) -> list[nw.Expr]:
    """Verdicts and first responses within ``frt_target_s`` counted, on the clock of
    ``frt_column`` (calendar time, or ``first_response_business_s``).

    ``sla_met_rate`` = ``meet`` / non-null ``sla_status``; other non-null values are breaches.
    ``frt_within_target_rate`` is the share of first responses within ``frt_target_s``.

    Examples
    --------
    >>> from cxreports.metrics.core import aggregate
    >>> df = pl.DataFrame({"sla_status": ["meet", "breach", None, "paused"],
    ...                    "first_response_time_s": [30.0, 90.0, None, 50.0]})
    >>> out = aggregate(df, [], aggregations(60), figures()).collect()
    >>> out.select("sla_met_rate", "sla_breaches", "frt_within_target_rate").row(0)
    (0.3333333333333333, 2, 0.6666666666666666)
    """
    status = nw.col("sla_status")
    frt = nw.col(frt_column)
    return [
        status.count().alias("_verdicts"),
        count(status == "meet").alias("_met"),
        count(frt <= frt_target_s).alias("_frt_within"),
        frt.count().alias("_frt_of"),
    ]


def figures() -> list[pl.Expr]:
    """SLA met rate with its Wilson bounds, breaches, and the first-response proxy."""
    with_sla = pl.col("_verdicts").fill_null(0).cast(pl.UInt32)
    met = pl.col("_met").fill_null(0).cast(pl.UInt32)
    low, high = wilson(met, with_sla)
    return [
        with_sla.alias("sla_eligible"),
        ratio(met, with_sla).alias("sla_met_rate"),
        low.alias("sla_met_rate_low"),
        high.alias("sla_met_rate_high"),
        (with_sla - met).alias("sla_breaches"),
        ratio(pl.col("_frt_within").fill_null(0), pl.col("_frt_of")).alias(
            "frt_within_target_rate"
        ),
    ]
