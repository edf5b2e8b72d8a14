"""Business-time family: first response and resolution counted only while the center is open.

A first response that took 15 hours from Friday 17:55 to Saturday 09:00 took 5 minutes of
business time when the center opens at 08:55. Durations run from ``started_at`` (the start of
the interaction), as the platform's own first-response and resolution times do; a holiday is
closed all day. The opening hours are :class:`cxreports.hours.BusinessHours`.
"""

from __future__ import annotations

from datetime import timedelta

import narwhals as nw
import polars as pl

from cxreports.hours import BusinessHours
from cxreports.metrics.core import count, ratio

#: Columns :func:`add_columns` adds to each interaction.
COLUMNS = ("first_response_business_s", "resolution_business_s", "started_outside_hours")

_US = 1_000_000


def add_columns(frame: pl.DataFrame, hours: BusinessHours, tz: str) -> pl.DataFrame:
    """``frame`` with each interaction's first response and resolution in business seconds and
    whether it started outside business hours (``started_outside_hours``).

    Vectorised: the open intervals of the frame's days (a few hundred rows a calendar) are
    searched for every start and end at once. The calendars are laid end to end on one time
    line, each shifted past the one before, and each interaction is shifted with its queue's:
    one search serves every calendar, however many queues have their own.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from cxreports.hours import from_config
    >>> hours = from_config({"mon-fri": "09:00-17:00"})
    >>> friday_evening = datetime(2026, 3, 27, 16, 0, tzinfo=timezone.utc)
    >>> df = pl.DataFrame({"started_at": [friday_evening], "queue_name": ["Billing"],
    ...                    "first_response_time_s": [3 * 86400.0], "resolution_time_s": [None]})
    >>> add_columns(df, hours, "UTC").select(COLUMNS).row(0)  # Fri 16:00 to Mon 16:00
    (28800.0, None, False)
    """
    durations = {
        "first_response_business_s": pl.col("first_response_time_s"),
        "resolution_business_s": pl.col("resolution_time_s"),
    }
    if frame.height == 0:
        return frame.with_columns(
            *(pl.lit(None, pl.Float64).alias(c) for c in durations),
            pl.lit(None, pl.Boolean).alias("started_outside_hours"),
        )
    first, last = _local_days(frame, tz)
    calendars = [hours.default, *(cal for _, cal in hours.queues)]
    # each calendar gets its own stretch of the time line, longer than the data's days
    stretch = ((last - first).days + 2) * 86_400 * _US
    spans = pl.concat(
        [
            cal.open_spans(tz, first, last).with_columns(pl.col("start", "end") + k * stretch)
            for k, cal in enumerate(calendars)
        ]
    ).with_columns(before=(pl.col("end") - pl.col("start")).cum_sum().shift(1, fill_value=0))
    if not spans.height:  # closed every day of the data (holidays only)
        return frame.with_columns(
            *(pl.when(d.is_not_null()).then(0.0).alias(c) for c, d in durations.items()),
            pl.lit(True).alias("started_outside_hours"),
        )
    block = pl.lit(0, pl.Int64)
    if hours.queues:
        own = {name: k for k, (name, _) in enumerate(hours.queues, start=1)}
        block = pl.col("queue_name").replace_strict(own, default=0, return_dtype=pl.Int64)
    start = pl.col("started_at").dt.epoch("us") + block * stretch
    opened, inside = _open_until(spans, start)
    columns = []
    for name, duration in durations.items():
        end = start + (duration * _US).round(0).cast(pl.Int64)
        until_end, _ = _open_until(spans, end)
        columns.append(pl.when(duration.is_not_null()).then((until_end - opened) / _US).alias(name))
    return frame.with_columns(*columns, (~inside).alias("started_outside_hours"))


def _local_days(frame: pl.DataFrame, tz: str) -> tuple:
    """The local days from the first start to the last end, a day of margin either side."""
    longest = pl.max_horizontal(
        pl.col("first_response_time_s").max(), pl.col("resolution_time_s").max(), pl.lit(0.0)
    )
    bounds = frame.select(
        first=pl.col("started_at").min(),
        last=pl.col("started_at").max() + pl.duration(seconds=longest.ceil().cast(pl.Int64)),
    )
    local = bounds.select(pl.all().dt.convert_time_zone(tz).dt.date()).row(0)
    return local[0] - timedelta(days=1), local[1] + timedelta(days=1)


def _open_until(spans: pl.DataFrame, t: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Open microseconds of ``spans`` before the instant ``t`` (microseconds since the epoch),
    and whether ``t`` lies in an open span. An instant before a calendar's first span finds
    the last span of the calendar before it: a constant that start and end share, so their
    difference is that calendar's alone."""
    starts = pl.lit(spans["start"])
    i = starts.search_sorted(t, side="right").cast(pl.Int64) - 1
    at = i.clip(lower_bound=0)
    s, e, before = (pl.lit(spans[c]).gather(at) for c in ("start", "end", "before"))
    opened = pl.when(i >= 0).then(before + pl.min_horizontal(t, e) - s).otherwise(0)
    return opened, (i >= 0) & (t < e)


def aggregations() -> list[nw.Expr]:
    """Aggregations of the business-time columns (:func:`add_columns`).

    ``outside_hours`` counts the interactions that started while the center was closed and
    ``outside_hours_rate`` is their share of those handled.

    Examples
    --------
    >>> from cxreports.metrics.core import aggregate
    >>> df = pl.DataFrame({"first_response_business_s": [60.0, 300.0],
    ...                    "resolution_business_s": [600.0, None],
    ...                    "started_outside_hours": [False, True]})
    >>> out = aggregate(df, [], [nw.len().alias("handled"), *aggregations()], figures())
    >>> out.collect().select("frt_business_mean_s", "outside_hours_rate").row(0)
    (180.0, 0.5)
    """
    frt = nw.col("first_response_business_s")
    return [
        frt.mean().alias("frt_business_mean_s"),
        frt.median().alias("frt_business_median_s"),
        frt.quantile(0.9, interpolation="linear").alias("frt_business_p90_s"),
        nw.col("resolution_business_s").mean().alias("resolution_business_mean_s"),
        count(nw.col("started_outside_hours")).alias("_outside"),
    ]


def figures() -> list[pl.Expr]:
    """The family's columns, from :func:`aggregations` (``handled`` from the volume family)."""
    outside = pl.col("_outside").fill_null(0)
    return [
        pl.col(
            "frt_business_mean_s",
            "frt_business_median_s",
            "frt_business_p90_s",
            "resolution_business_mean_s",
        ).cast(pl.Float64),
        outside.cast(pl.UInt32).alias("outside_hours"),
        ratio(outside, pl.col("handled")).alias("outside_hours_rate"),
    ]
