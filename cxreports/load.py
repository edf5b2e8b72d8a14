"""Sources -> CxLogs: typed polars tables, a quarantine of what could not be loaded, and counts.

A good page is parsed by polars' own JSON reader against the explicit record schema, in one
call. Only when that fails does the loader look at the page record by record (with orjson) to
name the bad records and keep the good ones. Worker threads read, parse and normalise groups of
files, one group per core at a time, so raw records never pile up as Python objects and live
only while their group is normalised.
"""

from __future__ import annotations

import codecs
import dataclasses
import glob
import gzip
import hashlib
import io
import json
import os
import re
import sys
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson
import polars as pl

# the same CRC-32 and gunzip as the standard library's zlib, 2-5 times as fast (SIMD)
from zlib_ng import gzip_ng, zlib_ng

from cxreports import schema as S
from cxreports.exceptions import (
    EmptyDataError,
    InvalidRecordError,
    ParameterError,
    SourceNotFoundError,
)
from cxreports.fetch import unfinished_fetch
from cxreports.jsonkeys import keys_once, page_records

#: File endings the loader reads; ``.gz`` may follow any of them.
SUFFIXES = (".json", ".jsonl", ".ndjson")

#: Records normalised together; bounds memory while keeping per-batch overhead small.
BATCH_RECORDS = 50_000

#: JSON read, parsed and normalised together by one worker thread: large enough that polars'
#: per-query overhead does not count, small enough that raw records do not pile up.
GROUP_BYTES = 48_000_000

#: Size of one API record as JSON, roughly; and how much a gzip file grows when decompressed.
RECORD_BYTES, GZIP_RATIO = 5_000, 8

#: Threads that read, parse and normalise groups: polars' JSON reader and queries release the
#: GIL, so each keeps a core busy.
READ_WORKERS = min(4, os.cpu_count() or 2)

#: Groups read ahead of the consumer at most: enough to keep the workers busy while a batch
#: is written (with twice the workers they stopped for a tenth of a 100k store build), few
#: enough that memory stays bounded.
READ_AHEAD = 3 * READ_WORKERS

T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True)
class CxLogs:
    """The loaded tables and the counts that account for every record read.

    ``records_read == loaded + superseded + quarantined`` always holds; an unreadable file
    (malformed JSON, not an API page) counts as one quarantined item.
    """

    interactions: pl.DataFrame
    holds: pl.DataFrame
    labels: pl.DataFrame
    wrap_up_categories: pl.DataFrame
    wrap_up_tags: pl.DataFrame
    custom_fields: pl.DataFrame
    quarantine: pl.DataFrame
    files: tuple[str, ...] = ()
    records_read: int = 0
    superseded: int = 0
    fingerprint: str = ""
    csat_score_field: str = S.DEFAULT_CSAT_SCORE_FIELD
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def loaded(self) -> int:
        """Unique interactions loaded (soft-deleted ones included)."""
        return self.interactions.height

    @property
    def quarantined(self) -> int:
        """Records or files that could not be loaded."""
        return self.quarantine.height

    def tables(self) -> dict[str, pl.DataFrame]:
        """The tables by name, in the order of ``schema.TABLES``."""
        return {name: getattr(self, name) for name in S.TABLES}

    def summary(self) -> dict[str, Any]:
        """A small dict describing the load, for the CLI and report footers."""
        return {
            "files": len(self.files),
            "records_read": self.records_read,
            "superseded": self.superseded,
            "quarantined": self.quarantined,
            "fingerprint": self.fingerprint,
            **self.interactions.lazy().select(SUMMARY_AGGREGATES).collect().row(0, named=True),
        }


#: What a summary says of the interactions (a lazy select, so a store can answer it too).
SUMMARY_AGGREGATES = [
    pl.len().alias("loaded"),
    pl.col("deleted_at").is_not_null().sum().alias("deleted"),
    pl.col("is_bot").sum().alias("bot_rooms"),
    pl.col("agent_id").drop_nulls().n_unique().alias("agents"),
    pl.col("queue_name").drop_nulls().n_unique().alias("queues"),
    pl.col("channel").drop_nulls().n_unique().alias("channels"),
    pl.col("started_at").min().alias("first_started_at"),
    pl.col("started_at").max().alias("last_started_at"),
]


def format_summary(s: dict[str, Any], quarantine: pl.DataFrame) -> str:
    """A one-screen, human-readable account of a load (``CxLogs.summary()`` or a store's)."""
    first, last = s["first_started_at"], s["last_started_at"]
    span = (
        "no interactions"
        if first is None
        else f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC"
    )
    lines = [
        f"files read            {s['files']:>10,}",
        f"records read          {s['records_read']:>10,}",
        f"  loaded (unique)     {s['loaded']:>10,}",
        f"  older duplicates    {s['superseded']:>10,}   (superseded by a later updatedAt)",
        f"  quarantined         {s['quarantined']:>10,}",
        f"soft-deleted          {s['deleted']:>10,}   (kept, flagged by deleted_at)",
        f"bot / AI-agent rooms  {s['bot_rooms']:>10,}",
        f"agents                {s['agents']:>10,}",
        f"queues                {s['queues']:>10,}",
        f"channels              {s['channels']:>10,}",
        f"started               {span}",
        f"fingerprint           {s['fingerprint']}",
    ]
    if quarantine.height:
        lines.append("")
        lines.append(f"quarantined records (first {min(10, quarantine.height)}):")
        for row in quarantine.head(10).iter_rows(named=True):
            lines.append(f"  {row['source_file']}: {row['reason']}")
    return "\n".join(lines)


def load(
    *sources: str | Path,
    csat_score_field: str = S.DEFAULT_CSAT_SCORE_FIELD,
    strict: bool = False,
    progress: bool | None = None,
) -> CxLogs:
    """Load CX-log API pages into typed tables.

    Parameters
    ----------
    *sources
        Files (``.json`` API pages, ``.jsonl``/``.ndjson`` one record per line, any of them
        ``.gz``), directories (read recursively) or glob patterns.
    csat_score_field
        Dotted path of the CSAT rating (1-5) inside a record; tenants differ.
    strict
        Raise :class:`InvalidRecordError` on the first bad record instead of quarantining it.
    progress
        Show a progress bar; by default only when stderr is a terminal and there are many files.

    Examples
    --------
    >>> logs = load("tests/data/seed_page.json")
    >>> logs.interactions.select("queue_name", "handled_time_s").row(0)
    ('Tier 2 Technical Support', 2720.0)
    """
    files = resolve_sources(sources)
    digest = hashlib.sha1(usedforsecurity=False)
    parts: list[dict[str, pl.DataFrame]] = []
    quarantine: list[pl.DataFrame] = []
    for batch in read_batches(files, csat_score_field=csat_score_field, progress=progress):
        digest.update(batch.digest)
        parts.append(batch.tables)
        quarantine.append(batch.quarantine)

    q = pl.concat([S.empty(S.QUARANTINE), *quarantine], how="vertical")
    if strict:
        raise_on_quarantine(q)
    # every source list holds a file, so there is at least one batch
    versions = pl.concat([p["interactions"].select(_VERSION_KEYS) for p in parts])
    winners = latest_versions(versions).to_series().sort()
    out = {}
    for name in ("interactions", *S.CHILD_TABLES):
        # batch by batch, each batch's table let go once its winners are copied: the peak is
        # the result plus one batch, not the batches, their concatenation and a sorted copy
        kept = [_keep(p.pop(name), winners) for p in parts]
        out[name] = pl.concat([S.empty(S.TABLES[name]), *kept], how="vertical")
    loaded_and_superseded = versions.height
    superseded = loaded_and_superseded - out["interactions"].height
    return CxLogs(
        **out,
        quarantine=q,
        files=tuple(str(f) for f in files),
        records_read=loaded_and_superseded + q.height,
        superseded=superseded,
        fingerprint=digest.hexdigest(),
        csat_score_field=csat_score_field,
    )


@dataclass(frozen=True)
class Batch:
    """Files read and normalised together: tables keyed by ``_rid``, their quarantine."""

    files: list[Path]
    tables: dict[str, pl.DataFrame]
    quarantine: pl.DataFrame
    digest: bytes  # identifies the files (name, size, CRC-32 of each)
    keys: list[str | None]  # each file's content key (:func:`content_key`); None if unreadable


def read_batches(
    files: list[Path],
    *,
    csat_score_field: str = S.DEFAULT_CSAT_SCORE_FIELD,
    progress: bool | None = None,
) -> Iterator[Batch]:
    """Read ``files`` in order and yield them as batches of about :data:`BATCH_RECORDS` records.

    Worker threads read, parse and normalise groups of files (:func:`_groups`) ahead of the
    consumer, so raw records live only as long as their group's normalisation and a consumer
    that writes each batch out (the store) holds one batch at a time. A file's records are
    never split across groups or batches; ``_rid`` numbers records across batches.
    Tables are not deduplicated: :func:`deduplicate` does it for whatever set it is given.
    """
    record_schema = S.record_schema(csat_score_field)
    csat = S.csat_expr(csat_score_field)
    pending: list[_Group] = []
    rows = offset = 0

    def flush() -> Batch:
        nonlocal pending, rows
        batch = Batch(
            [path for group in pending for path in group.files],
            {
                name: pl.concat([group.tables[name] for group in pending], how="vertical")
                for name in ("interactions", *S.CHILD_TABLES)
            },
            pl.concat([group.quarantine for group in pending], how="vertical"),
            b"".join(group.digest for group in pending),
            [key for group in pending for key in group.keys],
        )
        pending, rows = [], 0
        return batch

    groups = _groups(files)
    done = _read_ahead(lambda group: _read_group(group, record_schema, csat), groups)
    for i, group in enumerate(
        _progress(done, len(files), progress, size=lambda group: len(group.files))
    ):
        # a group numbers its records from 0; here they get their place in the whole read
        pending.append(group.shifted(offset))
        offset += group.records
        rows += group.records
        # the last group is a batch of its own: a consumer that writes a batch (the store)
        # writes the last one while no group is left to read, so a small one ends the soonest
        if rows >= BATCH_RECORDS or (i == len(groups) - 2 and rows):
            yield flush()
    if pending:
        yield flush()


@dataclass(frozen=True)
class _Group:
    """Files read and normalised together by one worker; ``_rid`` counts from 0."""

    files: list[Path]
    tables: dict[str, pl.DataFrame]
    records: int  # raw records normalised (good and quarantined)
    quarantine: pl.DataFrame
    digest: bytes
    keys: list[str | None]

    def shifted(self, offset: int) -> _Group:
        if not offset:
            return self
        shift = pl.col("_rid") + pl.lit(offset, dtype=pl.UInt32)
        tables = {name: t.with_columns(shift) for name, t in self.tables.items()}
        return dataclasses.replace(self, tables=tables)


def _read_group(files: list[Path], record_schema: pl.Schema, csat: pl.Expr) -> _Group:
    page_schema = _page_schema(record_schema)
    # per file with records, in order: (source, frame, positions, is the frame an API page)
    read: list[tuple[str, pl.DataFrame, list[int] | None, bool]] = []
    problems = [S.empty(S.QUARANTINE)]
    digests, keys = [], []
    for path in files:
        data, error, stored_crc, crc = _read_file(path)
        keys.append(None if stored_crc is None else content_key(stored_crc))
        # name, size and CRC-32 identify a file well enough for tracing, at a tenth of SHA's cost
        digests.append(f"{path.name}\0{len(data)}\0{crc}".encode())
        source = str(path)
        if error:
            problems.append(_frame([_problem(source, None, None, error)]))
            continue
        scanned, is_page = None, _is_page(data, source)
        if is_page:
            # the usual page: its records read straight from the bytes of their array
            scanned = page_records(data)
            if (records := _records_of_page(data, scanned[2], record_schema)) is not None:
                if records.height:
                    read.append((source, records, None, False))
                continue
        once = _keys_once(data, _kind(source), scanned[:2] if scanned else None)
        if once is not None and is_page:
            page = _read_page(once, page_schema)
            if page is not None:
                read.append((source, page, None, True))
                continue
            # not a well-formed page: the careful path finds and names what is wrong
            raw, positions, bad = _careful_read(data, "json", source, record_schema)
        else:
            raw, positions, bad = _read_records(data, once, source, record_schema)
        problems.append(bad)
        if raw.height:
            read.append((source, raw, positions, False))
    pending = _unwrap_pages(read, record_schema, problems)
    tables, records = None, 0
    if pending:
        # one chunk: every query below would otherwise pay for each page's chunks
        raw = pl.concat([frame for frame, _, _ in pending], how="vertical", rechunk=True)
        raw = raw.hstack(_origin(pending)).with_row_index("_rid")
        records = raw.height
        tables, bad = normalize(raw, csat)
        problems.append(bad)
    return _Group(
        files, _typed(tables), records, _in_file_order(problems, files), b"".join(digests), keys
    )


def _in_file_order(problems: list[pl.DataFrame], files: list[Path]) -> pl.DataFrame:
    """A group's quarantine in the order of its files, then of positions within a file."""
    quarantine = pl.concat(problems, how="vertical")
    if quarantine.height < 2:
        return quarantine
    order = {str(path): i for i, path in enumerate(files)}
    rank = pl.col("source_file").replace_strict(order, return_dtype=pl.Int64)
    return quarantine.sort(rank, pl.col("position"), nulls_last=False, maintain_order=True)


def _page_schema(record_schema: pl.Schema) -> dict[str, pl.DataType]:
    return {"cxLogs": pl.Struct({"data": pl.List(pl.Struct(record_schema))})}


def _is_page(data: bytes, source: str) -> bool:
    """Whether a file should be an API page: JSON that is not a plain list of records."""
    return _kind(source) == "json" and data.lstrip()[:1] != b"["


def _records_of_page(
    data: bytes, span: tuple[int, int, int] | None, record_schema: pl.Schema
) -> pl.DataFrame | None:
    """An API page's records, read from the bytes of its ``cxLogs.data`` array alone (polars
    reads an array of records faster than the page around it, and leaves nothing to unwrap);
    None where the page is not plainly one (:func:`~cxreports.jsonkeys.page_records` found no
    such array), or it does not read: the page path reads it and names what is wrong.

    The rest of the page, with the array left out, must be JSON too: a page whose records
    are whole but whose end was cut off, or that has more after it, is not taken.
    """
    if span is None:
        return None
    start, end, count = span
    try:
        orjson.loads(data[:start] + b"[]" + data[end:])
        records = pl.read_json(io.BytesIO(memoryview(data)[start:end]), schema=record_schema)
    except (orjson.JSONDecodeError, pl.exceptions.PolarsError, ValueError, OverflowError):
        return None
    return records if records.height == count else None


def _read_page(data: bytes, page_schema: dict[str, pl.DataType]) -> pl.DataFrame | None:
    """An API page parsed to one row, its records still nested; None if it is not one.

    Pages are unwrapped a group at a time (:func:`_unwrap_pages`): each polars call costs about
    as much for one page as for a hundred.
    """
    try:
        page = pl.read_json(io.BytesIO(data), schema=page_schema)
    except (pl.exceptions.PolarsError, ValueError, OverflowError):
        return None
    return page if page.height == 1 else None


def _unwrap_pages(
    read: list[tuple[str, pl.DataFrame, list[int] | None, bool]],
    record_schema: pl.Schema,
    problems: list[pl.DataFrame],
) -> list[tuple[pl.DataFrame, str, list[int] | None]]:
    """Each file's raw records, in order: API pages unwrapped together, in one pass."""
    pages = [frame for _, frame, _, is_page in read if is_page]
    if not pages:
        return [(frame, source, positions) for source, frame, positions, _ in read]
    lists = pl.concat(pages, how="vertical").to_series().struct.field("data")
    counts = lists.list.len()
    records = lists.explode(empty_as_null=False, keep_nulls=True)
    # a page whose data is null, or that holds a null record, is read again the careful way,
    # which names the problem; the others are cut out of the records unwrapped together
    careful = lists.null_count() > 0 or records.null_count() > 0
    if not careful:
        records = records.struct.unnest()
    out: list[tuple[pl.DataFrame, str, list[int] | None]] = []
    page, offset = 0, 0
    for source, frame, positions, is_page in read:
        if not is_page:
            out.append((frame, source, positions))
            continue
        n = counts[page]
        if careful and (n is None or lists[page].null_count()):
            data, _ = _read_bytes(Path(source))
            frame, positions, bad = _careful_read(data, "json", source, record_schema)
            problems.append(bad)
        elif careful:
            frame, positions = lists[page].struct.unnest(), None
        else:
            frame, positions = records.slice(offset, n), None
        offset += n or 0
        page += 1
        if frame.height:
            out.append((frame, source, positions))
    return out


def _groups(files: list[Path]) -> list[list[Path]]:
    """``files`` in order, cut into runs of about :data:`GROUP_BYTES` of JSON each.

    A group is never larger than a batch is expected to be, so small batches stay small.
    """
    limit = min(GROUP_BYTES, BATCH_RECORDS * RECORD_BYTES)
    groups: list[list[Path]] = []
    size = 0
    for path in files:
        try:
            n = path.stat().st_size * (GZIP_RATIO if path.suffix.lower() == ".gz" else 1)
        except OSError:
            n = 0  # reading it will say what is wrong
        if not groups or (size and size + n > limit):
            groups.append([])
            size = 0
        groups[-1].append(path)
        size += n
    return groups


def raise_on_quarantine(quarantine: pl.DataFrame) -> None:
    """Raise :class:`InvalidRecordError` naming the first bad record, if there is any."""
    if not quarantine.height:
        return
    first = quarantine.sort("source_file", "position", nulls_last=False).row(0, named=True)
    rid = "" if first["record_id"] is None else f" (id {first['record_id']})"
    raise InvalidRecordError(
        f"{first['source_file']}{rid}: {first['reason']}. {quarantine.height} bad record(s) "
        "in all; load without strict to quarantine them and continue."
    )


def resolve_sources(sources: Iterable[str | Path]) -> list[Path]:
    """Expand files, directories and globs into a sorted, de-duplicated list of files.

    Pages of a fetch that did not finish (:func:`cxreports.fetch.unfinished_fetch`) are
    refused with :class:`ParameterError`, however they are named.
    """
    found: dict[Path, None] = {}
    for source in sources:
        text = str(source)
        path = Path(text)
        if path.is_dir():
            if (path / "interactions" / "_delta_log").is_dir():
                raise ParameterError(
                    f"{text} is a cxreports store, not pages: give a store as the only source "
                    "(it cannot be read together with other sources, nor loaded into a store)"
                )
            matches = _files_under(text)
            if not matches:
                raise SourceNotFoundError(
                    f"{text}: directory holds no {', '.join(SUFFIXES)} files (or .gz of them)"
                )
        elif path.is_file():
            matches = [path]
        elif glob.has_magic(text):
            matches = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
            # a Delta table's log is never pages, however the pattern reaches it
            matches = [p for p in matches if _readable(p) and "_delta_log" not in p.parts]
            if not matches:
                raise SourceNotFoundError(f"{text}: the pattern matches no readable file")
        else:
            raise SourceNotFoundError(f"{text}: no such file or directory")
        for match in matches:
            found[match] = None
    if not found:
        raise SourceNotFoundError("no source given: name a file, directory or glob of CX logs")
    for folder in dict.fromkeys(path.parent for path in found):
        if problem := unfinished_fetch(folder):
            raise ParameterError(problem)
    return list(found)


def read_records(
    data: bytes, source: str, record_schema: pl.Schema
) -> tuple[pl.DataFrame, list[int] | None, pl.DataFrame]:
    """Parse an NDJSON file or a JSON list of records into raw records, their positions, and
    the quarantined ones (API pages are read a group at a time, by :func:`_read_group`).

    Positions are None when the records are the whole file in order (0, 1, 2, ...); the
    loader adds ``_source`` and ``_position`` to a batch at once, which is cheaper than per file.
    """
    return _read_records(data, _keys_once(data, _kind(source)), source, record_schema)


def _read_records(
    data: bytes, once: bytes | None, source: str, record_schema: pl.Schema
) -> tuple[pl.DataFrame, list[int] | None, pl.DataFrame]:
    """:func:`read_records` of ``data``, ``once`` being :func:`_keys_once` of it."""
    kind = _kind(source)
    if once is None:
        return _careful_read(data, kind, source, record_schema)
    try:
        raw = _fast_read(once, kind, record_schema)
    except (pl.exceptions.PolarsError, ValueError, OverflowError):
        return _careful_read(data, kind, source, record_schema)
    if kind == "ndjson" and raw.height != once.count(b"\n") + (not once.endswith(b"\n")):
        # blank lines, which the reader skips: a record's position is its line, as the
        # careful path numbers it ("line 4", not the third record)
        lines = [i for i, line in enumerate(once.split(b"\n")) if line.strip()]
        if len(lines) == raw.height:
            return raw, lines, S.empty(S.QUARANTINE)
    return raw, None, S.empty(S.QUARANTINE)


def normalize(raw: pl.DataFrame, csat: pl.Expr) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """Raw records (with ``_rid``) -> typed tables keyed by ``_rid``, and the rows that fail."""
    room = pl.col("room")
    holds_raw = (
        raw.select("_rid", pl.col("id").alias("_iid"), "holdLogs")
        .explode("holdLogs")
        .drop_nulls("holdLogs")
        .unnest("holdLogs")
    )
    started, ended = parse_timestamp_columns(holds_raw, ["started_at", "ended_at"])
    holds_raw = holds_raw.with_columns(_st=started, _en=ended)
    holds = holds_raw.select(
        "_rid",
        pl.col("_iid").alias("id"),
        pl.col("id").alias("hold_id"),
        pl.col("_st").alias("started_at"),
        pl.col("_en").alias("ended_at"),
        pl.col("duration").alias("duration_s"),
        "hold_label_id",
    )
    hold_problems = (
        holds_raw.select(
            "_rid",
            pl.coalesce(
                _bad_timestamp("holdLogs.started_at", pl.col("started_at"), pl.col("_st")),
                _bad_timestamp("holdLogs.ended_at", pl.col("ended_at"), pl.col("_en")),
                _bad_duration("holdLogs[].duration", pl.col("duration")),
            ).alias("_hold_reason"),
        )
        .drop_nulls("_hold_reason")
        .unique("_rid", keep="first", maintain_order=True)
    )

    csat_raw = csat.alias("_csat")
    staged = raw.with_columns(
        *(
            parsed.alias(f"_{parsed.name}")
            for parsed in parse_timestamp_columns(raw, S.RAW_TIMESTAMPS)
        ),
        _csat=csat_raw,
    )
    # the usual case, no bad hold log and no bad record, copies no rows: joins and filters
    # gather every column, nested lists included
    if hold_problems.is_empty():
        staged = staged.with_columns(_hold_reason=pl.lit(None, pl.String))
    else:
        staged = staged.join(hold_problems, on="_rid", how="left")
    reason = pl.coalesce(
        pl.when(pl.col("id").is_null() | (pl.col("id").str.strip_chars() == "")).then(
            pl.lit("missing id")
        ),
        pl.when(pl.col("startedDate").is_null()).then(pl.lit("missing startedDate")),
        *(_bad_timestamp(name, pl.col(name), pl.col(f"_{name}")) for name in S.RAW_TIMESTAMPS),
        _bad_whole_number("caseId", pl.col("caseId")),
        _bad_whole_number(
            "wrapUpForm.categories[].level",
            pl.col("wrapUpForm")
            .struct.field("categories")
            .list.eval(
                pl.element()
                .struct.field("level")
                .filter(_not_whole(pl.element().struct.field("level")))
            )
            .list.first(),
        ),
        *(
            _bad_duration(path, _field(path))
            for path in S.RAW_DURATIONS
            if not path.startswith("holdLogs")
        ),
        pl.when(
            pl.col("_csat").is_not_null()
            & ((pl.col("_csat") % 1 != 0) | ~pl.col("_csat").is_between(1, 5))
        ).then(pl.format("CSAT score {} is not a whole number from 1 to 5", pl.col("_csat"))),
        pl.col("_hold_reason"),
    )
    staged = staged.with_columns(_reason=reason)
    is_bad = staged["_reason"].is_not_null()
    bad = staged.filter(is_bad) if is_bad.any() else staged.clear()
    quarantine = bad.select(
        pl.col("_source").alias("source_file"),
        pl.col("_position").alias("position"),
        pl.col("id").alias("record_id"),
        pl.format(
            "{}: {}", _where_expr(pl.col("_source"), pl.col("_position")), pl.col("_reason")
        ).alias("reason"),
    )
    good = staged.filter(~is_bad) if bad.height else staged

    hold_count = pl.col("holdLogs").list.len().fill_null(0).cast(pl.UInt32)
    started = pl.col("_startedDate")
    interactions = good.select(
        "_rid",
        pl.col("id"),
        _whole(pl.col("caseId")).alias("case_id"),
        pl.coalesce("agentId", pl.col("agent").struct.field("id")).alias("agent_id"),
        pl.col("agent").struct.field("name").alias("agent_name"),
        pl.coalesce("firstAssigneeId", pl.col("firstAssignee").struct.field("id")).alias(
            "first_assignee_id"
        ),
        pl.coalesce("closedAssigneeId", pl.col("closedAssignee").struct.field("id")).alias(
            "closed_assignee_id"
        ),
        pl.col("queueId").alias("queue_id"),
        pl.col("queueName").alias("queue_name"),
        pl.coalesce("channel", "channelType", room.struct.field("channel").struct.field("type"))
        .str.to_lowercase()
        .alias("channel"),
        room.struct.field("channel").struct.field("name").alias("channel_name"),
        pl.col("direction").str.to_lowercase().alias("direction"),
        pl.col("contactId").alias("contact_id"),
        started.alias("started_at"),
        pl.col("_closedAt").alias("closed_at"),
        pl.col("_createdAt").alias("created_at"),
        pl.col("_updatedAt").alias("updated_at"),
        pl.col("_deletedAt").alias("deleted_at"),
        pl.coalesce("handledTime", room.struct.field("handled_time")).alias("handled_time_s"),
        pl.col("fullHandledTime").alias("full_handled_time_s"),
        pl.coalesce("totalHoldDuration", room.struct.field("holding_time")).alias("hold_time_s"),
        hold_count.alias("hold_count"),
        pl.col("wrapUpDuration").alias("wrap_up_time_s"),
        pl.coalesce("firstResponseTime", room.struct.field("first_response_time")).alias(
            "first_response_time_s"
        ),
        pl.col("resolutionTime").alias("resolution_time_s"),
        pl.col("fullResolutionTime").alias("full_resolution_time_s"),
        pl.coalesce("disposition", pl.col("wrapUpForm").struct.field("disposition")).alias(
            "disposition"
        ),
        pl.col("slaStatus").str.to_lowercase().alias("sla_status"),
        room.struct.field("csat_status").str.to_lowercase().alias("csat_status"),
        pl.col("_csat").cast(pl.Int8).alias("csat_score"),
        (
            room.struct.field("is_bot_room").fill_null(False)
            | room.struct.field("is_ai_agent_room").fill_null(False)
        ).alias("is_bot"),
        room.struct.field("is_ai_agent_room").fill_null(False).alias("is_ai_agent"),
        # the store's month folder: computed, never taken from the record (data chooses no path)
        started.dt.strftime("%Y_%m").alias("partition_key"),  # started_at is UTC
        pl.col("_source").alias("source_file"),
        pl.col("_position").alias("source_position"),
    )

    form = pl.col("wrapUpForm")
    tables = {
        "interactions": interactions,
        "holds": holds.join(good.select("_rid"), on="_rid", how="semi") if bad.height else holds,
        "labels": _child(good, pl.col("contactLabel"), {"label": ""}),
        "wrap_up_categories": _child(
            good,
            form.struct.field("categories"),
            {"category_id": "id", "value": "value", "parent_id": "parentId", "level": "level"},
        ).with_columns(_whole(pl.col("level")).alias("level")),
        "wrap_up_tags": _child(good, form.struct.field("tags"), {"tag_id": "id", "name": "name"}),
        "custom_fields": _child(
            good,
            form.struct.field("customFields"),
            {
                "field_id": "id",
                "system_name": "attribute.systemName",
                "display_name": "attribute.displayName",
                "type": "attribute.type",
                "value": "textValue",
            },
        ),
    }
    return tables, quarantine


#: What :func:`latest_versions` needs of each interaction.
_VERSION_KEYS = ("id", "updated_at", "_rid")


def latest_versions(interactions: pl.DataFrame) -> pl.DataFrame:
    """``_rid`` of the latest version of each ``id``: greatest ``updated_at``, then later record.

    Only the three key columns are sorted, whatever the width of ``interactions``.
    """
    return (
        interactions.select(_VERSION_KEYS)
        .sort("updated_at", "_rid", nulls_last=False)
        .unique("id", keep="last")
        .select("_rid")
    )


def deduplicate(interactions: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Keep the latest version of each ``id`` (see :func:`latest_versions`).

    Returns the unique rows (in ``_rid`` order) and how many older versions were superseded.
    """
    winners = latest_versions(interactions).to_series()
    unique = interactions.filter(pl.col("_rid").is_in(winners.implode()))
    return unique, interactions.height - unique.height


def _keep(table: pl.DataFrame, winners: pl.Series) -> pl.DataFrame:
    """The rows of ``table`` that belong to a winning version, without ``_rid``.

    ``winners`` is sorted: only the slice in the table's ``_rid`` range is looked up.
    """
    if table.is_empty():
        return table.drop("_rid")
    rid = table["_rid"]
    lo = winners.search_sorted(rid.min(), "left")
    hi = winners.search_sorted(rid.max(), "right")
    return table.filter(rid.is_in(winners.slice(lo, hi - lo).implode())).drop("_rid")


def parse_timestamp(text: pl.Expr) -> pl.Expr:
    """Parse the API's mixed timestamp formats to UTC datetimes; unknown formats give null.

    Accepts ``2026-03-30 08:30:00.000+00``, ``2026-03-30 09:15:20+00``,
    ``2026-03-30T08:30:05.123Z``, any ``+HH:MM``/``+HHMM``/``+HH`` offset, and a missing offset
    (read as UTC). Callers compare nulls in and out to reject what did not parse.
    """
    # two literal replacements bring every accepted form to one pattern that chrono parses
    # directly (%#z takes +HH, +HHMM and +HH:MM); regexes would cost several times as much
    normal = text.str.strip_chars().str.replace("T", " ", literal=True)
    normal = normal.str.replace("Z", "+00", literal=True).str.replace("z", "+00", literal=True)
    return pl.coalesce(
        normal.str.to_datetime(
            "%Y-%m-%d %H:%M:%S%.f%#z", strict=False, time_unit="us", time_zone="UTC"
        ),
        normal.str.to_datetime(
            "%Y-%m-%d %H:%M:%S%.f", strict=False, time_unit="us"
        ).dt.replace_time_zone("UTC"),
    )


#: Fixed-width forms the API writes, by shape (digits as 0), with the format that polars parses
#: them with in its fast path: several times quicker than the general one, and as strict.
_FIXED_FORMATS = {
    "0000-00-00T00:00:00.000Z": "%Y-%m-%dT%H:%M:%S.%3fZ",
    "0000-00-00T00:00:00Z": "%Y-%m-%dT%H:%M:%SZ",
    "0000-00-00 00:00:00.000+00": "%Y-%m-%d %H:%M:%S.%3f+00",
    "0000-00-00 00:00:00+00": "%Y-%m-%d %H:%M:%S+00",
}

#: For a column whose first value has another shape: the two forms the API writes most.
_COMMON_FORMATS = {True: "%Y-%m-%dT%H:%M:%S%.fZ", False: "%Y-%m-%d %H:%M:%S%.f%#z"}

_DIGIT = str.maketrans("123456789", "000000000")


def parse_timestamp_columns(frame: pl.DataFrame, names: Iterable[str]) -> list[pl.Series]:
    """:func:`parse_timestamp` for whole columns, in one pass each when a column is regular.

    Each column is parsed with the format its first value has (the columns in parallel); only
    the values that format does not parse go through :func:`parse_timestamp`, so the result
    is the same as that function's.
    """
    names = list(names)
    firsts = frame.select(pl.col(n).drop_nulls().first() for n in names).row(0)
    fast = frame.select(_one_pass(n, first) for n, first in zip(names, firsts, strict=True))
    out = []
    for name in names:
        text, parsed = frame[name], fast[name]
        rest = parsed.is_null() & text.is_not_null()
        if rest.any():
            fixed = pl.select(parse_timestamp(pl.lit(text.filter(rest)))).to_series()
            parsed = parsed.scatter(rest.arg_true(), fixed)
        out.append(parsed)
    return out


def _one_pass(name: str, first: str | None) -> pl.Expr:
    if first is None:
        return parse_timestamp(pl.col(name)).alias(name)
    text = pl.col(name).str
    fixed = _FIXED_FORMATS.get(first.translate(_DIGIT))
    if fixed:
        parsed = text.to_datetime(fixed, strict=False, time_unit="us", cache=False)
        return parsed.dt.replace_time_zone("UTC").alias(name)
    iso = first[10:11] == "T" and first.endswith("Z")
    parsed = text.to_datetime(
        _COMMON_FORMATS[iso], strict=False, time_unit="us", time_zone=None if iso else "UTC"
    )
    return (parsed.dt.replace_time_zone("UTC") if iso else parsed).alias(name)


def _bad_timestamp(name: str, text: pl.Expr, parsed: pl.Expr) -> pl.Expr:
    first, last = S.TIMESTAMP_YEARS
    return (
        pl.when(text.is_not_null() & parsed.is_null())
        .then(pl.format(f"unparseable timestamp in {name}: '{{}}'", text))
        .when(~parsed.dt.year().is_between(first, last - 1))
        .then(
            pl.format(
                f"timestamp out of range in {name}: expected a time from {first} to "
                f"{last - 1}, got '{{}}'",
                text,
            )
        )
    )


def _bad_duration(path: str, seconds: pl.Expr) -> pl.Expr:
    limit = S.RAW_DURATIONS[path]
    return (
        pl.when(seconds < 0)
        .then(pl.format(f"negative {path}: expected seconds from 0, got {{}}", seconds))
        .when(seconds > limit)
        .then(
            pl.format(
                f"implausible {path}: expected at most {limit:.0f} seconds "
                f"({limit / S.DAY_S:.0f} days), got {{}}",
                seconds,
            )
        )
    )


def _whole(text: pl.Expr) -> pl.Expr:
    """A whole-number field read as text (see ``schema._WHOLE``) as Int64; null if not one."""
    return text.str.to_integer(base=10, dtype=pl.Int64, strict=False)


def _not_whole(text: pl.Expr) -> pl.Expr:
    return text.is_not_null() & _whole(text).is_null()


def _bad_whole_number(path: str, text: pl.Expr) -> pl.Expr:
    return pl.when(_not_whole(text)).then(
        pl.format(f"wrong type in {path}: expected a whole number (64-bit), got {{}}", text)
    )


def _field(path: str) -> pl.Expr:
    """The column at a dotted path of a raw record frame (``room.handled_time``)."""
    head, *rest = path.split(".")
    expr = pl.col(head)
    for part in rest:
        expr = expr.struct.field(part)
    return expr


def _child(good: pl.DataFrame, items: pl.Expr, columns: dict[str, str]) -> pl.DataFrame:
    """Explode a list column into a child table; ``columns`` maps name -> dotted field path."""
    exploded = good.select("_rid", "id", items.alias("_item")).explode("_item").drop_nulls("_item")
    exprs = []
    for dst, path in columns.items():
        expr = pl.col("_item")
        for part in filter(None, path.split(".")):
            expr = expr.struct.field(part)
        exprs.append(expr.alias(dst))
    return exploded.select("_rid", "id", *exprs)


def _typed(tables: dict[str, pl.DataFrame] | None) -> dict[str, pl.DataFrame]:
    """Each table in its declared schema plus ``_rid`` (empty tables when ``None``)."""
    out = {}
    for name in ("interactions", *S.CHILD_TABLES):
        target = pl.Schema({"_rid": pl.UInt32, **S.TABLES[name]})
        if tables is None:
            out[name] = S.empty(target)
        else:
            out[name] = tables[name].select(pl.col(c).cast(t) for c, t in target.items())
    return out


def _fast_read(data: bytes, kind: str, record_schema: pl.Schema) -> pl.DataFrame:
    if kind == "ndjson":
        if not data.strip():
            return pl.DataFrame(schema=record_schema)
        return pl.read_ndjson(io.BytesIO(data), schema=record_schema)
    return pl.read_json(io.BytesIO(data), schema=record_schema)


def _careful_read(
    data: bytes, kind: str, source: str, record_schema: pl.Schema
) -> tuple[pl.DataFrame, list[int], pl.DataFrame]:
    """The slow path for a file the fast reader rejected: find and name each bad record."""
    problems: list[dict[str, Any]] = []
    records: list[tuple[int, Any]] = []
    if kind == "ndjson":
        for i, line in enumerate(data.split(b"\n")):  # (a lone CR is a space in a record)
            if not line.strip():
                continue
            try:
                records.append((i, _loads(line)))
            except orjson.JSONDecodeError as exc:
                problems.append(_problem(source, i, None, _malformed(line, exc)))
    else:
        try:
            doc = _loads(data)
        except orjson.JSONDecodeError as exc:
            problems.append(_problem(source, None, None, _malformed(data, exc)))
            return pl.DataFrame(schema=record_schema), [], _frame(problems)
        items = doc if isinstance(doc, list) else _page_items(doc)
        if items is None:
            keys = ", ".join(list(doc)[:6]) if isinstance(doc, dict) else type(doc).__name__
            problems.append(
                _problem(
                    source,
                    None,
                    None,
                    "not a CX-log API page: expected {'cxLogs': {'data': [...]}} or a list of "
                    f"records, got {keys}",
                )
            )
            return pl.DataFrame(schema=record_schema), [], _frame(problems)
        records = list(enumerate(items))

    good: list[tuple[int, Any]] = []
    for position, record in records:
        if not isinstance(record, dict):
            reason = f"record is a JSON {type(record).__name__}, not an object"
        else:
            reason = _type_error(record, pl.Struct(record_schema), "")
        if reason:
            rid = record.get("id") if isinstance(record, dict) else None
            problems.append(
                _problem(source, position, rid if isinstance(rid, str) else None, reason)
            )
        else:
            good.append((position, record))
    if good:
        record = pl.Struct(record_schema)
        kept = [_read_fields(r, record) for _, r in good]
        raw = pl.read_json(io.BytesIO(_dumps(kept)), schema=record_schema)
    else:
        raw = pl.DataFrame(schema=record_schema)
    return raw, [p for p, _ in good], _frame(problems)


def _keys_once(
    data: bytes, kind: str, scanned: tuple[bool, bytes | None] | None = None
) -> bytes | None:
    """``data`` for polars' one-call reader, which keeps a repeated key's first value: where
    an object repeats a key, without the earlier pairs of each repeated key (every other byte
    as it was: :func:`~cxreports.jsonkeys.keys_once`), so that the last value is read and the
    file's other records meet the same reader as ever.

    Where the scan cannot tell cheaply, the file is written again from what :func:`_loads`
    reads (what orjson takes, each key once); None where that refuses it (malformed, nested
    too deeply, a lone surrogate): the careful path says why. ``scanned`` is the scan's
    answer where it was had already (:func:`~cxreports.jsonkeys.page_records`)."""
    repeats, once = scanned if scanned is not None else keys_once(data)
    if not repeats:
        return data
    if once is not None:
        return once
    try:
        if kind == "ndjson":
            lines = data.split(b"\n")  # (as JSON lines are: a lone CR is a space in a record)
            return b"\n".join(_dumps(_loads(line)) for line in lines if line.strip())
        return _dumps(_loads(data))
    except (ValueError, RecursionError):  # (RecursionError: writing a deep file again)
        return None


def _loads(data: bytes) -> Any:
    """JSON as every reader takes it: an object that repeats a key keeps its last value.

    orjson checks the text and gives the errors; the standard library builds the values, as
    Python integers however large (orjson would make a float of one beyond 64 bits).
    """
    orjson.loads(data)
    try:
        return json.loads(data)
    except RecursionError:  # orjson follows 1,024 levels; the standard library a few fewer
        raise _TooDeep(_TOO_DEEP, "", 0) from None


class _TooDeep(orjson.JSONDecodeError):
    """JSON that orjson reads and the standard library's parser does not: nested too deeply."""


_TOO_DEEP = (
    "nested too deeply to read record by record (the standard library's JSON reader stops "
    "near 1,000 levels; orjson at 1,024): flatten the file's deepest field"
)


def _dumps(value: Any) -> bytes:
    """``value`` as compact JSON; integers beyond 64 bits too, which orjson refuses."""
    try:
        return orjson.dumps(value)
    except TypeError:  # (or a lone surrogate, which orjson refuses too: written as \ud800)
        return json.dumps(value, separators=(",", ":")).encode()


def _malformed(data: bytes, exc: orjson.JSONDecodeError) -> str:
    """Why orjson rejected ``data``, in words: not UTF-8, truncated, or malformed."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as bad:
        return (
            f"not UTF-8 text: expected UTF-8, got byte 0x{data[bad.start]:02x} at offset "
            f"{bad.start}; re-export the file as UTF-8"
        )
    if isinstance(exc, _TooDeep):
        return _TOO_DEEP
    truncated = " (the file looks truncated)" if "EOF" in str(exc) or "end" in str(exc) else ""
    return f"malformed JSON{truncated}: {exc}"


def _page_items(doc: Any) -> list | None:
    if not isinstance(doc, dict):
        return None
    logs = doc.get("cxLogs")
    if not isinstance(logs, dict):
        return None
    data = logs.get("data")
    return data if isinstance(data, list) else None


_KIND_WORDS = {
    pl.String: "a string",
    pl.Boolean: "true or false",
    pl.Int64: "a whole number",
    pl.Float64: "a number",
}


def _type_error(value: Any, dtype: pl.DataType, path: str) -> str | None:
    """Name the first field of ``value`` that does not fit ``dtype`` (None if all fit)."""
    if value is None:
        return None
    if isinstance(dtype, pl.Struct):
        if not isinstance(value, dict):
            return _mismatch(path, "an object", value)
        for f in dtype.fields:
            problem = _type_error(value.get(f.name), f.dtype, f"{path}.{f.name}".lstrip("."))
            if problem:
                return problem
        return None
    if isinstance(dtype, pl.List):
        if not isinstance(value, list):
            return _mismatch(path, "a list", value)
        for i, item in enumerate(value):
            problem = _type_error(item, dtype.inner, f"{path}[{i}]")
            if problem:
                return problem
        return None
    if re.sub(r"\[\d+\]", "[]", path) in S.RAW_WHOLE_NUMBERS:
        # as the fast path reads it: any number or string; normalize decides if it is whole
        ok = isinstance(value, str | int | float) and not isinstance(value, bool)
        return None if ok else _mismatch(path, "a whole number (64-bit)", value)
    ok = {
        pl.String: isinstance(value, str | int) and not isinstance(value, bool),
        pl.Boolean: isinstance(value, bool),
        pl.Int64: isinstance(value, int) and not isinstance(value, bool),
        pl.Float64: isinstance(value, int | float) and not isinstance(value, bool),
    }.get(dtype.base_type(), True)
    return None if ok else _mismatch(path, _KIND_WORDS.get(dtype.base_type(), str(dtype)), value)


def _read_fields(value: Any, dtype: pl.DataType) -> Any:
    """``value`` (which fits ``dtype``: :func:`_type_error`) with only the fields ``dtype``
    reads, and a number beyond 64 bits as its reader would take it: for polars' reader, a
    39-digit number stops the whole file, even in a field it does not read."""
    if isinstance(dtype, pl.Struct) and isinstance(value, dict):
        return {
            f.name: _read_fields(value[f.name], f.dtype) for f in dtype.fields if f.name in value
        }
    if isinstance(dtype, pl.List) and isinstance(value, list):
        return [_read_fields(item, dtype.inner) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        # (a duration or a whole number then fails its range check, a text keeps its digits)
        return {pl.Float64: float, pl.String: str}.get(dtype.base_type(), lambda v: v)(value)
    return value


def _mismatch(path: str, expected: str, value: Any) -> str:
    shown = _dumps(value).decode()
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return f"wrong type in {path}: expected {expected}, got {shown}"


def _problem(source: str, position: int | None, rid: str | None, reason: str) -> dict[str, Any]:
    return {
        "source_file": source,
        "position": position,
        "record_id": rid,
        "reason": f"{_where(source, position)}: {reason}" if position is not None else reason,
    }


def _frame(problems: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(problems, schema=S.QUARANTINE)


def _where(source: str, position: int | None) -> str:
    if position is None:
        return "whole file"
    return f"line {position + 1}" if _kind(source) == "ndjson" else f"record data[{position}]"


def _where_expr(source: pl.Expr, position: pl.Expr) -> pl.Expr:
    is_lines = source.str.contains(r"\.(jsonl|ndjson)(\.gz)?$")
    return (
        pl.when(is_lines)
        .then(pl.format("line {}", position + 1))
        .otherwise(pl.format("record data[{}]", position))
    )


def _origin(batch: list[tuple[pl.DataFrame, str, list[int] | None]]) -> list[pl.Series]:
    """``_source`` and ``_position`` of every record of a batch, built in two vector steps."""
    files = pl.DataFrame(
        {"source": [source for _, source, _ in batch], "n": [f.height for f, _, _ in batch]},
        schema={"source": pl.String, "n": pl.Int64},
    )
    origin = files.select(
        pl.col("source").repeat_by("n").explode().alias("_source"),
        pl.int_ranges(0, "n", dtype=pl.Int64).explode().alias("_position"),
    )
    if any(positions is not None for _, _, positions in batch):
        given = [
            list(range(frame.height)) if positions is None else positions
            for frame, _, positions in batch
        ]
        origin = origin.with_columns(
            _position=pl.Series([p for block in given for p in block], dtype=pl.Int64)
        )
    return origin.get_columns()


def _kind(source: str) -> str:
    name = source.lower().removesuffix(".gz")
    return "ndjson" if name.endswith((".jsonl", ".ndjson")) else "json"


def _readable(path: Path) -> bool:
    return _readable_name(path.name)


def _readable_name(name: str) -> bool:
    return name.lower().removesuffix(".gz").endswith(SUFFIXES)


def _files_under(folder: str) -> list[Path]:
    """The readable files in ``folder`` and its subfolders (links to folders not followed,
    links to files taken, a Delta table's ``_delta_log`` left out), in path order:
    ``sorted(rglob("*"))``, without a ``stat`` of every file and a ``Path`` comparison for every
    pair (a store's source folder holds thousands)."""
    found: list[Path] = []
    folders = [folder]
    while folders:
        with os.scandir(folders.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "_delta_log":  # a Delta table's log is never pages
                        folders.append(entry.path)
                elif _readable_name(entry.name) and entry.is_file():
                    found.append(Path(entry.path))
    return sorted(found, key=lambda p: p.parts)


def _read_bytes(path: Path) -> tuple[bytes, str | None]:
    """The file's (decompressed) bytes without a UTF-8 BOM, or an error text instead.

    An empty file (0 bytes, or only whitespace) is an error: it is what an interrupted
    download leaves, never a page.
    """
    data, error, _, _ = _read_file(path)
    return data, error


def _read_file(path: Path) -> tuple[bytes, str | None, int | None, int]:
    """:func:`_read_bytes`, with the CRC-32 of the file as stored (None if it cannot be read)
    and that of the bytes returned: one read of the file gives a store's ledger its content
    key too (:func:`content_key`)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return b"", f"cannot read file: {exc}", None, 0
    stored_crc = zlib_ng.crc32(raw)
    if not raw:
        return b"", "the file is empty (0 bytes)", stored_crc, 0
    data = raw
    if path.suffix.lower() == ".gz":
        try:
            data = gzip_ng.decompress(raw)
        except (OSError, EOFError, zlib_ng.error):
            # zlib-ng is stricter than the standard library in one place (a header's own
            # checksum, which it checks) and words one error less aptly (garbage after a
            # member reads as a cut file): where it refuses, the standard library decides
            try:
                data = gzip.decompress(raw)
            except (OSError, EOFError, zlib.error) as exc:
                problem = f"not a readable gzip file (truncated or damaged): {exc}"
                return b"", problem, stored_crc, 0
        if not data:
            return b"", "the file is empty (0 bytes once gunzipped)", stored_crc, 0
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    if not data or data.isspace():
        return b"", "the file is empty (only whitespace)", stored_crc, 0
    return data, None, stored_crc, stored_crc if data is raw else zlib_ng.crc32(data)


def content_key(crc: int) -> str:
    """What a store's ledger keeps of a file's content: its CRC-32, which with its size tells
    a changed file from a touched one (see ``store._changed_sources``)."""
    return f"crc32:{crc:08x}"


def _read_ahead(read: Callable[[U], T], items: list[U]) -> Iterator[T]:
    """``map(read, items)`` in order, on worker threads, :data:`READ_AHEAD` items ahead at most.

    polars' JSON reader, its queries and zlib release the GIL, so groups are read in
    parallel; the window keeps memory bounded however far the workers could run ahead.
    """
    with ThreadPoolExecutor(max_workers=READ_WORKERS) as pool:
        window: deque[Future[T]] = deque()
        for item in items:
            window.append(pool.submit(read, item))
            if len(window) >= READ_AHEAD:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()


def _progress(
    items: Iterator[T], total: int, progress: bool | None, size: Callable[[T], int]
) -> Iterator[T]:
    """``items``, counted on a progress bar of ``total`` pages; ``size`` is an item's pages."""
    show = progress if progress is not None else (total >= 20 and sys.stderr.isatty())
    if not show:
        yield from items
        return
    from tqdm import tqdm

    with tqdm(total=total, desc="Loading pages", unit="page", file=sys.stderr) as bar:
        for item in items:
            bar.update(size(item))
            yield item


def require_records(logs: CxLogs) -> CxLogs:
    """Raise :class:`EmptyDataError` when nothing at all was loaded."""
    if logs.loaded == 0:
        raise EmptyDataError(
            f"no interaction could be loaded from {len(logs.files)} file(s); "
            f"{logs.quarantined} quarantined: " + "; ".join(logs.quarantine["reason"].head(3))
        )
    return logs
