"""The Parquet store: incremental updates that agree with a plain load, and windowed reads."""

from __future__ import annotations

import fcntl
import importlib
import json
import os
import shutil
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cxreports import (
    InvalidRecordError,
    ParameterError,
    StoreBusyError,
    StoreDamagedError,
    load,
    weekly,
)
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


# --- hardening: data never chooses a path; a damaged store says so; strict is all or nothing


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
    assert from_store.quality["load"] == from_pages.quality["load"]


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


def _break_manifest(store: Path, text: str) -> Path:
    (store / store_module.MANIFEST).write_text(text)
    return store / store_module.MANIFEST


def _manifest_lists(store: Path, part: str) -> Path:
    manifest = json.loads((store / store_module.MANIFEST).read_text())
    manifest["parts"].append(part)
    return _break_manifest(store, json.dumps(manifest))


def _first_part(store: Path, table: str = "interactions") -> Path:
    return store / next(p for p in _parts(store) if p.startswith(f"{table}/"))


def _truncate(path: Path) -> Path:
    path.write_bytes(path.read_bytes()[:200])
    return path


def _remove(path: Path) -> Path:
    path.unlink()
    return path


def _remove_folder(part: Path) -> Path:
    shutil.rmtree(part.parent.parent)  # holds/ and every month in it
    return part.parent.parent


DAMAGE = {
    "empty manifest": lambda store: _break_manifest(store, ""),
    "garbage manifest": lambda store: _break_manifest(store, "{not json"),
    "manifest not an object": lambda store: _break_manifest(store, "[1, 2]"),
    "manifest without parts' counts": lambda store: _break_manifest(
        store, '{"sources": {}, "parts": [], "csat_score_field": "x", "counts": {}}'
    ),
    "manifest pointing outside": lambda store: _manifest_lists(
        store, "../../outside/partition_key=2026_03/part-000001.parquet"
    ),
    "missing part": lambda store: _remove(_first_part(store)),
    "corrupt part": lambda store: _truncate(_first_part(store)),
    "corrupt child part": lambda store: _truncate(_first_part(store, "labels")),
    "missing table folder": lambda store: _remove_folder(_first_part(store, "holds")),
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
    ):
        (tmp_path / "new.json").write_text('{"cxLogs": {"data": []}}')
        with pytest.raises(StoreDamagedError, match="is damaged") as raised:
            attempt()
        assert f"{store}/{expected}" in str(raised.value) and "rebuild" in str(raised.value)
    from cxreports.cli import main

    out = tmp_path / "o"
    assert main(["report", "csat-sla", str(store), "--week", "2026-W13", "--out", str(out)]) == 12
    assert main(["load", str(sample_dir), "--out", str(store)]) == 12
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("is damaged" in line for line in err)
    assert not out.exists()  # refused before any kernel started


def test_a_store_from_an_earlier_cxreports_is_read_right_and_not_extended(
    sample_dir: Path, tmp_path: Path, seed_record
):
    # format 1 took the month folder from the record: move one part to a wrong month
    store = tmp_path / "store"
    update([sample_dir], store)
    manifest = json.loads((store / store_module.MANIFEST).read_text())
    del manifest["format"]
    part = next(p for p in manifest["parts"] if "2026_03" in p and p.startswith("inter"))
    moved = f"interactions/{PARTITION}=2026_01/part-900000.parquet"
    (store / moved).parent.mkdir(parents=True, exist_ok=True)
    shutil.move(store / part, store / moved)
    manifest["parts"][manifest["parts"].index(part)] = moved
    (store / store_module.MANIFEST).write_text(json.dumps(manifest))
    # a read does not trust the folders: the week still has all its interactions
    _, from_store = prepare(store, "2026-W13", "Asia/Singapore")
    assert from_store.handled == weekly(load(sample_dir), "2026-W13", "Asia/Singapore").handled
    # an update refuses to extend it, and says how to rebuild
    _page(tmp_path / "more", "p.json", [seed_record])
    with pytest.raises(StoreDamagedError, match="another month's folder"):
        update([tmp_path / "more"], store)
