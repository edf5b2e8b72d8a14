"""Handle-time family: AHT, first response, hold, wrap-up and resolution durations (seconds)."""

from __future__ import annotations

import narwhals as nw
import polars as pl

from cxreports.metrics.core import count, ratio

#: The interaction columns the family reads.
READS = (
    "handled_time_s", "first_response_time_s", "hold_count", "hold_time_s", "wrap_up_time_s",
    "resolution_time_s",
)  # fmt: skip


def had_hold() -> nw.Expr:
    """Whether the interaction was put on hold: a hold logged, or hold time above zero."""
    return (nw.col("hold_count") > 0) | (nw.col("hold_time_s").fill_null(0) > 0)


def aggregations() -> list[nw.Expr]:
    """Means, medians and 90th percentiles (linear interpolation, exact on every engine) of
    the durations; nulls are ignored by every mean and quantile.

    Examples
    --------
    >>> from cxreports.metrics.core import aggregate
    >>> df = pl.DataFrame({"handled_time_s": [100.0, 300.0], "first_response_time_s": [10.0, None],
    ...                    "hold_count": [0, 1], "hold_time_s": [0.0, 40.0],
    ...                    "wrap_up_time_s": [30.0, 50.0], "resolution_time_s": [130.0, 390.0]})
    >>> out = aggregate(df, [], aggregations(), figures()).collect()
    >>> out.select("aht_s", "aht_p90_s", "frt_mean_s", "hold_rate", "hold_mean_s").row(0)
    (200.0, 280.0, 10.0, 0.5, 40.0)
    """
    aht = nw.col("handled_time_s")
    frt = nw.col("first_response_time_s")
    held = had_hold()
    return [
        aht.count().alias("aht_n"),
        frt.count().alias("frt_n"),
        aht.mean().alias("aht_s"),
        aht.median().alias("aht_median_s"),
        aht.quantile(0.9, interpolation="linear").alias("aht_p90_s"),
        frt.mean().alias("frt_mean_s"),
        frt.median().alias("frt_median_s"),
        frt.quantile(0.9, interpolation="linear").alias("frt_p90_s"),
        count(held).alias("_held"),
        held.count().alias("_held_of"),
        nw.when(held).then(nw.col("hold_time_s")).mean().alias("hold_mean_s"),
        nw.col("wrap_up_time_s").mean().alias("wrap_up_mean_s"),
        nw.col("wrap_up_time_s").count().alias("wrap_up_n"),
        nw.col("resolution_time_s").mean().alias("resolution_mean_s"),
        nw.col("resolution_time_s").count().alias("resolution_n"),
    ]


def figures() -> list[pl.Expr]:
    """The family's columns, from :func:`aggregations`: ``hold_rate`` is the share put on hold;
    each ``<figure>_n`` counts the interactions its figure is taken from (those with the
    duration; for ``hold_n``, those whose hold is known)."""
    return [
        pl.col(
            "aht_s", "aht_median_s", "aht_p90_s", "frt_mean_s", "frt_median_s", "frt_p90_s"
        ).cast(pl.Float64),
        ratio(pl.col("_held").fill_null(0), pl.col("_held_of")).alias("hold_rate"),
        pl.col("hold_mean_s", "wrap_up_mean_s", "resolution_mean_s").cast(pl.Float64),
        pl.col("aht_n", "frt_n", "wrap_up_n", "resolution_n").fill_null(0).cast(pl.UInt32),
        pl.col("_held_of").fill_null(0).cast(pl.UInt32).alias("hold_n"),
    ]
