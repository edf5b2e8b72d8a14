"""The queues and channels a report is restricted to, checked against the data.

A filter that names no queue of the data would make every figure zero without a word, and the
weekly job would mail "no interactions" every week. So each value is compared with those the
source holds (in any week): a value that differs only in case is taken as the data spells it,
and an unknown value is a :class:`ParameterError` that lists the known ones.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import polars as pl

from cxreports import store
from cxreports.exceptions import ParameterError
from cxreports.schema import isolated, tame

#: How many known values an error lists before it says how many more there are.
LISTED = 30


@dataclass(frozen=True)
class Known:
    """The queue names and channels present in a source, sorted, and every interaction's
    start (sorted, UTC: which weeks the source reaches)."""

    queues: tuple[str, ...]
    channels: tuple[str, ...]
    starts: pl.Series | None = field(default=None, repr=False, compare=False)

    def span(self) -> str:
        """The first and last day of the starts, in words."""
        if self.starts is None or not len(self.starts):
            return "none"
        return f"{self.starts[0]:%Y-%m-%d} to {self.starts[-1]:%Y-%m-%d}"

    def started(self, start: datetime, end: datetime) -> int:
        """How many interactions started in ``[start, end)`` (UTC)."""
        if self.starts is None or not len(self.starts):
            return 0
        bounds = pl.Series([start, end], dtype=self.starts.dtype)
        low, high = self.starts.search_sorted(bounds, side="left").to_list()
        return high - low

    @classmethod
    def of(cls, interactions: pl.DataFrame | pl.LazyFrame) -> Known:
        """The values of an interactions table (the loader's or a store's).

        Examples
        --------
        >>> Known.of(pl.DataFrame({"queue_name": ["B", None, "A"], "channel": ["x", "x", None]}))
        Known(queues=('A', 'B'), channels=('x',))
        """
        lazy = interactions.lazy()
        starts = (
            pl.col("started_at").drop_nulls().sort().implode()
            if "started_at" in lazy.collect_schema()
            else pl.lit([], dtype=pl.List(pl.Datetime("us", "UTC")))
        )
        frame = lazy.select(
            pl.col("queue_name").drop_nulls().unique().sort().implode(),
            pl.col("channel").drop_nulls().unique().sort().implode(),
            starts.alias("starts"),
        ).collect()
        began = frame["starts"].explode().drop_nulls()
        return cls(tuple(frame.item(0, 0)), tuple(frame.item(0, 1)), began)


def known(sources: Sequence[str | Path], *, as_of: int | None = None) -> Known:
    """The queues and channels in ``sources``: a store's whole table, or the loaded files.

    A store is read by two columns (at snapshot ``as_of``, the newest by default); files are
    loaded once per process and set of files (by path, size and modification time), since the
    weekly job checks every group against them.
    """
    if len(sources) == 1 and store.is_store(sources[0]):
        snap = store.snapshot(sources[0], as_of)
        # a snapshot's queues never change: a weekly job checks every group against one
        # snapshot, read once (a store made anew has another fingerprint or time)
        return _known_snapshot(snap.root, snap.version, snap.timestamp, snap.fingerprint)
    from cxreports.load import resolve_sources

    files = resolve_sources(sources)
    return _known_files(tuple((str(f), *_stamp(f)) for f in files))


def _stamp(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


@lru_cache(maxsize=8)
def _known_snapshot(root: str, version: int, timestamp: object, fingerprint: str) -> Known:
    snap = store.snapshot(root, version)
    with store.reading(snap):  # a data file that cannot be read: the store is damaged, said so
        return Known.of(store.scan(root, "interactions", as_of=version))


@lru_cache(maxsize=4)
def _known_files(files: tuple[tuple[str, int, int], ...]) -> Known:
    from cxreports.load import load

    return Known.of(load(*(f for f, _, _ in files)).interactions)


def resolve(
    queues: Sequence[str], channels: Sequence[str], known: Known, *, where: str = ""
) -> tuple[list[str], list[str]]:
    """``queues`` and ``channels`` as the data spells them; an unknown one is an error.

    A value that matches a known one exactly is kept; one that matches only when case is
    ignored, or as reports show the names (:func:`~cxreports.schema.tame`: without control
    characters and direction overrides), becomes every known value it matches. ``where``
    prefixes the message (a config group, say: names from a config, which are never split at
    commas).

    Examples
    --------
    >>> k = Known(queues=("Billing", "Sales"), channels=("email", "voice"))
    >>> resolve(["billing"], ["Voice"], k)
    (['Billing'], ['voice'])
    >>> resolve(["Biling"], [], k)
    Traceback (most recent call last):
    ...
    cxreports.exceptions.ParameterError: unknown queue 'Biling': the source has Billing, Sales
    """
    problems = []
    out: dict[str, list[str]] = {}
    for what, given, values in (
        ("queue", queues, known.queues),
        ("channel", channels, known.channels),
    ):
        chosen: list[str] = []
        for value in given:
            shown = tame(value).casefold()
            matches = (
                [value] if value in values else [v for v in values if tame(v).casefold() == shown]
            )
            if not matches:
                problem = f"unknown {what} {value!r}: {_listing(what, values)}"
                split = [v for v in values if v.casefold().startswith(value.casefold() + ",")]
                if split:  # a name with a comma, split where it was given
                    problem += f' (did you mean "{split[0]}"?'
                    if not where:  # a config's lists are never split: no quoting to explain
                        problem += (
                            " A name that holds a comma is given whole: in double quotes on"
                            f" the command line, --{what}s '\"{split[0]}\"', or as one item of"
                            " a list in a notebook's parameters"
                        )
                    problem += ")"
                problems.append(problem)
            chosen += [m for m in matches if m not in chosen]
        out[what] = chosen
    if problems:
        raise ParameterError(where + "; ".join(problems))
    return out["queue"], out["channel"]


def _listing(what: str, values: Sequence[str]) -> str:
    if not values:
        return f"the source names no {what} at all"
    # a name that holds a comma in quotes, as the command line takes it
    shown = ", ".join(f'"{v}"' if "," in v else v for v in map(tame, values[:LISTED]))
    more = f" and {len(values) - LISTED} more" if len(values) > LISTED else ""
    return f"the source has {shown}{more}"


def describe(queues: Sequence[str], channels: Sequence[str], teams: Sequence[str] = ()) -> str:
    """The active filters in words, for a note (empty when there are none).

    Examples
    --------
    >>> describe(["Billing"], ["voice", "email"])
    'queue Billing; channels voice, email'
    """
    parts = []
    for what, values in (("queue", queues), ("channel", channels), ("team", teams)):
        if values:
            names = ", ".join(isolated(tame(v)) for v in values)
            parts.append(f"{what}{'s' if len(values) > 1 else ''} {names}")
    return "; ".join(parts)
