"""The Parquet store: incremental updates that agree with a plain load, and windowed reads."""

from __future__ import annotations

import fcntl
import importlib
import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cxreports import ParameterError, StoreBusyError, load, weekly
from cxreports import schema as S
from cxreports import store as store_module
from cxreports.period import Week
from cxreports.report import prepare
from cxreports.store import PARTITION, is_store, load_window, scan, summary, update

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
    # the part that held the older version was replaced by a copy without it, and removed
    manifest = json.loads((store / "_cxreports_store.json").read_text())
    assert sorted(manifest["parts"]) == _parts(store)
    assert "interactions/partition_key=2026_03/part-000001.parquet" not in manifest["parts"]


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
    manifest = json.loads((store / "_cxreports_store.json").read_text())
    assert manifest["counts"] == {"records_read": 2, "superseded": 1}


def test_weekly_metrics_from_the_store_match_a_plain_load(sample_dir: Path, tmp_path: Path):
    store = tmp_path / "store"
    update([sample_dir], store)
    _, from_store = prepare(store, "2026-W12", "Asia/Singapore")
    from_pages = weekly(load(sample_dir), "2026-W12", "Asia/Singapore")
    for table in ("summary", "agents", "queues", "daily", "trend", "kpis", "heatmap"):
        assert_frame_equal(getattr(from_store, table), getattr(from_pages, table))
    # the data-quality panel accounts for the whole store, not just the window read
    assert from_store.quality["load"] == from_pages.quality["load"]


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


def test_the_store_is_a_plain_hive_dataset(sample_dir: Path, tmp_path: Path):
    store = tmp_path / "store"
    update([sample_dir], store)
    plain = pl.scan_parquet(store / "interactions" / "**" / "*.parquet", hive_partitioning=True)
    assert plain.select(pl.len()).collect().item() == load(sample_dir).loaded
    assert "partition_key" in plain.collect_schema()


def _parts(store: Path) -> list[str]:
    return sorted(str(p.relative_to(store)) for p in store.glob("*/partition_key=*/*.parquet"))


def _page(folder: Path, name: str, records: list[dict]) -> None:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(json.dumps({"cxLogs": {"data": records}}))


def test_an_older_version_arriving_later_is_dropped_and_nothing_is_rewritten(
    seed_record, tmp_path: Path
):
    source, store = tmp_path / "pages", tmp_path / "store"
    _page(source, "p1.json", [seed_record])
    update([source], store)
    first = {p: (store / p).stat().st_mtime_ns for p in _parts(store)}
    older = {**seed_record, "disposition": "In Progress", "updatedAt": "2026-03-29T00:00:00Z"}
    _page(source, "p2.json", [older])
    result = update([source], store)
    assert result.superseded == 1 and result.months == ()  # nothing to write
    assert scan(store, "interactions").collect()["disposition"].to_list() == ["Resolved"]
    assert {p: (store / p).stat().st_mtime_ns for p in _parts(store)} == first


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


def test_many_small_updates_compact_a_month_into_one_part(
    sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(store_module, "MAX_PARTS", 2)
    source, store = tmp_path / "pages", tmp_path / "store"
    source.mkdir()
    for page in sorted(sample_dir.glob("*.json"))[:4]:
        shutil.copy(page, source / page.name)
        update([source], store)
    months = {p.split("/")[1] for p in _parts(store) if p.startswith("interactions/")}
    per_month = [len(list((store / "interactions" / m).glob("*.parquet"))) for m in months]
    assert max(per_month) <= 2
    manifest = json.loads((store / "_cxreports_store.json").read_text())
    assert sorted(manifest["parts"]) == _parts(store)  # nothing left behind, nothing missing
    full = load(source)
    stored = scan(store, "interactions").collect().select(full.interactions.columns)
    assert_frame_equal(_sorted(stored), _sorted(full.interactions))
    labels = scan(store, "labels").collect().select(full.labels.columns)
    assert_frame_equal(_sorted(labels), _sorted(full.labels))


def test_parts_an_interrupted_update_left_are_removed(seed_record, tmp_path: Path):
    source, store = tmp_path / "pages", tmp_path / "store"
    _page(source, "p1.json", [seed_record])
    update([source], store)
    (part,) = [p for p in _parts(store) if p.startswith("interactions/")]
    stray = (store / part).with_name("part-999999.parquet")
    shutil.copy(store / part, stray)  # written, but the manifest was never saved
    _page(source, "p2.json", [{**seed_record, "id": "another"}])
    update([source], store)
    assert not stray.exists()
    assert sorted(scan(store, "interactions").collect()["id"].to_list()) == [
        "another",
        seed_record["id"],
    ]


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
    assert not any("2026_03" in p for p in _parts(store))
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


def test_the_quarantine_is_a_new_file_that_the_manifest_names(seed_record, tmp_path: Path):
    # like the parts: a reader sees the quarantine that goes with the manifest's counts
    source, store = tmp_path / "pages", tmp_path / "store"
    _page(source, "p1.json", [seed_record, {"id": "x", "startedDate": "yesterday"}])
    update([source], store)
    manifest = json.loads((store / "_cxreports_store.json").read_text())
    first = manifest["quarantine"]
    assert [p.relative_to(store).as_posix() for p in (store / "quarantine").iterdir()] == [first]
    assert summary(store)[1]["record_id"].to_list() == ["x"]

    _page(source, "p1.json", [seed_record])  # corrected: its rejection goes
    update([source], store)
    manifest = json.loads((store / "_cxreports_store.json").read_text())
    assert manifest["quarantine"] != first and not (store / first).exists()
    assert summary(store)[1].is_empty()

    # a store written before the manifest named its quarantine keeps quarantine/data.parquet
    _page(source, "p2.json", [{"id": "y", "startedDate": "yesterday"}])
    update([source], store)
    manifest = json.loads((store / "_cxreports_store.json").read_text())
    (store / manifest.pop("quarantine")).rename(store / "quarantine" / "data.parquet")
    (store / "_cxreports_store.json").write_text(json.dumps(manifest))
    assert summary(store)[1]["record_id"].to_list() == ["y"]
