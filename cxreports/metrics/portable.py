"""The figures of the weekly reports for many weeks and stores at once, on polars (the
default), PySpark or DuckDB, for work across tenants and years.

The definitions are the reports' own: each metric family's aggregations are narwhals
expressions that the engine computes per group, and the rates and Wilson intervals are worked
out in polars from the engine's counts (:mod:`cxreports.metrics.families`). First-contact
resolution is the reports' own on polars (:func:`cxreports.metrics.quality.add_fcr_columns`)
and elsewhere :func:`cxreports.metrics.quality.repeated`: a window over each contact's
interactions in time order, the gap between two starts an exact duration compared with 7 x 24
hours (adding "7 days" to a timestamp is calendar arithmetic in the session's zone on Spark and
DuckDB: 167 hours across a change).

A week is found by comparing ``started_at`` with the UTC instants of each local week's bounds
(:class:`cxreports.period.Week`, daylight saving included), never by converting time zones on
the engine: Spark and DuckDB convert in their session's zone and count weekdays their own way.
Quantiles are exact (Spark's ``percentile``, DuckDB's ``quantile_cont``), never approximate.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import narwhals as nw
import polars as pl

from cxreports.metrics import quality
from cxreports.metrics.core import aggregate
from cxreports.metrics.families import stages
from cxreports.period import Week

Engine = Literal["polars", "spark", "duckdb"]

#: The interaction columns the figures read.
COLUMNS = tuple(
    dict.fromkeys(
        (
            "started_at", "deleted_at", "is_bot", "contact_id", "queue_name", "channel",
            "agent_id", "disposition", "first_assignee_id", "closed_assignee_id",
            *(c for c in stages().reads if c not in quality.READS),
        )
    )
)  # fmt: skip

#: Breakdowns :func:`weekly_kpis` can group by: the interaction's column, or ``day`` and
#: ``hour`` (local to the weeks' zone).
KEYS = ("queue_name", "channel", "agent_id", "day", "hour")


def weekly_kpis(
    interactions: Any, weeks: Sequence[Week], by: Sequence[str] = (), frt_target_s: float = 60.0
) -> pl.DataFrame:
    """Every figure of a report breakdown for each of ``weeks``, from ``interactions`` (a
    polars frame, lazy or not, or a PySpark or DuckDB frame with the store's interaction
    columns), as a polars frame: ``iso_week``, the ``by`` keys (:data:`KEYS`), then the
    figures (:func:`cxreports.metrics.families.stages`, the reports' own definitions). Without
    ``by``, one row per week in order (a week without interactions has ``handled`` 0 and null
    figures); with it, one row per week and group that has interactions.

    Counted as in the reports: not soft-deleted, not a bot or AI-agent room; first-contact
    resolution looks at every live interaction of the frame. ``day`` and ``hour`` are local to
    the weeks' time zone, from the zone's UTC offsets worked out here: a Spark session's zone
    must be UTC (checked), and so must a DuckDB connection's (:func:`store_interactions`
    checks the ones it is given and opens its own on UTC).
    """
    if unknown := [k for k in by if k not in KEYS]:
        raise ValueError(f"unknown breakdown {unknown[0]!r}: choose from {', '.join(KEYS)}")
    if len({w.tz for w in weeks}) > 1:
        raise ValueError(f"the weeks are in several time zones: {sorted({w.tz for w in weeks})}")
    if len({w.label for w in weeks}) < len(weeks):
        raise ValueError("a week is given twice")
    frame = nw.from_native(interactions).lazy()
    week = None
    for w in weeks:
        inside = (nw.col("started_at") >= w.start_utc) & (nw.col("started_at") < w.end_utc)
        week = (nw.when(inside) if week is None else week.when(inside)).then(nw.lit(w.label))
    if week is None:
        raise ValueError("no week given")
    live = frame.filter(nw.col("deleted_at").is_null())
    # where the data ends, as a value: a window over every row would gather them in one place
    data_end = live.select(nw.col("started_at").max()).collect("polars").item()
    if frame.implementation is nw.Implementation.POLARS:  # the reports' own, one sort
        flagged = quality.add_fcr_columns(frame.to_native(), data_end)
    else:
        flagged = quality.with_fcr(quality.repeated(live), data_end)
    counted = (
        nw.from_native(flagged)
        .filter(~nw.col("is_bot"))
        .with_columns(week.otherwise(nw.lit(None, nw.String())).alias("iso_week"))
        .filter(~nw.col("iso_week").is_null())
    )
    if "day" in by or "hour" in by:
        _require_utc_session(interactions)
        local = _local(weeks)
        counted = counted.with_columns(
            *([local.dt.date().alias("day")] if "day" in by else []),
            *([local.dt.hour().alias("hour")] if "hour" in by else []),
        )
    keys = ["iso_week", *by]
    s = stages(frt_target_s)
    data = aggregate(counted, keys, s.aggregations, s.figures).collect()
    order = pl.DataFrame({"iso_week": [w.label for w in weeks]}).with_row_index("_order")
    if by:
        data = data.join(order, on="iso_week").sort("_order", *by, nulls_last=True)
        data = data.drop("_order").with_columns(
            *([pl.col("hour").cast(pl.Int8)] if "hour" in by else []),
            *([pl.col("day").cast(pl.Date)] if "day" in by else []),
        )
    else:  # every week, those without interactions too: counts 0, figures null
        counts = [name for name, dtype in data.schema.items() if dtype == pl.UInt32]
        data = order.drop("_order").join(data, on="iso_week", how="left")
        data = data.with_columns(pl.col(counts).fill_null(0))
    return data


def _local(weeks: Sequence[Week]) -> nw.Expr:
    """``started_at`` as a clock in the weeks' zone reads it: the instant moved by the zone's
    UTC offset at that instant (offsets and their changes worked out with zoneinfo), to be
    read as UTC (its date and hour are the local ones)."""
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
    return base if local is None else local.otherwise(base)


def _offset(moment: datetime, zone: ZoneInfo) -> timedelta:
    return moment.astimezone(zone).utcoffset() or timedelta(0)


#: How Spark and DuckDB may spell UTC.
_UTC = ("UTC", "Etc/UTC", "+00:00", "Z", "GMT", "Etc/GMT")


def _require_utc_session(native: Any) -> None:
    """A Spark frame's days and hours are read in its session's zone: it must be UTC."""
    session = getattr(native, "sparkSession", None)
    if session is None:
        return
    zone = session.conf.get("spark.sql.session.timeZone")
    if zone not in _UTC:
        raise ValueError(
            f"the Spark session's time zone is {zone}; hours need spark.sql.session.timeZone "
            "= UTC (the local hour is worked out from the report zone's offsets)"
        )


def store_interactions(store: str, engine: Engine = "polars", session: Any = None) -> Any:
    """The interactions of a store's newest snapshot, for ``engine``: a polars LazyFrame, a
    PySpark DataFrame (``session``: the SparkSession) or a DuckDB relation (``session``: a
    DuckDB connection on UTC, by default a new one) read from the snapshot's live Parquet
    files: neither needs a Delta package."""
    from cxreports import store as store_module

    snap = store_module.verify(store)
    if engine == "polars":
        return store_module._scan(snap, "interactions").select(COLUMNS)
    table = snap.table("interactions")
    uris = table.file_uris()
    if engine == "duckdb":
        if session is None:
            session = _duckdb()
        zone = session.execute("SELECT current_setting('TimeZone')").fetchall()[0][0]
        if zone not in _UTC:
            raise ValueError(
                f"the DuckDB connection's time zone is {zone}; local days and hours need "
                "SET TimeZone = 'UTC' (they are worked out from the report zone's offsets)"
            )
        return session.read_parquet(uris).select(*COLUMNS)
    if session is None:
        raise ValueError("the spark engine needs a SparkSession")
    return session.read.option("basePath", table.table_uri).parquet(*uris).select(*COLUMNS)


@functools.cache
def _duckdb() -> Any:
    """One DuckDB connection on UTC for the process: its relations live as long as it does."""
    import duckdb

    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'").fetchall()
    return connection


def summary(
    stores: Sequence[str],
    weeks: Sequence[Week],
    engine: Engine = "polars",
    session: Any = None,
    by: Sequence[str] = (),
    frt_target_s: float = 60.0,
) -> pl.DataFrame:
    """Per store (``tenant``: the shortest end of its path that tells the stores apart) and
    week, every figure of :func:`weekly_kpis`, one store after the other; ``session`` as for
    :func:`store_interactions`."""
    parts = []
    for store, tenant in zip(stores, tenant_names(stores), strict=True):
        frame = store_interactions(store, engine, session)
        kpis = weekly_kpis(frame, weeks, by, frt_target_s)
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
