"""Outcome family: resolved, transferred and first-contact-resolved interactions."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from cxreports.metrics.core import ratio, wilson

#: How long a contact must stay away for a resolved interaction to count as FCR.
FCR_WINDOW = timedelta(days=7)

#: Dispositions compare without regard to case: "Resolved", "resolved" and "RESOLVED" agree.
resolved = pl.col("disposition").str.to_lowercase() == "resolved"
transferred = (
    pl.col("first_assignee_id").is_not_null()
    & pl.col("closed_assignee_id").is_not_null()
    & (pl.col("first_assignee_id") != pl.col("closed_assignee_id"))
)


#: Per-interaction outcome flags, computed once per frame (:func:`with_outcomes`) and read by
#: every aggregation: the case-insensitive disposition test is a string operation, too slow to
#: repeat in each rate and each bound of each group.
OUTCOMES = {"is_resolved": resolved.fill_null(False), "is_transferred": transferred}


def with_outcomes(frame: pl.LazyFrame) -> pl.LazyFrame:
    """``frame`` with the :data:`OUTCOMES` columns it lacks.

    Examples
    --------
    >>> df = pl.LazyFrame({"disposition": ["RESOLVED", None], "first_assignee_id": ["a", "a"],
    ...                    "closed_assignee_id": ["b", None]})
    >>> with_outcomes(df).select("is_resolved", "is_transferred").collect().rows()
    [(True, True), (False, False)]
    """
    have = frame.collect_schema()
    missing = {name: expr for name, expr in OUTCOMES.items() if name not in have}
    return frame.with_columns(**missing) if missing else frame


def add_fcr_columns(interactions: pl.LazyFrame, data_end: datetime | None = None) -> pl.LazyFrame:
    """Add ``repeat_within_7d``, ``fcr`` and ``fcr_window_complete`` to every interaction.

    A contact's next interaction is looked for in the whole data set (any queue, channel or
    week, bot rooms included, soft-deleted ones left out), so call this before scoping a week.
    ``fcr_window_complete`` is false when the data ends less than seven days after the start:
    a later repeat could exist that the data does not show yet. The data ends with the last
    start of a live interaction in ``interactions``, or at ``data_end`` when the frame is a
    window of a larger data set (a store read).
    """
    live = interactions.filter(pl.col("deleted_at").is_null()).with_row_index("_row")
    end = pl.col("started_at").max() if data_end is None else pl.lit(data_end)
    contact, start = pl.col("contact_id"), pl.col("started_at")
    # Each contact's interactions side by side in time order, so that a repeat is the row
    # below: one sort of three narrow columns rather than windows over every column. The sort
    # key is a hash of the contact (sorting the text is several times slower); should two
    # contacts (or a contact and the missing one) share a hash, their rows would interleave, so
    # then the text is sorted instead.
    narrow = (
        live.select("_row", "contact_id", "started_at")
        .with_columns(_key=contact.hash())
        .sort("_key", "started_at", "_row")
        .collect()
    )
    if narrow.select(
        ((pl.col("_key").shift(-1) == pl.col("_key")) & contact.shift(-1).ne_missing(contact)).any()
    ).item():
        narrow = narrow.sort("contact_id", "started_at", "_row")
    below = contact.is_not_null() & (contact.shift(-1) == contact).fill_null(False)
    above = contact.is_not_null() & (contact.shift(1) == contact).fill_null(False)
    repeats = (
        narrow.lazy()
        .select(
            "_row",
            # two interactions of a contact starting at the same moment are each other's
            # repeat; without this, which of them counted as FCR would depend on row order
            repeat_within_7d=(below & (start.shift(-1) - start <= FCR_WINDOW)).fill_null(False)
            | (above & (start.shift(1) == start)).fill_null(False),
        )
        .sort("_row")
        .select("repeat_within_7d")
    )
    flagged = with_outcomes(pl.concat([live, repeats], how="horizontal").drop("_row"))
    return flagged.with_columns(
        fcr_window_complete=(start + FCR_WINDOW) <= end,
        fcr=(pl.col("is_resolved") & ~pl.col("is_transferred") & ~pl.col("repeat_within_7d")),
    )


def expressions() -> list[pl.Expr]:
    """Resolved, transfer and FCR rates over handled interactions, with Wilson bounds.

    They read the :data:`OUTCOMES` columns (:func:`with_outcomes`).

    Examples
    --------
    >>> df = pl.LazyFrame({"disposition": ["Resolved", "Resolved", "Escalated"],
    ...                    "first_assignee_id": ["a", "a", "a"],
    ...                    "closed_assignee_id": ["a", "b", "a"],
    ...                    "fcr": [True, False, False], "fcr_window_complete": [True, True, False]})
    >>> out = with_outcomes(df).select(expressions()).collect()
    >>> out.select("resolved_rate", "transfer_rate", "fcr_rate").row(0)
    (0.6666666666666666, 0.3333333333333333, 0.3333333333333333)
    """
    n = pl.len()
    n_resolved = pl.col("is_resolved").sum()
    n_fcr = pl.col("fcr").sum()
    r_low, r_high = wilson(n_resolved, n)
    f_low, f_high = wilson(n_fcr, n)
    return [
        ratio(n_resolved, n).alias("resolved_rate"),
        r_low.alias("resolved_rate_low"),
        r_high.alias("resolved_rate_high"),
        ratio(pl.col("is_transferred").sum(), n).alias("transfer_rate"),
        ratio(n_fcr, n).alias("fcr_rate"),
        f_low.alias("fcr_rate_low"),
        f_high.alias("fcr_rate_high"),
        (~pl.col("fcr_window_complete")).sum().alias("fcr_window_incomplete"),
    ]
