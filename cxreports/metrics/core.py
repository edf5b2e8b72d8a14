"""Building blocks shared by every metric family: scoping a week, ratios, Wilson intervals,
and the two stages every family is computed in (:func:`aggregate`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import narwhals as nw
import polars as pl

from cxreports.period import Week, zone

#: Wilson interval z for a 95% confidence level.
Z95 = 1.959963984540054

#: Group keys of the standard breakdowns, by the name of the breakdown.
BREAKDOWNS: dict[str, tuple[str, ...]] = {
    "agents": ("agent_id", "agent_name"),
    "queues": ("queue_name",),
    "channels": ("channel",),
    "daily": ("day",),
    "hourly": ("hour",),
    "summary": (),
}


def ratio(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """``numerator / denominator`` as Float64, null (not 0, not NaN) when the denominator is 0.

    Examples
    --------
    >>> pl.select(ratio(pl.lit(3), pl.lit(4))).item(), pl.select(ratio(pl.lit(0), pl.lit(0))).item()
    (0.75, None)
    """
    return pl.when(denominator > 0).then(numerator.cast(pl.Float64) / denominator)


def wilson(successes: pl.Expr, n: pl.Expr, z: float = Z95) -> tuple[pl.Expr, pl.Expr]:
    """Lower and upper bounds of the Wilson score interval for ``successes`` out of ``n``.

    Null when ``n`` is 0. Unlike the normal approximation it stays inside [0, 1] and is honest
    about small samples: 5 of 6 gives roughly [0.44, 0.97], 500 of 600 roughly [0.80, 0.86].

    Examples
    --------
    >>> lo, hi = wilson(pl.lit(5), pl.lit(6))
    >>> [round(v, 3) for v in pl.select(lo.alias("low"), hi.alias("high")).row(0)]
    [0.436, 0.97]
    """
    n_f = n.cast(pl.Float64)
    p = successes.cast(pl.Float64) / n_f
    z2 = z * z
    centre = (p + z2 / (2 * n_f)) / (1 + z2 / n_f)
    half = (z / (1 + z2 / n_f)) * (p * (1 - p) / n_f + z2 / (4 * n_f * n_f)).sqrt()
    valid = n > 0
    # all or none of the cases: the bound is exactly 1 or 0 (rounding would leave 0.999...,
    # and a rate of 100% would then read as below a team rate of 100%)
    return (
        pl.when(valid & (successes == 0))
        .then(0.0)
        .when(valid)
        .then((centre - half).clip(0.0, 1.0)),
        pl.when(valid & (successes == n))
        .then(1.0)
        .when(valid)
        .then((centre + half).clip(0.0, 1.0)),
    )


def localize(interactions: pl.DataFrame | pl.LazyFrame, tz: str) -> pl.LazyFrame:
    """Add the report-zone columns every breakdown uses: local start, day, weekday, hour, week."""
    zone(tz)
    local = pl.col("started_at").dt.convert_time_zone(tz)
    return interactions.lazy().with_columns(
        local_started_at=local,
        day=local.dt.date(),
        weekday=local.dt.weekday().cast(pl.Int8),
        hour=local.dt.hour().cast(pl.Int8),
        iso_week=local.dt.strftime("%G-W%V"),
    )


def in_week(frame: pl.LazyFrame, week: Week) -> pl.LazyFrame:
    """Rows whose ``started_at`` falls in ``week`` (Monday 00:00 local, inclusive, to exclusive)."""
    return frame.filter(
        pl.col("started_at").is_between(
            pl.lit(week.start_utc).dt.convert_time_zone("UTC"),
            pl.lit(week.end_utc).dt.convert_time_zone("UTC"),
            closed="left",
        )
    )


def counted(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Rows that count towards agent metrics: not soft-deleted and not a bot or AI-agent room."""
    return frame.filter(pl.col("deleted_at").is_null() & ~pl.col("is_bot"))


def filtered(
    frame: pl.LazyFrame,
    queues: Sequence[str] | None = None,
    channels: Sequence[str] | None = None,
) -> pl.LazyFrame:
    """Restrict to some queues and/or channels (None or empty means all)."""
    if queues:
        frame = frame.filter(pl.col("queue_name").is_in(list(queues)))
    if channels:
        frame = frame.filter(pl.col("channel").is_in([c.lower() for c in channels]))
    return frame


def count(condition: nw.Expr) -> nw.Expr:
    """How many rows ``condition`` holds for (a null condition is not counted), on any engine.

    Spark sums an all-null column to null, not 0: the figures read such counts with
    ``fill_null(0)``.
    """
    return condition.cast(nw.Int64).sum()


def aggregate(
    frame: Any,
    by: Sequence[str],
    aggregations: Sequence[nw.Expr],
    figures: Sequence[pl.Expr],
) -> pl.LazyFrame:
    """A metric family's two stages: ``aggregations`` (counts, sums, means and quantiles,
    narwhals expressions) per group of ``by`` on the frame's own engine, then ``figures``
    (rates and their Wilson intervals, polars expressions) on the small aggregated result.

    ``frame`` is a polars frame, lazy or not, or any frame narwhals reads (a PySpark or DuckDB
    one); a polars frame stays lazy, another engine's result is collected into polars. One row
    per group (in no particular order), or one row for the whole frame without ``by``.

    Examples
    --------
    >>> df = pl.DataFrame({"queue": ["a", "a", "b"], "met": [True, False, True]})
    >>> met = [count(nw.col("met")).alias("_met"), nw.len().alias("n")]
    >>> rate = [pl.col("n"), ratio(pl.col("_met"), pl.col("n")).alias("rate")]
    >>> aggregate(df, ["queue"], met, rate).sort("queue").collect().rows()
    [('a', 2, 0.5), ('b', 1, 1.0)]
    """
    keys = list(by)
    polars_frame = isinstance(frame, pl.LazyFrame | pl.DataFrame)
    on_polars = _polars_expressions(aggregations) if polars_frame else None
    if on_polars is not None:  # the same query, without narwhals reading each expression again
        lazy = frame.lazy()
        native = lazy.group_by(keys).agg(on_polars) if keys else lazy.select(on_polars)
        return native.select(*keys, *figures)
    stage = nw.from_native(frame).lazy()
    stage = stage.group_by(keys).agg(*aggregations) if keys else stage.select(*aggregations)
    if stage.implementation is nw.Implementation.POLARS:
        native = stage.to_native()
    else:
        native = stage.collect("polars").to_native().lazy()
    return native.select(*keys, *figures)


def _polars_expressions(aggregations: Sequence[nw.Expr]) -> list[pl.Expr] | None:
    """``aggregations`` as the polars expressions narwhals runs them as on a polars frame,
    worked out once per list (a report's breakdowns share one; narwhals reading the same
    expressions again for each took 5-8% of a group's figures), or None where this narwhals
    cannot say (the breakdown then goes through narwhals as any engine's does)."""
    kept = _POLARS_EXPRESSIONS.get(id(aggregations))
    if kept is not None and kept[0] is aggregations:
        return kept[1]
    try:
        from narwhals._polars.namespace import PolarsNamespace
        from narwhals._utils import Version

        namespace = PolarsNamespace(version=Version.MAIN)
        native = [e._to_compliant_expr(namespace).native for e in aggregations]
    except Exception:  # (an internal API of narwhals: a later one may differ)
        return None
    if not all(isinstance(e, pl.Expr) for e in native):
        return None
    if len(_POLARS_EXPRESSIONS) >= 16:
        _POLARS_EXPRESSIONS.clear()
    # the list itself is kept with its expressions, so its id names it while it is here
    _POLARS_EXPRESSIONS[id(aggregations)] = (aggregations, native)
    return native


_POLARS_EXPRESSIONS: dict[int, tuple[Sequence[nw.Expr], list[pl.Expr]]] = {}
