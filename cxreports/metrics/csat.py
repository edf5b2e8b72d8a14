"""CSAT family: surveys sent, responses, mean score and the 4-or-5 share on the 1-5 scale."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import narwhals as nw
import polars as pl

from cxreports.metrics.core import aggregate, count, ratio, wilson

#: csat_status values that mean no survey went out.
NOT_SENT = ("not_sent", "none", "")
#: csat_status values the platform is known to send.
KNOWN_CSAT_STATUS = ("not_sent", "sent", "completed")

#: The interaction columns the family reads.
READS = ("csat_status", "csat_score")


def survey_sent() -> nw.Expr:
    """A survey went out: a status other than not sent, or a score given."""
    status = nw.col("csat_status")
    return (~status.is_null() & ~status.is_in(NOT_SENT)) | ~nw.col("csat_score").is_null()


def aggregations() -> list[nw.Expr]:
    """Surveys sent, responses, the mean score and the 4-or-5 responses counted; rates are
    null (not 0) when there is nothing to divide by.

    Examples
    --------
    >>> from cxreports.metrics.core import aggregate
    >>> df = pl.DataFrame({"csat_status": ["sent", "completed", "completed", "not_sent"],
    ...                    "csat_score": [None, 5, 3, None]})
    >>> out = aggregate(df, [], aggregations(), figures()).collect()
    >>> out.select("csat_sent", "csat_responses", "csat_response_rate", "csat_rate").row(0)
    (3, 2, 0.6666666666666666, 0.5)
    """
    rating = nw.col("csat_score")
    return [
        count(survey_sent()).alias("_sent"),
        rating.count().alias("_responses"),
        rating.cast(nw.Float64).mean().alias("csat_score_mean"),
        count(rating >= 4).alias("_satisfied"),
    ]


def figures() -> list[pl.Expr]:
    """The family's columns, from :func:`aggregations`, the 4-or-5 share with Wilson bounds."""
    sent = pl.col("_sent").fill_null(0).cast(pl.UInt32)
    responses = pl.col("_responses").fill_null(0).cast(pl.UInt32)
    satisfied = pl.col("_satisfied").fill_null(0)
    low, high = wilson(satisfied, responses)
    return [
        sent.alias("csat_sent"),
        responses.alias("csat_responses"),
        ratio(responses, sent).alias("csat_response_rate"),
        pl.col("csat_score_mean").cast(pl.Float64),
        ratio(satisfied, responses).alias("csat_rate"),
        low.alias("csat_rate_low"),
        high.alias("csat_rate_high"),
    ]


def distribution(frame: Any, by: Sequence[str] = ()) -> pl.LazyFrame:
    """Responses per rating 1-5 (every rating present, zeros included) and their share;
    ``frame`` on any engine (:func:`cxreports.metrics.core.aggregate`)."""
    keys = list(by)
    rated = nw.from_native(frame).filter(~nw.col("csat_score").is_null())
    counts = aggregate(
        rated,
        [*keys, "csat_score"],
        [nw.len().alias("responses")],
        [pl.col("responses").cast(pl.UInt32)],
    ).with_columns(pl.col("csat_score").cast(pl.Int8))
    ratings = pl.LazyFrame({"csat_score": [1, 2, 3, 4, 5]}, schema={"csat_score": pl.Int8})
    groups = counts.select(keys).unique() if keys else pl.LazyFrame({"_all": [0]})
    grid = groups.join(ratings, how="cross")
    out = grid.join(counts, on=[*keys, "csat_score"], how="left").with_columns(
        pl.col("responses").fill_null(0)
    )
    total = pl.col("responses").sum()
    out = out.with_columns(share=ratio(pl.col("responses"), total.over(keys) if keys else total))
    return out.drop("_all", strict=False).sort([*keys, "csat_score"])
