"""The Parquet store that later runs reuse: parse each source file once, read weeks lazily.

Layout (a plain hive-partitioned dataset that DuckDB, Spark or Trino read as it is)::

    STORE/_cxreports_store.json                        sources seen, parts written, counts
    STORE/interactions/partition_key=2026_03/part-000001.parquet
    STORE/holds/partition_key=2026_03/part-000001.parquet   (likewise every child table)
    STORE/quarantine/part-000007.parquet               the one the manifest names

:func:`update` parses only new or changed source files, a batch at a time, and appends each
batch to the months it touches as a new part file; the children of an interaction live in the
part of the same name. Before a batch is written, its interactions are checked against the
versions already stored, in whichever month: the latest ``updatedAt`` wins, as in
:func:`cxreports.load` (on a tie, the file parsed later), and a part that held a superseded
version is copied without it to a new part. A month with many small parts is compacted into
one. Readers go by the manifest, which is saved once a batch is complete, so they see the
store as it was before the batch or after it, never half of it.
:func:`load_window` reads the interactions that started in a time window, and their child
rows, with the filter pushed down to the month partitions and the Parquet row groups.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from cxreports import schema as S
from cxreports.exceptions import ParameterError, StoreBusyError, StoreDamagedError
from cxreports.iorw import atomic_path, exclusive_lock, write_atomic
from cxreports.load import (
    READ_WORKERS,
    SUMMARY_AGGREGATES,
    Batch,
    CxLogs,
    deduplicate,
    raise_on_quarantine,
    read_batches,
    resolve_sources,
)

MANIFEST = "_cxreports_store.json"
LOCK = ".cxreports-store.lock"
_MANIFEST_FORMAT = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
PARTITION = "partition_key"
#: A month with more parts than this after an update is rewritten as one part.
MAX_PARTS = 16
#: Rows per Parquet row group: small enough for the week filter to skip most of a month.
ROW_GROUP = 64_000
#: The tables kept as month parts (the quarantine is one file).
PART_TABLES = ("interactions", *S.CHILD_TABLES)
#: Where the quarantine's file is; the manifest names the current one.
QUARANTINE_DIR = "quarantine"
#: The manifest's format. 2: month folders are the UTC month of ``started_at``, computed by the
#: loader; 1 (no ``format`` key): they were taken from the records' ``cx_log_partition_key``.
FORMAT = 2
#: What a listed file may be called: record data never chooses a path, and a tampered
#: manifest cannot point outside the store.
_PART = re.compile(
    rf"(?:{'|'.join(PART_TABLES)})/{PARTITION}=\d{{4}}_(?:0[1-9]|1[0-2])/(?:part-\d{{6,}}|data)\.parquet"
    rf"|{QUARANTINE_DIR}/(?:part-\d{{6,}}|data)\.parquet"
)
_MONTH = re.compile(r"\d{4}_(?:0[1-9]|1[0-2])")


@dataclass(frozen=True)
class StoreUpdate:
    """What :func:`update` did."""

    store: Path
    parsed: tuple[str, ...]
    reused: int
    months: tuple[str, ...]
    superseded: int = 0  # versions dropped by this update, older ones stored before included


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
    store). Records of a source file that later disappears stay in the store. The manifest is
    saved after every batch, so an interrupted update resumes where it stopped; memory is
    bounded by the batch, not by the input. A file whose size or modification time changed is
    parsed again only if its content did (its CRC-32 is kept). With ``strict`` the update is
    all or nothing: the first bad record raises :class:`InvalidRecordError` and the store is
    left exactly as it was (the manifest is saved once, after the last batch).
    """
    store = Path(store)
    files = resolve_sources(sources)

    def busy(path: Path) -> StoreBusyError:
        return StoreBusyError(
            f"{store}: another load is updating this store (it holds {path}); "
            "try again when it has finished"
        )

    with exclusive_lock(store / LOCK, busy):
        if is_store(store):
            verify(store)  # not one batch is added to a store that is already damaged
        return _update(store, files, csat_score_field, strict, progress)


def _update(
    store: Path, files: list[Path], csat_score_field: str, strict: bool, progress: bool | None
) -> StoreUpdate:
    manifest = _read_manifest(store)
    if manifest["csat_score_field"] != csat_score_field and manifest["sources"]:
        raise ParameterError(
            f"{store}: this store was built with csat_score_field "
            f"{manifest['csat_score_field']!r}, not {csat_score_field!r}; use a new store folder"
        )
    stats, changed = _changed_sources(manifest, files)
    # touched, not changed: keep their new times so that the next run does not hash them again
    unchanged = (stats[f] for f in stats.keys() - set(changed))
    retouched = {key: stat for key, stat in unchanged if manifest["sources"].get(key) != stat}
    manifest["sources"].update(retouched)
    if not changed:
        if retouched:
            _save_manifest(store, manifest)
        return StoreUpdate(store, (), len(files), ())
    _check_format(store, manifest)
    _remove_unlisted_parts(store, manifest)
    manifest["csat_score_field"] = csat_score_field
    manifest["format"] = FORMAT
    months: set[str] = set()
    superseded = 0
    stored_months = _months_of_ids(store, manifest)
    try:
        for batch in read_batches(changed, csat_score_field=csat_score_field, progress=progress):
            if strict:
                raise_on_quarantine(batch.quarantine)
            touched, dropped, added = _add_batch(
                store, manifest, batch, stats, stored_months, save=not strict
            )
            stored_months = pl.concat([stored_months, added])
            months |= touched
            superseded += dropped
    except BaseException:
        if strict:  # nothing this update wrote is listed on disk: delete all of it
            _remove_unlisted_parts(store, _read_manifest(store))
        raise
    if strict:
        _save_manifest(store, manifest)
        _remove_unlisted_parts(store, manifest)
    for month in sorted(months):
        _compact(store, manifest, month)
    return StoreUpdate(
        store,
        tuple(str(f) for f in changed),
        len(files) - len(changed),
        tuple(sorted(months)),
        superseded,
    )


def _changed_sources(
    manifest: dict[str, Any], files: list[Path]
) -> tuple[dict[Path, tuple[str, list[Any]]], list[Path]]:
    """What the manifest keeps of each file, and the files whose content is new or changed.

    The manifest keeps each file's absolute path with its size, modification time and a key of
    its content (:func:`_content_key`).
    Only files whose size or time differs from the manifest's are hashed: a page that was
    touched but not changed is not parsed (nor counted) again.
    """
    seen = manifest["sources"]
    entries = {f: (str(f.resolve()), _stat(f)) for f in files}
    to_hash = [f for f, (key, stat) in entries.items() if seen.get(key, [])[:2] != stat]
    with ThreadPoolExecutor(READ_WORKERS) as pool:
        digests = dict(zip(to_hash, pool.map(_content_key, to_hash), strict=True))
    stats, changed = {}, []
    for f, (key, stat) in entries.items():
        if f not in digests:
            stats[f] = (key, seen[key])
            continue
        stats[f] = (key, [*stat, digests[f]])
        if digests[f] is None or seen.get(key, [])[2:] != [digests[f]]:
            changed.append(f)
    return stats, changed


def _content_key(path: Path) -> str | None:
    """CRC-32 of the file's bytes, which with its size tells a changed file from a touched one.

    Not a defence against a forged file (its writer could as well change the records): the
    key only has to notice an edit, and CRC-32 runs at memory speed, so hashing every page of
    a new store costs a few percent of building it.
    """
    crc = 0
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 22):
                crc = zlib.crc32(chunk, crc)  # releases the GIL: the threads hash in parallel
    except OSError:
        return None  # the loader quarantines an unreadable file with its reason
    return f"crc32:{crc:08x}"


def _check_format(store: Path, manifest: dict[str, Any]) -> None:
    """Move a store of format 1 to :data:`FORMAT`, or refuse one whose months are the records'.

    Format 1 put each interaction in the month its record named; where that was not the
    month it started in, a week read from the store would miss it.
    """
    if manifest.get("format", 1) >= FORMAT or not manifest["parts"]:
        return
    parts = [store / p for p in _parts(manifest, "interactions")]
    with _reading(store, manifest):
        misplaced = (
            pl.scan_parquet(parts, include_file_paths="_part", hive_partitioning=False)
            .filter(
                pl.col("started_at").dt.strftime("%Y_%m")
                != pl.col("_part").str.extract(f"{PARTITION}=([^/]+)/[^/]*$")
            )
            .select(pl.len())
            .collect()
            .item()
        )
    if misplaced:
        raise _damaged(
            store,
            store / MANIFEST,
            f"{misplaced} interaction(s) sit in another month's folder than the one they "
            "started in (an earlier cxreports took the folder from the record)",
        )


def _add_batch(
    store: Path,
    manifest: dict[str, Any],
    batch: Batch,
    stats: dict[Path, tuple[str, list[Any]]],
    stored_months: pl.DataFrame,
    *,
    save: bool = True,
) -> tuple[set[str], int, pl.DataFrame]:
    """Write one batch into the store; with ``save``, list it in the saved manifest.

    Without ``save`` the manifest on disk still names the parts as they were, and the parts
    this batch replaced are kept until the caller saves it. Returns the months it wrote, the
    versions dropped, and the ``id`` and month of each interaction it wrote (see
    :func:`_months_of_ids`). ``stored_months`` holds the month of
    every stored ``id``: an earlier version is looked for in its month, even if ``startedDate``
    has moved since.
    """
    interactions, superseded = deduplicate(batch.tables["interactions"])
    ids = interactions.select("id")
    elsewhere = stored_months.join(ids.select(_ID_HASH), on="_h", how="semi")[PARTITION]
    months = set(interactions[PARTITION].unique()) | set(elsewhere.unique())
    stored = _stored_versions(store, manifest, months, ids)
    written: set[str] = set()
    if stored.height:
        versus = interactions.select("id", "_rid", "updated_at").join(
            stored, on="id", suffix="_stored"
        )
        # the batch's version wins on a tie: its file was parsed later
        new_wins = pl.col("updated_at_stored").is_null() | (
            pl.col("updated_at") >= pl.col("updated_at_stored")
        )
        versus = versus.with_columns(_new_wins=new_wins.fill_null(False))
        losing = versus.filter(~pl.col("_new_wins")).select("_rid")
        interactions = interactions.join(losing, on="_rid", how="anti")
        for (part,), ids in versus.filter(pl.col("_new_wins")).group_by("part"):
            _drop_from_part(store, manifest, Path(str(part)), ids.select("id"))
            written.add(_month_of(str(part)))
        superseded += versus.height
    winners = interactions.select("_rid", PARTITION)
    name = _new_part_name(manifest)
    for table in PART_TABLES:
        frame = interactions if table == "interactions" else batch.tables[table]
        if table != "interactions":
            frame = frame.join(winners, on="_rid", how="inner")
        for (month,), rows in frame.group_by(PARTITION):
            manifest["parts"].append(_write_part(store, table, str(month), name, rows))
    written |= set(interactions[PARTITION].unique())

    # a re-parsed file's earlier rejections are replaced by this parse's; the quarantine gets
    # a new file, listed by the manifest like the parts, so readers see it with its counts
    earlier = _read_quarantine(store, manifest)
    reread = earlier["source_file"].is_in([str(f) for f in batch.files])
    replaced = stored.height > 0
    if batch.quarantine.height or reread.any():
        target = store / QUARANTINE_DIR / _new_part_name(manifest)
        _write(target, pl.concat([earlier.filter(~reread), batch.quarantine]))
        manifest["quarantine"] = target.relative_to(store).as_posix()
        replaced = True
    counts = manifest["counts"]
    counts["records_read"] += (
        batch.tables["interactions"].height + batch.quarantine.height - int(reread.sum())
    )
    counts["superseded"] += superseded
    manifest["sources"].update(stats[f] for f in batch.files)
    manifest["fingerprint"] = _combine_fingerprints(
        manifest.get("fingerprint", ""),
        hashlib.sha1(batch.digest, usedforsecurity=False).hexdigest(),
    )
    if save:
        _save_manifest(store, manifest)
        if replaced:
            _remove_unlisted_parts(store, manifest)  # the parts and quarantine just replaced
    return (
        written,
        superseded,
        interactions.select(_ID_HASH, pl.col(PARTITION).cast(pl.Categorical)),
    )


#: A 64-bit hash of the ``id``: what :func:`_months_of_ids` keeps instead of the text. Two ids
#: that collide only make a batch look in one more month; versions are compared by ``id``.
_ID_HASH = pl.col("id").hash(seed=0).alias("_h")


def _months_of_ids(store: Path, manifest: dict[str, Any]) -> pl.DataFrame:
    """Hashed ``id`` and month of every stored interaction (about 10 MB for a million)."""
    parts = [store / part for part in _parts(manifest, "interactions")]
    if not parts:
        return pl.DataFrame(schema={"_h": pl.UInt64, PARTITION: pl.Categorical})
    month = pl.col("_part").str.extract(f"{PARTITION}=([^/]+)/[^/]*$").cast(pl.Categorical)
    with _reading(store, manifest):
        return (
            pl.scan_parquet(parts, include_file_paths="_part", hive_partitioning=False)
            .select(_ID_HASH, month.alias(PARTITION))
            .collect()
        )


def _stored_versions(
    store: Path, manifest: dict[str, Any], months: set[str], ids: pl.DataFrame
) -> pl.DataFrame:
    """``id``, ``updated_at`` and ``part`` of stored versions of ``ids`` in ``months``."""
    parts = [store / part for part in _parts(manifest, "interactions", months)]
    if not parts:
        return pl.DataFrame(
            schema={
                "id": pl.String,
                "updated_at_stored": S.INTERACTIONS["updated_at"],
                "part": pl.String,
            }
        )
    with _reading(store, manifest):
        return (
            pl.scan_parquet(parts, include_file_paths="part")
            .select("id", pl.col("updated_at").alias("updated_at_stored"), "part")
            .join(ids.lazy(), on="id", how="semi")
            .collect()
        )


def _drop_from_part(store: Path, manifest: dict[str, Any], part: Path, ids: pl.DataFrame) -> None:
    """Copy a part (and its children's parts) without the interactions ``ids`` to a new name.

    The manifest swaps the new parts in for the old ones (or just drops a part left empty),
    so a reader sees either; the old files are deleted once the manifest is saved.
    """
    relative = part.relative_to(store / "interactions")
    name = _new_part_name(manifest)
    for table in PART_TABLES:
        old = f"{table}/{relative.as_posix()}"
        if old not in manifest["parts"]:
            continue
        with _reading(store, manifest):
            rest = pl.read_parquet(store / old).join(ids, on="id", how="anti")
        if rest.is_empty():
            manifest["parts"].remove(old)
            continue
        target = store / table / relative.parent / name
        _write(target, rest)
        manifest["parts"][manifest["parts"].index(old)] = target.relative_to(store).as_posix()


def _new_part_name(manifest: dict[str, Any]) -> str:
    number = manifest.setdefault("next_part", 1)
    manifest["next_part"] = number + 1
    return f"part-{number:06d}.parquet"


def _compact(store: Path, manifest: dict[str, Any], month: str) -> None:
    """Rewrite a month held in more than :data:`MAX_PARTS` parts as one part."""
    if len(_parts(manifest, "interactions", {month})) <= MAX_PARTS:
        return
    name = _new_part_name(manifest)
    for table in PART_TABLES:
        old = _parts(manifest, table, {month})
        with _reading(store, manifest):
            frame = pl.read_parquet([store / p for p in old]) if old else S.empty(S.TABLES[table])
        manifest["parts"] = [p for p in manifest["parts"] if p not in old]
        manifest["parts"].append(_write_part(store, table, month, name, frame))
    _save_manifest(store, manifest)
    _remove_unlisted_parts(store, manifest)


def _remove_unlisted_parts(store: Path, manifest: dict[str, Any]) -> None:
    """Delete the parts the manifest does not list: replaced ones, or parts an interrupted
    update wrote after its last manifest save."""
    listed = {*manifest["parts"], _quarantine_path(manifest)}
    candidates = [(store / QUARANTINE_DIR).glob("*.parquet")]
    candidates += [(store / table).glob(f"{PARTITION}=*/*.parquet") for table in PART_TABLES]
    for found in candidates:
        for p in found:
            if p.relative_to(store).as_posix() not in listed:
                p.unlink()


def verify(store: str | Path) -> None:
    """Raise :class:`StoreDamagedError` unless the manifest and every file it lists are whole.

    Reads the manifest and each listed file's Parquet footer, not the data: a check cheap
    enough to run before a report's kernels start.
    """
    store = Path(store)
    manifest = _read_manifest(store)
    listed = [*manifest["parts"], _quarantine_path(manifest)]
    broken = next((p for p in listed if not _readable_parquet(store / p)), None)
    if broken is not None:
        raise _damaged(store, store / broken, "a part file cannot be read")


def summary(store: str | Path) -> tuple[dict[str, Any], pl.DataFrame]:
    """The store's counts (as ``CxLogs.summary()`` has them) and its quarantine table."""
    store = Path(store)
    verify(store)
    manifest = _read_manifest(store)
    quarantine = _read_quarantine(store, manifest)
    with _reading(store, manifest):
        figures = (
            _scan(store, manifest, "interactions")
            .select(SUMMARY_AGGREGATES)
            .collect()
            .row(0, named=True)
        )
    return {
        "files": len(manifest["sources"]),
        "records_read": manifest["counts"]["records_read"],
        "superseded": manifest["counts"]["superseded"],
        "quarantined": quarantine.height,
        "fingerprint": manifest.get("fingerprint", ""),
        **figures,
    }, quarantine


def scan(store: str | Path, table: str) -> pl.LazyFrame:
    """A lazy scan of one table of the store, with ``partition_key`` from the folder names.

    Only the parts the manifest lists are read: a part an interrupted update left behind
    is never seen twice.
    """
    store = Path(store)
    return _scan(store, _read_manifest(store), table)


def _scan(store: Path, manifest: dict[str, Any], table: str) -> pl.LazyFrame:
    files = sorted(store / p for p in _parts(manifest, table))
    if not files:
        return pl.LazyFrame(schema={**S.TABLES[table], PARTITION: pl.String})
    return pl.scan_parquet(files, hive_partitioning=True, hive_schema={PARTITION: pl.String})


def load_window(store: str | Path, start: datetime, end: datetime) -> CxLogs:
    """The interactions that started in ``[start, end)`` and their child rows, as CxLogs.

    Only the month partitions that overlap the window are opened; within them the
    ``started_at`` filter is pushed down to Parquet row groups. The counts are the whole
    store's (``extra`` holds its ``loaded``, ``first_seen`` and ``last_seen``), so the
    data-quality panel still accounts for every record ever read; ``extra["data_end"]``, the
    last start of a live interaction, tells first-contact resolution where the data ends.
    """
    store = Path(store)
    manifest = _read_manifest(store)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    # the month folders of format 1 came from the records: not to be trusted for pruning
    months = (
        pl.col(PARTITION).is_in(_months(start, end))
        if manifest.get("format", 1) >= FORMAT
        else pl.lit(True)
    )
    window = months & pl.col("started_at").is_between(
        pl.lit(start).dt.convert_time_zone("UTC"),
        pl.lit(end).dt.convert_time_zone("UTC"),
        closed="left",
    )
    with _reading(store, manifest):
        interactions = (
            _scan(store, manifest, "interactions")
            .filter(window)
            .select(list(S.INTERACTIONS))
            .collect()
        )
        ids = interactions.lazy().select("id")
        tables: dict[str, Any] = {"interactions": interactions}
        for name in S.CHILD_TABLES:
            tables[name] = (
                _scan(store, manifest, name)
                .filter(months)
                .join(ids, on="id", how="semi")
                .select(list(S.TABLES[name]))
                .collect()
            )
        whole = (
            _scan(store, manifest, "interactions")
            .select(
                pl.len().alias("loaded"),
                pl.col("started_at").min().alias("first_seen"),
                pl.col("started_at").max().alias("last_seen"),
                pl.col("started_at").filter(pl.col("deleted_at").is_null()).max().alias("data_end"),
            )
            .collect()
            .row(0, named=True)
        )
    counts = manifest["counts"]
    quarantine = _read_quarantine(store, manifest)
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


def _path(store: Path, table: str, month: str, name: str) -> Path:
    if not _MONTH.fullmatch(month):  # computed by the loader; checked all the same
        raise ValueError(f"not a month folder name (YYYY_MM): {month!r}")
    return store / table / f"{PARTITION}={month}" / name


def _parts(manifest: dict[str, Any], table: str, months: set[str] | None = None) -> list[str]:
    """The listed parts of ``table``, of the given months only when ``months`` is given."""
    return [
        p
        for p in manifest["parts"]
        if p.startswith(f"{table}/") and (months is None or _month_of(p) in months)
    ]


def _write_part(store: Path, table: str, month: str, name: str, frame: pl.DataFrame) -> str:
    """Write one part (interactions sorted by start, for row-group pruning); its manifest path."""
    path = _path(store, table, month, name)
    _write(path, frame.sort("started_at") if table == "interactions" else frame)
    return path.relative_to(store).as_posix()


def _month_of(part: str) -> str:
    """``2026_03`` from ``interactions/partition_key=2026_03/part-000001.parquet``."""
    return Path(part).parent.name.removeprefix(f"{PARTITION}=")


def _quarantine_path(manifest: dict[str, Any]) -> str:
    # a store from before the quarantine was listed has it in one data.parquet
    return manifest.get("quarantine", f"{QUARANTINE_DIR}/data.parquet")


def _read_quarantine(store: Path, manifest: dict[str, Any]) -> pl.DataFrame:
    path = store / _quarantine_path(manifest)
    if not path.is_file():
        return S.empty(S.QUARANTINE)
    with _reading(store, manifest):
        return pl.read_parquet(path)


@contextlib.contextmanager
def _reading(store: Path, manifest: dict[str, Any]) -> Iterator[None]:
    """Turn a part file that cannot be read into :class:`StoreDamagedError` naming it."""
    try:
        yield
    except (pl.exceptions.PolarsError, OSError) as exc:
        listed = [*manifest["parts"], _quarantine_path(manifest)]
        broken = next((store / p for p in listed if not _readable_parquet(store / p)), store)
        raise _damaged(store, broken, f"a part file cannot be read: {exc}") from exc


def _readable_parquet(path: Path) -> bool:
    if not path.exists():
        return path.name == "data.parquet"  # the quarantine of an old store may be absent
    try:
        pl.read_parquet_schema(path)
    except (pl.exceptions.PolarsError, OSError):
        return False
    return True


def _damaged(store: Path, path: Path, what: str) -> StoreDamagedError:
    return StoreDamagedError(
        f"{path}: the store {store} is damaged ({what}); rebuild it from the source pages "
        f"into a new folder (cxreports load SOURCE --out NEW_STORE), or delete {store} and "
        "load again"
    )


def _write(path: Path, frame: pl.DataFrame) -> None:
    with atomic_path(path) as tmp:
        # zstd level 1: a third less CPU than the default level, files ~4% larger
        frame.drop("_rid", PARTITION, strict=False).write_parquet(
            tmp, compression_level=1, statistics=True, row_group_size=ROW_GROUP
        )


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
    """The store's manifest, checked: its shape, and that every file it lists is there."""
    path = store / MANIFEST
    if not path.exists():
        return {
            "format": FORMAT,
            "sources": {},
            "counts": {"records_read": 0, "superseded": 0},
            "csat_score_field": S.DEFAULT_CSAT_SCORE_FIELD,
            "parts": [],
            "next_part": 1,
        }
    try:
        manifest = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise _damaged(store, path, f"its manifest cannot be read: {exc}") from exc
    if isinstance(manifest, dict) and "parts" not in manifest:
        # a store from before parts were listed: one data.parquet per month and table
        manifest["parts"] = sorted(
            p.relative_to(store).as_posix()
            for table in PART_TABLES
            for p in (store / table).glob(f"{PARTITION}=*/*.parquet")
        )
    problem = _manifest_problem(manifest)
    if problem:
        raise _damaged(store, path, f"its manifest {problem}")
    missing = [p for p in manifest["parts"] if not (store / p).is_file()]
    if "quarantine" in manifest and not (store / manifest["quarantine"]).is_file():
        missing.append(manifest["quarantine"])
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise _damaged(store, store / missing[0], f"a listed part file is missing{more}")
    return manifest


def _manifest_problem(manifest: Any) -> str | None:
    """What is wrong with a manifest's shape, or None."""
    if not isinstance(manifest, dict):
        return f"is not a JSON object (got {type(manifest).__name__})"
    shapes = {
        "sources": dict,
        "counts": dict,
        "csat_score_field": str,
        "parts": list,
        "next_part": int,
        "format": int,
        "quarantine": str,
        "fingerprint": str,
    }
    for key, kind in shapes.items():
        if key in manifest and not isinstance(manifest[key], kind):
            return f"has a {key!r} that is not a {kind.__name__}"
    for key in ("sources", "counts", "csat_score_field", "parts"):
        if key not in manifest:
            return f"has no {key!r}"
    counts = manifest["counts"]
    if not all(isinstance(counts.get(k), int) for k in ("records_read", "superseded")):
        return "has no whole-number counts 'records_read' and 'superseded'"
    if not all(isinstance(v, list) and len(v) >= 2 for v in manifest["sources"].values()):
        return "has a source entry that is not [size, mtime, content key]"
    listed = [*manifest["parts"], manifest.get("quarantine", f"{QUARANTINE_DIR}/data.parquet")]
    bad = next((p for p in listed if not (isinstance(p, str) and _PART.fullmatch(p))), None)
    if bad is not None:
        return f"lists a file that is not a part of the store: {str(bad)[:80]!r}"
    return None


def _save_manifest(store: Path, manifest: dict[str, Any]) -> None:
    write_atomic(store / MANIFEST, orjson.dumps(manifest, option=_MANIFEST_FORMAT))


def _combine_fingerprints(old: str, new: str) -> str:
    return hashlib.sha1(f"{old}:{new}".encode(), usedforsecurity=False).hexdigest()
