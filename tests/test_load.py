from __future__ import annotations

import copy
import gzip
import importlib
import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from cxreports import InvalidRecordError, SourceNotFoundError, load
from cxreports import schema as S
from cxreports.load import parse_timestamp, parse_timestamp_columns

from .conftest import SEED_PAGE


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_seed_page_loads_exactly_the_values_it_holds():
    logs = load(SEED_PAGE)
    assert (logs.records_read, logs.loaded, logs.superseded, logs.quarantined) == (1, 1, 0, 0)
    row = logs.interactions.row(0, named=True)
    expected = {
        "id": "uuid-string",
        "case_id": 12540,
        "agent_id": "uuid-string",
        "agent_name": "Sarah Jenkins",
        "queue_name": "Tier 2 Technical Support",
        "channel": "messenger",
        "channel_name": "Klink Asia Facebook",
        "direction": "inbound",
        "started_at": utc(2026, 3, 30, 8, 30),
        "closed_at": utc(2026, 3, 30, 9, 15, 20),
        "created_at": utc(2026, 3, 30, 8, 30, 5, 123000),
        "updated_at": utc(2026, 3, 30, 9, 15, 25),
        "deleted_at": None,
        "handled_time_s": 2720.0,
        "full_handled_time_s": 2765.0,
        "hold_time_s": 45.0,
        "hold_count": 1,
        "wrap_up_time_s": 180.0,
        "first_response_time_s": 120.0,
        "resolution_time_s": 2905.0,
        "full_resolution_time_s": 2965.0,
        "disposition": "Resolved",
        "sla_status": "meet",
        "csat_status": "sent",
        "csat_score": None,
        "is_bot": False,
        "is_ai_agent": False,
        "partition_key": "2026_03",
        "source_position": 0,
    }
    assert {k: row[k] for k in expected} == expected
    assert logs.holds.rows() == [
        ("uuid-string", "uuid-string", utc(2026, 3, 30, 8, 45), utc(2026, 3, 30, 8, 45, 45),
         45.0, "uuid-string"),
    ]  # fmt: skip
    assert logs.labels["label"].to_list() == ["Premium Support", "Technical-V2"]
    assert logs.wrap_up_categories.select("value", "parent_id", "level").rows() == [
        ("Technical Support", None, 1),
        ("Account Issues", "uuid-string", 2),
    ]
    assert logs.wrap_up_tags["name"].to_list() == ["First-Contact Resolution"]
    assert logs.custom_fields.select("system_name", "display_name", "type", "value").rows() == [
        ("software_version", "Software Version", "text", "v2.5.1"),
        ("urgency", "Urgency Level", "select", "High"),
    ]


def test_every_table_has_its_declared_schema(sample_dir: Path):
    logs = load(sample_dir)
    for name, frame in logs.tables().items():
        assert frame.schema == S.TABLES[name], name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-30 08:30:00.000+00", utc(2026, 3, 30, 8, 30)),
        ("2026-03-30 09:15:20+00", utc(2026, 3, 30, 9, 15, 20)),
        ("2026-03-30T08:30:05.123Z", utc(2026, 3, 30, 8, 30, 5, 123000)),
        ("2026-03-30T08:30:05Z", utc(2026, 3, 30, 8, 30, 5)),
        ("2026-03-30T16:30:05+08:00", utc(2026, 3, 30, 8, 30, 5)),
        ("2026-03-30 16:30:05.5+0800", utc(2026, 3, 30, 8, 30, 5, 500000)),
        ("2026-03-30 03:00:00-05", utc(2026, 3, 30, 8, 0)),
        ("2026-03-30 08:30:00", utc(2026, 3, 30, 8, 30)),
        ("2026-03-30", None),
        ("30/03/2026 08:30", None),
        ("", None),
    ],
)
def test_parse_timestamp_formats(text: str, expected: datetime | None):
    out = pl.select(parse_timestamp(pl.lit(text, dtype=pl.String))).item()
    assert out == expected


TIMESTAMP_CASES = [
    "2026-03-30 08:30:00.000+00",
    "2026-03-30T08:30:05.123Z",
    "2026-03-30T08:30:05Z",
    "2026-03-30T16:30:05+08:00",
    "2026-03-30 16:30:05.5+0800",
    "2026-03-30 03:00:00-05",
    "2026-03-30 08:30:00",
    " 2026-03-30t08:30:05z ",
    "2026-03-30T08:30:05.123456Z",
    "2026-03-30 09:15:20+00",
    # near misses of the fixed-width forms: the fast pass must reject them or agree
    "2026-03-30T08:30:05.12Z",
    "2026-03-30T08:30:05.1234Z",
    "2026-03-30T08:30:05.12aZ",
    "2026-03-30X08:30:05.123Z",
    "2026-02-30T08:30:05.123Z",
    "2026-03-30T24:30:05.123Z",
    "2026-03-30T08:30:60.123Z",
    "2026-03-30 08:30:00.500-00",
    "2026-03-30 08:30:00.500+01",
    "2026-03-30 08:30:00.1+00",
    "2026-03-30 08:30:00+0",
    "2026-03-30 08:30:00+000",
    "2026-3-30 08:30:00+00",
    "2026-03-30",
    "30/03/2026 08:30",
    "",
    None,
]


@pytest.mark.parametrize("first", [c for c in TIMESTAMP_CASES if c])
def test_a_column_parses_as_each_value_would(first: str):
    # whichever form leads the column picks the one-pass format; the rest must still agree
    column = pl.Series("t", [first, *TIMESTAMP_CASES], dtype=pl.String)
    expected = pl.select(parse_timestamp(pl.lit(column))).to_series()
    (out,) = parse_timestamp_columns(column.to_frame(), ["t"])
    assert out.dtype == pl.Datetime("us", "UTC") and out.name == "t"
    assert out.to_list() == expected.to_list()


@pytest.mark.parametrize("values", [[], [None, None]])
def test_an_empty_or_null_column_parses_to_nulls(values: list[None]):
    (out,) = parse_timestamp_columns(pl.Series("t", values, dtype=pl.String).to_frame(), ["t"])
    assert out.dtype == pl.Datetime("us", "UTC") and out.null_count() == len(values)


def test_duplicates_across_pages_latest_updated_at_wins(seed_record, write_page):
    newer = {**seed_record, "disposition": "Resolved", "updatedAt": "2026-03-30T10:00:00.000Z"}
    older = {**seed_record, "disposition": "In Progress", "updatedAt": "2026-03-30T09:00:00Z"}
    # the older version sits on the later page: position must not decide, updatedAt does
    first = write_page([newer], "p1.json")
    write_page([older], "p2.json")
    logs = load(first.parent)
    assert (logs.records_read, logs.loaded, logs.superseded) == (2, 1, 1)
    assert logs.interactions["disposition"].to_list() == ["Resolved"]
    assert logs.interactions["source_file"].item().endswith("p1.json")
    # child rows come from the winning version only
    assert logs.labels.height == 2


def test_soft_deleted_rows_stay_flagged(seed_record, write_page):
    seed_record["deletedAt"] = "2026-03-31T00:00:00.000Z"
    logs = load(write_page([seed_record]))
    assert logs.interactions["deleted_at"].to_list() == [utc(2026, 3, 31)]


def _set(record: dict, path: str, value) -> dict:
    *parents, leaf = path.split(".")
    node = record
    for p in parents:
        node = node[p]
    if value is _DROP:
        del node[leaf]
    else:
        node[leaf] = value
    return record


_DROP = object()


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        ("id", _DROP, "missing id"),
        ("id", None, "missing id"),
        ("startedDate", _DROP, "missing startedDate"),
        ("startedDate", "yesterday", "unparseable timestamp in startedDate: 'yesterday'"),
        ("closedAt", "2026-13-45 99:00:00+00", "unparseable timestamp in closedAt"),
        ("handledTime", "2720", 'wrong type in handledTime: expected a number, got "2720"'),
        ("handledTime", -5, "negative handledTime: -5"),
        ("room.is_bot_room", "no", "wrong type in room.is_bot_room: expected true or false"),
        ("agent", "Sarah", 'wrong type in agent: expected an object, got "Sarah"'),
        ("holdLogs", {"id": 1}, "wrong type in holdLogs: expected a list"),
        ("holdLogs.0.duration", "long", "wrong type in holdLogs[0].duration: expected a number"),
        ("holdLogs.0.started_at", "soon", "unparseable timestamp in holdLogs.started_at"),
        ("room.csat_score", 9, "CSAT score 9.0 is not a whole number from 1 to 5"),
    ],
)
def test_bad_records_are_quarantined_with_reason(seed_record, write_page, path, value, reason):
    good = {**copy.deepcopy(seed_record), "id": "good-one"}
    bad = seed_record
    if path.startswith("holdLogs.0."):
        _set(bad["holdLogs"][0], path.removeprefix("holdLogs.0."), value)
    else:
        _set(bad, path, value)
    page = write_page([good, bad])
    logs = load(page)
    assert (logs.records_read, logs.loaded, logs.quarantined) == (2, 1, 1)
    assert logs.interactions["id"].to_list() == ["good-one"]
    q = logs.quarantine.row(0, named=True)
    assert q["source_file"] == str(page)
    assert q["position"] == 1
    assert q["reason"].startswith("record data[1]: ")
    assert reason in q["reason"]
    with pytest.raises(InvalidRecordError, match=r"page\.json( \(id [^)]*\))?: record data\[1\]"):
        load(page, strict=True)


def test_a_record_that_is_not_an_object_is_quarantined(seed_record, write_page):
    logs = load(write_page([seed_record, 42, "x", None]))
    assert logs.loaded == 1
    assert logs.quarantine["reason"].to_list() == [
        "record data[1]: record is a JSON int, not an object",
        "record data[2]: record is a JSON str, not an object",
        "record data[3]: record is a JSON NoneType, not an object",
    ]
    assert logs.records_read == 4


def test_strict_names_the_first_bad_record_once(seed_record, write_page):
    bad = {**copy.deepcopy(seed_record), "handledTime": "x"}
    page = write_page([seed_record, bad])
    with pytest.raises(InvalidRecordError) as info:
        load(page, strict=True)
    message = str(info.value)
    assert message.startswith(f"{page} (id uuid-string): record data[1]: wrong type in handledTime")
    assert message.count("data[1]") == 1


def test_malformed_and_truncated_files_are_quarantined_whole(tmp_path, seed_record, write_page):
    write_page([seed_record], "good.json")
    text = (tmp_path / "good.json").read_text()
    (tmp_path / "truncated.json").write_text(text[: len(text) // 2])
    (tmp_path / "other.json").write_text('{"hello": "world"}')
    logs = load(tmp_path)
    assert logs.loaded == 1
    reasons = dict(zip(logs.quarantine["source_file"], logs.quarantine["reason"], strict=True))
    assert reasons[str(tmp_path / "truncated.json")].startswith("malformed JSON")
    assert "not a CX-log API page" in reasons[str(tmp_path / "other.json")]
    assert logs.records_read == logs.loaded + logs.superseded + logs.quarantined == 3


def test_ndjson_and_gzip_sources(tmp_path, seed_record, write_page):
    a = {**seed_record, "id": "a"}
    b = {**seed_record, "id": "b", "handledTime": "oops"}
    write_page([a, b], "records.jsonl")
    gz = tmp_path / "page.json.gz"
    gz.write_bytes(gzip.compress(json.dumps({"cxLogs": {"data": [{**a, "id": "c"}]}}).encode()))
    (tmp_path / "broken.ndjson").write_text(json.dumps({**a, "id": "d"}) + "\n{not json\n")
    logs = load(tmp_path)
    assert sorted(logs.interactions["id"].to_list()) == ["a", "c", "d"]
    reasons = sorted(logs.quarantine["reason"].to_list())
    assert reasons[0].startswith("line 2: malformed JSON")
    assert reasons[1].startswith("line 2: wrong type in handledTime")


def test_plain_list_of_records(write_page, seed_record, tmp_path):
    path = tmp_path / "list.json"
    path.write_text(json.dumps([seed_record]))
    assert load(path).loaded == 1


def test_csat_score_field_is_configurable(seed_record, write_page):
    seed_record["room"]["csat_score"] = 2
    seed_record["wrapUpForm"]["rating"] = 5
    page = write_page([seed_record])
    assert load(page).interactions["csat_score"].to_list() == [2]
    assert load(page, csat_score_field="wrapUpForm.rating").interactions[
        "csat_score"
    ].to_list() == [5]
    assert load(page, csat_score_field="survey.score").interactions["csat_score"].to_list() == [
        None
    ]


def test_sources_errors_name_the_path(tmp_path):
    with pytest.raises(SourceNotFoundError, match=r"nope\.json: no such file"):
        load(tmp_path / "nope.json")
    with pytest.raises(SourceNotFoundError, match="directory holds no"):
        load(tmp_path)
    with pytest.raises(SourceNotFoundError, match="matches no readable file"):
        load(str(tmp_path / "*.json"))


def test_glob_and_empty_page(tmp_path, write_page, seed_record):
    write_page([], "empty.json")
    write_page([seed_record], "one.json")
    logs = load(str(tmp_path / "*.json"))
    assert (logs.loaded, logs.quarantined, len(logs.files)) == (1, 0, 2)


def test_sample_counts_add_up_and_child_tables_match_nested_lists(sample_dir):
    logs = load(sample_dir)
    assert logs.records_read == logs.loaded + logs.superseded + logs.quarantined
    assert logs.superseded > 0 and logs.quarantined == 0
    assert logs.interactions["id"].is_unique().all()
    # every superseded record was an "In Progress" older version
    assert "In Progress" not in logs.interactions["disposition"].to_list()
    # hold_count equals the hold rows of each interaction
    counts = logs.holds.group_by("id").len()
    joined = logs.interactions.join(counts, on="id", how="left").with_columns(
        pl.col("len").fill_null(0)
    )
    assert (joined["hold_count"] == joined["len"]).all()
    # hold time equals the sum of hold durations
    sums = logs.holds.group_by("id").agg(pl.col("duration_s").sum())
    j = logs.interactions.join(sums, on="id")
    assert (j["hold_time_s"] == j["duration_s"]).all()


def test_how_files_are_grouped_does_not_change_the_result(
    sample_dir: Path, tmp_path: Path, seed_record, monkeypatch: pytest.MonkeyPatch
):
    # the sample's pages plus a malformed file and a page with a bad record, read in one
    # group per file and then in the default groups: tables, order and quarantine agree
    source = tmp_path / "pages"
    source.mkdir()
    for page in sorted(sample_dir.glob("*.json"))[:12]:
        (source / page.name).write_bytes(page.read_bytes())
    (source / "cx_logs_page_0004.json").write_text('{"cxLogs": {"data": [')
    bad = {**seed_record, "handledTime": -5}
    (source / "cx_logs_page_0007b.json").write_text(
        json.dumps({"cxLogs": {"data": [seed_record, bad]}})
    )
    # pages that are read apart from the others: a null record, null data, and no data
    other = {**seed_record, "id": "other"}
    (source / "cx_logs_page_0008b.json").write_text(json.dumps({"cxLogs": {"data": [other, None]}}))
    (source / "cx_logs_page_0009b.json").write_text(json.dumps({"cxLogs": {"data": None}}))
    (source / "cx_logs_page_0010b.json").write_text(json.dumps({"cxLogs": {}}))
    (source / "cx_logs_page_0011b.json").write_text(json.dumps({"cxLogs": {"data": []}}))
    default = load(source)
    monkeypatch.setattr(importlib.import_module("cxreports.load"), "GROUP_BYTES", 1)
    one_by_one = load(source)
    assert default.quarantined == 5 and default.superseded > 0
    assert "other" in default.interactions["id"].to_list()
    assert one_by_one.summary() == default.summary()
    for name in ("interactions", *S.CHILD_TABLES, "quarantine"):
        assert getattr(one_by_one, name).equals(getattr(default, name)), name
