"""The weekly headline figures written once over narwhals: the same definitions run on polars
(the default) and on PySpark, for work across tenants and years.

A week is found by comparing ``started_at`` with the UTC instants of each local week's bounds
(:class:`cxreports.period.Week`, daylight saving included), never by converting time zones on
the engine: Spark and DuckDB convert in their session's zone and count weekdays their own way.
The engine only counts and sums; rates and their Wilson intervals are worked out here, from
those counts, with the report's own expressions (:mod:`cxreports.metrics.core`).

First-contact resolution looks for each contact's next interaction with a window over the
contact's interactions in time order; the gap between two starts is an exact duration, compared
with 7 x 24 hours (adding "7 days" to a timestamp is calendar arithmetic in the session's zone
on Spark and DuckDB: 167 hours across a change). The p90s are not computed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import narwhals as nw
import polars as pl

from cxreports.metrics.core import ratio, wilson
from cxreports.metrics.quality import FCR_WINDOW
from cxreports.period import Week

Engine = Literal["polars", "spark"]

#: The columns :func:`weekly_kpis` returns after ``iso_week``.
KPI_COLUMNS = (
    "handled", "aht_s", "aht_median_s", "frt_mean_s", "frt_median_s", "resolved_rate",
    "transfer_rate", "fcr_rate", "hold_rate", "sla_eligible", "sla_met_rate", "sla_met_rate_low",
    "sla_met_rate_high", "csat_responses", "csat_rate", "csat_rate_low", "csat_rate_high",
)  # fmt: skip

#: The interaction columns the figures read.
COLUMNS = (
    "started_at", "deleted_at", "is_bot", "contact_id", "queue_name", "channel", "agent_id",
    "handled_time_s", "first_response_time_s",
    "disposition", "first_assignee_id", "closed_assignee_id", "hold_count", "hold_time_s",
    "sla_status", "csat_score",
)  # fmt: skip


def _counts() -> list[nw.Expr]:
    """What the engine computes per week: counts, sums, means and medians."""

    def count(condition: nw.Expr) -> nw.Expr:
        return nw.when(condition).then(1).otherwise(0).sum()

    had_hold = (nw.col("hold_count") > 0) | (nw.col("hold_time_s").fill_null(0) > 0)
    return [
        nw.len().alias("handled"),
        nw.col("handled_time_s").mean().alias("aht_s"),
        nw.col("handled_time_s").median().alias("aht_median_s"),
        nw.col("first_response_time_s").mean().alias("frt_mean_s"),
        nw.col("first_response_time_s").median().alias("frt_median_s"),
        count(_resolved()).alias("_resolved"),
        count(_transferred()).alias("_transferred"),
        count(nw.col("_fcr")).alias("_fcr"),
        count(had_hold.fill_null(False)).alias("_held"),
        nw.col("sla_status").count().alias("sla_eligible"),
        count(nw.col("sla_status") == "meet").alias("_met"),
        nw.col("csat_score").count().alias("csat_responses"),
        count(nw.col("csat_score") >= 4).alias("_satisfied"),
    ]


def _with_fcr(live: nw.LazyFrame) -> nw.LazyFrame:
    """``live`` (not deleted) with ``_fcr``: resolved, not transferred, and no interaction of
    the same contact within 7 days after it (or at the same moment), as
    :func:`cxreports.metrics.quality.add_fcr_columns` has it."""
    t = nw.col("started_at")
    after = t.shift(-1).over("contact_id", order_by=["started_at"])
    before = t.shift(1).over("contact_id", order_by=["started_at"])
    repeat = ~nw.col("contact_id").is_null() & (
        (after - t <= FCR_WINDOW).fill_null(False) | (before == t).fill_null(False)
    )
    return live.with_columns((_resolved() & ~_transferred() & ~repeat).alias("_fcr"))


def _resolved() -> nw.Expr:
    """:data:`cxreports.metrics.quality.OUTCOMES` ``is_resolved``, over narwhals."""
    return (nw.col("disposition").str.to_lowercase() == "resolved").fill_null(False)


def _transferred() -> nw.Expr:
    """:data:`cxreports.metrics.quality.OUTCOMES` ``is_transferred``, over narwhals."""
    return (
        ~nw.col("first_assignee_id").is_null()
        & ~nw.col("closed_assignee_id").is_null()
        & (nw.col("first_assignee_id") != nw.col("closed_assignee_id"))
    )


#: Breakdowns :func:`weekly_kpis` can group by: the interaction's column, or ``hour`` (local).
KEYS = ("queue_name", "channel", "agent_id", "hour")


def weekly_kpis(interactions: Any, weeks: Sequence[Week], by: Sequence[str] = ()) -> pl.DataFrame:
    """The headline figures of each of ``weeks`` from ``interactions`` (a polars frame, lazy
    or not, or a PySpark DataFrame with the store's interaction columns), as a polars frame:
    ``iso_week``, the ``by`` keys (:data:`KEYS`), then :data:`KPI_COLUMNS`. Without ``by``,
    one row per week in order (a week without interactions has ``handled`` 0 and null
    figures); with it, one row per week and group that has interactions.

    Counted as in the reports: not soft-deleted, not a bot or AI-agent room. ``hour`` is the
    hour of the day in the weeks' time zone, from the zone's UTC offsets worked out here (on
    Spark the session's zone must be UTC).
    """
    if unknown := [k for k in by if k not in KEYS]:
        raise ValueError(f"unknown breakdown {unknown[0]!r}: choose from {', '.join(KEYS)}")
    frame = nw.from_native(interactions).lazy()
    week = None
    for w in weeks:
        inside = (nw.col("started_at") >= w.start_utc) & (nw.col("started_at") < w.end_utc)
        week = (nw.when(inside) if week is None else week.when(inside)).then(nw.lit(w.label))
    if week is None:
        raise ValueError("no week given")
    counted = (
        _with_fcr(frame.filter(nw.col("deleted_at").is_null()))
        .filter(~nw.col("is_bot"))
        .with_columns(week.otherwise(nw.lit(None, nw.String())).alias("iso_week"))
        .filter(~nw.col("iso_week").is_null())
    )
    if "hour" in by:
        _require_utc_session(interactions)
        counted = counted.with_columns(_local_hour(weeks).alias("hour"))
    keys = ["iso_week", *by]
    counts = counted.group_by(keys).agg(*_counts()).collect("polars").to_native()
    if by:
        order = pl.DataFrame({"iso_week": [w.label for w in weeks]}).with_row_index("_order")
        data = counts.join(order, on="iso_week").sort("_order", *by, nulls_last=True).drop("_order")
        if "hour" in by:
            data = data.with_columns(pl.col("hour").cast(pl.Int8))
    else:
        order = pl.DataFrame({"iso_week": [w.label for w in weeks]})
        data = order.join(counts, on="iso_week", how="left")
    data = data.with_columns(
        pl.col("handled", "sla_eligible", "csat_responses").fill_null(0).cast(pl.Int64),
        pl.col("_resolved", "_transferred", "_fcr", "_held", "_met", "_satisfied")
        .fill_null(0)
        .cast(pl.Int64),
        pl.col("aht_s", "aht_median_s", "frt_mean_s", "frt_median_s").cast(pl.Float64),
    )
    sla_low, sla_high = wilson(pl.col("_met"), pl.col("sla_eligible"))
    csat_low, csat_high = wilson(pl.col("_satisfied"), pl.col("csat_responses"))
    return data.select(
        *keys,
        "handled",
        "aht_s",
        "aht_median_s",
        "frt_mean_s",
        "frt_median_s",
        ratio(pl.col("_resolved"), pl.col("handled")).alias("resolved_rate"),
        ratio(pl.col("_transferred"), pl.col("handled")).alias("transfer_rate"),
        ratio(pl.col("_fcr"), pl.col("handled")).alias("fcr_rate"),
        ratio(pl.col("_held"), pl.col("handled")).alias("hold_rate"),
        "sla_eligible",
        ratio(pl.col("_met"), pl.col("sla_eligible")).alias("sla_met_rate"),
        sla_low.alias("sla_met_rate_low"),
        sla_high.alias("sla_met_rate_high"),
        "csat_responses",
        ratio(pl.col("_satisfied"), pl.col("csat_responses")).alias("csat_rate"),
        csat_low.alias("csat_rate_low"),
        csat_high.alias("csat_rate_high"),
    )


def _local_hour(weeks: Sequence[Week]) -> nw.Expr:
    """The local hour of ``started_at`` in the weeks' zone: the instant moved by the zone's
    UTC offset at that instant (offsets and their changes worked out with zoneinfo), read as
    UTC."""
    zone = ZoneInfo(weeks[0].tz)
    first = min(w.start_utc for w in weeks) - timedelta(days=2)
    last = max(w.end_utc for w in weeks) + timedelta(days=2)
    segments = [(first, _offset(first, zone))]
    t = first
    while t < last:
        step = t + timedelta(hours=1)
        if _offset(step, zone) != segments[-1][1]:
            low, high = t, step  # the change lies in (low, high]: find its second
            while high - low > timedelta(seconds=1):
                mid = low + (high - low) / 2
                low, high = (mid, high) if _offset(mid, zone) == segments[-1][1] else (low, mid)
            segments.append((high, _offset(high, zone)))
        t = step
    start = nw.col("started_at")
    local = None
    for since, offset in reversed(segments[1:]):
        moved = start + offset
        local = (nw.when(start >= since) if local is None else local.when(start >= since)).then(
            moved
        )
    base = start + segments[0][1]
    local = base if local is None else local.otherwise(base)
    return local.dt.hour()


def _offset(moment: datetime, zone: ZoneInfo) -> timedelta:
    return moment.astimezone(zone).utcoffset() or timedelta(0)


def _require_utc_session(native: Any) -> None:
    """A Spark frame's hours are read in its session's zone: it must be UTC."""
    session = getattr(native, "sparkSession", None)
    if session is None:
        return
    zone = session.conf.get("spark.sql.session.timeZone")
    if zone not in ("UTC", "Etc/UTC", "+00:00", "Z"):
        raise ValueError(
            f"the Spark session's time zone is {zone}; hours need spark.sql.session.timeZone "
            "= UTC (the local hour is worked out from the report zone's offsets)"
        )


def store_interactions(store: str, engine: Engine = "polars", spark: Any = None) -> Any:
    """The interactions of a store's newest snapshot, for ``engine``: a polars LazyFrame, or a
    PySpark DataFrame read from the snapshot's live Parquet files (no Delta package needed)."""
    from cxreports import store as store_module

    snap = store_module.verify(store)
    if engine == "polars":
        return store_module._scan(snap, "interactions").select(COLUMNS)
    if spark is None:
        raise ValueError("the spark engine needs a SparkSession")
    table = snap.table("interactions")
    uris = table.file_uris()
    return spark.read.option("basePath", table.table_uri).parquet(*uris).select(*COLUMNS)


def summary(
    stores: Sequence[str],
    weeks: Sequence[Week],
    engine: Engine = "polars",
    spark: Any = None,
    by: Sequence[str] = (),
) -> pl.DataFrame:
    """Per store (``tenant``: the shortest end of its path that tells the stores apart) and
    week, the headline figures: :func:`weekly_kpis` of each store, one after the other."""
    parts = []
    for store, tenant in zip(stores, tenant_names(stores), strict=True):
        kpis = weekly_kpis(store_interactions(store, engine, spark), weeks, by)
        parts.append(kpis.select(pl.lit(tenant).alias("tenant"), pl.all()))
    return pl.concat(parts)


def tenant_names(stores: Sequence[str]) -> list[str]:
    """The shortest ends of the stores' paths that tell them apart.

    Examples
    --------
    >>> tenant_names(["s3://cx/acme/store", "s3://cx/globex/store"])
    ['acme/store', 'globex/store']
    >>> tenant_names(["data/tenant-a", "/srv/tenant-b/"])
    ['tenant-a', 'tenant-b']
    """
    parts = [str(s).rstrip("/").split("/") for s in stores]
    for k in range(1, max(map(len, parts), default=1) + 1):
        names = ["/".join(p[-k:]) for p in parts]
        if len(set(names)) == len(names):
            return names
    return [str(s) for s in stores]
