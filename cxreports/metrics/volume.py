"""Volume family: handled counts, disposition and category mix, the weekday x hour heatmap, bots."""

from __future__ import annotations

from collections.abc import Sequence

import narwhals as nw
import polars as pl

from cxreports.metrics.core import ratio
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


def mix(
    frame: pl.LazyFrame, column: str, by: Sequence[str] = (), missing: str = "(none)"
) -> pl.LazyFrame:
    """Count and share of each value of ``column`` (null shown as ``missing``), largest first.

    Examples
    --------
    >>> df = pl.LazyFrame({"disposition": ["Resolved", "Resolved", None]})
    >>> mix(df, "disposition").collect().rows()
    [('Resolved', 2, 0.6666666666666666), ('(none)', 1, 0.3333333333333333)]
    """
    keys = list(by)
    total = pl.col("count").sum()
    return (
        frame.with_columns(pl.col(column).fill_null(missing))
        .group_by([*keys, column])
        .agg(pl.len().cast(pl.UInt32).alias("count"))
        .with_columns(share=ratio(pl.col("count"), total.over(keys) if keys else total))
        .sort([*keys, "count", column], descending=[*([False] * len(keys)), True, False])
    )


def heatmap(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Interactions by local weekday (1 = Monday) and hour, every one of the 168 cells present."""
    grid = pl.LazyFrame({"weekday": list(range(1, 8))}, schema={"weekday": pl.Int8}).join(
        pl.LazyFrame({"hour": list(range(24))}, schema={"hour": pl.Int8}), how="cross"
    )
    counts = frame.group_by("weekday", "hour").agg(pl.len().cast(pl.UInt32).alias("handled"))
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


def bots(week_frame: pl.LazyFrame) -> pl.LazyFrame:
    """Bot and AI-agent rooms of the week: volume, share of all live rooms, outcomes."""
    live = with_outcomes(week_frame.filter(pl.col("deleted_at").is_null()))
    kind = (
        pl.when(pl.col("is_ai_agent"))
        .then(pl.lit("AI agent"))
        .when(pl.col("is_bot"))
        .then(pl.lit("Bot"))
        .otherwise(pl.lit("Agent"))
    )
    return (
        live.with_columns(kind=kind)
        .group_by("kind")
        .agg(
            pl.len().cast(pl.UInt32).alias("rooms"),
            ratio(pl.col("is_resolved").sum(), pl.len()).alias("resolved_rate"),
            pl.col("handled_time_s").mean().alias("handled_mean_s"),
        )
        .with_columns(share=ratio(pl.col("rooms"), pl.col("rooms").sum()))
        .sort("rooms", descending=True)
    )
