"""The store that later runs reuse: Delta Lake tables, each source file parsed once.

Layout (each folder a Delta table that DuckDB, Spark, Trino or polars read through its log)::

    STORE/interactions/_delta_log/...                      the commit point, see below
    STORE/interactions/partition_key=2026_03/part-<uuid>.parquet
    STORE/holds/partition_key=2026_03/part-<uuid>.parquet   (likewise every child table)
    STORE/quarantine/part-<uuid>.parquet                   what could not be loaded
    STORE/sources/part-<uuid>.parquet                      the ledger of source files

Every table but the quarantine and the ledger is partitioned by ``partition_key``, the UTC
month the interaction started in, computed by the loader: nothing in a record chooses a path.

**Snapshots.** A Delta commit covers one table, so the store's snapshot is built on one of them:
every update commits the child tables, the quarantine and the ledger first, and then the
interactions, whose commit carries (as Delta custom commit metadata, key ``cxreports``) the
versions of the other tables written just before it, the counts, the fingerprint and the CSAT
field. A reader opens the interactions at a version ``V`` and every other table at the version
``V`` names, so it sees whole updates and counts that agree with the rows, whatever a writer does
meanwhile; a version of the interactions is also what ``--as-of`` names. Commits that an update
made to the other tables before it died are rolled back (Delta ``restore``) by the next writer.

:func:`update` parses only new or changed source files, a batch at a time. A batch's
interactions are checked against the versions already stored, in whichever month: the latest
``updatedAt`` wins, as in :func:`cxreports.load` (on a tie, the file parsed later). A data file
that held a superseded version (or its children) is replaced by a copy without it, in the same
Delta commit that adds the batch's rows. The parquet files are written here (polars, zstd level
1) and committed with deltalake's transaction API, so a commit removes and adds files at once.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import hashlib
import io
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from stat import S_ISLNK
from typing import Any

import polars as pl
from deltalake import CommitProperties, DeltaTable, Field, WriterProperties
from deltalake import Schema as DeltaSchema
from deltalake.exceptions import DeltaError, TableNotFoundError
from deltalake.schema import PrimitiveType
from deltalake.transaction import AddAction, RemoveAction, create_table_with_add_actions
from zlib_ng import zlib_ng

from cxreports import schema as S
from cxreports.exceptions import (
    CxReportsError,
    OutputError,
    ParameterError,
    StoreBusyError,
    StoreDamagedError,
    StoreFormatError,
)
from cxreports.iorw import atomic_path, exclusive_lock
from cxreports.load import (
    READ_WORKERS,
    SUMMARY_AGGREGATES,
    Batch,
    CxLogs,
    content_key,
    deduplicate,
    raise_on_quarantine,
    read_batches,
    resolve_sources,
)

LOCK = ".cxreports-store.lock"
PARTITION = "partition_key"
#: Rows per Parquet row group: small enough for the week filter to skip most of a month.
ROW_GROUP = 64_000
#: Data files' zstd level: a third less CPU than the default level, files ~4% larger.
ZSTD_LEVEL = 1
#: Data files a writer writes at once (:func:`_write_files`).
WRITE_WORKERS = min(4, os.cpu_count() or 2)
#: Where the interactions' commit keeps the snapshot (custom commit metadata).
META_KEY = "cxreports"
#: The store's format; 2 was the hand-written Parquet store with a manifest.
FORMAT = 3
#: The manifest of a store of format 2: its presence means "migrate me".
OLD_MANIFEST = "_cxreports_store.json"
#: The tables partitioned by month: the interactions and the rows that hang off them.
PART_TABLES = ("interactions", *S.CHILD_TABLES)
#: The ledger of source files read: only new or changed ones are parsed again.
SOURCES = pl.Schema(
    {"path": pl.String, "size": pl.Int64, "mtime_ns": pl.Int64, "content_key": pl.String}
)
#: Every table of the store; the interactions last, as they are committed last.
ALL_TABLES = (*S.CHILD_TABLES, "quarantine", "sources", "interactions")
_SCHEMAS: dict[str, pl.Schema] = {**S.TABLES, "sources": SOURCES}
_MONTH = re.compile(r"\d{4}_(?:0[1-9]|1[0-2])")


def _data_schema(name: str) -> pl.Schema:
    """The columns of a table's data files: Delta has no unsigned integers, nor partition
    columns inside the files."""
    return pl.Schema(
        {
            c: (pl.Int64 if t == pl.UInt32 else t)
            for c, t in _SCHEMAS[name].items()
            if c != PARTITION
        }
    )


def _table_schema(name: str) -> pl.Schema:
    """The Delta table's schema: the data columns and, for month tables, ``partition_key``."""
    extra = {PARTITION: pl.String} if name in PART_TABLES else {}
    return pl.Schema({**_data_schema(name), **extra})


#: Delta's name of each polars type the tables use.
_DELTA_TYPES = {
    pl.String: "string",
    pl.Int64: "long",
    pl.Int8: "byte",
    pl.Float64: "double",
    pl.Boolean: "boolean",
    S.UTC: "timestamp",
}


@functools.cache
def _delta_schema(name: str) -> DeltaSchema:
    """The Delta schema of a table, built without a round trip through Arrow."""
    return DeltaSchema(
        [
            Field(column, PrimitiveType(_DELTA_TYPES[dtype]), nullable=True)
            for column, dtype in _table_schema(name).items()
        ]
    )


@dataclass(frozen=True)
class StoreUpdate:
    """What :func:`update` did."""

    store: Path | str
    parsed: tuple[str, ...]
    reused: int
    months: tuple[str, ...]
    superseded: int = 0  # versions dropped by this update, older ones stored before included
    version: int | None = None  # the interactions version of the snapshot it left


@dataclass(frozen=True)
class Snapshot:
    """One consistent state of the store: the interactions at ``version`` and the versions of
    the other tables its commit names."""

    root: str
    version: int
    tables: dict[str, int]
    records_read: int
    superseded: int
    loaded: int
    fingerprint: str
    csat_score_field: str
    timestamp: datetime | None = None
    # each table opened once (its Delta log read once) for every read of the snapshot; not a
    # field to give: a copy at another version (dataclasses.replace) starts with none opened
    opened: dict[str, DeltaTable] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def uri(self, name: str) -> str:
        return f"{self.root}/{name}"

    def table(self, name: str) -> DeltaTable:
        if name in self.opened:
            return self.opened[name]
        version = self.version if name == "interactions" else self.tables[name]
        try:
            self.opened[name] = DeltaTable(self.uri(name), version=version)
            return self.opened[name]
        except (DeltaError, OSError) as exc:
            raise _damaged(
                self.root,
                f"{self.uri(name)}/_delta_log",
                f"version {version} of its {name} table cannot be read: {_first_line(exc)}",
            ) from exc

    def meta(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "tables": self.tables,
            "records_read": self.records_read,
            "superseded": self.superseded,
            "loaded": self.loaded,
            "fingerprint": self.fingerprint,
            "csat_score_field": self.csat_score_field,
        }


def is_store(path: str | Path) -> bool:
    """Whether ``path`` is a cxreports store (of this format, or an earlier one to migrate)."""
    if is_remote(path):
        try:
            return DeltaTable.is_deltatable(f"{_root(path)}/interactions")
        except (DeltaError, OSError):
            return False
    root = Path(path)
    return (root / "interactions" / "_delta_log").is_dir() or (root / OLD_MANIFEST).is_file()


def is_remote(store: str | Path) -> bool:
    """Whether ``store`` is an object-storage URI (``s3://bucket/prefix``), not a folder."""
    return isinstance(store, str) and "://" in store and not store.startswith("file://")


def _root(store: str | Path) -> str:
    if is_remote(store):
        return str(store).rstrip("/")
    return str(Path(str(store).removeprefix("file://")).absolute())


def _refuse_earlier_format(store: str | Path) -> None:
    if not is_remote(store) and (Path(store) / OLD_MANIFEST).is_file():
        raise StoreFormatError(
            f"{store} is a store of an earlier cxreports (Parquet parts listed in {OLD_MANIFEST}"
            f"); convert it once with `cxreports store migrate {store} NEW_STORE` and use "
            "NEW_STORE from then on"
        )


def _require_store(store: str | Path) -> None:
    """Raise unless ``store`` is a cxreports store of this format; checked before anything is
    created there (a lock file, a folder)."""
    _refuse_earlier_format(store)
    if not is_store(store):
        raise ParameterError(
            f"{store} is not a cxreports store (expected a folder with interactions/_delta_log "
            "in it); give the folder a load wrote (cxreports load SOURCE --out STORE)"
        )


def _busy(store: str | Path):
    def busy(path: Path) -> StoreBusyError:
        return StoreBusyError(
            f"{store}: another load is updating this store (it holds {path}); "
            "try again when it has finished"
        )

    return busy


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
    store). Records of a source file that later disappears stay in the store. Every batch is
    committed as a snapshot, so an interrupted update resumes where it stopped; memory is
    bounded by the batch, not by the input. A file whose size or modification time changed is
    parsed again only if its content did (its CRC-32 is kept). With ``strict`` the update is
    all or nothing: one snapshot after the last batch, and the first bad record raises
    :class:`InvalidRecordError` with nothing committed.
    """
    _refuse_earlier_format(store)
    files = resolve_sources(sources)
    with _writer_lock(store):
        writer = _Writer.open(store)
        if writer.snapshot is not None:
            writer.verify()  # not one batch is added to a store that is already damaged
        return writer.run(files, csat_score_field, strict, progress)


class _Table:
    """One Delta table while a writer holds the store: its live files and pending actions."""

    def __init__(self, root: str, name: str) -> None:
        self.name, self.uri = name, f"{root}/{name}"
        self.dt: DeltaTable | None = None
        self.files: dict[str, tuple[str | None, int]] = {}  # path -> (month, size)
        self.pending: list[AddAction | RemoveAction] = []
        self.written: list[str] = []  # data files written since the last commit

    def open(self, pinned: int | None, has_snapshot: bool) -> None:
        """Load the table at its latest version, rolled back to ``pinned`` if it went past."""
        try:
            self.dt = DeltaTable(self.uri)
        except TableNotFoundError:
            return
        if not has_snapshot and [f.name for f in self.dt.schema().fields] != list(
            _table_schema(self.name)
        ):  # (a first update that died leaves tables of its own, to be emptied below)
            raise OutputError(
                f"{self.uri}: a Delta table that cxreports did not write (its columns are not "
                f"those of the store's {self.name} table), left as it is; give --out an empty "
                "folder or a cxreports store"
            )
        if self.name != "interactions" and has_snapshot and self.dt.version() != pinned:
            # an update died between this table's commit and the interactions': undo it
            if pinned is None:
                raise _damaged(
                    self.uri.rsplit("/", 1)[0],
                    f"{self.uri}/_delta_log",
                    f"no snapshot names a version of the {self.name} table",
                )
            self.dt.restore(pinned)
            self.dt = DeltaTable(self.uri)
        actions = pl.DataFrame(self.dt.get_add_actions(flatten=True))
        month = f"partition.{PARTITION}"
        for row in actions.iter_rows(named=True):
            self.files[row["path"]] = (row.get(month), row["size_bytes"])
        if not has_snapshot:  # left by a first update that died: start empty
            if self.dt.version() > 0:  # a first update commits each table once, as version 0
                root = self.uri.rsplit("/", 1)[0]
                raise _damaged(
                    root,
                    f"{root}/interactions/_delta_log",
                    f"its interactions table is missing, while its {self.name} table has "
                    f"{self.dt.version() + 1} versions",
                )
            for path in list(self.files):
                self.remove(path)

    def path(self, relative: str) -> str:
        return f"{self.uri}/{relative}"

    def scan(self, months: set[str] | None = None) -> pl.LazyFrame:
        """The live data files (of ``months``), with ``_file`` naming each row's file."""
        chosen = [p for p, (m, _) in self.files.items() if months is None or m in months]
        if not chosen:
            return pl.LazyFrame(schema={**_data_schema(self.name), "_file": pl.String})
        paths = {str(self.path(p)): p for p in chosen}
        return pl.scan_parquet(
            list(paths), include_file_paths="_file", hive_partitioning=False
        ).with_columns(pl.col("_file").replace_strict(paths, return_dtype=pl.String))

    def write(self, frame: pl.DataFrame, month: str | None) -> None:
        """Write ``frame`` as one new data file of ``month`` (None: unpartitioned)."""
        _write_files([(self, frame, month)])

    def _new_file(self, month: str | None) -> str:
        """A new data file's path in the table, in ``month``; deleted by :meth:`discard`
        unless committed."""
        if month is not None and not _MONTH.fullmatch(month):  # computed; checked all the same
            raise ValueError(f"not a month partition (YYYY_MM): {month!r}")
        relative = f"{PARTITION}={month}/" if month else ""
        relative += f"part-{uuid.uuid4().hex}.parquet"
        self.written.append(self.path(relative))
        return relative

    def _encode(self, frame: pl.DataFrame, relative: str) -> tuple[int, str]:
        """Write ``frame`` to the data file ``relative``; its size and Delta statistics."""
        data = frame.select(pl.col(c).cast(t) for c, t in _data_schema(self.name).items())
        if self.name == "interactions":
            data = data.sort("started_at")  # row groups by start: a week skips the others
        return _write_parquet(data, self.path(relative)), _stats(data)

    def _added(self, relative: str, month: str | None, size: int, stats: str) -> None:
        partition = {PARTITION: month} if month else {}
        self.pending.append(AddAction(relative, size, partition, _now_ms(), True, stats))
        self.files[relative] = (month, size)

    def remove(self, relative: str) -> None:
        month, size = self.files.pop(relative)
        partition = {PARTITION: month} if month else None
        self.pending.append(RemoveAction(relative, True, _now_ms(), size, partition))

    def replace_all(self, frame: pl.DataFrame) -> None:
        """The whole (small, unpartitioned) table becomes ``frame``, in one new file."""
        for path in list(self.files):
            self.remove(path)
        self.write(frame, None)

    def commit(self, metadata: dict[str, Any] | None = None, *, always: bool = False) -> int:
        """Commit the pending actions (creating the table if needed); its new version."""
        if self.dt is not None and not self.pending and not always:
            return self.dt.version()
        properties = CommitProperties(custom_metadata=metadata) if metadata else None
        schema = _delta_schema(self.name)
        partition_by = [PARTITION] if self.name in PART_TABLES else None
        if self.dt is None:
            adds = [a for a in self.pending if isinstance(a, AddAction)]
            create_table_with_add_actions(
                self.uri,
                schema,
                adds,
                mode="error",
                partition_by=partition_by,
                commit_properties=properties,
            )
        else:
            self.dt.create_write_transaction(
                self.pending,
                "append",
                schema,
                partition_by=partition_by,
                commit_properties=properties,
            )
            self.dt.update_incremental()
        if self.dt is None:
            self.dt = DeltaTable(self.uri)
        self.pending, self.written = [], []
        return self.dt.version()

    def discard(self) -> None:
        """Delete the data files written since the last commit: no snapshot names them."""
        for target in self.written:
            with contextlib.suppress(OSError):
                if is_remote(target):
                    filesystem, path = _filesystem(target)
                    filesystem.delete_file(path)
                else:
                    Path(target).unlink(missing_ok=True)
        self.written = []


@dataclass
class _Writer:
    """The store while one update holds its lock: the tables, the snapshot being built."""

    root: str
    store: Path | str
    tables: dict[str, _Table]
    snapshot: Snapshot | None
    seen: dict[str, list[Any]] = field(default_factory=dict)  # path -> [size, mtime, key]
    quarantine: pl.DataFrame = field(default_factory=lambda: S.empty(S.QUARANTINE))
    counts: dict[str, int] = field(default_factory=dict)
    fingerprint: str = ""
    csat_score_field: str = S.DEFAULT_CSAT_SCORE_FIELD
    dirty: set[str] = field(default_factory=set)  # small tables to rewrite at the commit
    index: pl.DataFrame | None = None

    @classmethod
    def open(cls, store: str | Path) -> _Writer:
        root = _root(store)
        snap = latest_snapshot(store) if is_store(store) else None
        tables = {name: _Table(root, name) for name in ALL_TABLES}
        for name, table in tables.items():
            table.open(snap.tables.get(name) if snap else None, snap is not None)
        writer = cls(root, store if is_remote(store) else Path(store), tables, snap)
        writer.counts = {"records_read": 0, "superseded": 0, "loaded": 0}
        if snap is not None:
            writer.counts = {
                "records_read": snap.records_read,
                "superseded": snap.superseded,
                "loaded": snap.loaded,
            }
            writer.fingerprint = snap.fingerprint
            writer.csat_score_field = snap.csat_score_field
            with reading(snap):
                writer.quarantine = _read(tables["quarantine"], S.QUARANTINE)
                ledger = _read(tables["sources"], SOURCES)
            writer.seen = {row[0]: [row[1], row[2], row[3]] for row in ledger.iter_rows()}
        return writer

    def verify(self) -> None:
        """What :func:`verify` checks of the snapshot, on the tables as this writer opened them
        (at the snapshot's versions): each one there, each data file's footer readable."""
        for name, table in self.tables.items():
            if table.dt is None:
                raise _damaged(self.root, f"{table.uri}/_delta_log", f"its {name} table is missing")
            _check_footers(self.root, [table.path(relative) for relative in table.files])

    def run(
        self, files: list[Path], csat_score_field: str, strict: bool, progress: bool | None
    ) -> StoreUpdate:
        if self.csat_score_field != csat_score_field and self.seen:
            raise ParameterError(
                f"{self.store}: this store was built with csat_score_field "
                f"{self.csat_score_field!r}, not {csat_score_field!r}; use a new store folder"
            )
        self.csat_score_field = csat_score_field
        stats, changed = _changed_sources(self.seen, files)
        # touched, not changed: keep their new times so that the next run does not hash them
        unchanged = (stats[f] for f in stats.keys() - set(changed))
        retouched = {key: stat for key, stat in unchanged if self.seen.get(key) != stat}
        if retouched:
            self.seen.update(retouched)
            self.dirty.add("sources")
        if not changed:
            version = self.commit() if retouched else None
            return StoreUpdate(self.store, (), len(files), (), version=version)
        months: set[str] = set()
        superseded = 0
        try:
            for batch in read_batches(
                changed, csat_score_field=csat_score_field, progress=progress
            ):
                if strict:
                    raise_on_quarantine(batch.quarantine)
                touched, dropped = self.add_batch(batch, stats)
                months |= touched
                superseded += dropped
                if not strict:
                    version = self.commit()
            if strict:
                version = self.commit()
        except BaseException:
            for table in self.tables.values():
                table.discard()
            raise
        return StoreUpdate(
            self.store,
            tuple(str(f) for f in changed),
            len(files) - len(changed),
            tuple(sorted(months)),
            superseded,
            version,
        )

    def stored_index(self) -> pl.DataFrame:
        """Hashed ``id`` and month of every stored interaction (about 10 MB for a million)."""
        if self.index is None:
            table = self.tables["interactions"]
            month = {p: m for p, (m, _) in table.files.items()}
            self.index = (
                table.scan()
                .select(
                    _ID_HASH,
                    pl.col("_file").replace_strict(month, return_dtype=pl.String).alias(PARTITION),
                )
                .collect()
            )
        return self.index

    def add_batch(self, batch: Batch, stats: dict[Path, tuple[str, list[Any]]]) -> tuple[set, int]:
        """Write one batch's files and queue their actions; the months written and the
        versions dropped."""
        interactions, superseded = deduplicate(batch.tables["interactions"])
        ids = interactions.select("id")
        stored_in = self.stored_index().join(ids.select(_ID_HASH), on="_h", how="semi")
        months = {str(m) for m in stored_in[PARTITION].unique()}
        written: set[str] = set()
        if months:
            table = self.tables["interactions"]
            stored = (
                table.scan(months)
                .select("id", pl.col("updated_at").alias("updated_at_stored"), "_file")
                .join(ids.lazy(), on="id", how="semi")
                .collect()
            )
            versus = interactions.select("id", "_rid", "updated_at").join(stored, on="id")
            # the batch's version wins on a tie: its file was parsed later
            new_wins = pl.col("updated_at_stored").is_null() | (
                pl.col("updated_at") >= pl.col("updated_at_stored")
            )
            versus = versus.with_columns(_new_wins=new_wins.fill_null(False))
            losing = versus.filter(~pl.col("_new_wins")).select("_rid")
            interactions = interactions.join(losing, on="_rid", how="anti")
            replaced = versus.filter(pl.col("_new_wins"))
            if replaced.height:
                written |= self._drop_stored(replaced.select("id", "_file"))
            superseded += versus.height
        files = []
        for name, frame in _with_months(interactions, batch.tables).items():
            by_month = frame.partition_by(PARTITION, maintain_order=True, as_dict=True)
            files += [(self.tables[name], rows, str(month)) for (month,), rows in by_month.items()]
        _write_files(files)
        written |= {str(m) for m in interactions[PARTITION].unique()}
        self.index = pl.concat(
            [self.stored_index(), interactions.select(_ID_HASH, pl.col(PARTITION))]
        )

        # a re-parsed file's earlier rejections are replaced by this parse's
        reread = self.quarantine["source_file"].is_in([str(f) for f in batch.files])
        if batch.quarantine.height or reread.any():
            self.quarantine = pl.concat([self.quarantine.filter(~reread), batch.quarantine])
            self.dirty.add("quarantine")
        self.counts["records_read"] += (
            batch.tables["interactions"].height + batch.quarantine.height - int(reread.sum())
        )
        self.counts["superseded"] += superseded
        self.counts["loaded"] += interactions.height
        # each parsed file with the key of the bytes parsed
        for f, content in zip(batch.files, batch.keys, strict=True):
            key, entry = stats[f]
            self.seen[key] = [*entry[:2], content]
        self.dirty.add("sources")
        self.fingerprint = _combine_fingerprints(
            self.fingerprint, hashlib.sha1(batch.digest, usedforsecurity=False).hexdigest()
        )
        return written, superseded

    def _drop_stored(self, replaced: pl.DataFrame) -> set[str]:
        """Replace each file holding a superseded version (and its children's files) by a copy
        without it; the months touched."""
        interactions = self.tables["interactions"]
        months = {interactions.files[f][0] for f in replaced["_file"].unique()}
        for name in PART_TABLES:
            table = self.tables[name]
            ids = replaced.select("id")
            if name == "interactions":
                hits = replaced["_file"].unique().to_list()
            else:
                hits = (
                    table.scan(months)
                    .select("id", "_file")
                    .join(ids.lazy(), on="id", how="semi")
                    .select(pl.col("_file").unique())
                    .collect()["_file"]
                    .to_list()
                )
            for relative in hits:
                month = table.files[relative][0]
                rest = pl.read_parquet(table.path(relative)).join(ids, on="id", how="anti")
                table.remove(relative)
                if rest.height:
                    table.write(rest, month)
        self.counts["loaded"] -= replaced.height
        return {m for m in months if m}

    def commit(self) -> int:
        """Commit the other tables, then the interactions naming their versions: a snapshot."""
        if "quarantine" in self.dirty:
            self.tables["quarantine"].replace_all(self.quarantine)
        if "sources" in self.dirty:
            ledger = pl.DataFrame(
                [(k, *v) for k, v in sorted(self.seen.items())], schema=SOURCES, orient="row"
            )
            self.tables["sources"].replace_all(ledger)
        self.dirty.clear()
        versions = {
            name: self.tables[name].commit() for name in ALL_TABLES if name != "interactions"
        }
        snap = Snapshot(
            self.root,
            -1,
            versions,
            self.counts["records_read"],
            self.counts["superseded"],
            self.counts["loaded"],
            self.fingerprint,
            self.csat_score_field,
        )
        version = self.tables["interactions"].commit({META_KEY: snap.meta()}, always=True)
        self.snapshot = dataclasses.replace(snap, version=version)
        return version


def _with_months(
    interactions: pl.DataFrame, tables: dict[str, pl.DataFrame]
) -> dict[str, pl.DataFrame]:
    """Each part table of a batch: ``interactions`` (the winning versions) as they are, and
    each child table's rows of those interactions with their month, looked up by ``_rid``
    (the batch numbers its records in one run: a gather from a list of months, not a join)."""
    rids = [frame["_rid"] for frame in (interactions, *tables.values()) if frame.height]
    out = {"interactions": interactions}
    if not rids:  # every table is empty: nothing to write
        return out
    low = min(int(r.min()) for r in rids)  # type: ignore[arg-type]
    high = max(int(r.max()) for r in rids)  # type: ignore[arg-type]
    month = pl.Series(PARTITION, [None] * (high - low + 1), dtype=pl.String)
    month.scatter(interactions["_rid"].cast(pl.Int64) - low, interactions[PARTITION])
    for name in S.CHILD_TABLES:
        frame = tables[name]
        months = month.gather(frame["_rid"].cast(pl.Int64) - low)
        out[name] = frame.with_columns(months).filter(months.is_not_null())
    return out


def _read(table: _Table, schema: pl.Schema) -> pl.DataFrame:
    frame = table.scan().collect()
    return frame.select(pl.col(c).cast(t) for c, t in schema.items())


def _changed_sources(
    seen: dict[str, list[Any]], files: list[Path]
) -> tuple[dict[Path, tuple[str, list[Any]]], list[Path]]:
    """What the ledger keeps of each file, and the files whose content is new or changed.

    The ledger keeps each file's absolute path with its size, modification time and a key of
    its content (:func:`_content_key`). Only files the ledger has with another size or time
    are hashed: a page that was touched but not changed is not parsed (nor counted) again. A
    file the ledger lacks is new whatever it holds: its key comes from the read that parses
    it (``Batch.keys``), not from a read of its own.
    """
    entries = dict(zip(files, _located(files), strict=True))
    to_hash = [f for f, (key, stat) in entries.items() if key in seen and seen[key][:2] != stat]
    with ThreadPoolExecutor(READ_WORKERS) as pool:
        digests = dict(zip(to_hash, pool.map(_content_key, to_hash), strict=True))
    stats, changed = {}, []
    for f, (key, stat) in entries.items():
        if key not in seen:
            stats[f] = (key, stat)
            changed.append(f)
        elif f not in digests:
            stats[f] = (key, seen[key])
        else:
            stats[f] = (key, [*stat, digests[f]])
            if digests[f] is None or seen[key][2:] != [digests[f]]:
                changed.append(f)
    return stats, changed


def _located(files: list[Path]) -> list[tuple[str, list[int]]]:
    """Each file's absolute path (a file that is a link followed) with its size and
    modification time: one ``lstat`` a file, and each folder resolved once rather than for
    every file (a store's source folder holds thousands of pages)."""
    folders: dict[str, str] = {}
    out = []
    for f in files:
        text = str(f)
        info = os.lstat(text)
        if S_ISLNK(info.st_mode):
            out.append((str(f.resolve()), _stat(f)))
            continue
        parent, name = os.path.split(text)
        if (folder := folders.get(parent)) is None:
            folder = folders[parent] = str(Path(parent or ".").resolve())
        out.append((os.path.join(folder, name), [info.st_size, info.st_mtime_ns]))
    return out


def _content_key(path: Path) -> str | None:
    """CRC-32 of the file's bytes, which with its size tells a changed file from a touched one.

    Not a defence against a forged file (its writer could as well change the records): the
    key only has to notice an edit, and CRC-32 runs at memory speed. Only files the ledger
    has are hashed here; a new one's key is taken as it is parsed (:func:`load.content_key`).
    """
    crc = 0
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 22):
                crc = zlib_ng.crc32(chunk, crc)  # releases the GIL: the threads hash in parallel
    except OSError:
        return None  # the loader quarantines an unreadable file with its reason
    return content_key(crc)


#: A 64-bit hash of the ``id``: what the writer keeps of every stored interaction. Two ids
#: that collide only make a batch look in one more month; versions are compared by ``id``.
_ID_HASH = pl.col("id").hash(seed=0).alias("_h")


# --- reading -----------------------------------------------------------------------------


def latest_snapshot(store: str | Path) -> Snapshot:
    """The store's newest snapshot."""
    return snapshot(store)


def snapshot(store: str | Path, as_of: int | str | datetime | None = None) -> Snapshot:
    """The snapshot at interactions version ``as_of`` (a number, or the last one committed at
    or before a timestamp); the newest when None."""
    _refuse_earlier_format(store)
    root = _root(store)
    uri = f"{root}/interactions"
    try:
        latest = DeltaTable(uri)
    except TableNotFoundError as exc:
        raise _damaged(root, uri, "its interactions table is missing") from exc
    except (DeltaError, OSError) as exc:
        raise _damaged(root, f"{uri}/_delta_log", _first_line(exc)) from exc
    newest = latest.version()
    version = _resolve_version(latest, as_of, newest, store)
    # the commit at `version` names the snapshot; one without it (a compaction by another
    # tool) stands on the snapshot before it. The commit files are read directly: deltalake's
    # history() lists the log as it is now, and numbers its entries from the version the table
    # object was opened at, so a commit made meanwhile would be taken for this one.
    candidate, others = version, 0
    while candidate >= 0 and others < 16:
        commit = f"{uri}/_delta_log/{candidate:020d}.json"
        try:
            info = _commit_info(root, commit)
        except StoreDamagedError:
            earliest = _earliest_commit(f"{uri}/_delta_log") if version < newest else None
            if earliest is not None and candidate < earliest:  # the log's clean-up, not damage
                raise _expired(root, version, earliest) from None
            raise
        meta = info.get(META_KEY)
        candidate -= 1
        if meta is None:
            # the vacuums of an earlier cxreports named none, however many ran in a row
            if not str(info.get("operation", "")).startswith("VACUUM"):
                others += 1
            continue
        try:
            snap = Snapshot(
                root,
                version,
                {k: int(v) for k, v in meta["tables"].items()},
                int(meta["records_read"]),
                int(meta["superseded"]),
                int(meta["loaded"]),
                str(meta["fingerprint"]),
                str(meta["csat_score_field"]),
                _from_ms(info["timestamp"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise _damaged(root, commit, f"its snapshot metadata is malformed ({exc!r})") from exc
        if version == newest:  # the interactions as opened here
            snap.opened["interactions"] = latest
        return snap
    if [f.name for f in latest.schema().fields] != list(_table_schema("interactions")):
        raise ParameterError(
            f"{store} is not a cxreports store: {uri} is a Delta table that cxreports did not "
            "write (its columns are not those of the interactions table)"
        )
    raise _damaged(root, f"{uri}/_delta_log/{version:020d}.json", "no commit names a snapshot")


def _earliest_commit(log: str) -> int | None:
    """The oldest commit file in a table's ``_delta_log`` (None if none is there)."""
    filesystem, path = _filesystem(log)
    from pyarrow import fs

    names = [
        info.base_name
        for info in filesystem.get_file_info(fs.FileSelector(path, allow_not_found=True))
    ]
    versions = [
        int(n[:20]) for n in names if len(n) == 25 and n.endswith(".json") and n[:20].isdigit()
    ]
    return min(versions, default=None)


def _expired(root: str, version: int, earliest: int) -> ParameterError:
    return ParameterError(
        f"version {version} of the store {root} is older than its Delta log keeps (at a "
        "checkpoint, Delta removes the commits older than the log's retention, 30 days by "
        f"default); the oldest version still readable is {earliest}: see `cxreports store "
        f"history {root}`"
    )


def _commit_info(root: str, commit: str) -> dict[str, Any]:
    """The ``commitInfo`` of one Delta commit file (empty if it has none)."""
    import orjson

    try:
        for line in _file_bytes(commit).splitlines():
            action = orjson.loads(line)
            if "commitInfo" in action:
                return action["commitInfo"]
    except (OSError, orjson.JSONDecodeError, TypeError) as exc:
        raise _damaged(root, commit, f"a commit cannot be read: {_first_line(exc)}") from exc
    return {}


def _resolve_version(
    table: DeltaTable, as_of: int | str | datetime | None, newest: int, store: str | Path
) -> int:
    if as_of is None or as_of == "":
        return newest
    when: datetime | None = None
    text = str(as_of).strip()
    if isinstance(as_of, int) or (text.isascii() and text.isdecimal()):
        version = int(as_of)
        if not 0 <= version <= newest:
            raise ParameterError(
                f"--as-of {version}: the store {store} has versions 0 to {newest} "
                "(see `cxreports store history`)"
            )
        return version
    if isinstance(as_of, datetime):
        when = as_of
    else:
        try:
            when = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ParameterError(
                f"--as-of expects a store version (a whole number) or a timestamp such as "
                f"2026-03-30T07:00:00Z, got {as_of!r}"
            ) from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    # by the commits' own times, as `store history` shows them: deltalake's timestamp lookup
    # goes by the log files' modification times, which a copy or a restore of the store changes
    committed = sorted((int(h["version"]), int(h["timestamp"])) for h in table.history())
    at_or_before = [v for v, ms in committed if ms <= when.timestamp() * 1000]
    if not at_or_before:
        first = f" (its first, version {committed[0][0]}, is of {_ms(_from_ms(committed[0][1]))})"
        raise ParameterError(
            f"--as-of {when.isoformat()}: the store {store} has no version that old"
            f"{first if committed else ''}; see `cxreports store history`"
        )
    return at_or_before[-1]


def version(store: str | Path) -> int:
    """The newest interactions version of ``store``: what a report run pins for all its parts."""
    return snapshot(store).version


def verify(store: str | Path, as_of: int | str | datetime | None = None) -> Snapshot:
    """Raise :class:`StoreDamagedError` unless every table of the snapshot and every data file
    it lists are whole; the snapshot.

    Reads the Delta logs and each file's Parquet footer, not the data: a check cheap enough to
    run before a report's kernels start.
    """
    snap = snapshot(store, as_of)
    key = (snap.root, snap.version, snap.timestamp, snap.fingerprint)
    if _unchanged(_VERIFIED.get(key)):
        return snap
    stamps: dict[str, tuple[int, int] | None] = {}
    for name in ALL_TABLES:
        uris = snap.table(name).file_uris()
        _check_footers(snap.root, uris, snap.version)
        stamps.update((uri, _stamp(uri)) for uri in uris)
    if None not in stamps.values():  # (local files only)
        _VERIFIED.pop(key, None)
        _VERIFIED[key] = stamps
        while len(_VERIFIED) > 8:
            _VERIFIED.pop(next(iter(_VERIFIED)))
    return snap


def _check_footers(root: str, uris: list[str], version: int | None = None) -> None:
    """Raise naming the first data file whose footer cannot be read (see :func:`_unreadable`)."""
    for uri in uris:
        if not _readable_parquet(uri):
            raise _unreadable(root, uri, version)


def _unreadable(root: str, uri: str, version: int | None) -> CxReportsError:
    """What a data file of the snapshot at ``version`` (None: the newest) that cannot be read
    means: :class:`ParameterError` if it is gone and the version is older than the store's
    vacuums kept, else :class:`StoreDamagedError`."""
    if version is not None and not _exists(uri):
        oldest = _oldest_kept(root)
        if oldest is not None and version < oldest:
            return ParameterError(
                f"version {version} of the store {root} was removed by `cxreports store "
                "vacuum`, which keeps only the versions of its --retention-hours; the oldest "
                f"version still readable is {oldest}: read it or a later one (see `cxreports "
                f"store history {root}`)"
            )
    return _damaged(root, uri, "a data file cannot be read")


def _oldest_kept(root: str) -> int | None:
    """The oldest interactions version that every vacuum of the store kept whole (one keeps the
    snapshots committed after its horizon, its time less its retention, and the newest then);
    None if no vacuum deleted anything."""
    horizons = []
    for name in ALL_TABLES:
        with contextlib.suppress(DeltaError, OSError):
            for entry in DeltaTable(f"{root}/{name}").history():
                if entry.get("operation") == "VACUUM START":
                    parameters = entry.get("operationParameters") or {}
                    retention = parameters.get("specifiedRetentionMillis") or parameters.get(
                        "defaultRetentionMillis", 0
                    )
                    horizons.append(entry["timestamp"] - int(retention))
    if not horizons:
        return None
    entries = sorted(DeltaTable(f"{root}/interactions").history(), key=lambda e: e["version"])
    before = [e for e in entries if e["timestamp"] <= max(horizons)]
    if not before:
        return None
    # a vacuum's own commits change no file: the versions just before them read the same
    operations = {e["version"]: str(e.get("operation")) for e in entries}
    oldest = before[-1]["version"]
    while oldest > 0 and operations.get(oldest, "").startswith("VACUUM"):
        oldest -= 1
    return oldest


def _exists(uri: str) -> bool:
    if not is_remote(uri):
        return Path(uri.removeprefix("file://")).exists()
    from pyarrow import fs

    filesystem, path = _filesystem(uri)
    return filesystem.get_file_info(path).type != fs.FileType.NotFound


#: Snapshots of local stores verified by this process, with each data file's size and
#: modification time then: a weekly job plans every group against one snapshot, which is
#: checked once (10 tables opened, every footer read: 0.15 s a group on a 1M store), and again
#: once any of its files changed.
_VERIFIED: dict[tuple[Any, ...], dict[str, tuple[int, int] | None]] = {}


def _stamp(uri: str) -> tuple[int, int] | None:
    """A local data file's size and modification time (:func:`_stat`); None if remote or gone."""
    if is_remote(uri):
        return None
    try:
        size, mtime = _stat(Path(uri))
    except OSError:
        return None
    return size, mtime


def _unchanged(stamps: dict[str, tuple[int, int] | None] | None) -> bool:
    return stamps is not None and all(_stamp(uri) == stamp for uri, stamp in stamps.items())


def _scan(snap: Snapshot, name: str) -> pl.LazyFrame:
    """One table of the snapshot, in its declared schema, with ``partition_key`` where kept."""
    columns = dict(_SCHEMAS[name])
    if name in S.CHILD_TABLES:
        columns[PARTITION] = pl.String
    return pl.scan_delta(snap.table(name)).select(pl.col(c).cast(t) for c, t in columns.items())


def summary(
    store: str | Path, as_of: int | str | datetime | None = None
) -> tuple[dict[str, Any], pl.DataFrame]:
    """The store's counts (as ``CxLogs.summary()`` has them) and its quarantine table."""
    snap = verify(store, as_of)
    with reading(snap):
        quarantine = _scan(snap, "quarantine").collect()
        files = _scan(snap, "sources").select(pl.len()).collect().item()
        figures = (
            _scan(snap, "interactions").select(SUMMARY_AGGREGATES).collect().row(0, named=True)
        )
    return {
        "files": files,
        "records_read": snap.records_read,
        "superseded": snap.superseded,
        "quarantined": quarantine.height,
        "fingerprint": snap.fingerprint,
        **figures,
    }, quarantine


def scan(store: str | Path, table: str, as_of: int | str | datetime | None = None) -> pl.LazyFrame:
    """A lazy scan of one table of the store's snapshot, with ``partition_key``."""
    return _scan(snapshot(store, as_of), table)


def load_window(
    store: str | Path,
    start: datetime,
    end: datetime,
    *,
    as_of: int | str | datetime | None = None,
    children_from: datetime | None = None,
    only: Mapping[str, Sequence[str]] | None = None,
) -> CxLogs:
    """The interactions that started in ``[start, end)`` and their child rows, as CxLogs.

    ``children_from`` narrows the child tables (labels, tags, wrap-up categories, custom fields,
    holds) to the interactions that started at or after it: a report needs them for its own
    week, while the weeks of its trend are read for their interactions alone. ``only`` reads
    just these tables (the interactions always), in just these columns, leaving the other
    tables empty: what the week's figures use (``metrics.weekly.READS``).

    Read from one snapshot (the newest, or ``as_of``). Only the month partitions that overlap
    the window are opened; within them the ``started_at`` filter is pushed down to Parquet row
    groups. The counts are the whole store's (``extra`` holds its ``loaded``, ``first_seen``
    and ``last_seen``), so the data-quality panel still accounts for every record ever read;
    ``extra["data_end"]``, the last start of a live interaction, tells first-contact
    resolution where the data ends, and ``extra["store_version"]`` the snapshot read.
    """
    snap = snapshot(store, as_of)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    months = pl.col(PARTITION).is_in(_months(start, end))
    window = months & pl.col("started_at").is_between(
        pl.lit(start).dt.convert_time_zone("UTC"),
        pl.lit(end).dt.convert_time_zone("UTC"),
        closed="left",
    )
    columns = {
        name: list(only.get(name, ())) if only else list(S.TABLES[name]) for name in S.TABLES
    }
    # the interactions always, with what finds their child rows
    wanted = columns["interactions"] or list(S.TABLES["interactions"])
    columns["interactions"] = wanted + [c for c in ("id", "started_at") if c not in wanted]
    with reading(snap):
        interactions = _scan(snap, "interactions").filter(window)
        if only:
            interactions = interactions.select(columns["interactions"])
        ids = interactions.select("id", "started_at")
        child_months = months
        if children_from is not None:
            children_from = max(children_from.astimezone(UTC), start)
            ids = ids.filter(
                pl.col("started_at") >= pl.lit(children_from).dt.convert_time_zone("UTC")
            )
            child_months = pl.col(PARTITION).is_in(_months(children_from, end))
        ids = ids.select("id")
        queries = {"interactions": interactions}
        for name in S.CHILD_TABLES:
            if columns[name]:
                queries[name] = (
                    _scan(snap, name)
                    .filter(child_months)
                    .join(ids, on="id", how="semi")
                    .select(columns[name])
                )
        queries["whole"] = _scan(snap, "interactions").select(
            pl.len().alias("loaded"),
            pl.col("started_at").min().alias("first_seen"),
            pl.col("started_at").max().alias("last_seen"),
            pl.col("started_at").filter(pl.col("deleted_at").is_null()).max().alias("data_end"),
        )
        queries["quarantine"] = _scan(snap, "quarantine")
        queries["files"] = _scan(snap, "sources").select("path")
        # side by side: polars runs the reads on every core at once
        read = dict(zip(queries, pl.collect_all(queries.values()), strict=True))
    # a table not read is empty, in its schema
    tables = {
        name: read.get(name, pl.DataFrame(schema=S.TABLES[name]))
        for name in ("interactions", *S.CHILD_TABLES)
    }
    return CxLogs(
        **tables,
        quarantine=read["quarantine"],
        files=tuple(read["files"]["path"]),
        records_read=snap.records_read,
        superseded=snap.superseded,
        fingerprint=snap.fingerprint,
        csat_score_field=snap.csat_score_field,
        extra={
            "store": str(store),
            "store_version": snap.version,
            **read["whole"].row(0, named=True),
        },
    )


def read_when_used(
    logs: CxLogs, start: datetime, end: datetime, children_from: datetime | None = None
) -> CxLogs:
    """The whole window that ``logs`` was read from (:func:`load_window` of a store, perhaps
    with ``only``), whose tables are read when first used, from the same snapshot.

    Its counts, files, quarantine and ``extra`` are those of ``logs`` at once; the
    interactions and the child tables, in all their columns, are read the first time one of
    them is asked for (a report notebook rarely does: its figures come from the week's
    metrics). It pickles as what to read, not as the rows.
    """
    return WindowLogs(
        # the store's absolute path: a notebook (or the kernel given it) may change folder
        _Window(
            _root(logs.extra["store"]), int(logs.extra["store_version"]), start, end, children_from
        ),
        {
            f.name: getattr(logs, f.name)
            for f in dataclasses.fields(CxLogs)
            if f.name not in _WHEN_USED
        },
    )


#: The tables of a :class:`WindowLogs` read when first used.
_WHEN_USED = ("interactions", *S.CHILD_TABLES)


@dataclass(frozen=True)
class _Window:
    """What a :class:`WindowLogs` reads: a window of one snapshot of a store."""

    store: str
    version: int
    start: datetime
    end: datetime
    children_from: datetime | None

    def tables(self) -> dict[str, pl.DataFrame]:
        logs = load_window(
            self.store, self.start, self.end, as_of=self.version, children_from=self.children_from
        )
        return {name: getattr(logs, name) for name in _WHEN_USED}


class WindowLogs(CxLogs):
    """CxLogs of a store window whose tables are read when first used (see
    :func:`read_when_used`); otherwise a CxLogs like any other."""

    def __init__(
        self,
        window: _Window | None = None,
        fields: Mapping[str, Any] | None = None,
        /,
        **given: Any,
    ) -> None:
        if window is None:  # every field given (dataclasses.replace): a CxLogs as it is
            super().__init__(**given)
            fields, read = {}, None
        else:
            read = _Read()
        for name, value in (fields or {}).items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_window", window)
        object.__setattr__(self, "_read", read)

    def __getattr__(self, name: str) -> Any:
        # only for what the instance lacks: the tables not read yet
        read = self.__dict__.get("_read")
        if name not in _WHEN_USED or read is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        table = read.table(self.__dict__["_window"], name).clone()
        object.__setattr__(self, name, table)
        return table

    def copy(self) -> CxLogs:
        """A copy that a notebook may change at will (frames cloned, ``extra`` copied); its
        tables are read once for it and this one."""

        def own(value: Any) -> Any:
            return value.clone() if isinstance(value, pl.DataFrame) else copy.deepcopy(value)

        if self._window is None:
            return _plain_logs(
                {f.name: own(getattr(self, f.name)) for f in dataclasses.fields(self)}
            )
        logs = WindowLogs(self._window, {n: own(v) for n, v in self._given().items()})
        object.__setattr__(logs, "_read", self._read)
        return logs

    def __reduce__(self) -> tuple[Any, ...]:
        if self._window is None:
            return (
                _plain_logs,
                ({f.name: getattr(self, f.name) for f in dataclasses.fields(self)},),
            )
        return (WindowLogs, (self._window, self._given()))

    def _given(self) -> dict[str, Any]:
        """Its fields other than the tables read when used (and those already read)."""
        return {
            n: v for n, v in self.__dict__.items() if not n.startswith("_") and n not in _WHEN_USED
        }


def _plain_logs(fields: dict[str, Any]) -> CxLogs:
    return CxLogs(**fields)


class _Read:
    """The tables of a window once read, shared by a :class:`WindowLogs` and its copies."""

    def __init__(self) -> None:
        self.tables: dict[str, pl.DataFrame] = {}
        self.lock = threading.Lock()

    def table(self, window: _Window, name: str) -> pl.DataFrame:
        with self.lock:
            if not self.tables:
                self.tables = window.tables()
            return self.tables[name]


@contextlib.contextmanager
def reading(snap: Snapshot) -> Iterator[None]:
    """Turn a data file that cannot be read into :class:`StoreDamagedError` naming it."""
    try:
        yield
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException, OSError, DeltaError) as exc:
        for name in ALL_TABLES:
            for uri in snap.table(name).file_uris():
                if not _readable_parquet(uri):
                    raise _unreadable(snap.root, uri, snap.version) from exc
        raise _damaged(snap.root, snap.root, f"it cannot be read: {_first_line(exc)}") from exc


def _readable_parquet(uri: str) -> bool:
    """Whether the file's Parquet footer reads (pyarrow: a truncated file is an error there,
    where polars' reader may panic)."""
    import pyarrow.parquet as pq
    from pyarrow import ArrowException

    try:
        filesystem, path = _filesystem(uri)
        pq.read_metadata(path, filesystem=filesystem)
    except (ArrowException, OSError):
        return False
    return True


def _file_bytes(uri: str) -> bytes:
    """A whole file, local (read directly: no pyarrow import on a report's way) or remote."""
    if not is_remote(uri):
        return Path(uri.removeprefix("file://")).read_bytes()
    filesystem, path = _filesystem(uri)
    with filesystem.open_input_stream(path) as stream:
        return stream.read()


def _filesystem(uri: str) -> tuple[Any, str]:
    """The pyarrow file system of a data file and its path there (credentials, region and
    endpoint from the standard AWS environment variables)."""
    from pyarrow import fs

    if not is_remote(uri):
        return fs.LocalFileSystem(), uri.removeprefix("file://")
    return fs.FileSystem.from_uri(uri)


def _write_files(files: list[tuple[_Table, pl.DataFrame, str | None]]) -> None:
    """Write each (table, rows, month) as a new data file of its table, side by side (polars'
    writer releases the GIL: a batch's last files are not written one at a time while the
    cores wait), their actions queued in the order given."""
    named = [(table, frame, month, table._new_file(month)) for table, frame, month in files]
    if len(named) == 1:
        written = [named[0][0]._encode(named[0][1], named[0][3])]
    else:
        with ThreadPoolExecutor(max_workers=WRITE_WORKERS) as pool:
            futures = [pool.submit(t._encode, frame, rel) for t, frame, _, rel in named]
            written = [f.result() for f in futures]
    for (table, _, month, relative), (size, stats) in zip(named, written, strict=True):
        table._added(relative, month, size, stats)


def _write_parquet(data: pl.DataFrame, target: str) -> int:
    """Write one data file; its size. Locally through a hidden temporary file renamed into
    place; on object storage one PUT, which is atomic there."""
    options: dict[str, Any] = {
        "compression_level": ZSTD_LEVEL,
        "statistics": True,
        "row_group_size": ROW_GROUP,
    }
    if not is_remote(target):
        with atomic_path(target) as tmp:
            data.write_parquet(tmp, **options)
        return Path(target).stat().st_size
    buffer = io.BytesIO()
    data.write_parquet(buffer, **options)
    filesystem, path = _filesystem(target)
    with filesystem.open_output_stream(path) as out:
        out.write(buffer.getvalue())
    return buffer.getbuffer().nbytes


@contextlib.contextmanager
def _writer_lock(store: str | Path) -> Iterator[None]:
    """One writer at a time: a lock file beside a local store; on object storage, a lease
    committed to the store's ``_writer`` Delta table (see :func:`_lease`)."""
    if not is_remote(store):
        with exclusive_lock(Path(store) / LOCK, _busy(store)):
            yield
        return
    with _lease(_root(store)):
        yield


#: A lease older than this is taken as left by a writer that died.
LEASE_HOURS = 6


@contextlib.contextmanager
def _lease(root: str) -> Iterator[None]:
    """Hold the store's lease on object storage, or raise :class:`StoreBusyError`.

    The lease is a commit of a tiny Delta table, ``STORE/_writer``: a writer commits version
    ``N + 1`` saying "held" when version ``N`` says it is free (or was held for longer than
    :data:`LEASE_HOURS`, by a writer that died). Two writers that race for the same version
    cannot both create its log file (deltalake commits with a conditional put), and the commit
    is not retried, so exactly one wins.
    """
    uri = f"{root}/_writer"
    schema = DeltaSchema.from_arrow(pl.DataFrame(schema={"owner": pl.String}).to_arrow().schema)
    owner = uuid.uuid4().hex
    try:
        table = DeltaTable(uri)
    except TableNotFoundError:
        with contextlib.suppress(DeltaError):
            DeltaTable.create(uri, schema, mode="ignore")
        table = DeltaTable(uri)
    last = table.history(1)[0]
    held = (last.get(LEASE_KEY) or {}).get("held")
    since = _from_ms(last["timestamp"])
    if held and datetime.now(UTC) - since < timedelta(hours=LEASE_HOURS):
        raise StoreBusyError(
            f"{root}: another load is updating this store (it holds the lease in {uri} since "
            f"{since:%Y-%m-%d %H:%M} UTC); try again when it has finished"
        )

    def commit(table: DeltaTable, state: bool) -> None:
        table.create_write_transaction(
            [],
            "append",
            schema,
            commit_properties=CommitProperties(
                custom_metadata={LEASE_KEY: {"held": state, "owner": owner}},
                max_commit_retries=0,
            ),
        )

    try:
        commit(table, True)
    except DeltaError as exc:  # another writer took this version first
        raise StoreBusyError(
            f"{root}: another load is updating this store (it took the lease in {uri} just now)"
            "; try again when it has finished"
        ) from exc
    try:
        yield
    finally:
        commit(DeltaTable(uri), False)


LEASE_KEY = "cxreports_lease"


def _damaged(root: str, path: str, what: str) -> StoreDamagedError:
    return StoreDamagedError(
        f"{path.removeprefix('file://')}: the store {root} is damaged ({what}); rebuild it from "
        "the source pages into a new folder (cxreports load SOURCE --out NEW_STORE), or delete "
        f"{root} and load again"
    )


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__


# --- history, maintenance -------------------------------------------------------------


def history(store: str | Path) -> pl.DataFrame:
    """One row per snapshot, newest first: version, time, operation and counts."""
    _require_store(store)
    snap = snapshot(store)
    rows = []
    for entry in DeltaTable(snap.uri("interactions")).history():
        meta = entry.get(META_KEY) or {}
        rows.append(
            {
                "version": entry.get("version"),
                "committed": _from_ms(entry["timestamp"]),
                "operation": entry.get("operation"),
                "loaded": meta.get("loaded"),
                "records_read": meta.get("records_read"),
                "fingerprint": meta.get("fingerprint"),
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "version": pl.Int64,
            "committed": pl.Datetime("ms", "UTC"),
            "operation": pl.String,
            "loaded": pl.Int64,
            "records_read": pl.Int64,
            "fingerprint": pl.String,
        },
    )


def compact(store: str | Path) -> Snapshot:
    """Rewrite small data files into larger ones in every table (Delta OPTIMIZE; the
    interactions in start order, Z-ORDER BY started_at); the data and every earlier snapshot
    stay as they were. Returns the new snapshot."""
    _require_store(store)
    with _writer_lock(store):
        writer = _Writer.open(store)
        if writer.snapshot is None:
            raise ParameterError(f"{store} is not a cxreports store")
        versions = {}
        for name in ALL_TABLES[:-1]:
            table = DeltaTable(writer.tables[name].uri)
            table.optimize.compact(writer_properties=_compacted())
            versions[name] = DeltaTable(writer.tables[name].uri).version()
        snap = dataclasses.replace(writer.snapshot, tables=versions)
        interactions = DeltaTable(writer.tables["interactions"].uri)
        before = interactions.version()
        # the months of several files, rewritten in start order as loads write them (a week's
        # read skips the other row groups); a month already in one file is left as it is
        files = pl.DataFrame(interactions.get_add_actions(flatten=True))
        months = files.group_by(f"partition.{PARTITION}").len().filter(pl.col("len") > 1)
        if months.height:
            interactions.optimize.z_order(
                ["started_at"],
                partition_filters=[(PARTITION, "in", months[:, 0].to_list())],
                writer_properties=_compacted(),
                commit_properties=CommitProperties(custom_metadata={META_KEY: snap.meta()}),
            )
        if DeltaTable(interactions.table_uri).version() == before:  # nothing to compact there
            writer.tables["interactions"].dt = DeltaTable(interactions.table_uri)
            writer.tables["interactions"].commit({META_KEY: snap.meta()}, always=True)
    return latest_snapshot(store)


def _compacted() -> WriterProperties:
    """Compacted files as loads write theirs: row groups of :data:`ROW_GROUP`, zstd level 1."""
    return WriterProperties(
        max_row_group_size=ROW_GROUP, compression="ZSTD", compression_level=ZSTD_LEVEL
    )


#: The longest retention :func:`vacuum` takes: 100 years (Delta's time arithmetic overflows
#: far beyond it).
MAX_RETENTION_HOURS = 100 * 8766


def vacuum(store: str | Path, retention_hours: int = 168) -> list[str]:
    """Delete the data files that no snapshot of the last ``retention_hours`` reads, and the
    files in a table's folder that no version names (left by a load that was killed, or put
    there by hand) once they are that old; the files deleted, relative to the store.

    Time travel (``--as-of``) reaches back as far as the retention: every snapshot committed
    since, and the one that was the newest then, reads as it did (their files are kept by
    version, whatever the times of their removal say). Only files that were there are counted;
    nothing beside the tables (the lock file, the lease on object storage) is touched.
    """
    _refuse_earlier_format(store)
    if not 0 <= retention_hours <= MAX_RETENTION_HOURS:
        raise ParameterError(
            f"--retention-hours must be from 0 to {MAX_RETENTION_HOURS} (100 years), got "
            f"{retention_hours}"
        )
    _require_store(store)
    with _writer_lock(store):  # no load writes a file that no version names yet meanwhile
        writer = _Writer.open(store)  # rolls back what a dead update left first
        if writer.snapshot is None:
            raise ParameterError(f"{store} is not a cxreports store")
        interactions = writer.tables["interactions"]
        keep = _retained(writer.root, _now_ms() - retention_hours * 3_600_000)
        deleted, versions = [], {}
        for name in ALL_TABLES[:-1]:
            deleted += _vacuum_table(writer.tables[name], retention_hours, keep[name])
            versions[name] = DeltaTable(writer.tables[name].uri).version()
        # the interactions' vacuum commits name a snapshot (the tables as they are now), as
        # every other commit of theirs does: readers need not look back past them for one
        snap = dataclasses.replace(writer.snapshot, tables=versions)
        before = DeltaTable(interactions.uri).version()
        deleted += _vacuum_table(
            interactions, retention_hours, keep["interactions"], {META_KEY: snap.meta()}
        )
        if versions != writer.snapshot.tables and DeltaTable(interactions.uri).version() == before:
            interactions.dt = DeltaTable(interactions.uri)
            interactions.commit({META_KEY: snap.meta()}, always=True)
    return sorted(deleted)


def _retained(root: str, horizon_ms: int) -> dict[str, set[int]]:
    """The versions of each table that the snapshots committed since ``horizon_ms``, and the
    one that was the newest then, read: what a vacuum with that horizon keeps."""
    uri = f"{root}/interactions"
    entries = sorted(DeltaTable(uri).history(), key=lambda entry: entry["version"])
    first = max(
        (e["version"] for e in entries if e["timestamp"] <= horizon_ms),
        default=entries[0]["version"],
    )
    keep: dict[str, set[int]] = {name: set() for name in ALL_TABLES}
    named: dict[str, Any] = {}
    for entry in entries:
        meta = entry.get(META_KEY)
        if isinstance(meta, dict):  # a commit without one stands on the snapshot before it
            named = meta.get("tables")
        if entry["version"] < first:
            continue
        keep["interactions"].add(entry["version"])
        try:
            for name, version in named.items():
                keep[name].add(int(version))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            commit = f"{uri}/_delta_log/{entry['version']:020d}.json"
            raise _damaged(root, commit, f"its snapshot metadata is malformed ({exc!r})") from exc
    return keep


def _vacuum_table(
    table: _Table, retention_hours: int, keep: set[int], metadata: dict[str, Any] | None = None
) -> list[str]:
    """Vacuum one table (Delta VACUUM, full: files that no version names too), the files of
    the versions ``keep`` kept; the files it deleted, relative to the store."""
    dt = DeltaTable(table.uri)
    options: dict[str, Any] = {
        "retention_hours": retention_hours,
        "enforce_retention_duration": False,
        "full": True,
        "keep_versions": _readable_versions(table.uri, keep),
    }
    there = _table_files(table.uri)
    # deltalake lists every file whose removal expired, there or not, as deleted: a run with
    # nothing there to delete would commit (and report) a vacuum of files long gone
    if not there & set(dt.vacuum(dry_run=True, **options)):
        return []
    properties = CommitProperties(custom_metadata=metadata) if metadata else None
    dt.vacuum(dry_run=False, commit_properties=properties, **options)
    return [f"{table.name}/{path}" for path in sorted(there - _table_files(table.uri))]


def _readable_versions(uri: str, versions: set[int]) -> list[int]:
    """``versions`` in order, less the oldest ones whose log is gone (at a checkpoint, Delta
    deletes the commits older than the table's log retention, 30 days by default): those cannot
    be read, and deltalake's vacuum fails on a version to keep that it cannot load."""
    ordered = sorted(versions)
    while ordered:
        try:
            DeltaTable(uri, version=ordered[0])
        except DeltaError:
            ordered.pop(0)
            continue
        break
    return ordered


def _table_files(uri: str) -> set[str]:
    """The files in a table's folder, its log left out, relative to it."""
    if is_remote(uri):
        from pyarrow import fs

        filesystem, path = _filesystem(uri)
        prefix = path.rstrip("/") + "/"
        selector = fs.FileSelector(path, recursive=True, allow_not_found=True)
        relative = (
            info.path.removeprefix(prefix)
            for info in filesystem.get_file_info(selector)
            if info.type == fs.FileType.File
        )
        return {p for p in relative if not p.startswith("_delta_log/")}
    root = uri.removeprefix("file://")
    files = set()
    for folder, folders, names in os.walk(root):
        folders[:] = [f for f in folders if f != "_delta_log"]
        files |= {os.path.relpath(os.path.join(folder, n), root) for n in names}
    return files


# --- migration from the Parquet store of format 2 ---------------------------------------


def migrate(old: str | Path, new: str | Path) -> Snapshot:
    """Convert a store of format 2 (Parquet parts and a manifest) into a new Delta store.

    The rows, the quarantine, the counts, the ledger of source files and the fingerprint carry
    over, so a later ``load --out NEW`` parses only what the old store had not seen.
    """
    import orjson

    old_root = Path(old)
    manifest_path = old_root / OLD_MANIFEST
    if not manifest_path.is_file():
        raise ParameterError(
            f"{old} is not a store of the earlier format (no {OLD_MANIFEST} in it)"
        )
    if is_store(new) or (not is_remote(new) and Path(new).exists() and any(Path(new).iterdir())):
        raise ParameterError(f"{new} is not empty: give a new folder for the converted store")
    try:
        manifest = orjson.loads(manifest_path.read_bytes())
        parts = [p for p in manifest["parts"] if isinstance(p, str)]
        sources = manifest["sources"]
        counts = manifest["counts"]
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise _damaged(str(old_root), str(manifest_path), f"its manifest: {exc}") from exc
    if any(".." in p or p.startswith("/") for p in parts):
        raise _damaged(str(old_root), str(manifest_path), "it lists a path outside the store")

    def read(name: str, schema: pl.Schema) -> pl.DataFrame:
        files = [old_root / p for p in parts if p.startswith(f"{name}/")]
        if name == "quarantine":
            listed = manifest.get("quarantine", "quarantine/data.parquet")
            files = [old_root / listed] if (old_root / listed).is_file() else []
        if not files:
            return S.empty(schema)
        try:
            frame = pl.read_parquet(files, hive_partitioning=False)
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise _damaged(str(old_root), str(files[0]), f"a part: {exc}") from exc
        return frame.select(pl.col(c).cast(t) for c, t in schema.items() if c != PARTITION)

    with _writer_lock(new):
        writer = _Writer.open(new)
        interactions = read("interactions", S.INTERACTIONS).with_columns(
            pl.col("started_at").dt.strftime("%Y_%m").alias(PARTITION)  # computed, as always
        )
        months = interactions.select("id", PARTITION)
        for name in PART_TABLES:
            frame = interactions if name == "interactions" else read(name, S.TABLES[name])
            if name != "interactions":
                frame = frame.join(months, on="id", how="inner")
            for (month,), rows in frame.group_by(PARTITION):
                writer.tables[name].write(rows, str(month))
        writer.quarantine = read("quarantine", S.QUARANTINE)
        writer.seen = {
            key: [int(v[0]), int(v[1]), *(v[2:3] or [None])] for key, v in sources.items()
        }
        writer.counts = {
            "records_read": int(counts["records_read"]),
            "superseded": int(counts["superseded"]),
            "loaded": interactions.height,
        }
        writer.fingerprint = str(manifest.get("fingerprint", ""))
        writer.csat_score_field = str(manifest.get("csat_score_field", S.DEFAULT_CSAT_SCORE_FIELD))
        writer.dirty |= {"quarantine", "sources"}
        try:
            writer.commit()
        except BaseException:
            for table in writer.tables.values():
                table.discard()
            raise
    return latest_snapshot(new)


# --- small helpers ---------------------------------------------------------------------


def _stats(data: pl.DataFrame) -> str:
    """Delta file statistics: the row count, and the start range where there is one (rounded
    outwards to the millisecond, the precision readers expect)."""
    import orjson

    stats: dict[str, Any] = {"numRecords": data.height}
    if "started_at" in data.columns and data.height and data["started_at"].null_count() == 0:
        low, high = data["started_at"].min(), data["started_at"].max()
        high = high + timedelta(milliseconds=1)
        stats["minValues"] = {"started_at": _ms(low)}
        stats["maxValues"] = {"started_at": _ms(high)}
        stats["nullCount"] = {"started_at": 0}
    return orjson.dumps(stats).decode()


def _ms(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _from_ms(ms: int) -> datetime:
    """A Delta commit's time (milliseconds since the epoch)."""
    return datetime.fromtimestamp(ms / 1000, UTC)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _stat(path: Path) -> list[int]:
    info = path.stat()
    return [info.st_size, info.st_mtime_ns]


def _months(start: datetime, end: datetime) -> list[str]:
    months, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(f"{year}_{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _combine_fingerprints(old: str, new: str) -> str:
    return hashlib.sha1(f"{old}:{new}".encode(), usedforsecurity=False).hexdigest()
