"""The Parquet store that later runs reuse: parse each source file once, read weeks lazily.

Layout (a plain hive-partitioned dataset that DuckDB, Spark or Trino read as it is)::

    STORE/_cxreports_store.json                  sources seen (size, mtime) and counts
    STORE/interactions/partition_key=2026_03/data.parquet
    STORE/holds/partition_key=2026_03/data.parquet     (likewise every child table)
    STORE/quarantine/data.parquet

:func:`update` parses only new or changed source files and merges them into the months they
touch (latest ``updatedAt`` wins, as in :func:`cxreports.load`). :func:`load_window` reads the
interactions that started in a time window, and their child rows, with the filter pushed down
to the month partitions and the Parquet row groups.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from cxreports import schema as S
from cxreports.exceptions import ParameterError
from cxreports.iorw import atomic_path, write_atomic
from cxreports.load import SUMMARY_AGGREGATES, CxLogs, load, resolve_sources

MANIFEST = "_cxreports_store.json"
#: Source files parsed and merged together by :func:`update` (about 100k records of API pages).
CHUNK_FILES = 1000
PARTITION = "partition_key"


@dataclass(frozen=True)
class StoreUpdate:
    """What :func:`update` did."""

    store: Path
    parsed: tuple[str, ...]
    reused: int
    months: tuple[str, ...]
    logs: CxLogs | None  # the last chunk parsed, for its summary


def is_store(path: str | Path) -> bool:
    """Whether ``path`` is a cxreports Parquet store."""
    return (Path(path) / MANIFEST).is_file()


def update(
    sources: list[str | Path],
    store: str | Path,
    *,
    csat_score_field: str = S.DEFAULT_CSAT_SCORE_FIELD,
    strict: bool = False,
    progress: bool | None = None,
) -> StoreUpdate:
    """Bring ``store`` up to date with ``sources``: parse only files new or changed since.

    A store is built for one CSAT field path; asking for another is an error (build a new
    store). Records of a source file that later disappears stay in the store.
    """
    store = Path(store)
    files = resolve_sources(sources)
    manifest = _read_manifest(store)
    if manifest["csat_score_field"] != csat_score_field and manifest["sources"]:
        raise ParameterError(
            f"{store}: this store was built with csat_score_field "
            f"{manifest['csat_score_field']!r}, not {csat_score_field!r}; use a new store folder"
        )
    stats = {str(f.resolve()): _stat(f) for f in files}
    changed = [
        f for f in files if manifest["sources"].get(str(f.resolve())) != stats[str(f.resolve())]
    ]
    if not changed:
        return StoreUpdate(store, (), len(files), (), None)
    parsed: list[Path] = []
    months: set[str] = set()
    last = None
    # chunks of files keep memory bounded by the chunk, not the input; the manifest is saved
    # after each, so an interrupted update resumes where it stopped
    for start in range(0, len(changed), CHUNK_FILES):
        chunk = changed[start : start + CHUNK_FILES]
        last = _add_chunk(store, manifest, chunk, stats, csat_score_field, strict, progress)
        parsed += chunk
        months |= set(last.interactions[PARTITION].unique().to_list())
    return StoreUpdate(
        store, tuple(str(f) for f in parsed), len(files) - len(changed), tuple(sorted(months)), last
    )


def _add_chunk(
    store: Path,
    manifest: dict[str, Any],
    files: list[Path],
    stats: dict[str, list[int]],
    csat_score_field: str,
    strict: bool,
    progress: bool | None,
) -> CxLogs:
    logs = load(*files, csat_score_field=csat_score_field, strict=strict, progress=progress)
    superseded = sum(
        _merge_month(store, logs, month)
        for month in sorted(logs.interactions[PARTITION].unique().to_list())
    )
    # a re-parsed file's earlier rejections are replaced by this parse's
    earlier = _read(store, "quarantine")
    reread = earlier["source_file"].is_in([str(f) for f in files])
    _write(
        store / "quarantine" / "data.parquet", pl.concat([earlier.filter(~reread), logs.quarantine])
    )
    counts = manifest["counts"]
    counts["records_read"] += logs.records_read - int(reread.sum())
    counts["superseded"] += logs.superseded + superseded
    manifest["sources"].update({str(f.resolve()): stats[str(f.resolve())] for f in files})
    manifest["csat_score_field"] = csat_score_field
    manifest["fingerprint"] = _combine_fingerprints(
        manifest.get("fingerprint", ""), logs.fingerprint
    )
    write_atomic(store / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())
    return logs


def summary(store: str | Path) -> tuple[dict[str, Any], pl.DataFrame]:
    """The store's counts (as ``CxLogs.summary()`` has them) and its quarantine table."""
    store = Path(store)
    manifest = _read_manifest(store)
    quarantine = _read(store, "quarantine")
    figures = scan(store, "interactions").select(SUMMARY_AGGREGATES).collect().row(0, named=True)
    return {
        "files": len(manifest["sources"]),
        "records_read": manifest["counts"]["records_read"],
        "superseded": manifest["counts"]["superseded"],
        "quarantined": quarantine.height,
        "fingerprint": manifest.get("fingerprint", ""),
        **figures,
    }, quarantine


def scan(store: str | Path, table: str) -> pl.LazyFrame:
    """A lazy scan of one table of the store, with ``partition_key`` from the folder names."""
    store = Path(store)
    schema = S.TABLES[table]
    files = sorted((store / table).glob("*/data.parquet"))
    if not files:
        return pl.LazyFrame(schema={**schema, PARTITION: pl.String})
    return pl.scan_parquet(files, hive_partitioning=True, hive_schema={PARTITION: pl.String})


def load_window(store: str | Path, start: datetime, end: datetime) -> CxLogs:
    """The interactions that started in ``[start, end)`` and their child rows, as CxLogs.

    Only the month partitions that overlap the window are opened; within them the
    ``started_at`` filter is pushed down to Parquet row groups. The counts are the whole
    store's (``extra`` holds its ``loaded``, ``first_seen`` and ``last_seen``), so the
    data-quality panel still accounts for every record ever read.
    """
    store = Path(store)
    manifest = _read_manifest(store)
    months = _months(start, end)
    window = pl.col(PARTITION).is_in(months) & pl.col("started_at").is_between(
        pl.lit(start).dt.convert_time_zone("UTC"),
        pl.lit(end).dt.convert_time_zone("UTC"),
        closed="left",
    )
    interactions = scan(store, "interactions").filter(window).select(list(S.INTERACTIONS)).collect()
    ids = interactions.lazy().select("id")
    tables: dict[str, Any] = {"interactions": interactions}
    for name in S.CHILD_TABLES:
        tables[name] = (
            scan(store, name)
            .filter(pl.col(PARTITION).is_in(months))
            .join(ids, on="id", how="semi")
            .select(list(S.TABLES[name]))
            .collect()
        )
    counts = manifest["counts"]
    quarantine = _read(store, "quarantine")
    whole = (
        scan(store, "interactions")
        .select(
            pl.len().alias("loaded"),
            pl.col("started_at").min().alias("first_seen"),
            pl.col("started_at").max().alias("last_seen"),
        )
        .collect()
        .row(0, named=True)
    )
    return CxLogs(
        **tables,
        quarantine=quarantine,
        files=tuple(manifest["sources"]),
        records_read=counts["records_read"],
        superseded=counts["superseded"],
        fingerprint=manifest.get("fingerprint", ""),
        csat_score_field=manifest["csat_score_field"],
        extra={"store": str(store), **whole},
    )


def _merge_month(store: Path, logs: CxLogs, month: str) -> int:
    """Merge the new rows of one month into the store; returns older versions dropped."""
    new = logs.interactions.filter(pl.col(PARTITION) == month).with_columns(_new=pl.lit(True))
    old = _read(store, "interactions", month).with_columns(_new=pl.lit(False))
    both = pl.concat([old.select(new.columns), new])
    # latest updatedAt wins; on a tie the newly parsed version does
    winners = both.sort("updated_at", "_new", nulls_last=False).unique("id", keep="last")
    _write(_path(store, "interactions", month), winners.drop("_new", PARTITION).sort("started_at"))
    from_new = winners.filter(pl.col("_new")).select("id")
    from_old = winners.filter(~pl.col("_new")).select("id")
    for name in S.CHILD_TABLES:
        kept = _read(store, name, month).join(from_old, on="id", how="semi")
        added = getattr(logs, name).join(from_new, on="id", how="semi")
        _write(_path(store, name, month), pl.concat([kept.drop(PARTITION, strict=False), added]))
    return both.height - winners.height


def _path(store: Path, table: str, month: str) -> Path:
    return store / table / f"{PARTITION}={month}" / "data.parquet"


def _read(store: Path, table: str, month: str | None = None) -> pl.DataFrame:
    path = store / table / "data.parquet" if month is None else _path(store, table, month)
    schema = S.TABLES[table]
    frame = pl.read_parquet(path) if path.is_file() else S.empty(schema)
    return frame.with_columns(pl.lit(month, dtype=pl.String).alias(PARTITION)) if month else frame


def _write(path: Path, frame: pl.DataFrame) -> None:
    with atomic_path(path) as tmp:
        frame.write_parquet(tmp, statistics=True, row_group_size=64_000)


def _stat(path: Path) -> list[int]:
    info = path.stat()
    return [info.st_size, info.st_mtime_ns]


def _months(start: datetime, end: datetime) -> list[str]:
    months, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(f"{year}_{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _read_manifest(store: Path) -> dict[str, Any]:
    path = store / MANIFEST
    if not path.is_file():
        return {
            "sources": {},
            "counts": {"records_read": 0, "superseded": 0},
            "csat_score_field": S.DEFAULT_CSAT_SCORE_FIELD,
        }
    return json.loads(path.read_text())


def _combine_fingerprints(old: str, new: str) -> str:
    import hashlib

    return hashlib.sha1(f"{old}:{new}".encode(), usedforsecurity=False).hexdigest()
