"""Volume family: handled counts, disposition and category mix, the weekday x hour heatmap, bots."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import narwhals as nw
import polars as pl

from cxreports.metrics.core import aggregate, count, ratio
from cxreports.metrics.quality import with_outcomes

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


#: The interaction columns the family reads.
READS: tuple[str, ...] = ()


def aggregations() -> list[nw.Expr]:
    """``handled``: interactions counted (the caller has already left out deleted and bot rooms).

    Each family gives the engine's stage (these narwhals aggregations) and the figures worked
    out from it in polars (:func:`figures`); :func:`cxreports.metrics.core.aggregate` runs both.
    """
    return [nw.len().alias("handled")]


def figures() -> list[pl.Expr]:
    """The family's columns, from :func:`aggregations`."""
    return [pl.col("handled").cast(pl.UInt32)]


def mix(frame: Any, column: str, by: Sequence[str] = (), missing: str = "(none)") -> pl.LazyFrame:
    """Count and share of each value of ``column`` (null or blank shown as ``missing``, which
    would otherwise be a bar with no label), largest first; ``frame`` on any engine
    (:func:`cxreports.metrics.core.aggregate`).

    Examples
    --------
    >>> df = pl.LazyFrame({"disposition": ["Resolved", "Resolved", None, "  "]})
    >>> mix(df, "disposition").collect().rows()
    [('(none)', 2, 0.5), ('Resolved', 2, 0.5)]
    """
    keys = list(by)
    total = pl.col("count").sum()
    value = nw.col(column)
    blank = value.str.strip_chars() == ""
    filled = nw.from_native(frame).with_columns(
        nw.when(blank).then(nw.lit(missing)).otherwise(value.fill_null(missing)).alias(column)
    )
    counts = aggregate(
        filled,
        [*keys, column],
        [nw.len().alias("count")],
        [pl.col("count").cast(pl.UInt32)],
    )
    return counts.with_columns(
        share=ratio(pl.col("count"), total.over(keys) if keys else total)
    ).sort([*keys, "count", column], descending=[*([False] * len(keys)), True, False])


def heatmap(frame: Any) -> pl.LazyFrame:
    """Interactions by local weekday (1 = Monday) and hour, every one of the 168 cells present;
    ``frame`` (with ``weekday`` and ``hour``) on any engine."""
    grid = pl.LazyFrame({"weekday": list(range(1, 8))}, schema={"weekday": pl.Int8}).join(
        pl.LazyFrame({"hour": list(range(24))}, schema={"hour": pl.Int8}), how="cross"
    )
    counts = aggregate(
        frame,
        ["weekday", "hour"],
        [nw.len().alias("handled")],
        [pl.col("handled").cast(pl.UInt32)],
    ).with_columns(pl.col("weekday", "hour").cast(pl.Int8))
    return (
        grid.join(counts, on=["weekday", "hour"], how="left")
        .with_columns(
            pl.col("handled").fill_null(0),
            weekday_name=pl.col("weekday").replace_strict(
                list(range(1, 8)), list(WEEKDAYS), return_dtype=pl.String
            ),
        )
        .sort("weekday", "hour")
    )


def bots(week_frame: Any) -> pl.LazyFrame:
    """Bot and AI-agent rooms of the week: volume, share of all live rooms, outcomes;
    ``week_frame`` on any engine."""
    live = with_outcomes(nw.from_native(week_frame).filter(nw.col("deleted_at").is_null()))
    kind = (
        nw.when(nw.col("is_ai_agent"))
        .then(nw.lit("AI agent"))
        .when(nw.col("is_bot"))
        .then(nw.lit("Bot"))
        .otherwise(nw.lit("Agent"))
    )
    rooms = pl.col("rooms")
    return (
        aggregate(
            nw.from_native(live).with_columns(kind.alias("kind")),
            ["kind"],
            [
                nw.len().alias("rooms"),
                count(nw.col("is_resolved")).alias("_resolved"),
                nw.col("handled_time_s").mean().alias("handled_mean_s"),
            ],
            [
                rooms.cast(pl.UInt32),
                ratio(pl.col("_resolved").fill_null(0), rooms).alias("resolved_rate"),
                pl.col("handled_mean_s").cast(pl.Float64),
            ],
        )
        .with_columns(share=ratio(rooms, rooms.sum()))
        .sort("rooms", descending=True)
    )
