"""The Parquet store: incremental updates that agree with a plain load, and windowed reads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cxreports import ParameterError, load, weekly
from cxreports.period import Week
from cxreports.report import prepare
from cxreports.store import load_window, scan, update


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
