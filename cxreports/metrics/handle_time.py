"""Handle-time family: AHT, first response, hold, wrap-up and resolution durations (seconds)."""

from __future__ import annotations

import polars as pl

had_hold = (pl.col("hold_count") > 0) | (pl.col("hold_time_s").fill_null(0) > 0)


def expressions() -> list[pl.Expr]:
    """Aggregations over interactions; nulls are ignored by every mean and quantile.

    Examples
    --------
    >>> df = pl.DataFrame({"handled_time_s": [100.0, 300.0], "first_response_time_s": [10.0, None],
    ...                    "hold_count": [0, 1], "hold_time_s": [0.0, 40.0],
    ...                    "wrap_up_time_s": [30.0, 50.0], "resolution_time_s": [130.0, 390.0]})
    >>> df.select(expressions()).select("aht_s", "frt_mean_s", "hold_rate", "hold_mean_s").row(0)
    (200.0, 10.0, 0.5, 40.0)
    """
    aht = pl.col("handled_time_s")
    frt = pl.col("first_response_time_s")
    return [
        aht.mean().alias("aht_s"),
        aht.median().alias("aht_median_s"),
        aht.quantile(0.9, interpolation="linear").alias("aht_p90_s"),
        frt.mean().alias("frt_mean_s"),
        frt.median().alias("frt_median_s"),
        frt.quantile(0.9, interpolation="linear").alias("frt_p90_s"),
        had_hold.mean().cast(pl.Float64).alias("hold_rate"),
        pl.col("hold_time_s").filter(had_hold).mean().alias("hold_mean_s"),
        pl.col("wrap_up_time_s").mean().alias("wrap_up_mean_s"),
        pl.col("resolution_time_s").mean().alias("resolution_mean_s"),
    ]
