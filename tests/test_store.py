"""The Delta store: incremental updates that agree with a plain load, snapshots, windowed reads."""

from __future__ import annotations

import dataclasses
import fcntl
import importlib
import json
import os
import pickle
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable, write_deltalake
from polars.testing import assert_frame_equal

from cxreports import (
    InvalidRecordError,
    ParameterError,
    StoreBusyError,
    StoreDamagedError,
    StoreFormatError,
    load,
    scope,
    weekly,
)
from cxreports import schema as S
from cxreports import store as store_module
from cxreports.metrics.weekly import first_week
from cxreports.period import Week
from cxreports.report import prepare
from cxreports.store import (
    ALL_TABLES,
    PART_TABLES,
    PARTITION,
    compact,
    is_store,
    load_window,
    scan,
    snapshot,
    summary,
    update,
)

load_module = importlib.import_module("cxreports.load")  # the module, not the function


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns)


def test_an_incremental_store_equals_one_load_of_everything(sample_dir: Path, tmp_path: Path):
    pages = sorted(sample_dir.glob("*.json"))
    first, rest = tmp_path / "first", tmp_path / "all"
    first.mkdir()
    for page in pages[: len(pages) // 2]:
        shutil.copy(page, first / page.name)
    store = tmp_path / "store"
    one = update([first], store)
    assert len(one.parsed) == len(pages) // 2
    shutil.copytree(sample_dir, rest)
    two = update([rest], store)
    # the copies of the first half have new paths, so everything is parsed once more here;
    # a rerun parses nothing
    assert update([rest], store).parsed == ()
    assert len(two.parsed) == len(pages)

    full = load(sample_dir)
    stored = scan(store, "interactions").collect().select(full.interactions.columns)
    assert_frame_equal(
        _sorted(stored.drop("source_file")), _sorted(full.interactions.drop("source_file"))
    )
    for name in ("holds", "labels", "wrap_up_categories", "wrap_up_tags", "custom_fields"):
        table = scan(store, name).collect().select(getattr(full, name).columns)
        assert_frame_equal(_sorted(table), _sorted(getattr(full, name)), check_row_order=False)


def test_a_store_built_in_many_small_batches_equals_one_load(
    sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # 3,000 records in batches of ~300: older versions of a record reach the store in later
    # batches than the record itself, and must be dropped there
    monkeypatch.setattr(load_module, "BATCH_RECORDS", 300)
    store = tmp_path / "store"
    result = update([sample_dir], store)
    full = load(sample_dir)
    assert result.superseded == full.superseded > 0
    figures, _ = summary(store)
    assert (figures["records_read"], figures["loaded"]) == (full.records_read, full.loaded)
    for name in ("interactions", *S.CHILD_TABLES):
        expected = getattr(full, name)
        table = scan(store, name).collect().select(expected.columns)
        assert_frame_equal(_sorted(table), _sorted(expected))


def test_a_newer_version_in_a_later_batch_replaces_the_stored_one_and_its_children(
    seed_record, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(load_module, "BATCH_RECORDS", 1)
    source, store = tmp_path / "pages", tmp_path / "store"
    other = {**seed_record, "id": "other"}
    newer = {
        **seed_record,
        "updatedAt": "2026-03-31T00:00:00Z",
        "contactLabel": ["VIP"],
        "holdLogs": [],
    }
    _page(source, "p1.json", [seed_record, other])
    _page(source, "p2.json", [newer])
    result = update([source], store)
    assert result.superseded == 1 and result.months == ("2026_03",)
    rows = scan(store, "interactions").collect().sort("id")
    assert rows["id"].to_list() == ["other", seed_record["id"]]
    labels = scan(store, "labels").collect().filter(pl.col("id") == seed_record["id"])
    assert labels["label"].to_list() == ["VIP"]
    assert scan(store, "holds").collect()["id"].to_list() == ["other"] * len(
        seed_record["holdLogs"]
    )
    # the file that held the older version (written by the first batch's commit) was
    # replaced by a copy without it, in the commit that added the newer one
    first = set(_files(store, "interactions", version=0))
    assert first and not first & set(_files(store, "interactions"))


def test_new_files_only_are_parsed_and_latest_version_wins(seed_record, tmp_path: Path):
    source = tmp_path / "pages"
    source.mkdir()
    page = {"cxLogs": {"data": [seed_record]}}
    (source / "p1.json").write_text(json.dumps(page))
    store = tmp_path / "store"
    update([source], store)
    newer = {**seed_record, "disposition": "Escalated", "updatedAt": "2026-03-31T00:00:00Z"}
    (source / "p2.json").write_text(json.dumps({"cxLogs": {"data": [newer]}}))
    result = update([source], store)
    assert [Path(p).name for p in result.parsed] == ["p2.json"] and result.reused == 1
    rows = scan(store, "interactions").collect()
    assert rows["disposition"].to_list() == ["Escalated"]
    assert scan(store, "labels").collect().height == 2  # children of the winner only
    snap = snapshot(store)
    assert (snap.records_read, snap.superseded, snap.loaded) == (2, 1, 1)


def test_weekly_metrics_from_the_store_match_a_plain_load(sample_dir: Path, tmp_path: Path):
    store = tmp_path / "store"
    update([sample_dir], store)
    _, from_store = prepare(store, "2026-W12", "Asia/Singapore")
    from_pages = weekly(load(sample_dir), "2026-W12", "Asia/Singapore")
    for table in ("summary", "agents", "queues", "daily", "trend", "kpis", "heatmap"):
        assert_frame_equal(getattr(from_store, table), getattr(from_pages, table))
    # the data-quality panel accounts for the whole store, not just the window read
    assert _without_version(from_store.quality["load"]) == from_pages.quality["load"]


def test_a_window_reads_only_what_started_in_it(sample_dir: Path, tmp_path: Path):
    store = tmp_path / "store"
    update([sample_dir], store)
    week = Week.parse("2026-W10", "UTC")
    logs = load_window(store, week.start_utc, week.end_utc)
    assert logs.loaded > 0
    assert logs.interactions["started_at"].min() >= week.start_utc
    assert logs.interactions["started_at"].max() < week.end_utc
    assert set(logs.holds["id"]) <= set(logs.interactions["id"])


def test_the_store_is_built_for_one_csat_field(sample_dir: Path, tmp_path: Path):
    store = tmp_path / "store"
    update([sample_dir], store)
    with pytest.raises(ParameterError, match=r"built with csat_score_field 'room\.csat_score'"):
        update([sample_dir], store, csat_score_field="survey.score")


def test_the_store_is_a_set_of_delta_tables_that_other_readers_open(
    sample_dir: Path, tmp_path: Path
):
    store = tmp_path / "store"
    update([sample_dir], store)
    full = load(sample_dir)
    plain = pl.scan_delta(str(store / "interactions"))
    assert plain.select(pl.len()).collect().item() == full.loaded
    assert PARTITION in plain.collect_schema()
    for name in S.CHILD_TABLES:
        table = DeltaTable(str(store / name))
        assert table.metadata().partition_columns == [PARTITION]
        assert pl.scan_delta(table).select(pl.len()).collect().item() == getattr(full, name).height


def test_the_readme_duckdb_snippet_reads_the_live_files_of_a_version(
    sample_dir: Path, tmp_path: Path
):
    pytest.importorskip("duckdb")
    namespace = _run_readme_snippet("import duckdb", sample_dir, tmp_path)
    assert namespace["rows"] == _queue_counts(sample_dir, "2026_03")


@pytest.mark.spark
def test_the_readme_pyspark_snippet_reads_the_live_files_of_a_version(
    spark, sample_dir: Path, tmp_path: Path
):
    namespace = _run_readme_snippet("from pyspark.sql import SparkSession", sample_dir, tmp_path)
    assert namespace["spark"] is spark  # the suite's one session, not a second one
    assert [tuple(r) for r in namespace["rows"]] == _queue_counts(sample_dir, "2026_03")


def _run_readme_snippet(marker: str, sample_dir: Path, tmp_path: Path) -> dict:
    """Run the README's Python snippet holding ``marker`` on a store of the sample, with a
    data file beside the live ones that no version lists, as a dead load might leave it: the
    snippet must not read it. Returns the snippet's names."""
    store = tmp_path / "store"
    update([sample_dir], store)
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    snippet = next(b for b in readme.split("```python\n") if marker in b)
    snippet = snippet.split("```")[0].replace('"data/store/', f'"{store}/')
    month = store / "interactions" / f"{PARTITION}=2026_03"
    shutil.copy(
        store / "interactions" / max(_files(store, "interactions")), month / "part-x.parquet"
    )
    namespace: dict = {}
    exec(snippet, namespace)
    return namespace


def _queue_counts(sample_dir: Path, month: str) -> list[tuple]:
    full = load(sample_dir).interactions.filter(pl.col(PARTITION) == month)
    return full.group_by("queue_name").len().sort("queue_name").rows()


def _files(store: Path, table: str, version: int | None = None) -> list[str]:
    """The data files (relative paths) a version of a table lists; the newest by default."""
    actions = DeltaTable(str(store / table), version=version).get_add_actions(flatten=True)
    return pl.DataFrame(actions)["path"].to_list()


def _live(store: Path) -> dict[str, list[str]]:
    """The data files each table's newest version lists."""
    return {name: sorted(_files(store, name)) for name in ALL_TABLES}


def _page(folder: Path, name: str, records: list[dict]) -> None:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(json.dumps({"cxLogs": {"data": records}}))


def test_an_older_version_arriving_later_is_dropped_and_nothing_is_rewritten(
    seed_record, tmp_path: Path
):
    source, store = tmp_path / "pages", tmp_path / "store"
    _page(source, "p1.json", [seed_record])
    update([source], store)
    first = _live(store)
    older = {**seed_record, "disposition": "In Progress", "updatedAt": "2026-03-29T00:00:00Z"}
    _page(source, "p2.json", [older])
    result = update([source], store)
    assert result.superseded == 1 and result.months == ()  # nothing to write
    assert scan(store, "interactions").collect()["disposition"].to_list() == ["Resolved"]
    assert {k: v for k, v in _live(store).items() if k in PART_TABLES} == {
        k: v for k, v in first.items() if k in PART_TABLES
    }


def test_a_changed_file_replaces_its_earlier_versions(seed_record, tmp_path: Path):
    source, store = tmp_path / "pages", tmp_path / "store"
    _page(source, "p1.json", [seed_record])
    update([source], store)
    # the export was corrected in place: same id and updatedAt, new content and a bad record
    changed = {**seed_record, "queueName": "Billing"}
    _page(source, "p1.json", [changed, {"id": "x", "startedDate": "yesterday"}])
    update([source], store)
    rows = scan(store, "interactions").collect()
    assert rows["queue_name"].to_list() == ["Billing"]
    figures, quarantine = summary(store)
    assert quarantine["record_id"].to_list() == ["x"]
    assert figures["records_read"] == 3 == figures["loaded"] + figures["superseded"] + 1


def test_compaction_leaves_one_file_a_month_and_every_snapshot_readable(
    sample_dir: Path, tmp_path: Path
):
    source, store = tmp_path / "pages", tmp_path / "store"
    source.mkdir()
    for page in sorted(sample_dir.glob("*.json"))[:4]:
        shutil.copy(page, source / page.name)
        update([source], store)
    before = snapshot(store)
    before_rows = _sorted(scan(store, "interactions").collect())
    assert max(Counter(_months_of(store, "interactions")).values()) > 1
    after = compact(store)
    assert after.version > before.version
    assert max(Counter(_months_of(store, "interactions")).values()) == 1
    # each file still in start order: a week's read skips the row groups of other weeks
    compacted = DeltaTable(str(store / "interactions")).file_uris()
    for uri in compacted:
        assert pl.read_parquet(uri)["started_at"].is_sorted(), uri
    # a second compaction leaves months already in one file as they are
    compact(store)
    assert DeltaTable(str(store / "interactions")).file_uris() == compacted
    assert (after.records_read, after.fingerprint) == (before.records_read, before.fingerprint)
    full = load(source)
    stored = scan(store, "interactions").collect().select(full.interactions.columns)
    assert_frame_equal(_sorted(stored), _sorted(full.interactions))
    labels = scan(store, "labels").collect().select(full.labels.columns)
    assert_frame_equal(_sorted(labels), _sorted(full.labels))
    # the snapshot before the compaction reads as it did
    old = _sorted(scan(store, "interactions", as_of=before.version).collect())
    assert_frame_equal(old, before_rows)
    # and an update after it goes on from the compacted files
    (source / "extra.json").write_text((sorted(sample_dir.glob("*.json"))[5]).read_text())
    update([source], store)
    assert summary(store)[0]["loaded"] == load(source).loaded


def _months_of(store: Path, table: str) -> list[str]:
    return [f.split("/")[0] for f in _files(store, table)]


def test_a_commit_that_no_snapshot_names_is_never_read_and_is_rolled_back(
    seed_record, tmp_path: Path
):
    # an update that died after committing a child table, before the interactions
    source, store = tmp_path / "pages", tmp_path / "store"
    _page(source, "p1.json", [seed_record])
    update([source], store)
    labels = scan(store, "labels").collect()
    stray = labels.with_columns(pl.lit("STRAY").alias("label"))
    write_deltalake(
        str(store / "labels"), stray.to_arrow(), mode="append", partition_by=[PARTITION]
    )
    assert DeltaTable(str(store / "labels")).version() > snapshot(store).tables["labels"]
    assert "STRAY" not in scan(store, "labels").collect()["label"].to_list()
    _page(source, "p2.json", [{**seed_record, "id": "another"}])
    update([source], store)
    assert "STRAY" not in pl.read_delta(str(store / "labels"))["label"].to_list()
    assert sorted(scan(store, "interactions").collect()["id"].to_list()) == [
        "another",
        seed_record["id"],
    ]
    full = load(source)
    assert_frame_equal(
        _sorted(scan(store, "labels").collect().select(full.labels.columns)), _sorted(full.labels)
    )


def test_a_second_load_into_a_busy_store_is_refused(sample_dir: Path, tmp_path: Path):
    store = tmp_path / "store"
    with open(_lock_path(store), "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(StoreBusyError, match="another load is updating this store"):
            update([sample_dir], store)
    assert not is_store(store)  # nothing was written
    assert update([sample_dir], store).parsed  # and once the lock is free, it runs


def _lock_path(store: Path) -> Path:
    store.mkdir(parents=True, exist_ok=True)
    return store / store_module.LOCK


def _started(record: dict, started: str, updated: str) -> dict:
    """``record`` started at ``started`` (its month key too) and updated at ``updated``."""
    month = started[:7].replace("-", "_")
    return {
        **record,
        "startedDate": started,
        "updatedAt": updated,
        "room": {**record["room"], "cx_log_partition_key": month},
    }


def test_a_newer_version_that_moved_month_replaces_the_stored_one(seed_record, tmp_path: Path):
    source, store = tmp_path / "pages", tmp_path / "store"
    _page(source, "p1.json", [seed_record])
    update([source], store)
    moved = _started(seed_record, "2026-04-01 00:10:00+00", "2026-04-01T01:00:00Z")
    _page(source, "p2.json", [moved])
    result = update([source], store)
    assert result.superseded == 1 and result.months == ("2026_03", "2026_04")
    rows = scan(store, "interactions").collect()
    assert rows.select("id", PARTITION).rows() == [(seed_record["id"], "2026_04")]
    labels = scan(store, "labels").collect()
    assert set(labels[PARTITION]) == {"2026_04"}
    assert not any("2026_03" in f for files in _live(store).values() for f in files)
    figures, _ = summary(store)
    assert (figures["loaded"], figures["superseded"]) == (1, 1)


def test_an_older_version_in_another_month_in_a_later_batch_is_dropped(
    seed_record, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # one update, one file per batch: the second batch's version of the same interaction
    # starts in May but is older, so the March one stays and May gets nothing
    monkeypatch.setattr(load_module, "BATCH_RECORDS", 1)
    source, store = tmp_path / "pages", tmp_path / "store"
    _page(source, "p1.json", [seed_record])
    _page(
        source, "p2.json", [_started(seed_record, "2026-05-02 09:00:00+00", "2026-03-01T00:00:00Z")]
    )
    result = update([source], store)
    assert result.superseded == 1 and result.months == ("2026_03",)
    rows = scan(store, "interactions").collect()
    assert rows.select("id", PARTITION).rows() == [(seed_record["id"], "2026_03")]


def test_the_quarantine_goes_with_the_snapshot_that_counts_it(seed_record, tmp_path: Path):
    source, store = tmp_path / "pages", tmp_path / "store"
    _page(source, "p1.json", [seed_record, {"id": "x", "startedDate": "yesterday"}])
    update([source], store)
    first = snapshot(store)
    assert summary(store)[1]["record_id"].to_list() == ["x"]

    _page(source, "p1.json", [seed_record])  # corrected: its rejection goes
    update([source], store)
    assert summary(store)[1].is_empty()
    # the earlier snapshot still has it, with the counts that went with it
    figures, quarantine = summary(store, as_of=first.version)
    assert quarantine["record_id"].to_list() == ["x"]
    assert figures["records_read"] == 2 == figures["loaded"] + figures["quarantined"]


# --- hardening: data never chooses a path; a damaged store says so; strict is all or nothing


def _without_version(figures: dict) -> dict:
    return {k: v for k, v in figures.items() if k != "store_version"}


def _metric_frames(metrics) -> dict[str, pl.DataFrame]:
    return {k: v for k, v in vars(metrics).items() if isinstance(v, pl.DataFrame)}


@pytest.fixture(scope="module")
def hostile_pages(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample pages with every record's own month key made wrong, or hostile."""
    keys = ["../../../../escaped", "2026-3", "1999_01", "", "2026_13", None, "/tmp/x", "..\\x"]
    out = tmp_path_factory.mktemp("hostile")
    for i, page in enumerate(sorted(sample_dir.glob("*.json"))):
        doc = json.loads(page.read_text())
        for j, record in enumerate(doc["cxLogs"]["data"]):
            record["room"]["cx_log_partition_key"] = keys[(i + j) % len(keys)]
        (out / page.name).write_text(json.dumps(doc))
    return out


def test_record_data_never_chooses_where_files_are_written(hostile_pages: Path, tmp_path: Path):
    store = tmp_path / "deep" / "store"
    update([hostile_pages], store)
    written = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert written and all(p.is_relative_to(store) for p in written)
    assert not Path("/tmp/x").exists() or not any(Path("/tmp/x").glob("**/*.parquet"))
    rows = scan(store, "interactions").collect()
    # the month folder is the UTC month the interaction started in, whatever the record says
    assert (rows[PARTITION] == rows["started_at"].dt.strftime("%Y_%m")).all()
    assert {p.parent.name for p in store.glob("*/*/*.parquet")} <= {
        f"{PARTITION}=2026_{m:02d}" for m in range(1, 4)
    }


@pytest.mark.parametrize("week", ["2026-W05", "2026-W09", "2026-W13"])
def test_a_store_read_gives_exactly_the_metrics_of_a_direct_load(
    hostile_pages: Path, tmp_path_factory: pytest.TempPathFactory, week: str
):
    # W05 and W09 cross a month boundary, in Singapore time 8 hours before it does in UTC
    store = tmp_path_factory.getbasetemp() / "hostile-store"
    if not is_store(store):
        update([hostile_pages], store)
    _, from_store = prepare(store, week, "Asia/Singapore")
    _, from_pages = prepare(hostile_pages, week, "Asia/Singapore")
    assert from_store.handled == from_pages.handled > 0
    store_frames, page_frames = _metric_frames(from_store), _metric_frames(from_pages)
    assert store_frames.keys() == page_frames.keys()
    for name, frame in page_frames.items():
        other = store_frames[name]
        if name == "rows":  # the same interactions, in the order each source gives them
            frame, other = frame.sort("id"), other.sort("id")
        # counts exactly; float sums may differ in the last bit with the order rows come in
        assert_frame_equal(other, frame, rel_tol=1e-12, abs_tol=0), name
    assert _without_version(from_store.quality["load"]) == from_pages.quality["load"]


def test_a_report_reads_what_its_figures_use_and_its_logs_only_when_used(
    sample_dir: Path, seed_record, tmp_path: Path
):
    """prepare() reads a store for the columns the figures use; the logs it hands the notebook
    are the whole window of the same snapshot, read the first time a table is used."""
    source, store = tmp_path / "pages", tmp_path / "store"
    shutil.copytree(sample_dir, source)
    update([source], store)
    version = snapshot(store).version
    agents = scan(store, "interactions").select(pl.col("agent_id").drop_nulls().unique()).collect()
    teams = tmp_path / "teams.csv"
    agents.sort("agent_id").with_columns(
        team=pl.format("T{}", pl.int_range(pl.len()) % 3), lead=pl.lit("Lead")
    ).write_csv(teams)
    options = {
        "team_map": str(teams),
        "business_hours": {"mon-fri": "09:00-17:00"},
        "targets": ["aht_s <= 600", "sla_met_rate >= 0.8"],
        "scorecards": True,
    }
    week, tz = "2026-W13", "Asia/Singapore"
    logs, from_store = prepare(store, week, tz, **options)
    _, from_pages = prepare(source, week, tz, **options)
    assert from_store.handled == from_pages.handled > 0
    for name, frame in _metric_frames(from_pages).items():
        other = _metric_frames(from_store)[name]
        if name == "rows":
            frame, other = frame.sort("id"), other.sort("id")
        assert_frame_equal(other, frame, rel_tol=1e-12, abs_tol=0), name
    assert len(from_store.scorecards.cards) == len(from_pages.scorecards.cards) > 0
    # a load meanwhile changes nothing the logs read: they read the snapshot of the figures
    _page(source, "zz_new.json", [{**seed_record, "id": "new-in-the-week"}])
    update([source], store)
    assert snapshot(store).version > version
    wk = Week.resolve(week, tz)
    start = first_week(wk, 8).start_utc
    whole = load_window(
        store, start, wk.end_utc + timedelta(days=7), as_of=version, children_from=wk.start_utc
    )
    shipped = pickle.dumps(logs)  # what a kernel hands the others: what to read, not the rows
    assert len(shipped) < whole.interactions.estimated_size() / 20
    for got in (logs, pickle.loads(shipped)):
        assert got.extra == whole.extra and got.files == whole.files
        for name, table in whole.tables().items():
            assert_frame_equal(getattr(got, name), table), name
        assert "new-in-the-week" not in got.interactions["id"]
    assert logs.interactions.width == len(S.TABLES["interactions"])


def test_a_window_read_in_part_has_its_other_tables_empty_in_their_schema(
    sample_dir: Path, tmp_path: Path
):
    store = tmp_path / "store"
    update([sample_dir], store)
    week = Week.resolve("2026-W13", "UTC")
    whole = load_window(store, week.start_utc, week.end_utc)
    part = load_window(store, week.start_utc, week.end_utc, only={"interactions": ["channel"]})
    # the interactions always, with what finds their child rows
    assert part.interactions.columns == ["channel", "id", "started_at"]
    assert part.interactions.height == whole.interactions.height > 0
    for name in S.CHILD_TABLES:
        assert getattr(part, name).schema == getattr(whole, name).schema, name
        assert getattr(part, name).height == 0 < getattr(whole, name).height, name
    assert part.extra == whole.extra and part.quarantine.equals(whole.quarantine)


def test_logs_read_when_used_follow_the_store_given_by_a_relative_path(
    sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    update([sample_dir], tmp_path / "store")
    monkeypatch.chdir(tmp_path)
    logs, metrics = prepare("store", "2026-W13", "Asia/Singapore")
    monkeypatch.chdir(tmp_path.parent)  # a notebook (or a kernel) that moved to another folder
    week = logs.interactions.filter(pl.col("id").is_in(metrics.rows["id"].implode()))
    assert week.height == metrics.rows.height > 0


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_strict_update_is_all_or_nothing(
    sample_dir: Path, seed_record, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(load_module, "BATCH_RECORDS", 300)  # many batches; the bad one is late
    source, store = tmp_path / "pages", tmp_path / "store"
    shutil.copytree(sample_dir, source)
    first = sorted(source.glob("*.json"))[:3]
    update(first, store)
    before = _tree(store)
    _page(source, "zz_last.json", [{**seed_record, "handledTime": "long"}])
    with pytest.raises(InvalidRecordError, match=r"zz_last\.json"):
        update([source], store, strict=True)
    assert _tree(store) == before  # not one batch of the good files before it was kept
    # on a new store, a strict failure leaves no store at all
    fresh = tmp_path / "fresh"
    with pytest.raises(InvalidRecordError):
        update([source], fresh, strict=True)
    assert not is_store(fresh) and not list(fresh.rglob("*.parquet"))
    # and once the file is fixed, the strict update writes everything
    _page(source, "zz_last.json", [seed_record])
    update([source], store, strict=True)
    assert summary(store)[0]["loaded"] == load(source).loaded


def test_a_touched_but_unchanged_page_is_not_parsed_or_counted_again(
    sample_dir: Path, tmp_path: Path
):
    source, store = tmp_path / "pages", tmp_path / "store"
    shutil.copytree(sample_dir, source)
    update([source], store)
    counts = summary(store)[0]
    page = sorted(source.glob("*.json"))[5]
    os.utime(page, ns=(1, 1))  # what `touch`, a copy or a re-download of the same bytes does
    assert update([source], store).parsed == ()
    assert summary(store)[0] == counts
    page.write_bytes(page.read_bytes().replace(b'"Billing"', b'"Sales"'))  # a real change
    assert update([source], store).parsed == (str(page),)
    records = len(json.loads(page.read_text())["cxLogs"]["data"])
    assert summary(store)[0]["records_read"] == counts["records_read"] + records


def test_a_new_page_is_read_once_and_its_ledger_key_is_that_of_its_bytes(
    sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Building a store reads each page once (its content key comes from the read that parses
    it), and keys the ledger as a later check of a touched page hashes it: gzip and BOM too."""
    import gzip

    source, store = tmp_path / "pages", tmp_path / "store"
    shutil.copytree(sample_dir, source)
    pages = sorted(source.glob("*.json"))
    zipped = pages[0].with_suffix(".json.gz")
    zipped.write_bytes(gzip.compress(pages[0].read_bytes()))
    pages[0].unlink()
    pages[1].write_bytes(b"\xef\xbb\xbf" + pages[1].read_bytes())
    (source / "empty.json").write_bytes(b"")
    hashed: list[Path] = []
    content_key = store_module._content_key
    monkeypatch.setattr(
        store_module, "_content_key", lambda path: hashed.append(path) or content_key(path)
    )
    update([source], store)
    assert hashed == []  # no read of its own before the parse
    ledger = DeltaTable(str(store / "sources")).to_pyarrow_table().to_pylist()
    by_path = {Path(row["path"]).name: row for row in ledger}
    files = sorted(p for p in source.iterdir())
    assert sorted(by_path) == [p.name for p in files]
    for path in files:
        assert by_path[path.name]["content_key"] == content_key(path), path.name
    # touched, each file is hashed once and found unchanged: nothing parsed or counted again
    counts = summary(store)[0]
    for path in files:
        os.utime(path, ns=(1, 1))
    assert update([source], store).parsed == ()
    assert sorted(hashed) == files and summary(store)[0] == counts


def _last_file(store: Path, table: str = "interactions") -> Path:
    """A data file of the table's last month (the one a week of 2026-W13 reads)."""
    return store / table / max(_files(store, table))


def _truncate(path: Path) -> Path:
    path.write_bytes(path.read_bytes()[:200])
    return path


def _remove(path: Path) -> Path:
    path.unlink()
    return path


def _remove_folder(folder: Path) -> Path:
    shutil.rmtree(folder)  # holds/ and every month in it, its log too
    return folder


def _last_commit(store: Path) -> Path:
    return sorted((store / "interactions" / "_delta_log").glob("*.json"))[-1]


def _garble_snapshot(store: Path) -> Path:
    commit = _last_commit(store)
    lines = commit.read_text().splitlines()
    info = json.loads(lines[0])
    info["commitInfo"][store_module.META_KEY]["tables"] = "nonsense"
    commit.write_text("\n".join([json.dumps(info), *lines[1:]]) + "\n")
    return commit


DAMAGE = {
    "garbage commit": lambda store: (
        _last_commit(store).write_text("{not json"),
        store / "interactions" / "_delta_log",
    )[1],
    "malformed snapshot": _garble_snapshot,
    "missing data file": lambda store: _remove(_last_file(store)),
    "corrupt data file": lambda store: _truncate(_last_file(store)),
    "corrupt child data file": lambda store: _truncate(_last_file(store, "labels")),
    "corrupt ledger": lambda store: _truncate(_last_file(store, "sources")),
    "missing table folder": lambda store: _remove_folder(store / "holds"),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_damaged_store_is_named_not_a_traceback(
    sample_dir: Path, tmp_path: Path, damage: str, capsys: pytest.CaptureFixture
):
    store = tmp_path / "store"
    update([sample_dir], store)
    broken = DAMAGE[damage](store)  # the file (or folder) the message must name
    expected = str(broken.relative_to(store))
    week = Week.parse("2026-W13", "UTC")
    for attempt in (
        lambda: update([sample_dir, tmp_path / "new.json"], store),
        lambda: summary(store),
        lambda: load_window(store, week.start_utc, week.end_utc),
        # what the weekly job checks its week and filters with (it reads the interactions)
        *([lambda: scope.known([store])] if expected.startswith("interactions/") else []),
    ):
        (tmp_path / "new.json").write_text('{"cxLogs": {"data": []}}')
        with pytest.raises(StoreDamagedError, match="is damaged") as raised:
            attempt()
        assert f"{store}/{expected}" in str(raised.value) and "rebuild" in str(raised.value)
    from cxreports.cli import main

    out = tmp_path / "o"
    assert main(["report", "csat-sla", str(store), "--week", "2026-W13", "--out", str(out)]) == 12
    assert main(["load", str(sample_dir), "--out", str(store)]) == 12
    assert main(["metrics", "summary", str(store), "--week", "2026-W13"]) == 12
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all("is damaged" in line for line in err)
    assert not out.exists()  # refused before any kernel started


def test_a_snapshot_verified_once_is_verified_again_once_a_file_changed(
    sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from cxreports.scope import known

    store = tmp_path / "store"
    update([sample_dir], store)
    footers: list[str] = []
    readable = store_module._readable_parquet
    monkeypatch.setattr(
        store_module, "_readable_parquet", lambda uri: footers.append(uri) or readable(uri)
    )
    version = store_module.verify(store).version
    files = len(footers)
    assert files > 10
    # twenty groups planned against one snapshot: its files are checked once
    assert store_module.verify(store).version == store_module.verify(store, version).version
    assert len(footers) == files
    for damage in (_truncate, _remove):
        broken = damage(_last_file(store))
        with pytest.raises(StoreDamagedError, match="is damaged") as raised:
            store_module.verify(store)
        assert str(broken) in str(raised.value)
        shutil.rmtree(store)
        update([sample_dir], store)
        store_module.verify(store)
    # a store made anew at the same path (same version numbers) is read anew, not remembered
    assert "Billing" in known([str(store)]).queues
    for page in sorted(sample_dir.glob("*.json")):
        (tmp_path / "pages").mkdir(exist_ok=True)
        (tmp_path / "pages" / page.name).write_bytes(
            page.read_bytes().replace(b'"Billing"', b'"Collections"')
        )
    shutil.rmtree(store)
    update([tmp_path / "pages"], store)
    assert store_module.verify(store).version == version
    assert "Billing" not in known([str(store)]).queues
    assert "Collections" in known([str(store)], as_of=version).queues


OLD_STORE = Path(__file__).parent / "data" / "store-v2"


def _old_store_pages(folder: Path) -> Path:
    """The pages tests/data/store-v2 was built from by the Parquet store of format 2."""
    from cxreports.sample import generate

    folder.mkdir()
    generate(folder, records=200, weeks=3, seed=7, page_size=50, surge=False)
    (folder / "zz_bad.json").write_text(
        '{"cxLogs": {"data": [{"id": "x", "startedDate": "yesterday"}]}}'
    )
    return folder


def test_a_store_of_the_earlier_format_is_refused_with_the_command_that_converts_it(
    tmp_path: Path, capsys: pytest.CaptureFixture
):
    old = tmp_path / "old"
    shutil.copytree(OLD_STORE, old)
    before = _tree(old)
    from cxreports.cli import main

    week = Week.parse("2026-W12", "UTC")
    for attempt in (
        lambda: update([tmp_path / "nothing.json"], old),
        lambda: summary(old),
        lambda: load_window(old, week.start_utc, week.end_utc),
    ):
        (tmp_path / "nothing.json").write_text('{"cxLogs": {"data": []}}')
        with pytest.raises(StoreFormatError, match=f"cxreports store migrate {old} NEW_STORE"):
            attempt()
    assert main(["metrics", "summary", str(old), "--week", "2026-W12"]) == 12
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cxreports store migrate" in err[0]
    assert _tree(old) == before


def test_migrate_converts_a_store_of_the_earlier_format(tmp_path: Path, capsys):
    from cxreports.cli import main

    pages = _old_store_pages(tmp_path / "pages")
    old, new = tmp_path / "old", tmp_path / "new"
    shutil.copytree(OLD_STORE, old)
    assert main(["store", "migrate", str(old), str(new)]) == 0
    assert "converted" in capsys.readouterr().out
    full = load(pages)
    # the migrated rows keep the old store's source paths, not the pages' new folder
    quarantine = _assert_store_holds(new, full, ignore=("source_file",))
    assert quarantine["record_id"].to_list() == ["x"]
    _, from_new = prepare(new, "2026-W12", "UTC")
    assert from_new.handled == weekly(full, "2026-W12", "UTC").handled > 0
    # a second conversion into a folder that is not empty is refused
    assert main(["store", "migrate", str(old), str(new)]) == 2


# --- snapshots: readers during an update, a killed update, time travel


def _figures(store: Path) -> tuple[int, ...]:
    """What one snapshot says and holds: counts, interactions and a child table's rows."""
    snap = snapshot(store)
    rows = store_module._scan(snap, "interactions").select(pl.len()).collect().item()
    labels = store_module._scan(snap, "labels").select(pl.len()).collect().item()
    return snap.version, snap.records_read, snap.loaded, rows, labels


def test_a_reader_during_an_update_sees_the_old_or_the_new_snapshot(
    sample_dir: Path, tmp_path: Path
):
    source, store = tmp_path / "pages", tmp_path / "store"
    source.mkdir()
    pages = sorted(sample_dir.glob("*.json"))
    for page in pages[::2]:
        shutil.copy(page, source / page.name)
    update([source], store)
    old = _figures(store)
    for page in pages[1::2]:
        shutil.copy(page, source / page.name)
    seen: list[tuple[int, ...]] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.append(_figures(store))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        update([source], store)
    finally:
        stop.set()
        reader.join()
    new = _figures(store)
    assert old != new
    assert len(seen) > 1 and set(seen) <= {old, new}, set(seen) - {old, new}
    full = load(source)
    assert new[1:4] == (full.records_read, full.loaded, full.loaded)


_KILLED_UPDATE = """
import importlib, sys
loader = importlib.import_module("cxreports.load")
loader.BATCH_RECORDS, loader.GROUP_BYTES = 200, 400_000
from cxreports.store import update
update([sys.argv[1]], sys.argv[2])
"""


@pytest.mark.parametrize(
    "table, commits", [("interactions", 2), ("labels", 4)], ids=["between", "within"]
)
def test_a_store_killed_mid_update_equals_a_clean_build_after_a_rerun(
    sample_dir: Path, tmp_path: Path, table: str, commits: int
):
    # killed once the table has that many commits: between two snapshots, or (a child table)
    # most likely after a child's commit and before the interactions' that names it
    store = tmp_path / "store"
    child = subprocess.Popen([sys.executable, "-c", _KILLED_UPDATE, str(sample_dir), str(store)])
    log = store / table / "_delta_log" / f"{commits:020d}.json"
    deadline = time.monotonic() + 120
    while child.poll() is None and not log.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    assert child.wait() == -signal.SIGKILL  # it was still running: killed mid-update
    assert is_store(store) and 0 < snapshot(store).loaded < load(sample_dir).loaded
    update([sample_dir], store)
    full = load(sample_dir)
    quarantine = _assert_store_holds(store, full)
    assert quarantine.height == full.quarantined


def test_a_load_leaves_another_tools_delta_table_as_it_is(sample_dir: Path, tmp_path: Path, capsys):
    from cxreports.cli import main

    theirs = tmp_path / "out" / "labels"
    pl.DataFrame({"x": [1, 2, 3]}).write_delta(theirs)
    assert main(["load", str(sample_dir), "--out", str(tmp_path / "out")]) == 11
    assert "a Delta table that cxreports did not write" in capsys.readouterr().err
    assert pl.read_delta(str(theirs))["x"].to_list() == [1, 2, 3]
    assert not is_store(tmp_path / "out")
    # one named as the store's interactions: no store, not a damaged one to delete
    pl.DataFrame({"x": [1, 2, 3]}).write_delta(tmp_path / "other" / "interactions")
    for argv in (["load", str(sample_dir)], ["metrics", "summary"], ["store", "history"]):
        out = ["--out", str(tmp_path / "other")] if argv[0] == "load" else [str(tmp_path / "other")]
        assert main([*argv, *out]) == 2, argv
        assert "is not a cxreports store" in capsys.readouterr().err
    assert pl.read_delta(str(tmp_path / "other" / "interactions")).height == 3
    # the tables a first update left when it died before its snapshot are its own: emptied
    store = tmp_path / "store"
    update([sample_dir], store)
    shutil.rmtree(store / "interactions")
    update([sample_dir], store)
    _assert_store_holds(store, load(sample_dir))


def _assert_store_holds(store: Path, full, ignore: tuple[str, ...] = ()) -> pl.DataFrame:
    """Assert the store's counts and every table equal one load's; returns its quarantine."""
    figures, quarantine = summary(store)
    assert (figures["records_read"], figures["loaded"], figures["superseded"]) == (
        full.records_read,
        full.loaded,
        full.superseded,
    )
    for name in ("interactions", *S.CHILD_TABLES):
        expected = getattr(full, name)
        table = scan(store, name).collect().select(expected.columns)
        assert_frame_equal(
            _sorted(table.drop(ignore, strict=False)), _sorted(expected.drop(ignore, strict=False))
        )
    return quarantine


def test_a_snapshot_copied_at_another_version_opens_its_own_tables(
    sample_dir: Path, tmp_path: Path
):
    store = tmp_path / "store"
    pages = sorted(sample_dir.glob("*.json"))
    update(pages[:5], store)
    first = snapshot(store).version
    update(pages, store)
    newest = snapshot(store)
    assert newest.table("interactions").version() == newest.version > first  # opened, kept
    older = dataclasses.replace(newest, version=first)
    assert older.table("interactions").version() == first


def test_as_of_reads_a_past_snapshot_exactly(sample_dir: Path, tmp_path: Path, capsys):
    from cxreports.cli import main

    source, store = tmp_path / "pages", tmp_path / "store"
    shutil.copytree(sample_dir, source)
    update([source], store)
    before = snapshot(store)
    logs, metrics = prepare(store, "2026-W12", "Asia/Singapore")
    assert logs.extra["store_version"] == before.version
    assert main(["metrics", "queues", str(store), "--week", "2026-W12", "--format", "json"]) == 0
    printed = capsys.readouterr().out
    # a correction of the pages changes the week
    for page in sorted(source.glob("*.json")):
        page.write_bytes(page.read_bytes().replace(b'"Billing"', b'"Sales"'))
    update([source], store)
    assert snapshot(store).version > before.version
    _, now = prepare(store, "2026-W12", "Asia/Singapore")
    assert not now.queues.equals(metrics.queues)
    # as of the earlier version: the same figures and fingerprint as then
    for as_of in (before.version, str(before.version), before.timestamp.isoformat()):
        old_logs, old = prepare(store, "2026-W12", "Asia/Singapore", as_of=as_of)
        assert old_logs.fingerprint == logs.fingerprint != snapshot(store).fingerprint
        for name, frame in _metric_frames(metrics).items():
            assert_frame_equal(_metric_frames(old)[name], frame)
    argv = ["metrics", "queues", str(store), "--week", "2026-W12", "--format", "json"]
    assert main([*argv, "--as-of", str(before.version)]) == 0
    assert capsys.readouterr().out == printed
    assert main([*argv, "--as-of", "99"]) == 2
    assert "has versions 0 to" in capsys.readouterr().err
    assert main([*argv, "--as-of", "yesterday"]) == 2
    assert main([*argv, "--as-of", "²"]) == 2  # a digit, but no version number
    # a time before the first commit is no version, not version 0
    for before_all in ("2020-01-01", (before.timestamp - timedelta(seconds=1)).isoformat()):
        assert main([*argv, "--as-of", before_all]) == 2
        assert "has no version that old (its first, version 0" in capsys.readouterr().err
    # a time is read by the commits' times, which a copy of the store keeps (not its files')
    latest = snapshot(store)
    copy = tmp_path / "copy"
    shutil.copytree(store, copy, copy_function=shutil.copy)  # new modification times
    assert snapshot(copy, latest.timestamp.isoformat()).version == latest.version
    # the footer names the version read
    from cxreports.tables import footer

    assert f"Store version</th><td>{before.version} " in footer(old, old_logs.fingerprint, "x")
    # a report's filters are checked against the snapshot it reads: Billing is gone only now
    from cxreports.exceptions import ParameterError
    from cxreports.report import _scoped

    then = _scoped([str(store)], {"queues": ["billing"], "as_of": before.version})
    assert then["queues"] == ["Billing"]
    with pytest.raises(ParameterError, match="unknown queue 'billing'"):
        _scoped([str(store)], {"queues": ["billing"]})
    # and a report run is pinned to it, version 0 too (it once meant the newest)
    from cxreports.report import plan

    run = plan(["csat-sla"], [store], "2026-W12", "UTC", tmp_path / "o", as_of=before.version)
    assert before.version == 0 and run.parameters["as_of"] == 0


def _built_a_page_at_a_time(sample_dir: Path, tmp_path: Path, pages: int) -> Path:
    """A store of the sample's first ``pages`` pages, one version a page (``tmp_path/store``)."""
    source, store = tmp_path / "pages", tmp_path / "store"
    source.mkdir()
    for page in sorted(sample_dir.glob("*.json"))[:pages]:
        shutil.copy(page, source / page.name)
        update([source], store)
    return store


def test_a_load_into_a_store_that_holds_nothing_says_so(write_page, tmp_path: Path, capsys):
    from cxreports.cli import main

    page = write_page([{"id": "x1"}])  # no start: quarantined
    assert main(["load", str(page), "--out", str(tmp_path / "store")]) == 5
    assert "holds no interaction: 1 record(s) or file(s) quarantined" in capsys.readouterr().err


def test_a_store_that_lost_its_interactions_log_is_damaged_not_begun_again(
    sample_dir: Path, tmp_path: Path
):
    # it was taken for a first update that died: the other tables were emptied, the data lost
    store = _built_a_page_at_a_time(sample_dir, tmp_path, 2)
    holds = pl.read_delta(str(store / "holds")).height
    shutil.rmtree(store / "interactions" / "_delta_log")
    with pytest.raises(StoreDamagedError, match="its interactions table is missing"):
        update([sample_dir], store)
    assert pl.read_delta(str(store / "holds")).height == holds > 0


def test_as_of_a_version_whose_commit_the_log_has_dropped_says_so(
    sample_dir: Path, tmp_path: Path, capsys
):
    from cxreports.cli import main

    store = _built_a_page_at_a_time(sample_dir, tmp_path, 2)
    # what Delta's log clean-up does at a checkpoint once the first commit is 30 days old
    DeltaTable(str(store / "interactions")).create_checkpoint()
    (store / "interactions" / "_delta_log" / f"{0:020d}.json").unlink()
    argv = ["metrics", "summary", str(store), "--week", "2026-W12", "--format", "json"]
    assert main([*argv, "--as-of", "0"]) == 2
    err = capsys.readouterr().err
    assert "version 0 of the store" in err and "the oldest version still readable is 1" in err
    assert main([*argv, "--as-of", "1"]) == 0
    assert main(["store", "history", str(store)]) == 0


def test_a_store_is_read_alone_and_never_as_pages(sample_dir: Path, tmp_path: Path, capsys):
    from cxreports.cli import main

    folder = tmp_path / "data"
    source, store = folder / "pages", folder / "store"
    shutil.copytree(sample_dir, source)
    update([source], store)
    week = ["--week", "2026-W12", "--format", "json"]
    assert main(["metrics", "summary", str(store), *week]) == 0
    alone = json.loads(capsys.readouterr().out)
    # beside other sources its log would be read as malformed pages and its rows left out
    for argv, said in (
        (["metrics", "summary", str(store), str(source), *week], "is a cxreports store, not pages"),
        (["metrics", "summary", str(store), str(store), *week, "--as-of", "0"], "one store as"),
        (["load", str(store), "--out", str(tmp_path / "other")], "is a cxreports store, not pages"),
    ):
        assert main(argv) == 2, argv
        assert said in capsys.readouterr().err
    # a folder holding the pages and their store is read as the pages: the log is no page,
    # nor is it when a pattern reaches into the store
    for given in (str(folder), f"{folder}/**/*.json"):
        assert main(["metrics", "summary", given, *week]) == 0
        assert json.loads(capsys.readouterr().out) == alone
    for given in (folder, f"{folder}/**/*.json"):
        logs = load(given)
        assert logs.quarantine.height == 0
        assert len(logs.files) == len(list(source.glob("*.json")))


def test_store_history_compact_and_vacuum_on_the_command_line(
    sample_dir: Path, tmp_path: Path, capsys
):
    from cxreports.cli import main

    store = _built_a_page_at_a_time(sample_dir, tmp_path, 3)
    capsys.readouterr()
    assert main(["store", "history", str(store)]) == 0
    out = capsys.readouterr().out
    assert out.count("WRITE") + out.count("CREATE") >= 3
    rows = scan(store, "interactions").collect()
    assert main(["store", "compact", str(store)]) == 0
    assert main(["store", "vacuum", str(store), "--retention-hours", "0"]) == 0
    assert "deleted" in capsys.readouterr().out
    assert_frame_equal(_sorted(scan(store, "interactions").collect()), _sorted(rows))
    assert summary(store)[0]["loaded"] == load(tmp_path / "pages").loaded


NOT_STORES = {
    "missing": lambda path: path,
    "empty folder": lambda path: path.mkdir(),
    "file": lambda path: path.write_text("not a store"),
    "unrelated Delta table": lambda path: write_deltalake(
        str(path), pl.DataFrame({"a": [1]}).to_arrow()
    ),
}


@pytest.mark.parametrize("kind", NOT_STORES, ids=list(NOT_STORES))
@pytest.mark.parametrize("action", ["history", "compact", "vacuum"])
def test_store_maintenance_refuses_a_path_that_is_not_a_store_and_creates_nothing(
    tmp_path: Path, kind: str, action: str, capsys: pytest.CaptureFixture
):
    from cxreports.cli import main

    path = tmp_path / "target"
    NOT_STORES[kind](path)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    assert main(["store", action, str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{path} is not a cxreports store" in err[0], err
    assert "damaged" not in err[0]
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before  # no lock file, no folder


@pytest.mark.parametrize(
    "hours", ["-1", "876601", "2562047788016", "99999999999999999999"], ids=str
)
def test_vacuum_refuses_a_retention_beyond_a_hundred_years_in_one_line(
    sample_dir: Path, tmp_path: Path, hours: str, capsys: pytest.CaptureFixture
):
    from cxreports.cli import main

    store = tmp_path / "store"
    update(sorted(sample_dir.glob("*.json"))[:2], store)
    before = _tree(store)
    capsys.readouterr()
    assert main(["store", "vacuum", str(store), "--retention-hours", hours]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--retention-hours" in err[0] and hours in err[0], err
    assert _tree(store) == before
    assert main(["store", "vacuum", str(store), "--retention-hours", "876600"]) == 0


def _maintained_store(sample_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A store of three loads, the last one a correction of every page, and its pages: each
    table has files that only earlier versions list."""
    source, store = tmp_path / "pages", tmp_path / "store"
    source.mkdir()
    for page in sorted(sample_dir.glob("*.json"))[:3]:
        shutil.copy(page, source / page.name)
    update([source], store)
    (source / "more.json").write_bytes(sorted(sample_dir.glob("*.json"))[3].read_bytes())
    update([source], store)
    for page in sorted(source.glob("*.json")):
        page.write_bytes(page.read_bytes().replace(b'"Billing"', b'"Sales"'))
    update([source], store)
    return source, store


def _deleted(out: str) -> int:
    match = re.search(r"deleted (\d+) file\(s\)", out)
    assert match, out
    return int(match[1])


def _data_files(store: Path) -> set[Path]:
    return {p for p in store.rglob("*") if p.is_file() and "_delta_log" not in p.parts}


def test_vacuum_deletes_files_no_version_names_and_counts_what_it_deleted(
    sample_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
):
    from cxreports.cli import main

    source, store = _maintained_store(sample_dir, tmp_path)
    # left by a load killed with kill -9, or put there by hand; and the store's own files
    live = _last_file(store)
    planted = [
        live.parent / "part-planted.parquet",
        _last_file(store, "labels").parent / f"part-{'0' * 32}.parquet",
    ]
    for path in planted:
        shutil.copy(live, path)
    own = [store / store_module.LOCK, store / "notes.txt"]
    for path in own:
        path.write_text("kept")
    rows = _sorted(scan(store, "interactions").collect())
    before = _data_files(store)
    capsys.readouterr()
    assert main(["store", "vacuum", str(store), "--retention-hours", "0"]) == 0
    gone = before - _data_files(store)
    assert set(planted) <= gone
    assert _deleted(capsys.readouterr().out) == len(gone) > len(planted)
    assert all(path.read_text() == "kept" for path in own)
    for name, files in _live(store).items():
        assert all((store / name / f).is_file() for f in files), name
    assert_frame_equal(_sorted(scan(store, "interactions").collect()), rows)
    assert summary(store)[0]["loaded"] == load(source).loaded
    # once more: nothing is left to delete, so nothing is said to be, nor committed
    logs = {p for p in store.rglob("_delta_log/*.json")}
    assert main(["store", "vacuum", str(store), "--retention-hours", "0"]) == 0
    assert _deleted(capsys.readouterr().out) == 0
    assert {p for p in store.rglob("_delta_log/*.json")} == logs
    # vacuums that each delete something, one after the other: the store stays readable
    for n in range(10):
        shutil.copy(live, live.parent / f"part-planted-{n}.parquet")
        assert main(["store", "vacuum", str(store), "--retention-hours", "0"]) == 0
        assert _deleted(capsys.readouterr().out) == 1
    assert summary(store)[0]["loaded"] == load(source).loaded
    assert update([source], store).parsed == ()  # and a load goes on from it


def test_a_store_vacuumed_many_times_by_an_earlier_cxreports_reads(
    sample_dir: Path, tmp_path: Path
):
    # its vacuums named no snapshot: two commits each, and nothing between them
    store = tmp_path / "store"
    update([sample_dir], store)
    loaded = summary(store)[0]["loaded"]
    live = _last_file(store)
    for n in range(10):
        shutil.copy(live, live.parent / f"part-planted-{n}.parquet")
        DeltaTable(str(store / "interactions")).vacuum(
            0, dry_run=False, enforce_retention_duration=False, full=True
        )
    assert DeltaTable(str(store / "interactions")).version() == 20
    assert summary(store)[0]["loaded"] == loaded
    store_module.vacuum(store, 0)
    assert summary(store)[0]["loaded"] == loaded


def test_vacuum_keeps_every_file_a_version_of_the_retention_reads(
    sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # the removals of the last load are stamped two hours back (a long batch: files are
    # dropped when it is read, committed when it is written), its commit now
    source, store = tmp_path / "pages", tmp_path / "store"
    shutil.copytree(sample_dir, source)
    update([source], store)
    first = _figures(store)
    for page in sorted(source.glob("*.json")):
        page.write_bytes(page.read_bytes().replace(b'"Billing"', b'"Sales"'))
    now = store_module._now_ms
    monkeypatch.setattr(store_module, "_now_ms", lambda: now() - 2 * 3600 * 1000)
    update([source], store)
    monkeypatch.setattr(store_module, "_now_ms", now)
    store_module.vacuum(store, 1)
    # every version was committed in the last hour: each one reads as it did
    assert store_module.verify(store, first[0]).version == first[0]
    snap = snapshot(store, first[0])
    rows = store_module._scan(snap, "interactions").select(pl.len()).collect().item()
    assert rows == first[2]
    assert store_module.vacuum(store, 0)  # with no retention, only the newest is kept
    with pytest.raises(ParameterError, match="removed by `cxreports store vacuum`"):
        store_module.verify(store, first[0])


def test_vacuum_passes_over_versions_whose_log_delta_deleted(sample_dir: Path, tmp_path: Path):
    # Delta deletes a table's commits older than its log retention at a checkpoint: the
    # snapshots of a long retention name versions of the labels that cannot be loaded any more
    source, store = _maintained_store(sample_dir, tmp_path)
    labels = DeltaTable(str(store / "labels"))
    labels.create_checkpoint()
    for commit in (store / "labels" / "_delta_log").glob("*.json"):
        if int(commit.stem) < labels.version():
            commit.unlink()
    store_module.vacuum(store, store_module.MAX_RETENTION_HOURS)
    assert summary(store)[0]["loaded"] == load(source).loaded


def test_as_of_a_version_vacuum_removed_is_a_parameter_error_not_damage(
    sample_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
):
    from cxreports.cli import main

    _, store = _maintained_store(sample_dir, tmp_path)
    newest = snapshot(store).version
    argv = ["metrics", "queues", str(store), "--week", "2026-W12", "--format", "json"]
    # a file an earlier version lists, gone although no vacuum ran: the store is damaged
    dropped = sorted(set(_files(store, "interactions", 0)) - set(_files(store, "interactions")))
    hidden = tmp_path / "hidden.parquet"
    shutil.move(store / "interactions" / dropped[0], hidden)
    capsys.readouterr()
    assert main([*argv, "--as-of", "0"]) == 12
    assert "is damaged" in capsys.readouterr().err
    shutil.move(hidden, store / "interactions" / dropped[0])
    assert main(["store", "vacuum", str(store), "--retention-hours", "0"]) == 0
    capsys.readouterr()
    for as_of in ("0", "1"):
        assert main([*argv, "--as-of", as_of]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1, err
        assert (
            f"version {as_of} of the store {store} was removed by `cxreports store vacuum`"
            in (err[0])
        )
        assert f"the oldest version still readable is {newest}" in err[0]
        assert "damaged" not in err[0]
    out = tmp_path / "o"
    report = ["report", "csat-sla", str(store), "--week", "2026-W12", "--out", str(out)]
    assert main([*report, "--as-of", "0"]) == 2
    assert "removed by `cxreports store vacuum`" in capsys.readouterr().err
    assert not out.exists()
    assert main([*argv, "--as-of", str(newest)]) == 0
    # a file of the newest version gone: damaged, as ever
    _remove(_last_file(store))
    capsys.readouterr()
    assert main([*argv, "--as-of", str(newest)]) == 12
    assert "is damaged" in capsys.readouterr().err


# --- object storage: an S3-compatible server (moto's server mode) on 127.0.0.1


@pytest.fixture
def s3_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``s3://cxreports/tenant-a/store`` on a moto server in its own process (a server in this
    process would wait on the GIL while deltalake's client waits on it)."""
    pytest.importorskip("moto")
    boto3 = pytest.importorskip("boto3")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ALLOW_HTTP": "true",
    }.items():
        monkeypatch.setenv(name, value)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                boto3.client("s3").create_bucket(Bucket="cxreports")
                break
            except Exception:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        yield "s3://cxreports/tenant-a/store"
    finally:
        server.kill()
        server.wait()


@pytest.mark.slow
def test_a_store_on_s3_is_built_updated_read_and_guarded(
    s3_store: str, sample_dir: Path, tmp_path: Path, seed_record
):
    from cxreports.cli import main

    source = tmp_path / "pages"
    source.mkdir()
    pages = sorted(sample_dir.glob("*.json"))
    for page in pages[:10]:
        shutil.copy(page, source / page.name)
    assert main(["load", str(source), "--out", s3_store]) == 0
    assert is_store(s3_store) and not is_store("s3://cxreports/tenant-b/store")
    first = snapshot(s3_store)
    for page in pages[10:]:
        shutil.copy(page, source / page.name)
    newer = {**seed_record, "updatedAt": "2026-03-31T00:00:00Z"}
    _page(source, "zz.json", [seed_record])
    update([source], s3_store)
    _page(source, "zz.json", [newer])
    assert update([source], s3_store).superseded == 1
    full = load(source)
    figures, _ = summary(s3_store)
    # zz.json was read twice: its first version is counted, and superseded
    assert (figures["records_read"], figures["loaded"]) == (full.records_read + 1, full.loaded)
    _, from_s3 = prepare(s3_store, "2026-W12", "Asia/Singapore")
    assert from_s3.handled == weekly(full, "2026-W12", "Asia/Singapore").handled > 0
    assert summary(s3_store, as_of=first.version)[0]["records_read"] < full.records_read
    # a second writer is refused while the lease is held, and gets it once it is free
    with store_module._writer_lock(s3_store), pytest.raises(StoreBusyError):
        update([source], s3_store)
    assert update([source], s3_store).parsed == ()
    # a vacuum deletes what no version names, and counts only what was there
    planted = "interactions/partition_key=2026_03/part-planted.parquet"
    import boto3

    boto3.client("s3").put_object(Bucket="cxreports", Key=f"tenant-a/store/{planted}", Body=b"x")
    deleted = store_module.vacuum(s3_store, 0)
    assert planted in deleted and len(deleted) > 1
    assert store_module.vacuum(s3_store, 0) == []
    assert summary(s3_store)[0]["loaded"] == full.loaded
    assert update([source], s3_store).parsed == ()  # the lease beside the tables still works


def _visible_text(html: str) -> str:
    """What a reader sees of a rendered report, without the time it was generated."""
    text = re.sub(r"<style.*?</style>|<script.*?</script>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"Generated\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC", "Generated", text)
    return " ".join(text.split())


@pytest.mark.slow
def test_a_report_rendered_as_of_a_version_is_the_report_of_then(sample_dir: Path, tmp_path: Path):
    from cxreports.report import render_reports

    source, store = tmp_path / "pages", tmp_path / "store"
    shutil.copytree(sample_dir, source)
    update([source], store)
    then = snapshot(store)
    args = (["csat-sla"], [str(store)], "2026-W12", "UTC")
    first = render_reports(*args, tmp_path / "then", formats=["html"])["csat-sla"]["html"]
    for page in sorted(source.glob("*.json")):
        page.write_bytes(page.read_bytes().replace(b'"Billing"', b'"Sales"'))
    update([source], store)
    again = render_reports(*args, tmp_path / "again", formats=["html"], as_of=str(then.version))
    now = render_reports(*args, tmp_path / "now", formats=["html"])
    then_text = _visible_text(first.read_text())
    assert f"Store version {then.version} " in then_text and then.fingerprint in then_text
    assert _visible_text(again["csat-sla"]["html"].read_text()) == then_text
    assert _visible_text(now["csat-sla"]["html"].read_text()) != then_text


def test_a_page_is_known_by_where_it_really_is_however_it_is_named(
    seed_record, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    real = tmp_path / "pages"
    real.mkdir()
    (real / "p1.json").write_text(json.dumps({"cxLogs": {"data": [seed_record]}}))
    (tmp_path / "via-link").symlink_to(real)
    (tmp_path / "page-link.json").symlink_to(real / "p1.json")
    store = tmp_path / "store"
    assert len(update([real], store).parsed) == 1
    monkeypatch.chdir(real)
    # a relative name, a folder reached by a link and a link to the page: the same page
    assert update(["p1.json"], store).parsed == ()
    assert update([tmp_path / "via-link" / "p1.json"], store).parsed == ()
    assert update([tmp_path / "page-link.json"], store).parsed == ()
    assert summary(store)[0]["records_read"] == 1
