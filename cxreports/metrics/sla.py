"""SLA family: the platform's SLA verdicts, and a first-response proxy labelled as one."""

from __future__ import annotations

import polars as pl

from cxreports.metrics.core import ratio, wilson

#: SLA verdicts the platform is known to send; anything else counts as missed and is listed.
KNOWN_SLA = ("meet", "breach")


def expressions(
    frt_target_s: float = 60.0, frt_column: str = "first_response_time_s"
) -> list[pl.Expr]:
    """``sla_met_rate`` = ``meet`` / non-null ``sla_status``; other non-null values are breaches.

    ``frt_within_target_rate`` is the share of first responses within ``frt_target_s``, on the
    clock of ``frt_column`` (calendar time, or ``first_response_business_s``).

    Examples
    --------
    >>> df = pl.DataFrame({"sla_status": ["meet", "breach", None, "paused"],
    ...                    "first_response_time_s": [30.0, 90.0, None, 50.0]})
    >>> out = df.select(expressions(60))
    >>> out.select("sla_met_rate", "sla_breaches", "frt_within_target_rate").row(0)
    (0.3333333333333333, 2, 0.6666666666666666)
    """
    status = pl.col("sla_status")
    with_sla = status.is_not_null().sum()
    met = (status == "meet").sum()
    low, high = wilson(met, with_sla)
    frt = pl.col(frt_column)
    return [
        with_sla.alias("sla_eligible"),
        ratio(met, with_sla).alias("sla_met_rate"),
        low.alias("sla_met_rate_low"),
        high.alias("sla_met_rate_high"),
        (with_sla - met).alias("sla_breaches"),
        ratio((frt <= frt_target_s).sum(), frt.is_not_null().sum()).alias("frt_within_target_rate"),
    ]
