"""Outcome family: resolved, transferred and first-contact-resolved interactions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import narwhals as nw
import polars as pl

from cxreports.metrics.core import count, ratio, wilson

#: How long a contact must stay away for a resolved interaction to count as FCR.
FCR_WINDOW = timedelta(days=7)

#: The columns the family reads: the flags of :func:`with_outcomes` and :func:`with_fcr`.
READS = ("is_resolved", "is_transferred", "fcr", "fcr_window_complete")


def resolved() -> nw.Expr:
    """Resolved: the disposition, without regard to case ("Resolved", "RESOLVED" agree)."""
    return (nw.col("disposition").str.to_lowercase() == "resolved").fill_null(False)


def transferred() -> nw.Expr:
    """Transferred: first and closing assignee both known and different."""
    return (
        ~nw.col("first_assignee_id").is_null()
        & ~nw.col("closed_assignee_id").is_null()
        & (nw.col("first_assignee_id") != nw.col("closed_assignee_id"))
    )


#: Per-interaction outcome flags, computed once per frame (:func:`with_outcomes`) and read by
#: every aggregation: the case-insensitive disposition test is a string operation, too slow to
#: repeat in each rate and each bound of each group.
OUTCOMES = {"is_resolved": resolved, "is_transferred": transferred}


def with_outcomes(frame: Any) -> Any:
    """``frame`` (polars, lazy or not, or another engine's frame) with the :data:`OUTCOMES`
    columns it lacks.

    Examples
    --------
    >>> df = pl.LazyFrame({"disposition": ["RESOLVED", None], "first_assignee_id": ["a", "a"],
    ...                    "closed_assignee_id": ["b", None]})
    >>> with_outcomes(df).select("is_resolved", "is_transferred").collect().rows()
    [(True, True), (False, False)]
    """
    data = nw.from_native(frame)
    have = data.collect_schema().names()
    missing = {name: flag() for name, flag in OUTCOMES.items() if name not in have}
    return data.with_columns(**missing).to_native() if missing else frame


def repeated(data: Any) -> Any:
    """``data`` (live interactions, any engine) with ``repeat_within_7d``: the contact has
    another interaction within :data:`FCR_WINDOW` after this one (an exact duration: 168 hours
    across a daylight-saving change too), or at the same moment.

    The definition on every engine; :func:`add_fcr_columns` finds the same flag on polars by
    one sort, twice as fast as these windows there.
    """
    t = nw.col("started_at")
    after = t.shift(-1).over("contact_id", order_by=["started_at"])
    before = t.shift(1).over("contact_id", order_by=["started_at"])
    repeat = ~nw.col("contact_id").is_null() & (
        (after - t <= FCR_WINDOW).fill_null(False) | (before == t).fill_null(False)
    )
    return nw.from_native(data).with_columns(repeat_within_7d=repeat).to_native()


def with_fcr(data: Any, data_end: datetime | None = None) -> Any:
    """``data`` (live interactions with ``repeat_within_7d``, any engine) with the outcome
    flags, ``fcr`` (resolved, not transferred, not repeated) and ``fcr_window_complete`` (the
    data goes on for :data:`FCR_WINDOW` after the start: it ends at ``data_end``, or else with
    the last start in ``data``)."""
    t = nw.col("started_at")
    end = t.max() if data_end is None else nw.lit(data_end)
    flagged = nw.from_native(with_outcomes(data))
    return flagged.with_columns(
        fcr=nw.col("is_resolved") & ~nw.col("is_transferred") & ~nw.col("repeat_within_7d"),
        fcr_window_complete=(end - t) >= FCR_WINDOW,
    ).to_native()


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
    repeats = _repeats(live.select("_row", "contact_id", "started_at")).lazy().sort("_row")
    return with_fcr(
        pl.concat([live, repeats.drop("_row")], how="horizontal").drop("_row"), data_end
    )


def with_repeats(interactions: pl.DataFrame) -> pl.DataFrame:
    """``interactions`` with ``repeat_within_7d`` (as :func:`add_fcr_columns` finds it), its
    soft-deleted rows kept, with the flag false: no column of the others is copied."""
    rows = interactions.lazy().with_row_index("_row").filter(pl.col("deleted_at").is_null())
    repeats = _repeats(rows.select("_row", "contact_id", "started_at"))
    flag = pl.repeat(False, interactions.height, dtype=pl.Boolean, eager=True)
    flag = flag.scatter(repeats["_row"], repeats["repeat_within_7d"])
    return interactions.with_columns(flag.alias("repeat_within_7d"))


def _repeats(narrow: pl.LazyFrame) -> pl.DataFrame:
    """``repeat_within_7d`` of each ``_row`` of ``narrow`` (live interactions' ``_row``,
    ``contact_id`` and ``started_at``), in no particular order of the rows."""
    contact, start = pl.col("contact_id"), pl.col("started_at")
    # Each contact's interactions side by side in time order, so that a repeat is the row
    # below: sorts of three narrow columns rather than windows over every column. The sort
    # key is a hash of the contact (sorting the text is several times slower); should two
    # contacts (or a contact and the missing one) share a hash, their rows would interleave, so
    # then the text is sorted instead. Two stable sorts of one key each (by the start, then by
    # the contact's hash) give the order of one sort by (hash, start, row), in half the time.
    ordered = (
        narrow.sort("started_at", maintain_order=True)
        .with_columns(_key=contact.hash())
        .sort("_key", maintain_order=True)
        .collect()
    )
    # with no two contacts side by side on one hash, the hashes tell neighbours' contacts
    # apart (comparing ~800,000 ids as text took most of the time here)
    same = pl.col("_key")
    if ordered.select(
        ((same.shift(-1) == same) & contact.shift(-1).ne_missing(contact)).any()
    ).item():
        ordered, same = ordered.sort("contact_id", "started_at", "_row"), contact
    below = contact.is_not_null() & (same.shift(-1) == same).fill_null(False)
    above = contact.is_not_null() & (same.shift(1) == same).fill_null(False)
    return ordered.select(
        "_row",
        # two interactions of a contact starting at the same moment are each other's
        # repeat; without this, which of them counted as FCR would depend on row order
        repeat_within_7d=(below & (start.shift(-1) - start <= FCR_WINDOW)).fill_null(False)
        | (above & (start.shift(1) == start)).fill_null(False),
    )


def aggregations() -> list[nw.Expr]:
    """Resolved, transferred and first-contact-resolved interactions counted; the frame has the
    :data:`OUTCOMES` columns (:func:`with_outcomes`) and the FCR ones.

    Examples
    --------
    >>> from cxreports.metrics.core import aggregate
    >>> df = pl.LazyFrame({"disposition": ["Resolved", "Resolved", "Escalated"],
    ...                    "first_assignee_id": ["a", "a", "a"],
    ...                    "closed_assignee_id": ["a", "b", "a"],
    ...                    "fcr": [True, False, False], "fcr_window_complete": [True, True, False]})
    >>> out = aggregate(with_outcomes(df), [], [nw.len().alias("handled"), *aggregations()],
    ...                 figures()).collect()
    >>> out.select("resolved_rate", "transfer_rate", "fcr_rate", "fcr_window_incomplete").row(0)
    (0.6666666666666666, 0.3333333333333333, 0.3333333333333333, 1)
    """
    return [
        count(nw.col("is_resolved")).alias("_resolved"),
        count(nw.col("is_transferred")).alias("_transferred"),
        count(nw.col("fcr")).alias("_fcr"),
        count(~nw.col("fcr_window_complete")).alias("_fcr_incomplete"),
    ]


def figures() -> list[pl.Expr]:
    """Resolved, transfer and FCR rates over ``handled``, with Wilson bounds."""
    n = pl.col("handled")
    n_resolved = pl.col("_resolved").fill_null(0)
    n_fcr = pl.col("_fcr").fill_null(0)
    r_low, r_high = wilson(n_resolved, n)
    f_low, f_high = wilson(n_fcr, n)
    return [
        ratio(n_resolved, n).alias("resolved_rate"),
        r_low.alias("resolved_rate_low"),
        r_high.alias("resolved_rate_high"),
        ratio(pl.col("_transferred").fill_null(0), n).alias("transfer_rate"),
        ratio(n_fcr, n).alias("fcr_rate"),
        f_low.alias("fcr_rate_low"),
        f_high.alias("fcr_rate_high"),
        pl.col("_fcr_incomplete").fill_null(0).cast(pl.UInt32).alias("fcr_window_incomplete"),
    ]
